"""Domain text: language-model training on a domain's own writing (masked-LM for encoders,
causal-LM for decoders), the first step of two-step PEFT (a domain adapter under a task
adapter, `stack.domain_adapters`)."""

from dataclasses import dataclass

from pipelines.registry import DataSection, PipelineSpec, TextModelSection, register_pipeline
from shared.validation import require

OBJECTIVES = ("masked", "causal")


@dataclass
class DomainTextDataSection(DataSection):
    # masked: an encoder predicts hidden tokens (MiniLM); causal: a decoder predicts each next
    # token (Gemma-3); the backbone must be of that kind.
    objective: str = "masked"
    mask_rate: float = 0.15  # share of tokens the masked-LM objective hides and predicts
    whole_word_masking: bool = False  # hide every sub-word of a chosen word together

    def __post_init__(self) -> None:
        super().__post_init__()
        objective = self.objective
        require(objective in OBJECTIVES, "data.objective", objective, "'masked' or 'causal'")
        rate = self.mask_rate
        require(0 < rate < 1, "data.mask_rate", rate, "in (0, 1)")


register_pipeline(
    PipelineSpec(
        name="domain_text",
        prepare="pipelines.domain_text.pipeline:prepare_domain_text",
        data_section=DomainTextDataSection,
        model_section=TextModelSection,
        validation_metrics=("val_loss", "val_token_accuracy"),
        test_metrics=("token_accuracy", "perplexity"),
        datasets_module="pipelines.domain_text.corpora",
    )
)
