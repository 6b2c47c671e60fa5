"""Where each translation corpus keeps its files, and which files hold a language pair.

Each corpus names its folders and files its own way: MAFAND `en-hau/train.hau` (and one folder
spelt `en_luo`), FLORES-200 `hau_Latn.devtest`, TICO-19 `en-ha/tico19-test.ha`, Tatoeba
`tatoeba.swh-eng.swh`. A `locate_*` function maps an ISO 639-3 direction (source, target) onto
those files, swapping them when the corpus stores the pair the other way round, and returns
`{role: (source file, target file)}` with roles `train`, `val`, `test`, or `all` for a corpus
that has no splits. Unknown languages and missing pairs are errors that list what the corpus has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pipelines.translation.languages import find_language, same_language

PairFiles = dict[str, tuple[Path, Path]]  # role -> (source file, target file)

# MAFAND names English and French by two-letter codes, every other language by ISO 639-3.
MAFAND_CODES = {"en": "eng", "fr": "fra"}
MAFAND_FOLDER = re.compile(r"(?P<pivot>[a-z]+)[-_](?P<other>[a-z]+)")
MAFAND_ROLES = {"train": "train", "val": "dev", "test": "test"}  # our role -> MAFAND's split
# FLORES-200 writes a few languages in two scripts; these are the ones read (the script most
# text in that language is written in, and the one NLLB reports on).
FLORES_SCRIPTS = {
    "ace": "Latn",
    "arb": "Arab",
    "bjn": "Latn",
    "kas": "Arab",
    "knc": "Latn",
    "min": "Latn",
    "taq": "Latn",
    "zho": "Hans",
}
# TICO-19 codes (mostly ISO 639-1, some with a region) -> ISO 639-3. `ti_ER` and `ti_ET` are
# regional variants of the Tigrinya in `ti`, which is the one read.
TICO_CODES: dict[str, str | None] = {
    "am": "amh", "ar": "ara", "bn": "ben", "ckb": "ckb", "din": "din", "en": "eng",
    "es_LA": "spa", "fa": "fas", "fr": "fra", "fuv": "fuv", "ha": "hau", "hi": "hin",
    "id": "ind", "km": "khm", "kr": "kau", "ku": "kur", "lg": "lug", "ln": "lin", "mr": "mar",
    "ms": "msa", "my": "mya", "ne": "nep", "nus": "nus", "om": "orm", "prs": "prs",
    "ps": "pus", "pt_BR": "por", "ru": "rus", "rw": "kin", "so": "som", "sw": "swa",
    "ta": "tam", "ti": "tir", "ti_ER": None, "ti_ET": None, "tl": "tgl", "ur": "urd",
    "zh": "zho", "zu": "zul",
}  # fmt: skip
TATOEBA_FILE = re.compile(r"tatoeba\.(?P<other>[a-z]+)-eng\.eng")


def locate_mafand(folder: Path, source: str, target: str) -> PairFiles:
    """MAFAND-MT: `{en,fr}-xxx/{train,dev,test}.{en|fr,xxx}`; some pairs lack `train`."""
    pairs: dict[tuple[str, str], PairFiles] = {}
    for pair_folder in sorted(path for path in folder.iterdir() if path.is_dir()):
        match = MAFAND_FOLDER.fullmatch(pair_folder.name)
        if match is None:
            continue
        codes = match["pivot"], match["other"]
        roles = {}
        for role, split in MAFAND_ROLES.items():
            files = tuple(pair_folder / f"{split}.{code}" for code in codes)
            present = [file.is_file() for file in files]
            if all(present):
                roles[role] = files
            elif any(present):
                missing = files[present.index(False)]
                raise FileNotFoundError(
                    f"mafand: {missing} is missing but {files[present.index(True)]} exists; "
                    "every MAFAND split needs both languages' files."
                )
        pairs[tuple(MAFAND_CODES.get(code, code) for code in codes)] = roles
    return orient_pair(pairs, source, target, "mafand")


def locate_tico19(folder: Path, source: str, target: str) -> PairFiles:
    """TICO-19: `en-xx/tico19-test.{en,xx}`, English paired with each language, test only."""
    pairs: dict[tuple[str, str], PairFiles] = {}
    for pair_folder in sorted(path for path in folder.glob("en-*") if path.is_dir()):
        tico_code = pair_folder.name.removeprefix("en-")
        code = TICO_CODES.get(tico_code, tico_code)
        if code is None:
            continue
        files = pair_folder / "tico19-test.en", pair_folder / f"tico19-test.{tico_code}"
        pairs[("eng", code)] = {"test": files}
    return orient_pair(pairs, source, target, "tico19")


def locate_tatoeba(folder: Path, source: str, target: str) -> PairFiles:
    """LASER Tatoeba: `tatoeba.xxx-eng.{xxx,eng}`, one file per pair and no splits."""
    pairs: dict[tuple[str, str], PairFiles] = {}
    for english_file in sorted(folder.glob("tatoeba.*-eng.eng")):
        match = TATOEBA_FILE.fullmatch(english_file.name)
        if match is None:
            continue
        other = match["other"]
        pairs[(other, "eng")] = {"all": (english_file.with_suffix(f".{other}"), english_file)}
    return orient_pair(pairs, source, target, "tatoeba")


def locate_flores200(folder: Path, source: str, target: str) -> PairFiles:
    """FLORES-200 devtest: `{xxx}_{Script}.devtest`, all languages aligned line for line."""
    by_language: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*_*.devtest")):
        by_language.setdefault(path.stem.split("_")[0], []).append(path)
    files = []
    for role, code in (("source", source), ("target", target)):
        found = find_language(code, by_language)
        if found is None:
            raise ValueError(_unknown_language(role, code, "flores200", by_language))
        files.append(_flores_file(found, by_language[found]))
    return {"test": (files[0], files[1])}


def _flores_file(code: str, paths: list[Path]) -> Path:
    if len(paths) == 1:
        return paths[0]
    wanted = FLORES_SCRIPTS.get(code)
    chosen = [path for path in paths if path.stem == f"{code}_{wanted}"]
    if not chosen:
        raise ValueError(
            f"flores200 writes {code!r} in several scripts ({', '.join(p.name for p in paths)}) "
            "and FLORES_SCRIPTS in pipelines/translation/corpus_layouts.py names none of them; "
            "add the script to read there."
        )
    return chosen[0]


def orient_pair(
    pairs: dict[tuple[str, str], PairFiles], source: str, target: str, corpus: str
) -> PairFiles:
    """The files of the pair `source`-`target` among `pairs`, swapped if stored the other way."""
    languages = {code for pair in pairs for code in pair}
    for role, code in (("source", source), ("target", target)):
        if find_language(code, languages) is None:
            raise ValueError(_unknown_language(role, code, corpus, languages))
    for (first, second), roles in pairs.items():
        if same_language(source, first) and same_language(target, second):
            return roles
        if same_language(source, second) and same_language(target, first):
            return {role: (files[1], files[0]) for role, files in roles.items()}
    partners = sorted(
        second if same_language(source, first) else first
        for first, second in pairs
        if same_language(source, first) or same_language(source, second)
    )
    raise ValueError(
        f"{corpus} has no {source}-{target} pair; it pairs {source!r} only with: "
        f"{', '.join(partners)}."
    )


def _unknown_language(role: str, code: str, corpus: str, languages: Iterable[str]) -> str:
    return (
        f"data.options.{role}={code!r}: {corpus} has no such language (codes are ISO 639-3, "
        f"e.g. 'eng', 'hau'); its languages: {', '.join(sorted(languages))}."
    )
