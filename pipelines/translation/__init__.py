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

    def __post_init__(self) -> None:
        for name in ("max_new_tokens", "num_beams", "val_sentences"):
            value = getattr(self, name)
            require(is_count(value, 1), f"generation.{name}", value, ">= 1")


register_pipeline(
    PipelineSpec(
        name="translation",
        prepare="pipelines.translation.pipeline:prepare_translation",
        data_section=DataSection,
        model_section=TextModelSection,
        sections={"generation": GenerationSection},
        validation_metrics=("val_loss", "val_chrf"),
        test_metrics=("chrf", "bleu"),
        datasets_module="pipelines.translation.corpora",
    )
)
