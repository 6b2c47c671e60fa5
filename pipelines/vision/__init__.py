"""Vision and medical imaging: an ImageNet-pretrained CNN or a ViT over (medical) images."""

from dataclasses import dataclass

from pipelines.registry import DataSection, ModelSection, PipelineSpec, register_pipeline
from shared.validation import is_count, require


@dataclass
class VisionDataSection(DataSection):
    image_size: int = 64  # input resolution (28 is MedMNIST's native size)
    augment: bool = False  # random flips, small rotations and zooms in training
    # Convolutional backbones and their image batches in channels-last layout (faster on CPU and
    # GPU, same outputs to float rounding); no effect on backbones without 2-D convolutions.
    channels_last: bool = True
    # Compute a frozen prefix's features once per example and reuse them across epochs and runs
    # (linear probe, or methods kept to the top stages); see shared/frozen_prefix.py.
    feature_cache: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        require(is_count(self.image_size, 1), "data.image_size", self.image_size, ">= 1 pixel")


@dataclass
class VisionModelSection(ModelSection):
    # Run the model's forward through torch.compile. Off by default: on a 2-core CPU it did not
    # pay for its compile time (benchmarks/results/throughput.md).
    compile: bool = False


register_pipeline(
    PipelineSpec(
        name="vision",
        prepare="pipelines.vision.pipeline:prepare_vision",
        data_section=VisionDataSection,
        model_section=VisionModelSection,
        validation_metrics=("val_loss", "val_auroc"),
        test_metrics=("accuracy", "auroc_macro"),
        datasets_module="pipelines.vision.datasets",
    )
)
