"""Language codes and names for the translation corpora.

The pipeline names languages by ISO 639-3 code (`eng`, `hau`), but the corpora do not agree on
which code a language has: MAFAND files Swahili under the macrolanguage `swa`, FLORES-200 and
Tatoeba under the individual language `swh`, TICO-19 under the two-letter `sw`. `SAME_LANGUAGE`
groups the ISO 639-3 codes that name one language here, so `target=swa` finds Swahili in every
corpus. Names are English and are written into prompts ("Translate from English to Hausa").
"""

from __future__ import annotations

from collections.abc import Iterable

# Every language a training corpus (MAFAND, Tatoeba) offers, by the code that corpus uses.
LANGUAGE_NAMES: dict[str, str] = {
    "afr": "Afrikaans",
    "amh": "Amharic",
    "ang": "Old English",
    "ara": "Arabic",
    "arq": "Algerian Arabic",
    "arz": "Egyptian Arabic",
    "ast": "Asturian",
    "awa": "Awadhi",
    "aze": "Azerbaijani",
    "bam": "Bambara",
    "bbj": "Ghomálá'",
    "bel": "Belarusian",
    "ben": "Bengali",
    "ber": "Berber",
    "bos": "Bosnian",
    "bre": "Breton",
    "bul": "Bulgarian",
    "cat": "Catalan",
    "cbk": "Chavacano",
    "ceb": "Cebuano",
    "ces": "Czech",
    "cha": "Chamorro",
    "cmn": "Mandarin Chinese",
    "cor": "Cornish",
    "csb": "Kashubian",
    "cym": "Welsh",
    "dan": "Danish",
    "deu": "German",
    "dsb": "Lower Sorbian",
    "dtp": "Central Dusun",
    "ell": "Greek",
    "eng": "English",
    "epo": "Esperanto",
    "est": "Estonian",
    "eus": "Basque",
    "ewe": "Ewe",
    "fao": "Faroese",
    "fin": "Finnish",
    "fon": "Fon",
    "fra": "French",
    "fry": "Western Frisian",
    "gla": "Scottish Gaelic",
    "gle": "Irish",
    "glg": "Galician",
    "gsw": "Swiss German",
    "hau": "Hausa",
    "heb": "Hebrew",
    "hin": "Hindi",
    "hrv": "Croatian",
    "hsb": "Upper Sorbian",
    "hun": "Hungarian",
    "hye": "Armenian",
    "ibo": "Igbo",
    "ido": "Ido",
    "ile": "Interlingue",
    "ina": "Interlingua",
    "ind": "Indonesian",
    "isl": "Icelandic",
    "ita": "Italian",
    "jav": "Javanese",
    "jpn": "Japanese",
    "kab": "Kabyle",
    "kat": "Georgian",
    "kaz": "Kazakh",
    "khm": "Khmer",
    "kin": "Kinyarwanda",
    "kor": "Korean",
    "kur": "Kurdish",
    "kzj": "Coastal Kadazan",
    "lat": "Latin",
    "lfn": "Lingua Franca Nova",
    "lit": "Lithuanian",
    "lug": "Luganda",
    "luo": "Luo",
    "lvs": "Latvian",
    "mal": "Malayalam",
    "mar": "Marathi",
    "max": "North Moluccan Malay",
    "mhr": "Eastern Mari",
    "mkd": "Macedonian",
    "mon": "Mongolian",
    "mos": "Mossi",
    "nds": "Low German",
    "nld": "Dutch",
    "nno": "Norwegian Nynorsk",
    "nob": "Norwegian Bokmål",
    "nov": "Novial",
    "nya": "Chichewa",
    "oci": "Occitan",
    "orv": "Old Russian",
    "pam": "Kapampangan",
    "pcm": "Nigerian Pidgin",
    "pes": "Persian",
    "pms": "Piedmontese",
    "pol": "Polish",
    "por": "Portuguese",
    "ron": "Romanian",
    "rus": "Russian",
    "slk": "Slovak",
    "slv": "Slovenian",
    "sna": "Shona",
    "spa": "Spanish",
    "sqi": "Albanian",
    "srp": "Serbian",
    "swa": "Swahili",
    "swe": "Swedish",
    "swg": "Swabian",
    "tam": "Tamil",
    "tat": "Tatar",
    "tel": "Telugu",
    "tgl": "Tagalog",
    "tha": "Thai",
    "tsn": "Setswana",
    "tuk": "Turkmen",
    "tur": "Turkish",
    "twi": "Twi",
    "tzl": "Talossan",
    "uig": "Uyghur",
    "ukr": "Ukrainian",
    "urd": "Urdu",
    "uzb": "Uzbek",
    "vie": "Vietnamese",
    "war": "Waray",
    "wol": "Wolof",
    "wuu": "Wu Chinese",
    "xho": "Xhosa",
    "yid": "Yiddish",
    "yor": "Yoruba",
    "yue": "Cantonese",
    "zsm": "Malay",
    "zul": "Zulu",
}

# Codes that name one language across corpora: a macrolanguage and the individual language the
# corpora actually hold (ISO 639-3), e.g. MAFAND `swa` and FLORES-200 `swh_Latn`. Only the first
# code of a group needs a name in LANGUAGE_NAMES.
SAME_LANGUAGE: tuple[tuple[str, ...], ...] = (
    ("swa", "swh"),
    ("ara", "arb"),
    ("pes", "fas"),
    ("zsm", "msa"),
    ("cmn", "zho"),
    ("aze", "azj"),
    ("uzb", "uzn"),
    ("mon", "khk"),
    ("sqi", "als"),
    ("yid", "ydd"),
    ("est", "ekk"),
    ("lvs", "lav"),
    ("kur", "kmr"),
    ("orm", "gaz"),
    ("pus", "pbt"),
    ("nep", "npi"),
    ("kau", "knc"),
    ("din", "dik"),
)
_GROUP_OF = {code: group for group in SAME_LANGUAGE for code in group}


def same_language(code: str, other: str) -> bool:
    """Whether two ISO 639-3 codes name the same language here (`swa` and `swh` do)."""
    return code == other or other in _GROUP_OF.get(code, ())


def find_language(code: str, available: Iterable[str]) -> str | None:
    """The code in `available` that names the same language as `code`, exact match first."""
    available = list(available)
    if code in available:
        return code
    return next((other for other in available if same_language(code, other)), None)


def language_name(code: str) -> str:
    """The English name of an ISO 639-3 code, for prompts: `hau` -> `Hausa`, `swh` -> `Swahili`.

    Raises:
        ValueError: the code is not one the training corpora offer.
    """
    for candidate in _GROUP_OF.get(code, (code,)):
        if candidate in LANGUAGE_NAMES:
            return LANGUAGE_NAMES[candidate]
    raise ValueError(
        f"unknown language code {code!r}: expected an ISO 639-3 code that MAFAND or Tatoeba "
        f"offers, one of {', '.join(sorted(LANGUAGE_NAMES))}."
    )
