"""The translation method table's learning-rate choice: the best validation score stands for a
method, whatever the monitor's direction, and a malformed --rates item is refused in one line."""

import argparse

import pytest

from benchmarks.mafand_translation import best_on_validation, parse_rates


def candidate(rate: float, best: float | None, mode: str = "min") -> dict:
    validation = {} if best is None else {"best": best, "mode": mode, "monitor": "val_loss"}
    return {"method": "lora", "lr": rate, "validation": validation, "chrf": 10.0}


def test_lowest_validation_loss_wins_and_every_candidate_is_listed():
    chosen = best_on_validation([candidate(1e-3, 2.5), candidate(3e-3, 2.1), candidate(1e-2, 2.9)])
    assert chosen["lr"] == 3e-3
    assert chosen["note"] == "lr chosen on val_loss of 1e-03 (2.500), 3e-03 (2.100), 1e-02 (2.900)"


def test_highest_score_wins_for_a_maximised_monitor():
    chosen = best_on_validation([candidate(1e-3, 12.0, "max"), candidate(3e-3, 9.0, "max")])
    assert chosen["lr"] == 1e-3


def test_a_failed_candidate_is_named_and_not_chosen():
    failed = {"method": "lora", "note": "did not run: out of memory"}
    chosen = best_on_validation([failed, candidate(3e-3, 2.1)])
    assert chosen["lr"] == 3e-3
    assert "candidate failed: did not run: out of memory" in chosen["note"]


def test_a_lone_candidate_stands_unchanged():
    lone = candidate(2e-3, 2.0)
    assert best_on_validation([lone]) is lone


def test_rates_are_parsed_per_method():
    assert parse_rates("ia3=3e-3,1e-2") == ("ia3", [3e-3, 1e-2])


@pytest.mark.parametrize("item", ["lora", "lora=", "=1e-3", "lora=fast", "lora=1e-3,-1"])
def test_malformed_rates_name_the_item_and_the_form(item):
    with pytest.raises(argparse.ArgumentTypeError, match=r"--rates item .*METHOD=RATE"):
        parse_rates(item)
