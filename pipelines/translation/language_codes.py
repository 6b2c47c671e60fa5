"""What a multilingual encoder-decoder must be told about the languages it translates between.

- mBART-50 and NLLB (and M2M-100) name languages by code tokens (`en_XX`, `hau_Latn`, `__ha__`):
  the source starts with the source code (the tokenizer's `src_lang`), the target labels with
  the target code (`tgt_lang`), and generation must force the target code as the first token
  (`forced_bos_token_id`), or the model translates into whatever language it likes.
- T5 was trained with a task prefix, "translate English to German: ", before the source; mT5
  has no such training but the same prefix is the usual way to name the task when fine-tuning.
Decoder-only models name both languages in their prompt (`prompts.py`); Marian models are one
language pair each and need nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.translation.backbones import TranslationBackbone
from pipelines.translation.corpus_layouts import FLORES_SCRIPTS
from pipelines.translation.languages import language_name, same_language

T5_TYPES = ("t5", "mt5", "umt5")
# ISO 639-3 -> ISO 639-1, for the mBART-50 (`sw_KE`) and M2M-100 (`__sw__`) code styles.
ISO_639_1 = {
    "afr": "af", "amh": "am", "ara": "ar", "aze": "az", "bel": "be", "ben": "bn", "bul": "bg",
    "cat": "ca", "ces": "cs", "cmn": "zh", "cym": "cy", "dan": "da", "deu": "de", "ell": "el",
    "eng": "en", "est": "et", "eus": "eu", "ewe": "ee", "fin": "fi", "fra": "fr", "gle": "ga",
    "glg": "gl", "hau": "ha", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "hye": "hy",
    "ibo": "ig", "ind": "id", "isl": "is", "ita": "it", "jav": "jv", "jpn": "ja", "kat": "ka",
    "kaz": "kk", "khm": "km", "kin": "rw", "kor": "ko", "lit": "lt", "lug": "lg", "lvs": "lv",
    "mal": "ml", "mar": "mr", "mkd": "mk", "mon": "mn", "nld": "nl", "nob": "nb", "nya": "ny",
    "pes": "fa", "pol": "pl", "por": "pt", "ron": "ro", "rus": "ru", "slk": "sk", "slv": "sl",
    "sna": "sn", "spa": "es", "sqi": "sq", "srp": "sr", "swa": "sw", "swe": "sv", "tam": "ta",
    "tel": "te", "tgl": "tl", "tha": "th", "tsn": "tn", "tur": "tr", "twi": "tw", "ukr": "uk",
    "urd": "ur", "vie": "vi", "wol": "wo", "xho": "xh", "yor": "yo", "zsm": "ms", "zul": "zu",
}  # fmt: skip
LANGUAGE_CODE = re.compile(r"(?P<language>[a-z]{2,3})_[A-Za-z]{2,4}|__(?P<short>[a-z]{2,3})__")


@dataclass(frozen=True)
class LanguageSetup:
    """How a backbone is told the direction: codes set on its tokenizer, the first token to
    force in generation, and a prefix for the source sentence."""

    source_code: str | None = None
    target_code: str | None = None
    forced_bos_token_id: int | None = None
    source_prefix: str = ""


def code_tokens(tokenizer) -> list[str]:
    """The tokenizer's language-code tokens (`hau_Latn`, `en_XX`, `__ha__`)."""
    return [t for t in tokenizer.all_special_tokens if LANGUAGE_CODE.fullmatch(t)]


def matches(token: str, language: str) -> bool:
    """Whether code token `token` names ISO 639-3 `language` (by its 3- or 2-letter code)."""
    match = LANGUAGE_CODE.fullmatch(token)
    code = match["language"] or match["short"]
    if len(code) == 3:
        return same_language(language, code)
    return any(ISO_639_1[other] == code for other in ISO_639_1 if same_language(language, other))


def tokenizer_setting(token: str) -> str:
    """What `src_lang` / `tgt_lang` take: the token itself, or M2M-100's bare `ha` for `__ha__`."""
    return LANGUAGE_CODE.fullmatch(token)["short"] or token


def language_code(tokenizer, language: str, role: str, model_name: str) -> str:
    """The tokenizer's code token for ISO 639-3 `language` (FLORES' script where it has two).

    Raises:
        ValueError: naming data.options.<role> when the tokenizer has no code for it.
    """
    known = code_tokens(tokenizer)
    found = [token for token in known if matches(token, language)]
    preferred = [t for t in found if t.endswith(f"_{FLORES_SCRIPTS.get(t.split('_')[0], '')}")]
    if preferred or found:
        return (preferred or found)[0]
    raise ValueError(
        f"data.options.{role}={language!r}: model.name={model_name!r} has no language code for "
        f"{language_name(language)}; its codes: {', '.join(known[:40])}"
        f"{' ...' if len(known) > 40 else ''}. Choose a language it was trained on."
    )


def set_up_languages(
    backbone: TranslationBackbone, source: str, target: str, model_name: str = "model"
) -> LanguageSetup:
    """Tell `backbone` the direction `source` -> `target` (ISO 639-3 codes): language codes on
    its tokenizer (mBART, NLLB, M2M-100), or T5's task prefix; nothing for other models."""
    tokenizer, config = backbone.tokenizer, backbone.model.config
    if backbone.architecture != "seq2seq":
        return LanguageSetup()
    if config.model_type in T5_TYPES:
        prefix = f"translate {language_name(source)} to {language_name(target)}: "
        return LanguageSetup(source_prefix=prefix)
    if not hasattr(tokenizer, "src_lang"):
        return LanguageSetup()
    source_code = language_code(tokenizer, source, "source", model_name)
    target_code = language_code(tokenizer, target, "target", model_name)
    tokenizer.src_lang = tokenizer_setting(source_code)
    tokenizer.tgt_lang = tokenizer_setting(target_code)
    forced = tokenizer.convert_tokens_to_ids(target_code)
    backbone.model.generation_config.forced_bos_token_id = forced
    return LanguageSetup(source_code, target_code, forced)
