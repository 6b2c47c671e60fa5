"""Domain text: masked-LM training of an encoder on a domain's own writing, the first step of
two-step PEFT (a domain adapter under a task adapter, `stack.domain_adapters`)."""

from dataclasses import dataclass

from pipelines.registry import DataSection, PipelineSpec, TextModelSection, register_pipeline
from shared.validation import require


@dataclass
class DomainTextDataSection(DataSection):
    mask_rate: float = 0.15  # share of tokens the masked-LM objective hides and predicts
    whole_word_masking: bool = False  # hide every sub-word of a chosen word together

    def __post_init__(self) -> None:
        super().__post_init__()
        rate = self.mask_rate
        require(0 < rate < 1, "data.mask_rate", rate, "in (0, 1)")


register_pipeline(
    PipelineSpec(
        name="domain_text",
        prepare="pipelines.domain_text.pipeline:prepare_domain_text",
        data_section=DomainTextDataSection,
        model_section=TextModelSection,
        validation_metrics=("val_loss", "val_masked_accuracy"),
        test_metrics=("masked_accuracy", "perplexity"),
        datasets_module="pipelines.domain_text.corpora",
    )
)
