"""Tests for the translation corpora: small corpora written to tmp_path, and the real data."""

from pathlib import Path

import pytest

from pipelines.translation.corpora import (
    ParallelText,
    language_name,
    load_translation_data,
    subsample_pairs,
)
from pipelines.translation.corpus_layouts import locate_mafand, locate_tatoeba
from pipelines.translation.parallel_text import read_lines
from shared.datasets import dataset_names


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _numbered(prefix: str, count: int) -> list[str]:
    return [f"{prefix} sentence {index}" for index in range(count)]


def _write_mafand(data_dir: Path, folder: str = "en-hau", sizes=(8, 4, 5)) -> Path:
    pair_folder = data_dir / "translation" / "mafand" / folder
    pivot, other = folder.replace("_", "-").split("-")
    for split, size in zip(("train", "dev", "test"), sizes, strict=True):
        for code in (pivot, other):
            _write(pair_folder / f"{split}.{code}", _numbered(f"{code} {split}", size))
    return pair_folder


def _write_flores(data_dir: Path, files=("eng_Latn", "hau_Latn"), count: int = 6) -> Path:
    folder = data_dir / "translation" / "flores200" / "devtest"
    for name in files:
        _write(folder / f"{name}.devtest", _numbered(f"{name} flores", count))
    return folder


def _write_tatoeba(data_dir: Path, other: str = "swh", count: int = 20) -> Path:
    folder = data_dir / "translation" / "tatoeba" / "v1"
    _write(folder / f"tatoeba.{other}-eng.{other}", _numbered(f"{other} tatoeba", count))
    _write(folder / f"tatoeba.{other}-eng.eng", _numbered("eng tatoeba", count))
    return folder


@pytest.fixture
def corpora(tmp_path) -> Path:
    _write_mafand(tmp_path)
    _write_mafand(tmp_path, "fr-bam", sizes=(3, 2, 2))
    _write_flores(tmp_path)
    tico = tmp_path / "translation" / "tico19" / "en-ha"
    _write(tico / "tico19-test.en", _numbered("eng tico", 4))
    _write(tico / "tico19-test.ha", _numbered("hau tico", 4))
    _write_tatoeba(tmp_path)
    return tmp_path


def test_registry_and_language_names():
    assert dataset_names("translation") == ["mafand", "tatoeba", "flores200", "tico19"]
    assert dataset_names("translation", trainable=True) == ["mafand", "tatoeba"]
    assert [language_name(code) for code in ("hau", "swa", "swh", "eng")] == [
        "Hausa",
        "Swahili",
        "Swahili",
        "English",
    ]
    with pytest.raises(ValueError, match=r"unknown language code 'xx'.*hau"):
        language_name("xx")


def test_mafand_splits_and_extra_tests_in_the_order_asked(corpora):
    splits = load_translation_data(
        "mafand", corpora, source="eng", target="hau", extra_tests=["tico19", "flores200"]
    )
    assert (len(splits.train), len(splits.val)) == (8, 4)
    assert list(splits.tests) == ["mafand", "tico19", "flores200"]
    assert [len(test) for test in splits.tests.values()] == [5, 4, 6]
    assert splits.train.sources[0] == "en train sentence 0"
    assert splits.train.targets[0] == "hau train sentence 0"
    assert splits.val.sources[0] == "en dev sentence 0"
    assert splits.tests["flores200"].targets[2] == "hau_Latn flores sentence 2"
    assert splits.tests["mafand"].origin == "mafand eng-hau test"
    assert (splits.source_language, splits.target_language) == ("eng", "hau")
    assert splits.notes["dropped_overlap"] == {"train": 0, "val": 0}


def test_reversed_direction_swaps_every_file(corpora):
    splits = load_translation_data(
        "mafand", corpora, source="hau", target="eng", extra_tests=["flores200", "tico19"]
    )
    assert splits.train.sources[1] == "hau train sentence 1"
    assert splits.train.targets[1] == "en train sentence 1"
    assert splits.tests["flores200"].sources[0] == "hau_Latn flores sentence 0"
    assert splits.tests["tico19"].targets[0] == "eng tico sentence 0"
    assert (splits.source_language, splits.target_language) == ("hau", "eng")
    assert splits.tests["mafand"].origin == "mafand hau-eng test"


