"""Adapters in peft's own folder format, one loader for both formats, and pushing to the Hub.

Our `adapter.safetensors` (shared.checkpoint) restores only with peftsuite installed. For the
methods applied through peft we also write peft's own folder (`adapter_config.json` and
`adapter_model.safetensors`, task head included), so anyone with peft can use the adapter:

    model = PeftModel.from_pretrained(base_model, "runs/<run>/peft_adapter")

where `base_model` is the backbone the run started from, with a task head of the same shape.
Our own methods (bottleneck adapters, SSF, BitFit, norm tuning, probe) have no peft format;
`load_adapter(base_model, path)` loads either, preferring peft's folder, so users need one call:

    model = load_adapter(base_model, "runs/<run>")  # a run folder, a peft folder or a file

What peft records as `base_model_name_or_path` is the base model's `name_or_path`: None for a
model built from a config (as in the tests), and for a backbone loaded from a local folder
(our offline packages) that folder's absolute path, which also lands in the model card
(README.md) peft writes. Pass `base_model_id` to record a Hub model id instead before pushing.
`push_adapter_to_hub` uploads one adapter (never the run's full checkpoints) for users online.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, ModelCard
from peft import PeftModel
from peft.utils import CONFIG_NAME, SAFETENSORS_WEIGHTS_NAME, WEIGHTS_NAME
from torch import nn

from shared.checkpoint import adapter_state_dict, restore_adapter
from shared.inject import InjectionReport
from shared.methods import get_method

PEFT_FOLDER = "peft_adapter"  # peft's folder inside a run directory
OWN_ADAPTER_FILE = "adapter.safetensors"  # our format's file inside a run directory
PEFT_WEIGHT_FILES = (SAFETENSORS_WEIGHTS_NAME, WEIGHTS_NAME)


def replace_folder_atomically(target: Path, build: Callable[[Path], None]) -> None:
    """Fill a temporary sibling folder with `build`, then swap it in for `target`.

    Readers see the old folder or the new one, never half of one. Unlike
    `shared.atomic.build_folder_atomically`, an existing `target` is replaced, not kept.
    """
    if target.is_file():
        raise ValueError(f"{target}: is a file; peft's adapter format is a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    retired = building.with_name(f"{building.name}-old")
    try:
        build(building)
        if target.exists():
            os.replace(target, retired)
        os.replace(building, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


def record_base_model(folder: Path, base_model_id: str) -> None:
    """Name `base_model_id` as the base model in peft's config and model card."""
    config_path = folder / CONFIG_NAME
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = base_model_id
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    card_path = folder / "README.md"
    if card_path.exists():
        card = ModelCard.load(card_path)
        tags = [tag for tag in card.data.tags or [] if not tag.startswith("base_model:adapter:")]
        card.data.tags = sorted([*tags, f"base_model:adapter:{base_model_id}"])
        card.data.base_model = base_model_id
        card.save(card_path)


def save_peft_format(
    model: nn.Module,
    report: InjectionReport,
    directory: str | Path,
    *,
    base_model_id: str | None = None,
) -> Path | None:
    """Write peft's adapter folder for a model injected by a peft method, atomically.

    Args:
        model: the trained model `inject_method` returned (a `peft.PeftModel` for peft methods).
        report: its injection report.
        directory: the folder to write; an existing one is replaced.
        base_model_id: a Hub model id to record as the base model (see the module docstring).

    Returns:
        The folder, or None when peft's format cannot hold the adapter: the method is one of
        ours (not applied through peft), or training moved BatchNorm statistics (warned).
    """
    if not get_method(report.method).uses_peft:
        return None
    if not isinstance(model, PeftModel):
        raise ValueError(
            f"save_peft_format: method {report.method!r} gives a peft.PeftModel, got "
            f"{type(model).__name__}; pass the model inject_method returned, before merging"
        )
    moved = [
        name for name in adapter_state_dict(model, report) if name in report.batchnorm_reference
    ]
    if moved:
        warnings.warn(
            f"not writing peft's format to {directory}: training moved {len(moved)} BatchNorm "
            f"statistics (e.g. {moved[0]}), which peft's adapter cannot carry; "
            f"{OWN_ADAPTER_FILE} has them",
            stacklevel=2,
        )
        return None

    def write(folder: Path) -> None:
        # "auto" would ask the Hub whether the base vocabulary was resized; ours never is, and
        # frozen base embeddings need not be saved.
        model.save_pretrained(str(folder), save_embedding_layers=False)
        if base_model_id is not None:
            record_base_model(folder, base_model_id)

    directory = Path(directory)
    replace_folder_atomically(directory, write)
    return directory


