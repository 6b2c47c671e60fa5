"""Vision and medical imaging: an ImageNet-pretrained CNN or a ViT over (medical) images."""

from dataclasses import dataclass

from pipelines.registry import DataSection, PipelineSpec, register_pipeline


@dataclass
class VisionDataSection(DataSection):
    image_size: int = 64  # input resolution (28 is MedMNIST's native size)
    augment: bool = False  # random flips, small rotations and zooms in training


register_pipeline(
    PipelineSpec(
        name="vision",
        prepare="pipelines.vision.pipeline:prepare_vision",
        data_section=VisionDataSection,
        validation_metrics=("val_loss", "val_auroc"),
        datasets_module="pipelines.vision.datasets",
    )
)
