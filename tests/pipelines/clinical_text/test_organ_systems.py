"""Organ-system views of three clinical sources: one label set, each scored on the others."""

import numpy as np
import pytest

from peftsuite.config import load_config
from pipelines.clinical_text.datasets import (
    load_clinical_dataset,
    read_medical_abstracts,
    read_mtsamples,
    read_symptom2disease,
)
from pipelines.clinical_text.organ_systems import (
    MEDICAL_ABSTRACTS_ORGANS,
    MTSAMPLES_ORGANS,
    ORGAN_SYSTEMS,
    SYMPTOM2DISEASE_ORGANS,
)
from pipelines.clinical_text.pipeline import prepare_clinical_text
from shared.datasets import get_dataset

VIEWS = {
    "symptom2disease": SYMPTOM2DISEASE_ORGANS,
    "mtsamples": MTSAMPLES_ORGANS,
    "medical_abstracts": MEDICAL_ABSTRACTS_ORGANS,
}
READERS = {
    "symptom2disease": read_symptom2disease,
    "mtsamples": read_mtsamples,
    "medical_abstracts": read_medical_abstracts,
}


@pytest.mark.parametrize("source", list(VIEWS))
def test_each_view_keeps_only_mapped_texts_under_the_shared_label_set(source, data_dir):
    organs = load_clinical_dataset(f"{source}_organs", data_dir, seed=0)
    assert organs.label_names == list(ORGAN_SYSTEMS)
    for part in (organs.train, organs.val, organs.test):
        assert (np.bincount(part.labels, minlength=3) >= 1).all()
    # Every kept text is filed in the source under a label the mapping sends to its organ system.
    paths = [data_dir / relative for relative in get_dataset(source, "clinical_text").facts]
    texts, labels = READERS[source](*paths)[:2]
    mapped: dict[str, set[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        mapped.setdefault(text, set()).add(VIEWS[source].get(label))
    for part in (organs.train, organs.val, organs.test):
        for text, organ in zip(part.texts, part.labels, strict=True):
            assert mapped[text] - {None} == {ORGAN_SYSTEMS[organ]}


def test_a_source_missing_a_mapped_label_is_refused_by_name(tmp_path):
    folder = tmp_path / "clinical_text"
    folder.mkdir()
    rows = [f'{i},Migraine,"head pain number {i}"' for i in range(9)]
    (folder / "Symptom2Disease.csv").write_text("index,label,text\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"Symptom2Disease\.csv: no text is labelled .*Hypert"):
        load_clinical_dataset("symptom2disease_organs", tmp_path)


@pytest.mark.slow
def test_the_organ_configs_score_the_other_two_sources(data_dir):
    config = load_config(["data=symptom2disease_organs", f"data.data_dir={data_dir}"])
    prepared = prepare_clinical_text(config)
    names = prepared.datamodule.test_set_names()
    assert names == ["test", "mtsamples_organs", "medical_abstracts_organs"]
    expected = load_clinical_dataset("mtsamples_organs", data_dir, seed=0).test.texts
    served = prepared.datamodule.datasets["mtsamples_organs"]
    assert len(served) == len(expected) == prepared.data_summary["cross_domain_sizes"][names[1]]


def test_a_cross_domain_set_with_other_labels_is_refused_before_the_model_loads(data_dir):
    config = load_config(
        ["data=symptom2disease", f"data.data_dir={data_dir}", "+data.cross_domain.mtsamples={}"]
    )
    with pytest.raises(ValueError, match=r"data\.cross_domain\.mtsamples: its labels .* differ"):
        prepare_clinical_text(config)
