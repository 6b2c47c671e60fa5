"""Tiny, randomly initialised models for the injection-layer tests, and the batches they eat.

Nothing here is pretrained. Every builder seeds torch before it builds, so two calls return
bit-identical weights: the second call is the "fresh base" a saved adapter is restored onto.
The three families cover the kinds of layer the injection layer must handle: a BERT-like text
classifier (Linear layers, LayerNorm), timm's `test_efficientnet` (full, pointwise, depthwise
and squeeze-excite convolutions, BatchNormAct layers) and timm's `test_vit` (a patch-embedding
convolution, fused qkv projections, a head named `head`). Tiny wav2vec2 and HuBERT audio
classifiers (a convolutional feature encoder under transformer layers) eat raw waveforms.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import timm
import torch
from torch import nn
from torch.nn import functional
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    HubertConfig,
    HubertForSequenceClassification,
    Wav2Vec2Config,
    Wav2Vec2ForSequenceClassification,
)

from shared.inject import InjectionReport, inject_method
from shared.methods import method_names

NUM_CLASSES = 3
BATCH_SIZE = 4
SEQUENCE_LENGTH = 8
VOCAB_SIZE = 100
IMAGE_SIZE = 64
VIT_DEPTH = 2
WAVEFORM_SAMPLES = 4000  # 0.25 s at 16 kHz: 199 encoder frames

# Fields a method cannot run without; everything else keeps the method's defaults.
REQUIRED_METHOD_FIELDS: dict[str, dict[str, Any]] = {"adalora": {"total_step": 10}}

Batch = tuple[Any, torch.Tensor]


def tiny_random_bert_classifier() -> BertForSequenceClassification:
    """A 2-layer, 32-wide BERT sequence classifier with random weights (3 classes)."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        num_labels=NUM_CLASSES,
    )
    return BertForSequenceClassification(config).eval()


def tiny_random_efficientnet_classifier() -> nn.Module:
    """timm's `test_efficientnet` with random weights and a 3-class head."""
    torch.manual_seed(0)
    return timm.create_model("test_efficientnet", num_classes=NUM_CLASSES).eval()


def tiny_random_vit() -> nn.Module:
    """timm's `test_vit` cut to 2 blocks for 64x64 images (16 patches), random, 3 classes."""
    torch.manual_seed(0)
    return timm.create_model(
        "test_vit", num_classes=NUM_CLASSES, img_size=IMAGE_SIZE, depth=VIT_DEPTH
    ).eval()


# Shared by the wav2vec2 and HuBERT configs: two convolutions (stride 20 in all), 2 layers of
# width 32. No layer drop, so every layer (and its adapter) trains at every step.
TINY_WAV2VEC2_SIZES: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "conv_dim": (8, 8),
    "conv_stride": (5, 4),
    "conv_kernel": (10, 8),
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
    "classifier_proj_size": 16,
    "layerdrop": 0.0,
    "num_labels": NUM_CLASSES,
}


def tiny_random_wav2vec2_classifier() -> Wav2Vec2ForSequenceClassification:
    """A 2-layer, 32-wide wav2vec2 audio classifier with random weights (3 classes).

    Its inputs come from `transformers.Wav2Vec2FeatureExtractor()` (raw 16 kHz waveforms).
    """
    torch.manual_seed(0)
    return Wav2Vec2ForSequenceClassification(Wav2Vec2Config(**TINY_WAV2VEC2_SIZES)).eval()


def tiny_random_hubert_classifier() -> HubertForSequenceClassification:
    """`tiny_random_wav2vec2_classifier`'s sizes as a HuBERT classifier, random, 3 classes."""
    torch.manual_seed(0)
    return HubertForSequenceClassification(HubertConfig(**TINY_WAV2VEC2_SIZES)).eval()


def random_text_batch(seed: int = 0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, VOCAB_SIZE, (BATCH_SIZE, SEQUENCE_LENGTH), generator=generator)
    inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    return inputs, torch.randint(0, NUM_CLASSES, (BATCH_SIZE,), generator=generator)


