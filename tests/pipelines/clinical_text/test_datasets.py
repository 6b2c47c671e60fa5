"""Tests for the clinical text dataset readers: real data when present, malformed files always."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from real_data import real_data_dir

from pipelines.clinical_text.datasets import (
    MTSAMPLES_NOT_SPECIALTIES,
    load_clinical_dataset,
    read_radlabels,
)
from shared.datasets import dataset_names

MTSAMPLES_FIVE = [
    "Cardiovascular / Pulmonary",
    "Gastroenterology",
    "General Medicine",
    "Neurology",
    "Orthopedic",
]


def _all_texts(splits) -> list[str]:
    return splits.train.texts + splits.val.texts + splits.test.texts


def _assert_disjoint(splits) -> None:
    train, val, test = (set(part.texts) for part in (splits.train, splits.val, splits.test))
    assert not (train & val) and not (train & test) and not (val & test)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _symptom_csv(rows_per_class: int = 10, extra: str = "") -> str:
    rows = [
        f'{i},{label},"{label} sign number {i} with cough and fever"'
        for i, label in enumerate(["Flu", "Acne", "Gout"] * rows_per_class)
    ]
    return "index,label,text\n" + "\n".join(rows) + "\n" + extra


def test_registry_lists_the_four_datasets_and_their_organ_system_views():
    assert dataset_names("clinical_text") == [
        "radlabels",
        "mtsamples",
        "symptom2disease",
        "medical_abstracts",
        "symptom2disease_organs",
        "mtsamples_organs",
        "medical_abstracts_organs",
    ]


def test_radlabels_loads_offline_without_importing_the_package():
    splits = load_clinical_dataset("radlabels", data_dir=None, seed=0)
    assert splits.multilabel
    assert (len(splits.train), len(splits.val), len(splits.test)) == (700, 150, 150)
    labels = np.concatenate([splits.train.labels, splits.val.labels, splits.test.labels])
    assert labels.shape == (1000, len(splits.label_names)) and labels.dtype == np.int64
    assert len(splits.label_names) == 14
    assert (labels.sum(axis=0) >= 100).all()
    assert (labels.sum(axis=1) == 0).any(), "reports without a positive finding are kept"
    assert "radlabels" not in sys.modules, "importing radlabels pulls in missing dependencies"
    _assert_disjoint(splits)


def test_radlabels_min_positives_option_filters_findings():
    splits = load_clinical_dataset("radlabels", None, min_positives=300)
    assert splits.label_names == [
        "air_space_opacity",
        "cardiomegaly",
        "pleural_effusion",
        "pulmonary_congestion_pulmonary_venous_congestion",
    ]


def test_read_radlabels_counts_only_definitely_present(tmp_path):
    _write(
        tmp_path / "synthetic_labels.json",
        json.dumps(
            {
                "r2": {"edema": "definitely absent", "effusion": "definitely present"},
                "r1": {"edema": "definitely present", "effusion": "uncertain"},
                "r3": {"nodule": "uncertain"},
            }
        ),
    )
    for report_id in ("r1", "r2", "r3"):
        _write(tmp_path / "synthetic_reports" / f"{report_id}.txt", f"  report {report_id}\n")
    texts, labels, names = read_radlabels(tmp_path, min_positives=1)
    assert texts == ["report r1", "report r2", "report r3"]
    assert names == ["edema", "effusion"]
    np.testing.assert_array_equal(labels, [[1, 0], [0, 1], [0, 0]])


def test_read_radlabels_rejects_an_unknown_label_value(tmp_path):
    labels_file = _write(
        tmp_path / "synthetic_labels.json", json.dumps({"r1": {"edema": "probably"}})
    )
    with pytest.raises(ValueError, match=r"synthetic_labels\.json: report 'r1', finding 'edema'"):
        read_radlabels(tmp_path, min_positives=1)
    labels_file.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"synthetic_labels\.json is not valid JSON"):
        read_radlabels(tmp_path, min_positives=1)


def test_read_radlabels_requires_every_report_text(tmp_path):
    _write(tmp_path / "synthetic_labels.json", json.dumps({"r1": {"edema": "definitely present"}}))
    with pytest.raises(FileNotFoundError, match=r"synthetic_reports/r1\.txt does not exist"):
        read_radlabels(tmp_path, min_positives=1)
    with pytest.raises(ValueError, match=r"data\.options\.min_positives=5.*the most is 1"):
        read_radlabels(tmp_path, min_positives=5)


def test_unknown_dataset_names_the_field_and_the_valid_names():
    with pytest.raises(ValueError, match=r"data\.name='mimic'.*radlabels, mtsamples"):
        load_clinical_dataset("mimic", real_data_dir())


def test_unknown_option_is_named():
    with pytest.raises(
        ValueError, match=r"data\.options\.top_k.*data\.name='radlabels'.*min_positives"
    ):
        load_clinical_dataset("radlabels", None, top_k=3)


def test_missing_data_dir_says_where_to_get_the_data():
    with pytest.raises(FileNotFoundError) as error:
        load_clinical_dataset("mtsamples", data_dir=None)
    message = str(error.value)
    assert "clinical_text/mtsamples.csv" in message
    assert "data.data_dir" in message and "../shared/data" in message and "MTSamples" in message


def test_missing_file_names_the_expected_path(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=str(tmp_path / "clinical_text/Symptom2Disease.csv")
    ):
        load_clinical_dataset("symptom2disease", tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"Symptom2Disease\.csv is empty"),
        ("index,label,text\n", r"Symptom2Disease\.csv has a header but no rows"),
        ("index,label,body\n0,Flu,cough\n", r"Symptom2Disease\.csv has no column text"),
        ('index,label,text\n0,Flu,"unclosed\n', r"Symptom2Disease\.csv cannot be parsed as CSV"),
        (_symptom_csv(extra='99,,"no label here"\n'), r"Symptom2Disease\.csv: column label"),
    ],
)
def test_malformed_csv_names_the_file_and_column(tmp_path, content, message):
    _write(tmp_path / "clinical_text" / "Symptom2Disease.csv", content)
    with pytest.raises(ValueError, match=message):
        load_clinical_dataset("symptom2disease", tmp_path)


def test_medical_abstracts_label_outside_the_label_file(tmp_path):
    folder = tmp_path / "clinical_text" / "medical_abstracts_tc"
    _write(folder / "medical_tc_labels.csv", "condition_label,condition_name\n1,neoplasms\n")
    _write(folder / "medical_tc_test.csv", "condition_label,medical_abstract\n1,a\n7,b\n")
    with pytest.raises(ValueError, match=r"medical_tc_test\.csv: column condition_label.*'7'"):
        load_clinical_dataset("medical_abstracts", tmp_path)


def test_duplicates_are_kept_once_and_conflicting_texts_dropped(tmp_path):
    repeat = '92,Gout,"Gout sign number 2 with cough and fever"\n'
    extra = '90,Flu,"shared text"\n91,Acne,"shared text"\n' + repeat
    _write(tmp_path / "clinical_text" / "Symptom2Disease.csv", _symptom_csv(extra=extra))
    splits = load_clinical_dataset("symptom2disease", tmp_path)
    texts = _all_texts(splits)
    assert "shared text" not in texts
    assert len(texts) == len(set(texts)) == 30
    assert splits.label_names == ["Acne", "Flu", "Gout"]


def test_class_too_small_for_three_splits_is_named(tmp_path):
    extra = '95,Rare,"only one"\n96,Rare,"only two"\n'
    _write(tmp_path / "clinical_text" / "Symptom2Disease.csv", _symptom_csv(extra=extra))
    with pytest.raises(ValueError, match=r"class 'Rare' has 2 usable example"):
        load_clinical_dataset("symptom2disease", tmp_path)


def test_mtsamples_picks_the_largest_specialties_and_skips_document_types(tmp_path):
    rows = (
        [("Surgery", f"operative note {i}") for i in range(9)]
        + [("Orthopedic", f"knee note {i}") for i in range(6)]
        + [("Neurology", f"stroke note {i}") for i in range(5)]
        + [("Urology", f"kidney note {i}") for i in range(4)]
        + [("Orthopedic", "knee and stroke"), ("Neurology", "knee and stroke")]
        + [("Neurology", "")]
    )
    body = "\n".join(f'{i},d," {name}",s,"{text}",k' for i, (name, text) in enumerate(rows))
    header = "note_id,description,medical_specialty,sample_name,transcription,keywords\n"
    _write(tmp_path / "clinical_text" / "mtsamples.csv", header + body + "\n")
    splits = load_clinical_dataset("mtsamples", tmp_path, top_k=2)
    assert splits.label_names == ["Neurology", "Orthopedic"]
    texts = _all_texts(splits)
    assert len(texts) == 11 and "knee and stroke" not in texts and "" not in texts
    with pytest.raises(ValueError, match=r"data\.options\.top_k must be an integer in \[2, 3\]"):
        load_clinical_dataset("mtsamples", tmp_path, top_k=4)


def test_mtsamples_real_label_set_and_sizes(data_dir):
    splits = load_clinical_dataset("mtsamples", data_dir)
    assert splits.label_names == MTSAMPLES_FIVE
    assert not set(splits.label_names) & MTSAMPLES_NOT_SPECIALTIES
    assert (len(splits.train), len(splits.val), len(splits.test)) == (915, 195, 195)
    _assert_disjoint(splits)


def test_real_multiclass_splits_are_stratified_70_15_15(data_dir):
    splits = load_clinical_dataset("symptom2disease", data_dir, seed=0)
    assert len(splits.label_names) == 24
    counts = [
        np.bincount(part.labels, minlength=24) for part in (splits.train, splits.val, splits.test)
    ]
    total = sum(counts)
    assert (counts[1] >= 1).all() and (counts[2] >= 1).all()
    np.testing.assert_allclose(counts[0] / total, 0.70, atol=0.06)
    np.testing.assert_allclose(counts[1] / total, 0.15, atol=0.04)
    _assert_disjoint(splits)


@pytest.mark.parametrize("name", ["symptom2disease", "radlabels"])
def test_same_seed_same_split_other_seed_other_split(name, request):
    """radlabels ships with its package, so only symptom2disease needs the real data."""
    data_dir = request.getfixturevalue("data_dir") if name == "symptom2disease" else real_data_dir()
    first = load_clinical_dataset(name, data_dir, seed=1)
    again = load_clinical_dataset(name, data_dir, seed=1)
    other = load_clinical_dataset(name, data_dir, seed=2)
    assert first.train.texts == again.train.texts and first.test.texts == again.test.texts
    np.testing.assert_array_equal(first.train.labels, again.train.labels)
    assert first.test.texts != other.test.texts


def test_medical_abstracts_uses_the_label_file_names(data_dir):
    splits = load_clinical_dataset("medical_abstracts", data_dir)
    assert splits.label_names == [
        "neoplasms",
        "digestive system diseases",
        "nervous system diseases",
        "cardiovascular diseases",
        "general pathological conditions",
    ]
    assert len(_all_texts(splits)) == 2657
    _assert_disjoint(splits)
