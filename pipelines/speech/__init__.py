"""Speech classification: a pretrained audio encoder over spoken words, scored by accuracy."""

from dataclasses import dataclass

from pipelines.registry import DataSection, PipelineSpec, register_pipeline
from shared.validation import require


@dataclass
class SpeechDataSection(DataSection):
    window_seconds: float = 2.5  # the encoder's input window (clips are padded to it)

    def __post_init__(self) -> None:
        super().__post_init__()
        seconds = self.window_seconds
        require(seconds > 0, "data.window_seconds", seconds, "a positive number of seconds")


register_pipeline(
    PipelineSpec(
        name="speech",
        prepare="pipelines.speech.pipeline:prepare_speech",
        data_section=SpeechDataSection,
        validation_metrics=("val_loss", "val_auroc"),
        test_metrics=("accuracy", "f1_macro"),
        datasets_module="pipelines.speech.datasets",
        cross_domain_tests=True,
    )
)