def random_image_batch(seed: int = 0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(BATCH_SIZE, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
    return images, torch.randint(0, NUM_CLASSES, (BATCH_SIZE,), generator=generator)


def random_waveform_batch(seed: int = 0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    waveforms = 0.1 * torch.randn(BATCH_SIZE, WAVEFORM_SAMPLES, generator=generator)
    return {"input_values": waveforms}, torch.randint(
        0, NUM_CLASSES, (BATCH_SIZE,), generator=generator
    )


@dataclass(frozen=True)
class TinyModelCase:
    """One tiny model family: how to build it, its head's module name, and a batch for it."""

    family: str
    build: Callable[[], nn.Module]
    head: str
    batch: Callable[..., Batch]


TINY_MODEL_CASES: dict[str, TinyModelCase] = {
    "bert": TinyModelCase("bert", tiny_random_bert_classifier, "classifier", random_text_batch),
    "cnn": TinyModelCase(
        "cnn", tiny_random_efficientnet_classifier, "classifier", random_image_batch
    ),
    "vit": TinyModelCase("vit", tiny_random_vit, "head", random_image_batch),
}


# Methods that cannot go into a family's model, with the message their ValueError must match.
NOT_APPLICABLE: dict[tuple[str, str], str] = {
    # The CNN has no Linear layer outside its head, and VeRA adapts Linear layers only.
    ("cnn", "vera"): (
        r"method\.target_modules=.* matched no module that vera can adapt; "
        r"skipped: .*Conv2d is not a supported layer type \(Linear\)"
    ),
    ("cnn", "prompt_tuning"): (
        r"method\.name=prompt_tuning needs a transformers text model with token embeddings; "
        r"EfficientNet has none"
    ),
    ("vit", "prompt_tuning"): (
        r"method\.name=prompt_tuning needs a transformers text model with token embeddings; "
        r"VisionTransformer has none"
    ),
}


def applicable_pairs() -> list[tuple[str, str]]:
    """Every (family, method) pair that must work, from the method registry."""
    return [
        (family, method)
        for family in TINY_MODEL_CASES
        for method in method_names()
        if (family, method) not in NOT_APPLICABLE
    ]


def method_mapping(name: str, **fields: Any) -> dict[str, Any]:
    """The smallest valid `method` mapping for `name`, plus `fields`."""
    return {"name": name, **REQUIRED_METHOD_FIELDS.get(name, {}), **fields}


def logits(model: nn.Module, inputs: Any) -> torch.Tensor:
    """Class scores of a transformers (keyword inputs) or timm (tensor input) classifier."""
    output = model(**inputs) if isinstance(inputs, dict) else model(inputs)
    return getattr(output, "logits", output)


def train_steps(model: nn.Module, batch: Batch, steps: int = 2, lr: float = 1e-2) -> None:
    """A few AdamW steps (no weight decay) on cross-entropy, in train mode; ends in eval mode.

    Two steps at least: methods with a zero-initialised factor (LoRA's B, a bottleneck's up
    projection) move their other factor only from the second step on.
    """
    inputs, labels = batch
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        functional.cross_entropy(logits(model, inputs), labels).backward()
        optimizer.step()
    model.eval()


@dataclass(frozen=True)
class TrainedAdapter:
    """A tiny model after injection and `train_steps`, with snapshots to compare against.

    `outputs` are the eval-mode logits on `inputs`, a batch the model was not trained on.
    """

    model: nn.Module
    report: InjectionReport
    parameters_before_training: dict[str, torch.Tensor]
    buffers_before_training: dict[str, torch.Tensor]
    inputs: Any
    outputs: torch.Tensor


def train_adapter(family: str, method: str, **fields: Any) -> TrainedAdapter:
    """Inject `method` into a fresh tiny model of `family` and train it for two steps."""
    case = TINY_MODEL_CASES[family]
    model, report = inject_method(case.build(), method_mapping(method, **fields))
    parameters = {name: p.detach().clone() for name, p in model.named_parameters()}
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    train_steps(model, case.batch())
    inputs = case.batch(seed=1)[0]
    with torch.no_grad():
        outputs = logits(model, inputs)
    return TrainedAdapter(model, report, parameters, buffers, inputs, outputs)


@functools.cache
def trained_adapter(family: str, method: str) -> TrainedAdapter:
    """`train_adapter` with default fields, once per test session: tests must not change the
    model (deep-copy it first)."""
    return train_adapter(family, method)


# Translation: a byte-level BPE tokenizer trained here on a few sentence pairs (no download),
# and tiny random Gemma-3 (decoder-only, tied embeddings), T5 and Marian models sized to it.
TINY_PARALLEL_PAIRS = (
    ("The house is very small.", "Gidan yana da ƙanƙanta sosai."),
    ("Good morning, my dear friend.", "Ina kwana, abokina na ƙwarai."),
    ("The children are going to school.", "Yara suna zuwa makaranta."),
    ("We drink clean water every day.", "Muna shan ruwa mai tsabta kowace rana."),
    ("The market opens early in the morning.", "Kasuwa tana buɗewa da sassafe."),
    ("My mother cooks rice and beans.", "Mahaifiyata tana dafa shinkafa da wake."),
)
TINY_TRANSLATION_VOCAB_SIZE = 320
PAD, EOS, BOS = "<pad>", "</s>", "<s>"


@functools.cache
def _tiny_bpe_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_TRANSLATION_VOCAB_SIZE,
        special_tokens=[PAD, EOS, BOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([text for pair in TINY_PARALLEL_PAIRS for text in pair], trainer)
    return tokenizer.to_str()


def tiny_translation_tokenizer(*, appends_eos: bool = False, has_pad_token: bool = True):
    """A fresh byte-level BPE tokenizer: ids 0, 1, 2 are <pad>, </s>, <s>.

    Like Gemma's it starts every text with <s>; with `appends_eos`, like T5's and Marian's, it
    ends every text with </s> instead. Without `has_pad_token` it has no pad token.
    """
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer.from_str(_tiny_bpe_json())
    special = (EOS, 1) if appends_eos else (BOS, 2)
    template = f"$A {EOS}" if appends_eos else f"{BOS} $A"
    tokenizer.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[special]
    )
    pad = {"pad_token": PAD} if has_pad_token else {}
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, bos_token=BOS, **pad)


def tiny_translation_vocab_size() -> int:
    return len(tiny_translation_tokenizer())


def tiny_random_gemma3():
    """A 2-layer, 32-wide Gemma-3 causal LM (one sliding, one full attention layer), random."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=tiny_translation_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=256,
        sliding_window=16,
        layer_types=["sliding_attention", "full_attention"],
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        tie_word_embeddings=True,
    )
    return Gemma3ForCausalLM(config).eval()


def tiny_random_t5():
    """A 2+2-layer, 32-wide T5 encoder-decoder, random."""
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=tiny_translation_vocab_size(),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return T5ForConditionalGeneration(config).eval()


def tiny_random_marian():
    """A 2+2-layer, 32-wide Marian encoder-decoder (BART-style layer names), random."""
    from transformers import MarianConfig, MarianMTModel

    torch.manual_seed(0)
    config = MarianConfig(
        vocab_size=tiny_translation_vocab_size(),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        forced_eos_token_id=None,
    )
    return MarianMTModel(config).eval()


def tiny_translation_splits():
    """English -> Hausa splits of `TINY_PARALLEL_PAIRS`: train on all, two test sets."""
    from pipelines.translation.corpora import TranslationSplits
    from pipelines.translation.parallel_text import ParallelText

    sources = [source for source, _ in TINY_PARALLEL_PAIRS]
    targets = [target for _, target in TINY_PARALLEL_PAIRS]
    pairs = ParallelText(sources, targets, "tiny eng-hau")
    return TranslationSplits(
        train=pairs,
        val=pairs.subset([0, 1, 2, 3]),
        tests={"in_domain": pairs.subset([4, 5]), "out_of_domain": pairs.subset([1, 3, 5])},
        source_language="eng",
        target_language="hau",
    )


def tiny_random_whisper_classifier():
    """A 2-layer, 32-wide Whisper audio classifier over 8 mel bins and 16 positions, random."""
    from transformers import WhisperConfig, WhisperForAudioClassification

    torch.manual_seed(0)
    config = WhisperConfig(
        d_model=32,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        num_mel_bins=8,
        max_source_positions=16,
        num_labels=3,
    )
    return WhisperForAudioClassification(config)
