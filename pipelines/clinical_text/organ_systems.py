"""Three kinds of clinical writing on one label space, the organ system, for cross-domain tests.

Patients describing symptoms (Symptom2Disease), physicians' transcribed notes (MTSamples, by
specialty) and research abstracts (Medical Abstracts, by disease category) label different
things, so a model trained on one cannot be scored on another as they are. Each source is mapped
here onto the organ systems all three cover, by the ICD-10 chapter of the disease (or the organ a
specialty treats): cardiovascular (circulatory system), digestive and nervous. Everything else is
dropped: skin, respiratory, infectious, musculoskeletal and metabolic diseases (no abstracts or
no notes of theirs), MTSamples' document types and other specialties, and the abstracts on
neoplasms and general pathological conditions. `data_cards/clinical_organ_systems.md` gives the
counts and the noise: MTSamples files cardiology and pulmonology under one specialty.

The mapping is applied before deduplication, so a note MTSamples files under two specialties of
one organ system (Neurology and Neurosurgery) is kept once; splits are stratified 70/15/15 with
the seed, as for every clinical dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from pipelines.clinical_text.datasets import (
    PIPELINE,
    TextClassificationSplits,
    read_medical_abstracts,
    read_mtsamples,
    read_symptom2disease,
    split_multiclass,
)
from shared.datasets import get_dataset, register_dataset

ORGAN_SYSTEMS = ("cardiovascular", "digestive", "nervous")
SYMPTOM2DISEASE_ORGANS = {
    "Hypertension": "cardiovascular",  # I10
    "Varicose Veins": "cardiovascular",  # I83
    "Dimorphic Hemorrhoids": "digestive",  # K64
    "gastroesophageal reflux disease": "digestive",  # K21
    "peptic ulcer disease": "digestive",  # K27
    "Jaundice": "digestive",  # R17, a sign of liver and bile duct disease (K70-K87)
    "Migraine": "nervous",  # G43
}
MTSAMPLES_ORGANS = {
    "Cardiovascular / Pulmonary": "cardiovascular",  # pulmonology notes included: see the card
    "Gastroenterology": "digestive",
    "Neurology": "nervous",
    "Neurosurgery": "nervous",
}
MEDICAL_ABSTRACTS_ORGANS = {
    "cardiovascular diseases": "cardiovascular",  # MeSH C14
    "digestive system diseases": "digestive",  # MeSH C06
    "nervous system diseases": "nervous",  # MeSH C10
}


def organ_system_splits(
    texts: list[str], labels: list[str], organs: Mapping[str, str], path: Path, seed: int
) -> TextClassificationSplits:
    """The texts whose label `organs` maps, labelled by organ system and split with `seed`."""
    unknown = sorted(set(organs) - set(labels))
    if unknown:
        raise ValueError(
            f"{path}: no text is labelled {unknown}; the organ-system mapping expects them "
            "(is this the right file?)."
        )
    pairs = zip(texts, labels, strict=True)
    kept = [(text, organs[label]) for text, label in pairs if label in organs]
    return split_multiclass(
        [text for text, _ in kept], [organ for _, organ in kept], list(ORGAN_SYSTEMS), path, seed
    )


def organ_loader(
    read: Callable[..., tuple], organs: Mapping[str, str]
) -> Callable[[list[Path], int], TextClassificationSplits]:
    """A dataset loader: `read(*paths)` gives (texts, labels, ...), mapped by `organs`."""

    def load(paths: list[Path], seed: int) -> TextClassificationSplits:
        texts, labels = read(*paths)[:2]
        return organ_system_splits(texts, labels, organs, paths[0], seed)

    return load


for source, read, organs in (
    ("symptom2disease", read_symptom2disease, SYMPTOM2DISEASE_ORGANS),
    ("mtsamples", read_mtsamples, MTSAMPLES_ORGANS),
    ("medical_abstracts", read_medical_abstracts, MEDICAL_ABSTRACTS_ORGANS),
):
    original = get_dataset(source, PIPELINE)
    register_dataset(
        f"{source}_organs",
        organ_loader(read, organs),
        pipeline=PIPELINE,
        source=original.source,
        facts=original.facts,
    )
