"""The real-data fixtures: `$PEFTSUITE_DATA_DIR` is honoured, and missing data skips locally but
fails in CI, so a CI run without the data cannot pass by skipping every real-data test."""

import re
from pathlib import Path

import pytest
import real_data
from real_data import DATA_DIR_VARIABLE, real_data_dir, require_real_data

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py").read_text(encoding="utf-8")
MODULE_READING_DATA = """
import pytest


@pytest.fixture(scope="module")
def recordings(data_dir, require_data):
    return require_data("fsdd", "recordings")


def test_reads_the_recordings(recordings):
    assert recordings.is_dir()


def test_reads_the_folder(data_dir):
    assert data_dir.is_dir()
"""


@pytest.fixture
def missing(tmp_path, monkeypatch) -> Path:
    """A data folder that does not exist, named by the variable; CI unset."""
    folder = tmp_path / "no-data-here"
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(folder))
    monkeypatch.delenv("CI", raising=False)
    return folder


def test_the_variable_names_the_data_folder(tmp_path, monkeypatch):
    (tmp_path / "fsdd" / "recordings").mkdir(parents=True)
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    assert real_data_dir() == tmp_path
    assert require_real_data() == tmp_path
    assert require_real_data("fsdd", "recordings") == tmp_path / "fsdd" / "recordings"
    assert require_real_data("fsdd/recordings") == tmp_path / "fsdd" / "recordings"


def test_without_the_variable_the_folder_is_shared_data_beside_the_checkout(monkeypatch):
    monkeypatch.delenv(DATA_DIR_VARIABLE, raising=False)
    repository = Path(__file__).resolve().parents[1]
    assert real_data_dir() == repository.parent / "shared" / "data"
    monkeypatch.setenv(DATA_DIR_VARIABLE, "")
    assert real_data_dir() == real_data.DEFAULT_DATA_DIR


def test_missing_data_skips_outside_ci(missing, monkeypatch):
    for value in (None, "", "false", "0"):
        if value is not None:
            monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.skip.Exception, match=re.escape(str(missing / "fsdd"))):
            require_real_data("fsdd")


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "1"])
def test_missing_data_fails_in_ci_naming_the_path_and_the_variable(missing, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception) as failure:
        require_real_data("fsdd", "recordings")
    message = str(failure.value)
    assert str(missing / "fsdd" / "recordings") in message and DATA_DIR_VARIABLE in message
    assert "\n" not in message


def test_a_ci_run_without_the_data_fails_instead_of_skipping(pytester, missing, monkeypatch):
    """Through the real conftest: both the session and the module-scoped fixture error."""
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(MODULE_READING_DATA)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*real data {missing} is missing*{DATA_DIR_VARIABLE}*"])


def test_a_local_run_without_the_data_skips(pytester, missing):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(MODULE_READING_DATA)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(skipped=2)
    assert result.ret == pytest.ExitCode.OK


def test_a_run_with_the_data_passes(pytester, tmp_path, monkeypatch):
    (tmp_path / "fsdd" / "recordings").mkdir(parents=True)
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(MODULE_READING_DATA)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