@dataclass(frozen=True)
class FoundAdapter:
    """Where an adapter is, and whether it is peft's folder (else our safetensors file)."""

    path: Path
    peft_format: bool


def is_peft_folder(folder: Path) -> bool:
    has_weights = any((folder / name).is_file() for name in PEFT_WEIGHT_FILES)
    return (folder / CONFIG_NAME).is_file() and has_weights


def find_adapter(path: str | Path) -> FoundAdapter:
    """The adapter at `path`: peft's folder, a run folder (peft's folder first), or our file."""
    path = Path(path)
    if path.is_file():
        return FoundAdapter(path, peft_format=False)
    for folder in (path, path / PEFT_FOLDER):
        if is_peft_folder(folder):
            return FoundAdapter(folder, peft_format=True)
    if (path / OWN_ADAPTER_FILE).is_file():
        return FoundAdapter(path / OWN_ADAPTER_FILE, peft_format=False)
    raise ValueError(
        f"{path}: no adapter found; expected peft's folder ({CONFIG_NAME} with "
        f"{SAFETENSORS_WEIGHTS_NAME}), a run folder holding {PEFT_FOLDER}/ or "
        f"{OWN_ADAPTER_FILE}, or an adapter file"
    )


def load_adapter(
    base_model: nn.Module, path: str | Path, *, head_modules: list[str] | None = None
) -> nn.Module:
    """Put a saved adapter onto a fresh `base_model` and return the model in eval mode.

    Args:
        base_model: the backbone the adapter was trained on, with a task head of the same shape.
        path: a run folder, peft's adapter folder, or one of our adapter files.
        head_modules: the task head's module names, for our format when they cannot be found
            from the model (as `restore_adapter`).

    Returns:
        A `peft.PeftModel` (frozen, for inference) from peft's folder; otherwise the model
        `shared.checkpoint.restore_adapter` builds.
    """
    found = find_adapter(path)
    if found.peft_format:
        return PeftModel.from_pretrained(base_model, str(found.path)).eval()
    model, _ = restore_adapter(base_model, found.path, head_modules=head_modules)
    return model.eval()


def push_adapter_to_hub(
    directory: str | Path,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = True,
    api: Any = None,
) -> Any:
    """Upload the adapter in `directory` to the Hub model repo `repo_id` (created if missing).

    Only the adapter goes up: peft's whole folder (found as by `find_adapter`), or just our
    adapter file, never the run's checkpoints or logs.

    Args:
        directory: peft's adapter folder, a run folder, or a folder holding our adapter file.
        repo_id: "user/name" on the Hub.
        token: a Hub token; None uses the one `huggingface-cli login` stored.
        private: create the repo private (it stays as it is when it exists).
        api: an `huggingface_hub.HfApi`-like object; tests pass a fake one.

    Returns:
        What `upload_folder` returns (a `CommitInfo` with the commit's URL).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: not a folder; pass the folder holding the adapter")
    found = find_adapter(directory)
    api = HfApi(token=token) if api is None else api
    api.create_repo(repo_id=repo_id, token=token, private=private, repo_type="model", exist_ok=True)
    folder = found.path if found.peft_format else found.path.parent
    only = None if found.peft_format else [found.path.name]
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        token=token,
        allow_patterns=only,
        commit_message=f"Upload {'peft' if found.peft_format else 'peftsuite'} adapter",
    )
