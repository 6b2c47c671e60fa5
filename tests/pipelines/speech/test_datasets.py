"""Tests for the audio dataset registry: names, shared digit labels, options, test-only entries."""

import pytest
from omegaconf import OmegaConf

from peftsuite.config import CONFIG_DIR
from pipelines.speech.datasets import load_audio_dataset
from shared.datasets import dataset_names, get_dataset, option_names

DIGIT_DATASETS = ["fsdd", "espeak_digits", "asterisk_digits"]


def test_registry_lists_every_source():
    assert dataset_names("speech") == [*DIGIT_DATASETS, "wav_folder"]


@pytest.mark.parametrize("name", DIGIT_DATASETS)
def test_digit_datasets_share_labels_so_models_transfer(name):
    assert get_dataset(name, "speech").facts == tuple("0123456789")


def test_only_asterisk_is_test_only():
    assert [name for name in dataset_names("speech") if get_dataset(name, "speech").test_only] == [
        "asterisk_digits"
    ]


def test_test_only_dataset_is_refused_for_training_naming_the_field():
    with pytest.raises(ValueError, match=r"evaluation-only.*fsdd, espeak_digits, wav_folder"):
        load_audio_dataset("asterisk_digits", None)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="valid names: fsdd, espeak_digits"):
        load_audio_dataset("speech_commands", None)


@pytest.mark.parametrize("name", dataset_names("speech"))
def test_unknown_option_is_named(name):
    with pytest.raises(ValueError, match=r"data\.options\.shuffle.*valid options: \w+"):
        load_audio_dataset(name, None, for_training=False, shuffle=True)


@pytest.mark.parametrize("name", dataset_names("speech"))
def test_data_config_sets_only_options_the_dataset_knows(name):
    config = OmegaConf.load(CONFIG_DIR / "data" / f"{name}.yaml")
    assert config.name == name
    assert set(config.options) <= set(option_names(get_dataset(name, "speech")))
