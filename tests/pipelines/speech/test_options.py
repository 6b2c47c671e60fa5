"""Tests for the data.options checks: good values pass, bad ones name the option."""

import pytest

from pipelines.speech.options import (
    check_fraction,
    check_integers_in,
    check_names,
    check_positive,
)


def test_good_values_pass():
    check_fraction("val_fraction", 0.1)
    check_positive("max_seconds", 2)
    check_names("voices", ("en-us+m1", "en-gb"), "voices")
    check_integers_in("pitches", [0, 99], 0, 99)


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (lambda value: check_fraction("x", value), True, r"data\.options\.x must be in \(0, 1\)"),
        (lambda value: check_fraction("x", value), 0.0, r"must be in \(0, 1\)"),
        (lambda value: check_positive("x", value), -1, "positive number"),
        (lambda value: check_names("x", value, "voices"), "en-us", "list of voices"),
        (lambda value: check_names("x", value, "voices"), ["a", "a"], "twice"),
        (lambda value: check_integers_in("x", value, 0, 9), [1.5], r"integers in \[0, 9\]"),
        (lambda value: check_integers_in("x", value, 0, 9), [10], r"integers in \[0, 9\]"),
        (lambda value: check_integers_in("x", value, 0, 9), 5, "non-empty list"),
        (lambda value: check_integers_in("x", value, 0, 9), [True], "integers"),
    ],
)
def test_bad_values_name_the_option(check, value, message):
    with pytest.raises(ValueError, match=message):
        check(value)
