"""Config composition: every shipped config composes and validates; typos fail with their key."""

import shutil
from pathlib import Path

import pytest

from peftsuite.config import CONFIG_DIR, ConfigError, load_config
from shared.methods import method_names


def group_options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


def test_every_registered_method_has_a_config_file():
    assert group_options("method") == method_names()


@pytest.mark.parametrize("group", ["method", "data", "model", "pipeline", "trainer", "experiment"])
def test_every_option_of_every_group_composes(group):
    for option in group_options(group):
        config = load_config([f"{group}={option}"])
        if group == "method":
            assert config.method.name == option


def test_defaults_are_the_offline_clinical_lora_job():
    config = load_config()
    assert (config.pipeline.name, config.model.name, config.method.name, config.data.name) == (
        "clinical_text",
        "minilm",
        "lora",
        "radlabels",
    )
    assert config.data.data_dir is None


def test_override_of_an_unknown_key_names_it():
    with pytest.raises(ConfigError, match="data.fracton"):
        load_config(["data.fracton=0.1"])


def test_unknown_method_lists_the_options():
    with pytest.raises(ConfigError, match="method/lorra") as error:
        load_config(["method=lorra"])
    assert "adapter_houlsby" in str(error.value)


@pytest.fixture
def config_copy(tmp_path) -> Path:
    copy = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, copy)
    return copy


def test_typo_inside_a_yaml_file_names_the_key(config_copy):
    data_file = config_copy / "data" / "radlabels.yaml"
    data_file.write_text(data_file.read_text().replace("fraction:", "fracton:"))
    with pytest.raises(ConfigError, match="fracton"):
        load_config(config_dir=config_copy)


def test_typo_in_a_method_field_names_the_field(config_copy):
    method_file = config_copy / "method" / "lora.yaml"
    method_file.write_text(method_file.read_text().replace("r: 8", "rnak: 8"))
    with pytest.raises(ValueError, match="method.rnak"):
        load_config(config_dir=config_copy)


def test_wrong_value_type_names_the_key():
    with pytest.raises(ConfigError, match="batch_size"):
        load_config(["data.batch_size=sixteen"])
