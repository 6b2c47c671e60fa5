"""Machine translation: a pretrained multilingual model adapted to a language pair (BLEU, chrF)."""

from dataclasses import dataclass

from pipelines.registry import DataSection, PipelineSpec, TextModelSection, register_pipeline
from shared.validation import is_count, require


@dataclass
class GenerationSection:
    """How translations are generated for validation and test."""

    max_new_tokens: int = 64  # also the truncation length of training targets
    num_beams: int = 1  # 1 is greedy, deterministic decoding
    val_sentences: int = 32  # validation sentences translated each epoch for val_chrf
    # Forbid repeating any n-gram of this many tokens within a translation (0: off); only the
    # generated tokens count, never the prompt (pipelines/translation/generation.py).
    no_repeat_ngram_size: int = 0
    # Divide the scores of tokens already in the translation by this (1.0: off).
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        for name in ("max_new_tokens", "num_beams", "val_sentences"):
            value = getattr(self, name)
            require(is_count(value, 1), f"generation.{name}", value, ">= 1")
        size = self.no_repeat_ngram_size
        require(is_count(size), "generation.no_repeat_ngram_size", size, ">= 0 (0 is off)")
        penalty = self.repetition_penalty
        require(penalty > 0, "generation.repetition_penalty", penalty, "> 0 (1.0 is off)")


@dataclass
class VocabularySection:
    """A trimmed output vocabulary for the language pair (pipelines/translation/vocabulary.py).

    The output layer keeps the tokens of the training and validation targets, of a monolingual
    sample of the target language (never a test set), the special tokens and the byte tokens;
    the input embeddings stay whole, and adapters load on the untrimmed model.
    """

    trim: bool = False
    # Target-language sentences outside the training pairs and test sets whose tokens are kept
    # too (pipelines/translation/monolingual.py); 0 keeps only the targets' tokens.
    monolingual_sentences: int = 5000
    max_size: int | None = None  # the most tokens to keep; null: every token found
    keep_byte_tokens: bool = True  # the tokenizer's byte tokens, so any text is producible

    def __post_init__(self) -> None:
        count = self.monolingual_sentences
        require(is_count(count), "vocabulary.monolingual_sentences", count, ">= 0")
        size = self.max_size
        require(size is None or is_count(size, 1), "vocabulary.max_size", size, ">= 1 or null")


@dataclass
class BatchingSection:
    """How pairs are grouped into batches (shared/length_buckets.py)."""

    # Batches of similar length: seeded pools for training, sorted test sets; less padding.
    length_buckets: bool = True
    bucket_batches: int = 50  # training batches' worth of pairs sorted together

    def __post_init__(self) -> None:
        count = self.bucket_batches
        require(is_count(count, 1), "batching.bucket_batches", count, ">= 1")


register_pipeline(
    PipelineSpec(
        name="translation",
        prepare="pipelines.translation.pipeline:prepare_translation",
        data_section=DataSection,
        model_section=TextModelSection,
        sections={
            "generation": GenerationSection,
            "vocabulary": VocabularySection,
            "batching": BatchingSection,
        },
        validation_metrics=("val_loss", "val_chrf"),
        test_metrics=("chrf", "bleu"),
        datasets_module="pipelines.translation.corpora",
        cross_domain_tests=True,
    )
)
