"""A trimmed output vocabulary for one language pair: the output layer scores only the tokens the
target language uses.

A multilingual model's output layer scores every token of its vocabulary at every step (Gemma-3:
262,144 tokens, 168M of its 268M parameters), but a translation into Hausa uses a few thousand
of them. Vocabulary trimming (Ushio et al. 2023, "An Efficient Multilingual Language Model
Compression through Vocabulary Trimming", https://arxiv.org/abs/2305.15020) keeps those and
loses little. Here the kept tokens are those of the training and validation targets, of a
monolingual sample of the target language (never a test set: see `monolingual.py`), the special
tokens, the tokens generation stops at, and the tokenizer's byte tokens (so any text stays
producible); `build_output_vocabulary` picks them.

`TrimmedOutputLayer` replaces the model's output layer and owns no weights: it reads the kept
rows of the original weight (the input embedding matrix itself when they are tied), so the input
embeddings stay whole, a method that trains the embeddings (full fine-tuning) still trains the
one shared matrix, and no parameter changes its name or shape. An adapter trained with a trimmed
head therefore loads on the untrimmed model as it is (`shared.checkpoint.restore_adapter`): it
holds only the method's tensors, and its outputs on the kept tokens are the same.

Generation maps trimmed ids back to the tokenizer's: by default the layer writes its scores into
a full-vocabulary row at the kept ids (every other id gets the lowest score, and
`KeptTokensOnly` makes it impossible), so `generate`, stop strings, forced language codes and
repetition controls all work with the tokenizer's ids. The training loss asks for the compact
scores instead (`compact_logits`) and maps its labels to output indices.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional
from transformers import LogitsProcessor, PreTrainedTokenizerBase

BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")  # SentencePiece byte fallback, e.g. <0x0A>


@dataclass(frozen=True)
class OutputVocabulary:
    """The tokenizer ids a trimmed output layer keeps, sorted, and where they came from.

    Attributes:
        kept_ids: tokenizer ids, ascending; output index i scores token kept_ids[i].
        full_size: rows of the untrimmed output layer.
        counts: how many ids each source contributed first (specials, training targets, ...).
    """

    kept_ids: tuple[int, ...]
    full_size: int
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.kept_ids)

    def coverage(self, token_ids: Iterable[Sequence[int]]) -> float:
        """The share of the tokens in `token_ids` (one list per sentence) that are kept."""
        kept = set(self.kept_ids)
        tokens = [token for sentence in token_ids for token in sentence]
        return sum(token in kept for token in tokens) / max(len(tokens), 1)

    def summary(self) -> dict[str, object]:
        return {
            "size": len(self),
            "full_size": self.full_size,
            "kept_fraction": len(self) / self.full_size,
            "ids_by_source": dict(self.counts),
        }


def byte_token_ids(tokenizer: PreTrainedTokenizerBase) -> set[int]:
    """The tokens any text can fall back to: SentencePiece byte tokens (`<0x41>`), or the 256
    single-character tokens of a byte-level BPE (GPT-2 style) tokenizer."""
    vocabulary = tokenizer.get_vocab()
    ids = {index for token, index in vocabulary.items() if BYTE_TOKEN.fullmatch(token)}
    if not ids:
        from tokenizers.pre_tokenizers import ByteLevel

        ids = {vocabulary[char] for char in ByteLevel.alphabet() if char in vocabulary}
    return ids


def build_output_vocabulary(
    *,
    full_size: int,
    required: Mapping[str, Iterable[Sequence[int]]],
    monolingual: Iterable[Sequence[int]],
    max_size: int | None = None,
) -> OutputVocabulary:
    """The ids to keep: every id in `required` (in order: its sources' names go into `counts`),
    then the monolingual sample's ids, most frequent first while `max_size` allows.

    Args:
        full_size: rows of the untrimmed output layer; every id must be below it.
        required: source name -> token id lists that must be producible (special tokens,
            training and validation targets).
        monolingual: token id lists of the monolingual sample.
        max_size: the most ids to keep; None keeps every id of the sample.

    Raises:
        ValueError: naming vocabulary.max_size when the required ids alone exceed it (trimming
            would drop tokens of the training targets), or an id outside the vocabulary.
    """
    kept: dict[int, None] = {}
    counts: dict[str, int] = {}
    for name, sentences in required.items():
        before = len(kept)
        kept.update((token, None) for sentence in sentences for token in sentence)
        counts[name] = len(kept) - before
    if max_size is not None and len(kept) > max_size:
        raise ValueError(
            f"vocabulary.max_size={max_size}: would drop tokens of the training targets; they "
            f"need {len(kept)} ids with the special and validation tokens "
            f"({', '.join(f'{name} {count}' for name, count in counts.items())}). Set "
            f"vocabulary.max_size >= {len(kept)}, or null."
        )
    frequencies = Counter(token for sentence in monolingual for token in sentence)
    by_frequency = sorted(frequencies.items(), key=lambda item: (-item[1], item[0]))
    extra = [token for token, _ in by_frequency if token not in kept]
    if max_size is not None:
        extra = extra[: max_size - len(kept)]
    counts["monolingual sample"] = len(extra)
    ids = sorted([*kept, *extra])
    if ids and not 0 <= ids[0] <= ids[-1] < full_size:
        raise ValueError(
            f"output vocabulary: token ids must lie in [0, {full_size}); got {ids[0]}..{ids[-1]}"
        )
    return OutputVocabulary(tuple(ids), full_size, counts)


class TrimmedOutputLayer(nn.Module):
    """An output layer that scores only `kept_ids`, reading the original layer's weight rows.

    `weight` (and `bias`, if any) is the original layer's own parameter, shared, so names,
    shapes and ties are unchanged. A bias the model adds after its output layer
    (`final_logits_bias` in Marian and mBART) is folded in here (`trim_output_layer`).
    """

    def __init__(
        self,
        layer: nn.Module,
        vocabulary: OutputVocabulary,
        folded_bias: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.weight = layer.weight
        self.bias = getattr(layer, "bias", None)
        kept = torch.tensor(vocabulary.kept_ids, dtype=torch.long, device=self.weight.device)
        self.register_buffer("kept_ids", kept, persistent=False)
        folded = None if folded_bias is None else folded_bias.reshape(-1)[kept].clone()
        self.register_buffer("folded_bias", folded, persistent=False)
        lookup = torch.full((vocabulary.full_size,), -1, dtype=torch.long, device=kept.device)
        lookup[kept] = torch.arange(len(kept), device=kept.device)
        self.register_buffer("lookup", lookup, persistent=False)  # tokenizer id -> index
        self.full_size = vocabulary.full_size
        self.compact = False  # True: return (..., kept) scores, for the training loss
        self._cached: tuple[tuple[object, ...], torch.Tensor] | None = None

    def extra_repr(self) -> str:
        return f"kept={len(self.kept_ids)}, full_size={self.full_size}"

    def kept_weight(self) -> torch.Tensor:
        """The kept rows of the weight; cached while the weight is frozen and unchanged."""
        weight = self.weight
        if weight.requires_grad and torch.is_grad_enabled():
            return weight.index_select(0, self.kept_ids)
        key = (weight.data_ptr(), weight._version, weight.dtype, weight.device)
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, weight.detach().index_select(0, self.kept_ids))
        return self._cached[1]

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.index_select(0, self.kept_ids)
        if self.folded_bias is not None:
            bias = self.folded_bias if bias is None else bias + self.folded_bias
        logits = functional.linear(hidden, self.kept_weight(), bias)
        if self.compact:
            return logits
        lowest = torch.finfo(logits.dtype).min
        full = logits.new_full((*logits.shape[:-1], self.full_size), lowest)
        return full.index_copy_(full.dim() - 1, self.kept_ids, logits)

    def output_indices(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Tokenizer ids -> indices of the compact output.

        Raises:
            ValueError: some id is not kept (it could never be predicted).
        """
        indices = self.lookup[token_ids.to(self.lookup.device)]
        if (indices < 0).any():
            missing = sorted(set(token_ids[indices < 0].tolist()))
            raise ValueError(
                f"target token ids {missing[:10]} are not in the trimmed output vocabulary "
                f"({len(self.kept_ids)} ids); build it from these targets, or set "
                "vocabulary.trim=false"
            )
        return indices


class KeptTokensOnly(LogitsProcessor):
    """Generation never picks a token the trimmed layer dropped (whatever the model does to its
    scores afterwards, e.g. Gemma-2's soft-capping lifts the lowest score to -30)."""

    def __init__(self, layer: TrimmedOutputLayer) -> None:
        dropped = torch.ones(layer.full_size, dtype=torch.bool, device=layer.kept_ids.device)
        dropped[layer.kept_ids] = False
        self.dropped = dropped

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores.masked_fill(self.dropped.to(scores.device), float("-inf"))


def trimmed_layer(model: nn.Module) -> TrimmedOutputLayer | None:
    """The model's trimmed output layer, or None if its output layer is whole."""
    layer = model.get_output_embeddings()
    return layer if isinstance(layer, TrimmedOutputLayer) else None


@contextmanager
def compact_logits(model: nn.Module) -> Iterator[TrimmedOutputLayer | None]:
    """While open, a trimmed output layer returns compact (kept-only) scores; yields the layer
    (for `output_indices`), or None for a whole output layer."""
    layer = trimmed_layer(model)
    if layer is None:
        yield None
        return
    layer.compact = True
    try:
        yield layer
    finally:
        layer.compact = False


def trim_output_layer(model: nn.Module, vocabulary: OutputVocabulary) -> TrimmedOutputLayer:
    """Replace the output layer of a transformers model (before injection) by a trimmed one.

    Raises:
        ValueError: the model has no output layer with a weight of `vocabulary.full_size` rows,
            or is already trimmed.
    """
    layer = model.get_output_embeddings()
    if isinstance(layer, TrimmedOutputLayer):
        raise ValueError("vocabulary.trim: the model's output layer is already trimmed")
    weight = getattr(layer, "weight", None)
    if weight is None or weight.dim() != 2 or weight.shape[0] != vocabulary.full_size:
        raise ValueError(
            f"vocabulary.trim: {type(model).__name__} has no output layer with "
            f"{vocabulary.full_size} rows to trim (found {type(layer).__name__}); set "
            "vocabulary.trim=false"
        )
    folded = getattr(model, "final_logits_bias", None)
    trimmed = TrimmedOutputLayer(layer, vocabulary, folded)
    if folded is not None:
        # The model adds this after its output layer; a (1, 1) zero adds nothing to either the
        # full or the compact scores, and the layer adds the kept part itself.
        model.register_buffer("final_logits_bias", torch.zeros(1, 1, dtype=folded.dtype))
    model.set_output_embeddings(trimmed)
    return trimmed
