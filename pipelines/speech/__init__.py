"""Speech classification: a pretrained audio encoder over spoken words, scored by accuracy."""

from dataclasses import dataclass

from pipelines.registry import DataSection, PipelineSpec, register_pipeline


@dataclass
class SpeechDataSection(DataSection):
    window_seconds: float = 2.5  # the encoder's input window (clips are padded to it)


register_pipeline(
    PipelineSpec(
        name="speech",
        prepare="pipelines.speech.pipeline:prepare_speech",
        data_section=SpeechDataSection,
        validation_metrics=("val_loss", "val_auroc"),
        datasets_module="pipelines.speech.datasets",
    )
)
