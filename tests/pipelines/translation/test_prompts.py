"""Tests for pipelines.translation.prompts: the decoder-only prompt and its checks."""

import pytest

from pipelines.translation.prompts import DEFAULT_TEMPLATE, PromptTemplate


def test_default_template_names_both_languages_and_ends_where_the_translation_starts():
    prompt = PromptTemplate().format(
        "The house is small.", source_language="English", target_language="Hausa"
    )
    assert prompt == "Translate from English to Hausa.\nEnglish: The house is small.\nHausa:"
    assert PromptTemplate().template == DEFAULT_TEMPLATE


def test_custom_template_may_leave_out_the_languages():
    assert PromptTemplate("{source} =>").format("Hi", source_language="a", target_language="b") == (
        "Hi =>"
    )


def test_template_without_the_source_placeholder_is_rejected_naming_the_setting():
    with pytest.raises(
        ValueError, match=r"data\.options\.prompt: .* has no \{source\} placeholder"
    ):
        PromptTemplate("Translate to {target_language}:")


@pytest.mark.parametrize("template", ["{source} {target}", "{0} {source}", "{} {source}"])
def test_unknown_placeholder_is_rejected(template):
    with pytest.raises(ValueError, match=r"data\.options\.prompt: unknown placeholder"):
        PromptTemplate(template)


def test_unbalanced_brace_is_rejected_with_how_to_write_a_literal_brace():
    with pytest.raises(ValueError, match=r"data\.options\.prompt: .* write literal braces as"):
        PromptTemplate("{source")