def test_french_pivot_and_underscore_folder(tmp_path):
    _write_mafand(tmp_path, "fr-bam", sizes=(3, 2, 2))
    _write_mafand(tmp_path, "en_luo", sizes=(3, 2, 2))
    bam = load_translation_data("mafand", tmp_path, source="bam", target="fra")
    assert bam.train.targets[0] == "fr train sentence 0"
    luo = load_translation_data("mafand", tmp_path, source="eng", target="luo")
    assert luo.train.targets[0] == "luo train sentence 0"


def test_swahili_codes_match_across_corpora(tmp_path):
    _write_mafand(tmp_path, "en-swa")
    _write_flores(tmp_path, files=("eng_Latn", "swh_Latn"))
    tico = tmp_path / "translation" / "tico19" / "en-sw"
    _write(tico / "tico19-test.en", _numbered("eng tico", 3))
    _write(tico / "tico19-test.sw", _numbered("sw tico", 3))
    for target in ("swa", "swh"):
        splits = load_translation_data(
            "mafand", tmp_path, source="eng", target=target, extra_tests=["flores200", "tico19"]
        )
        assert splits.target_language == target
        assert splits.tests["flores200"].targets[0] == "swh_Latn flores sentence 0"
        assert splits.tests["tico19"].targets[0] == "sw tico sentence 0"


def test_pairs_seen_in_any_test_set_are_dropped_from_train_and_val(corpora):
    pair_folder = corpora / "translation" / "mafand" / "en-hau"
    train_en = _numbered("en train", 8)
    train_hau = _numbered("hau train", 8)
    train_en[2] = "  EN TEST   sentence 3 "  # the in-domain test source, respaced and upper-cased
    train_hau[5] = "hau_Latn flores sentence 4"  # a FLORES target
    train_hau[6] = "eng_Latn flores sentence 1"  # same text as a test *source*: not an overlap
    _write(pair_folder / "train.en", train_en)
    _write(pair_folder / "train.hau", train_hau)
    _write(pair_folder / "dev.hau", ["hau tico sentence 0", *_numbered("hau dev", 4)[1:]])
    splits = load_translation_data(
        "mafand", corpora, source="eng", target="hau", extra_tests=["flores200", "tico19"]
    )
    assert splits.notes["dropped_overlap"] == {"train": 2, "val": 1}
    assert len(splits.train) == 6 and len(splits.val) == 3
    assert "hau train sentence 2" not in splits.train.targets
    assert "hau_Latn flores sentence 4" not in splits.train.targets
    assert "eng_Latn flores sentence 1" in splits.train.targets
    every_test_source = {text for test in splits.tests.values() for text in test.sources}
    assert not {text.strip().lower() for text in splits.train.sources} & every_test_source


def test_tatoeba_split_is_seeded_disjoint_and_complete(corpora):
    first = load_translation_data("tatoeba", corpora, source="eng", target="swh", seed=3)
    again = load_translation_data("tatoeba", corpora, source="eng", target="swh", seed=3)
    other = load_translation_data("tatoeba", corpora, source="eng", target="swh", seed=4)
    assert (len(first.train), len(first.val), len(first.tests["tatoeba"])) == (14, 3, 3)
    assert first == again
    assert other.tests["tatoeba"].sources != first.tests["tatoeba"].sources
    parts = [first.train.sources, first.val.sources, first.tests["tatoeba"].sources]
    assert sorted(sum(parts, [])) == sorted(_numbered("eng tatoeba", 20))
    assert first.train.targets[0].replace("swh", "eng") == first.train.sources[0]
    assert first.tests["tatoeba"].origin == "tatoeba eng-swh test"
    assert "seed 3" in first.notes["split"]


def test_tatoeba_serves_whole_as_an_extra_test(corpora):
    _write_mafand(corpora, "en-swa")
    splits = load_translation_data(
        "mafand", corpora, source="swa", target="eng", extra_tests=["tatoeba"]
    )
    assert len(splits.tests["tatoeba"]) == 20
    assert splits.tests["tatoeba"].sources[0] == "swh tatoeba sentence 0"


