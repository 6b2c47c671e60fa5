"""Teacher-forced loss that runs the output layer only where a target token is predicted.

A translation batch is mostly prompt (decoder-only) and padding, which carry label -100 and add
nothing to the loss, yet a model's forward pass computes logits over the whole vocabulary at
every position: for Gemma-3-270M, 262,144 scores per position, the largest single cost of a
training step. Here a forward pre-hook on the output layer keeps only the hidden states of the
positions whose next token is a target, so the output layer, any post-processing the model
applies to its logits (a final bias, soft-capping) and the cross-entropy see those rows alone.
The loss is the same mean cross-entropy over target tokens as the model's own
(`transformers`' `ForCausalLMLoss` / seq2seq loss), to float tolerance.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from pipelines.translation.backbones import Architecture
from pipelines.translation.collate import IGNORED_LABEL
from pipelines.translation.vocabulary import compact_logits


def predicting_positions(labels: torch.Tensor, architecture: Architecture) -> torch.Tensor:
    """Where the model's output predicts a target token: a (batch, length) boolean mask.

    A decoder-only model predicts token t + 1 at position t; an encoder-decoder's decoder
    predicts its label at the same position.
    """
    targets = labels != IGNORED_LABEL
    if architecture == "seq2seq":
        return targets
    mask = torch.zeros_like(targets)
    mask[:, :-1] = targets[:, 1:]
    return mask


def predicted_labels(labels: torch.Tensor, architecture: Architecture) -> torch.Tensor:
    """The target ids in the order `predicting_positions` selects their positions."""
    shifted = labels if architecture == "seq2seq" else labels[:, 1:]
    return shifted[shifted != IGNORED_LABEL]


@contextmanager
def output_layer_rows(model: nn.Module, mask: torch.Tensor) -> Iterator[None]:
    """While open, the model's output layer sees only the hidden states where `mask` is true.

    Its output is then (selected rows, vocabulary) instead of (batch, length, vocabulary). A
    soft prompt that peft puts in front of the sequence (prompt tuning on a decoder-only model)
    lengthens the hidden states; its positions predict no target and are skipped.
    """

    def select(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        hidden = args[0]
        extra = hidden.shape[1] - mask.shape[1]
        rows = functional.pad(mask, (extra, 0), value=False) if extra > 0 else mask
        return (hidden[rows], *args[1:])

    handle = model.get_output_embeddings().register_forward_pre_hook(select)
    try:
        yield
    finally:
        handle.remove()


def decoder_inputs_from_labels(model: nn.Module, labels: torch.Tensor) -> torch.Tensor:
    """The decoder input an encoder-decoder builds from its labels when it computes its own loss:
    the labels shifted right behind the decoder start token (the model's own rule where it has
    one, e.g. mBART's), -100 read as padding."""
    prepare = getattr(model, "prepare_decoder_input_ids_from_labels", None)
    if callable(prepare):
        return prepare(labels=labels)
    config = model.config
    shifted = labels.new_full(labels.shape, config.pad_token_id)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = config.decoder_start_token_id
    return shifted.masked_fill(shifted == IGNORED_LABEL, config.pad_token_id)


def target_only_loss(
    model: nn.Module, inputs: dict[str, torch.Tensor], architecture: Architecture
) -> torch.Tensor:
    """Mean cross-entropy over the target tokens of `inputs` (a collator's `inputs`, with
    `labels`), computing logits at target-predicting positions only.

    With a trimmed output layer (`vocabulary.py`) the scores are the compact ones, over the
    kept tokens, and the labels are mapped to their indices.
    """
    labels = inputs["labels"]
    model_inputs = {key: value for key, value in inputs.items() if key != "labels"}
    if architecture == "seq2seq":
        model_inputs["decoder_input_ids"] = decoder_inputs_from_labels(model, labels)
    targets = predicted_labels(labels, architecture)
    rows = predicting_positions(labels, architecture)
    with compact_logits(model) as trimmed, output_layer_rows(model, rows):
        if trimmed is not None:
            targets = trimmed.output_indices(targets)
        logits = model(**model_inputs, use_cache=False).logits
    return functional.cross_entropy(logits.float(), targets)
