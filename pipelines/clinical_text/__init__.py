"""Clinical text classification: a pretrained encoder over clinical notes, scored by AUROC."""

from pipelines.registry import DataSection, PipelineSpec, TextModelSection, register_pipeline

register_pipeline(
    PipelineSpec(
        name="clinical_text",
        prepare="pipelines.clinical_text.pipeline:prepare_clinical_text",
        data_section=DataSection,
        model_section=TextModelSection,
        validation_metrics=("val_loss", "val_auroc"),
        test_metrics=("auroc_macro", "accuracy"),
        datasets_module="pipelines.clinical_text.datasets",
    )
)
