"""Clinical text classification: a pretrained encoder over clinical notes, scored by AUROC."""

from dataclasses import dataclass

from pipelines.registry import DataSection, PipelineSpec, TextModelSection, register_pipeline


@dataclass
class ClinicalTextDataSection(DataSection):
    # Batch notes of similar length (seeded; every note once per epoch), so padded batches carry
    # little padding; see shared/length_buckets.py.
    bucket_by_length: bool = True
    # Compute a frozen prefix's features once per note and reuse them across epochs and runs
    # (linear probe); see shared/frozen_prefix.py.
    feature_cache: bool = True


@dataclass
class ClinicalTextModelSection(TextModelSection):
    # Run the encoder's forward through torch.compile. Off by default: it did not pay for its
    # compile time on a 2-core CPU (benchmarks/results/throughput.md).
    compile: bool = False


register_pipeline(
    PipelineSpec(
        name="clinical_text",
        prepare="pipelines.clinical_text.pipeline:prepare_clinical_text",
        data_section=ClinicalTextDataSection,
        model_section=ClinicalTextModelSection,
        validation_metrics=("val_loss", "val_auroc"),
        test_metrics=("auroc_macro", "accuracy"),
        datasets_module="pipelines.clinical_text.datasets",
        cross_domain_tests=True,
    )
)