def test_max_test_pairs_caps_every_test_to_a_fixed_subset(corpora):
    capped = [
        load_translation_data(
            "mafand",
            corpora,
            source="eng",
            target="hau",
            seed=seed,
            extra_tests=["flores200"],
            max_test_pairs=3,
        )
        for seed in (0, 1)
    ]
    assert [len(test) for test in capped[0].tests.values()] == [3, 3]
    assert capped[0].tests == capped[1].tests
    assert capped[0].notes["test_pairs_before_cap"] == {"mafand": 5, "flores200": 6}
    assert capped[0].notes["max_test_pairs"] == 3
    assert "3 of 6 pairs" in capped[0].tests["flores200"].origin
    assert len(capped[0].train) == 8


def test_lines_are_read_as_utf8_with_only_line_endings_stripped(tmp_path):
    path = tmp_path / "text"
    path.write_bytes("\ufeff  Ɗan’uwa \r\nsecond\u2028half\nlast".encode())
    assert read_lines(path) == ["  Ɗan’uwa ", "second\u2028half", "last"]
    path.write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(ValueError, match=r"text is not valid UTF-8: line 2"):
        read_lines(path)


def test_misaligned_files_name_both_files_and_counts(corpora):
    _write(corpora / "translation/mafand/en-hau/train.hau", _numbered("hau train", 7))
    with pytest.raises(ValueError, match=r"train\.en has 8 lines but .*train\.hau has 7"):
        load_translation_data("mafand", corpora, source="eng", target="hau")


def test_empty_lines_fail_with_file_and_line_or_are_dropped_and_counted(corpora):
    lines = _numbered("hau train", 8)
    lines[2], lines[6] = "", "   "
    _write(corpora / "translation/mafand/en-hau/train.hau", lines)
    with pytest.raises(ValueError, match=r"2 pair\(s\).*train\.hau line 3; .*train\.hau line 7"):
        load_translation_data("mafand", corpora, source="eng", target="hau")
    splits = load_translation_data("mafand", corpora, source="eng", target="hau", drop_empty=True)
    assert len(splits.train) == 6 and "" not in splits.train.targets
    assert splits.notes["dropped_empty"]["mafand eng-hau train"] == 2
    assert splits.notes["dropped_empty"]["mafand eng-hau test"] == 0


def test_unknown_language_lists_the_corpus_languages(corpora):
    with pytest.raises(ValueError, match=r"target='yor': mafand .* languages: bam, eng, fra, hau"):
        load_translation_data("mafand", corpora, source="eng", target="yor")
    with pytest.raises(ValueError, match=r"target='en'.*ISO 639-3"):
        load_translation_data("tatoeba", corpora, source="swh", target="en")
    _write_mafand(corpora, "en-yor")
    with pytest.raises(ValueError, match=r"source='yor': flores200 .* eng, hau"):
        load_translation_data(
            "mafand", corpora, source="yor", target="eng", extra_tests=["flores200"]
        )


def test_missing_pair_and_missing_train_split_are_named(corpora):
    with pytest.raises(
        ValueError, match=r"mafand has no hau-bam pair; it pairs 'hau' only with: eng"
    ):
        load_translation_data("mafand", corpora, source="hau", target="bam")
    pair_folder = corpora / "translation/mafand/en-hau"
    (pair_folder / "train.en").unlink()
    with pytest.raises(FileNotFoundError, match=r"train\.en is missing but .*train\.hau exists"):
        load_translation_data("mafand", corpora, source="eng", target="hau")
    (pair_folder / "train.hau").unlink()
    with pytest.raises(
        ValueError, match=r"eng-hau has no train split \(files for test, val only\)"
    ):
        load_translation_data("mafand", corpora, source="eng", target="hau")


