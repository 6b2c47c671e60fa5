"""Vision and medical imaging: an ImageNet-pretrained CNN or a ViT over (medical) images."""

from dataclasses import dataclass

from pipelines.registry import DataSection, PipelineSpec, register_pipeline
from shared.validation import is_count, require


@dataclass
class VisionDataSection(DataSection):
    image_size: int = 64  # input resolution (28 is MedMNIST's native size)
    augment: bool = False  # random flips, small rotations and zooms in training

    def __post_init__(self) -> None:
        super().__post_init__()
        require(is_count(self.image_size, 1), "data.image_size", self.image_size, ">= 1 pixel")


register_pipeline(
    PipelineSpec(
        name="vision",
        prepare="pipelines.vision.pipeline:prepare_vision",
        data_section=VisionDataSection,
        validation_metrics=("val_loss", "val_auroc"),
        test_metrics=("accuracy", "auroc_macro"),
        datasets_module="pipelines.vision.datasets",
    )
)
