"""Tests for shared.peft_format: peft's own adapter folder, the one loader, pushing to the Hub.

Adapters are trained for two steps first so they are no longer no-ops; peft's folder must then
load with plain `PeftModel.from_pretrained` onto a fresh tiny model and reproduce its outputs
exactly. Pushing goes to a fake Hub API that records its calls: nothing here goes online.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from peft import PeftModel
from safetensors import safe_open
from tiny_models import (
    TINY_MODEL_CASES,
    logits,
    method_mapping,
    random_text_batch,
    tiny_random_bert_classifier,
    train_steps,
    trained_adapter,
)
from torch import nn

from shared.checkpoint import save_adapter
from shared.inject import InjectionReport, inject_method
from shared.peft_format import (
    OWN_ADAPTER_FILE,
    PEFT_FOLDER,
    find_adapter,
    load_adapter,
    push_adapter_to_hub,
    save_peft_format,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PEFT_METHODS = ["lora", "ia3", "prompt_tuning"]
OWN_METHODS = ["bitfit", "adapter_houlsby"]


def trained_bert(method: str) -> tuple[nn.Module, InjectionReport, dict, torch.Tensor]:
    """A tiny BERT with `method` trained two steps; its eval inputs and outputs."""
    model, report = inject_method(tiny_random_bert_classifier(), method_mapping(method))
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    train_steps(model, random_text_batch())
    moved = [
        name
        for name, p in model.named_parameters()
        if p.requires_grad and "classifier" not in name and not torch.equal(p, before[name])
    ]
    assert moved, f"{method}: training left the adapter at its initialisation"
    inputs = random_text_batch(seed=1)[0]
    with torch.no_grad():
        outputs = logits(model, inputs)
    return model, report, inputs, outputs


def eval_logits(model: nn.Module, inputs: dict) -> torch.Tensor:
    with torch.no_grad():
        return logits(model.eval(), inputs)


def file_keys(path: Path) -> set[str]:
    with safe_open(str(path), framework="pt") as handle:
        return set(handle.keys())


@pytest.mark.parametrize("method", PEFT_METHODS)
def test_peft_folder_loads_with_peft_alone_and_reproduces_outputs(method, tmp_path):
    model, report, inputs, outputs = trained_bert(method)

    folder = save_peft_format(model, report, tmp_path / PEFT_FOLDER)

    assert folder == tmp_path / PEFT_FOLDER
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {
        p.name for p in folder.iterdir()
    }
    assert list(tmp_path.iterdir()) == [folder], "saving must leave no temporary folder behind"
    loaded = PeftModel.from_pretrained(tiny_random_bert_classifier(), folder)
    assert torch.equal(eval_logits(loaded, inputs), outputs)


@pytest.mark.parametrize("method", PEFT_METHODS)
def test_peft_folder_holds_the_trained_task_head_under_its_plain_name(method, tmp_path):
    model, report, _, _ = trained_bert(method)

    folder = save_peft_format(model, report, tmp_path / PEFT_FOLDER)

    # peft drops the `modules_to_save.default` part of the name in its file.
    heads = {key for key in file_keys(folder / "adapter_model.safetensors") if "classifier" in key}
    assert {key.rpartition("classifier.")[2] for key in heads} == {"weight", "bias"}
    assert not any("modules_to_save" in key for key in heads)
    config = json.loads((folder / "adapter_config.json").read_text())
    assert "classifier" in config["modules_to_save"]


def test_a_model_built_from_a_config_records_no_base_model(tmp_path):
    model, report, _, _ = trained_bert("lora")

    folder = save_peft_format(model, report, tmp_path / PEFT_FOLDER)

    assert (
        json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] is None
    )


def test_base_model_id_is_recorded_in_config_and_model_card(tmp_path):
    model, report, _, _ = trained_bert("lora")

    folder = save_peft_format(model, report, tmp_path / PEFT_FOLDER, base_model_id="org/tiny-bert")

    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "org/tiny-bert"
    card = ModelCard.load(folder / "README.md")
    assert card.data.base_model == "org/tiny-bert"
    assert "base_model:adapter:org/tiny-bert" in card.data.tags
    assert not [tag for tag in card.data.tags if tag == "base_model:adapter:"]


def test_saving_again_replaces_the_folder(tmp_path):
    model, report, inputs, _ = trained_bert("lora")
    folder = tmp_path / PEFT_FOLDER
    save_peft_format(model, report, folder)
    (folder / "stale.txt").write_text("from an earlier save")
    train_steps(model, random_text_batch(seed=2))

    save_peft_format(model, report, folder)

    assert not (folder / "stale.txt").exists()
    assert list(tmp_path.iterdir()) == [folder]
    loaded = PeftModel.from_pretrained(tiny_random_bert_classifier(), folder)
    assert torch.equal(eval_logits(loaded, inputs), eval_logits(model, inputs))


@pytest.mark.parametrize("method", OWN_METHODS)
def test_our_methods_have_no_peft_format_and_load_through_the_one_loader(method, tmp_path):
    model, report, inputs, outputs = trained_bert(method)
    save_adapter(model, report, tmp_path / OWN_ADAPTER_FILE)

    assert save_peft_format(model, report, tmp_path / PEFT_FOLDER) is None

    assert not (tmp_path / PEFT_FOLDER).exists()
    for path in (tmp_path, tmp_path / OWN_ADAPTER_FILE):
        loaded = load_adapter(tiny_random_bert_classifier(), path)
        assert not isinstance(loaded, PeftModel)
        assert torch.equal(eval_logits(loaded, inputs), outputs)


def test_the_loader_prefers_peft_folder_in_a_run_folder(tmp_path):
    model, report, inputs, outputs = trained_bert("lora")
    save_adapter(model, report, tmp_path / OWN_ADAPTER_FILE)
    save_peft_format(model, report, tmp_path / PEFT_FOLDER)

    loaded = load_adapter(tiny_random_bert_classifier(), tmp_path)

    assert find_adapter(tmp_path).path == tmp_path / PEFT_FOLDER
    assert isinstance(loaded, PeftModel)
    assert not loaded.training
    assert torch.equal(eval_logits(loaded, inputs), outputs)


def test_the_loader_says_what_it_looked_for(tmp_path):
    with pytest.raises(ValueError, match=r"no adapter found; expected peft's folder"):
        load_adapter(tiny_random_bert_classifier(), tmp_path)


def test_moved_batchnorm_statistics_keep_peft_format_from_being_written(tmp_path):
    # Two training steps in train mode move the tiny CNN's BatchNorm statistics.
    adapter = trained_adapter("cnn", "lora")

    with pytest.warns(UserWarning, match=r"moved \d+ BatchNorm statistics .* cannot carry"):
        result = save_peft_format(adapter.model, adapter.report, tmp_path / PEFT_FOLDER)

    assert result is None
    assert not (tmp_path / PEFT_FOLDER).exists()


def test_a_peft_method_without_batchnorm_movement_saves_a_timm_model_too(tmp_path):
    case = TINY_MODEL_CASES["vit"]
    model, report = inject_method(case.build(), method_mapping("lora"))
    train_steps(model, case.batch())
    inputs = case.batch(seed=1)[0]

    folder = save_peft_format(model, report, tmp_path / PEFT_FOLDER)

    loaded = PeftModel.from_pretrained(case.build(), folder)
    assert torch.equal(eval_logits(loaded, inputs), eval_logits(model, inputs))


def test_a_merged_model_is_refused(tmp_path):
    model, report, _, _ = trained_bert("lora")
    with pytest.raises(ValueError, match=r"gives a peft\.PeftModel, got BertForSequenceClassif"):
        save_peft_format(model.merge_and_unload(), report, tmp_path / PEFT_FOLDER)


class FakeHubApi:
    """Stands in for `huggingface_hub.HfApi`: records calls and the files an upload would send."""

    def __init__(self, token: str | None = None):
        self.token = token
        self.calls: list[tuple[str, dict]] = []
        self.uploaded: set[str] = set()

    def create_repo(self, **kwargs):
        self.calls.append(("create_repo", kwargs))
        return f"https://huggingface.co/{kwargs['repo_id']}"

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))
        folder = Path(kwargs["folder_path"])
        patterns = kwargs.get("allow_patterns") or ["*"]
        self.uploaded = {
            str(path.relative_to(folder))
            for path in folder.rglob("*")
            if path.is_file()
            and any(fnmatch.fnmatch(str(path.relative_to(folder)), p) for p in patterns)
        }
        return "commit-info"


@pytest.fixture(scope="module")
def trained_lora_run(tmp_path_factory) -> Path:
    """A run folder with both formats of a trained LoRA adapter, and a stand-in checkpoint."""
    run = tmp_path_factory.mktemp("run")
    model, report, _, _ = trained_bert("lora")
    save_adapter(model, report, run / OWN_ADAPTER_FILE)
    save_peft_format(model, report, run / PEFT_FOLDER)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"full model")
    return run


def test_push_creates_the_repo_then_uploads_peft_folder(trained_lora_run):
    api = FakeHubApi()

    result = push_adapter_to_hub(trained_lora_run, "user/tiny-lora", token="hf_x", api=api)

    assert result == "commit-info"
    assert [name for name, _ in api.calls] == ["create_repo", "upload_folder"]
    assert api.calls[0][1] == {
        "repo_id": "user/tiny-lora",
        "token": "hf_x",
        "private": True,
        "repo_type": "model",
        "exist_ok": True,
    }
    upload = api.calls[1][1]
    assert upload["repo_id"] == "user/tiny-lora"
    assert upload["token"] == "hf_x"
    assert upload["folder_path"] == str(trained_lora_run / PEFT_FOLDER)
    assert {"adapter_config.json", "adapter_model.safetensors"} <= api.uploaded
    assert not any(name.endswith(".ckpt") for name in api.uploaded)


def test_push_of_our_format_uploads_the_adapter_file_only(tmp_path):
    model, report, _, _ = trained_bert("bitfit")
    save_adapter(model, report, tmp_path / OWN_ADAPTER_FILE)
    (tmp_path / "metrics.json").write_text("{}")
    api = FakeHubApi()

    push_adapter_to_hub(tmp_path, "user/tiny-bitfit", private=False, api=api)

    assert api.calls[0][1]["private"] is False
    assert api.uploaded == {OWN_ADAPTER_FILE}


def test_push_without_api_builds_hf_api_with_the_token(trained_lora_run, monkeypatch):
    built: list[FakeHubApi] = []

    def fake_hf_api(token=None):
        built.append(FakeHubApi(token))
        return built[-1]

    monkeypatch.setattr("shared.peft_format.HfApi", fake_hf_api)

    push_adapter_to_hub(trained_lora_run / PEFT_FOLDER, "user/tiny-lora", token="hf_y")

    assert len(built) == 1 and built[0].token == "hf_y"
    assert [name for name, _ in built[0].calls] == ["create_repo", "upload_folder"]


def test_push_of_a_folder_without_adapter_is_refused_before_any_call(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    api = FakeHubApi()

    with pytest.raises(ValueError, match=r"no adapter found") as error:
        push_adapter_to_hub(tmp_path, "user/nothing", api=api)

    assert "\n" not in str(error.value)
    assert api.calls == []