def test_missing_data_says_where_to_get_it(tmp_path, corpora):
    with pytest.raises(FileNotFoundError, match=r"translation/mafand does not exist.*lafand-mt"):
        load_translation_data("mafand", tmp_path / "elsewhere", source="eng", target="hau")
    with pytest.raises(FileNotFoundError, match="data.data_dir is not set"):
        load_translation_data("mafand", None, source="eng", target="hau")
    _write_mafand(tmp_path / "only_mafand")
    with pytest.raises(FileNotFoundError, match=r"extra_tests names 'tico19'.*tico-19\.github"):
        load_translation_data(
            "mafand", tmp_path / "only_mafand", source="eng", target="hau", extra_tests=["tico19"]
        )


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "opus",
            {},
            r"data.name='opus' is not a translation dataset; valid names: mafand, tatoeba",
        ),
        ("flores200", {}, r"test set only; .*data.cross_domain=\{flores200: \{\}\}"),
        ("mafand", {"val_fraction": 0.1}, r"unknown option\(s\) data.options.val_fraction"),
        ("mafand", {"extra_tests": "flores200"}, "must be a list of corpus names"),
        ("mafand", {"extra_tests": ["mafand"]}, r"names 'mafand'; valid names: tatoeba, flores"),
        ("mafand", {"extra_tests": ["tico19", "tico19"]}, "names a corpus twice"),
        ("mafand", {"max_test_pairs": 0}, "max_test_pairs must be null or >= 1"),
        ("mafand", {"drop_empty": "maybe"}, r"data.options.drop_empty.*not a valid bool"),
        ("mafand", {"target": "eng"}, "name the same language"),
        ("tatoeba", {"val_fraction": 0.5, "test_fraction": 0.5}, "sum must be below 1"),
        ("tatoeba", {"test_fraction": 0}, r"test_fraction must be in \(0, 1\)"),
    ],
)
def test_bad_names_and_options_fail_before_reading(corpora, name, options, message):
    arguments = {"source": "eng", "target": "hau", **options}
    with pytest.raises(ValueError, match=message):
        load_translation_data(name, corpora, **arguments)


def test_subsample_pairs_is_seeded_nested_and_checked():
    pairs = ParallelText(_numbered("src", 10), _numbered("tgt", 10), "toy train")
    four = subsample_pairs(pairs, count=4, seed=1)
    assert four == subsample_pairs(pairs, count=4, seed=1)
    assert len(four) == 4 and four.origin == "toy train, 4 of 10 pairs (seed 1)"
    assert [text.replace("src", "tgt") for text in four.sources] == four.targets
    assert set(four.sources) <= set(subsample_pairs(pairs, count=7, seed=1).sources)
    assert four.sources == sorted(four.sources, key=pairs.sources.index)
    assert len(subsample_pairs(pairs, fraction=0.25)) == 2
    assert subsample_pairs(pairs, count=4, seed=2).sources != four.sources
    assert subsample_pairs(pairs) is pairs
    with pytest.raises(ValueError, match="count=4 and fraction=0.5 are both set"):
        subsample_pairs(pairs, count=4, fraction=0.5)
    with pytest.raises(ValueError, match=r"count=11 is more than the 10 pairs of toy train"):
        subsample_pairs(pairs, count=11)
    with pytest.raises(ValueError, match=r"count must be an integer >= 1, got 0"):
        subsample_pairs(pairs, count=0)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\], got 1.5"):
        subsample_pairs(pairs, fraction=1.5)


def test_real_mafand_eng_hau_with_flores_and_tico(data_dir, require_data):
    require_data("translation")
    splits = load_translation_data(
        "mafand", data_dir, source="eng", target="hau", extra_tests=["flores200", "tico19"]
    )
    dropped = splits.notes["dropped_overlap"]
    assert (len(splits.train) + dropped["train"], len(splits.val) + dropped["val"]) == (3098, 1300)
    assert 0 < dropped["train"] < 150
    assert [len(test) for test in splits.tests.values()] == [1500, 1012, 2100]
    flores = splits.tests["flores200"]
    assert flores.sources[0].startswith('"We now have 4-month-old mice')
    assert flores.targets[0].startswith("“Yanzu muna bera mai watanni 4")


def test_every_real_training_language_has_a_name(require_data):
    translation = require_data("translation")
    for locate, folder in ((locate_mafand, "mafand"), (locate_tatoeba, "tatoeba/v1")):
        with pytest.raises(ValueError, match="its languages: ") as error:
            locate(translation / folder, "eng", "none")
        codes = str(error.value).split("its languages: ")[1].rstrip(".").split(", ")
        assert len(codes) > 20
        for code in codes:
            assert language_name(code)
