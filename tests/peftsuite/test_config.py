"""Config composition: every shipped config composes and validates; typos fail with their key."""

import dataclasses
import shutil
from pathlib import Path

import pytest

from peftsuite.config import CONFIG_DIR, ConfigError, load_config
from pipelines.registry import registered_pipelines
from shared.datasets import dataset_names
from shared.methods import get_method, method_names


def group_options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


def pipeline_of(data_name: str) -> list[str]:
    """A data config composes with its own pipeline (vision data has image_size, and so on)."""
    for name, pipeline in registered_pipelines().items():
        pipeline.register_datasets()
        if data_name in dataset_names(name):
            return [f"pipeline={name}"]
    raise AssertionError(f"no pipeline registers data.name={data_name!r}")


@pytest.mark.parametrize("name", method_names())
def test_every_registered_method_composes_with_its_dataclass_defaults(name):
    config = load_config([f"method={name}"])
    defaults = dataclasses.asdict(get_method(name).config_class(name=name))
    assert dict(config.method) == defaults


@pytest.mark.parametrize("group", ["data", "pipeline", "trainer", "experiment"])
def test_every_option_of_every_group_composes(group):
    for option in group_options(group):
        extra = pipeline_of(option) if group == "data" else []
        if group == "pipeline":
            assert load_config([f"pipeline={option}"]).pipeline.name == option
            continue
        load_config([*extra, f"{group}={option}"])


def test_data_of_another_pipeline_is_named_with_the_pipeline_s_own():
    with pytest.raises(ValueError, match="data.name='fsdd' is not a clinical_text dataset"):
        load_config(["data=fsdd"])  # speech data in the default (clinical text) pipeline


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


def test_typo_in_a_method_preset_file_names_the_field(config_copy):
    (config_copy / "method").mkdir(exist_ok=True)
    (config_copy / "method" / "lora_r2.yaml").write_text("defaults: [lora]\nrnak: 2\n")
    with pytest.raises(ConfigError, match="rnak"):
        load_config(["method=lora_r2"], config_dir=config_copy)


def test_a_method_preset_file_overrides_only_what_differs(config_copy):
    (config_copy / "method").mkdir(exist_ok=True)
    (config_copy / "method" / "lora_r2.yaml").write_text("defaults: [lora]\nr: 2\n")
    config = load_config(["method=lora_r2"], config_dir=config_copy)
    assert (config.method.name, config.method.r, config.method.alpha) == ("lora", 2, 16)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("method.r=abc", "method.r"),
        ("method.alpha=1.5", "method.alpha"),
        ("method.learning_rate=abc", "method.learning_rate"),
        ("method.rank=4", "method.rank"),
        ("method.target_modules=[]", "method.target_modules"),
        ("method.learning_rate=0", "method.learning_rate"),
        ("data.options.min_positive=3", "data.options.min_positive"),
        ("data.options.min_positives=many", "data.options.min_positives"),
        ("+data.foo=1", "data.foo"),
        ("+metod=lora", "metod"),
    ],
)
def test_a_bad_value_is_refused_at_composition_naming_its_field(override, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")) as error:
        load_config([override])
    assert "\n" not in str(error.value)


def test_wrong_value_type_names_the_key():
    with pytest.raises(ConfigError, match="batch_size"):
        load_config(["data.batch_size=sixteen"])
