"""The instruction a decoder-only language model translates from.

A causal LM sees one text: the prompt, then the translation it learns to continue with. The
template names the languages and holds the source sentence; a template without `{source}` would
train the model to translate nothing, so it is rejected before any training starts.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

DEFAULT_TEMPLATE = (
    "Translate from {source_language} to {target_language}.\n"
    "{source_language}: {source}\n"
    "{target_language}:"
)
PLACEHOLDERS = ("source", "source_language", "target_language")
SETTING = "data.options.prompt"


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt with `{source}` and optionally `{source_language}` / `{target_language}`.

    The translation follows the prompt after one space, so a template should end where the
    target sentence begins (the default ends with "Hausa:").
    """

    template: str = DEFAULT_TEMPLATE

    def __post_init__(self) -> None:
        try:
            parsed = string.Formatter().parse(self.template)
            fields = [field for _, field, _, _ in parsed if field is not None]
        except ValueError as error:
            raise ValueError(
                f"{SETTING}: {self.template!r} is not a valid template ({error}); write literal "
                "braces as {{ and }}"
            ) from error
        unknown = sorted(set(fields) - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(
                f"{SETTING}: unknown placeholder {{{unknown[0]}}} in {self.template!r}; "
                f"the template may use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )
        if "source" not in fields:
            raise ValueError(
                f"{SETTING}: the template {self.template!r} has no {{source}} placeholder, so "
                f"the model would never see the sentence to translate; e.g. {DEFAULT_TEMPLATE!r}"
            )

    def format(self, source: str, *, source_language: str, target_language: str) -> str:
        """The prompt for one sentence; languages by name ("English"), not by code."""
        return self.template.format(
            source=source, source_language=source_language, target_language=target_language
        )
