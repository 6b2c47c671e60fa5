"""The translation table's two-step rows: each method runs alone, on the frozen domain adapter
and on that adapter kept training, and the gain of a stacked row is taken over its own method."""

import json
from pathlib import Path

from benchmarks.mafand_translation import describe_domain_adapter, domain_arms, stacked_gains


def test_without_a_domain_adapter_a_method_runs_alone():
    assert domain_arms(None, trainable=False) == [("", ())]


def test_a_domain_adapter_adds_a_frozen_arm_and_optionally_a_trained_one():
    adapter = Path("runs/hausa/lora-abc")
    frozen = domain_arms(adapter, trainable=False)
    assert frozen == [
        ("", ()),
        (" + frozen domain adapter", ("stack.domain_adapters=[runs/hausa/lora-abc]",)),
    ]
    trained = domain_arms(adapter, trainable=True)[-1]
    assert trained[1] == ("stack.domain_adapters=[runs/hausa/lora-abc]", "stack.train_domain=true")


def row(method: str, chrf: float) -> dict:
    return {"method": method, "chrf": chrf, "flores200_chrf": chrf + 1, "tico19_chrf": chrf - 1}


def test_stacked_gain_is_taken_over_the_same_method_alone():
    rows = [
        row("lora", 10.0),
        row("ia3", 20.0),
        row("lora + frozen domain adapter", 12.5),
        row("ia3 + trained domain adapter", 19.0),
    ]
    assert stacked_gains(rows) == [
        "lora + frozen domain adapter +2.50 / +2.50 / +2.50",
        "ia3 + trained domain adapter -1.00 / -1.00 / -1.00",
    ]


def test_a_stacked_row_without_its_method_alone_gets_no_gain():
    assert stacked_gains([row("lora + frozen domain adapter", 12.0)]) == []


def test_the_domain_adapter_is_described_from_its_own_metrics(tmp_path):
    metrics = {
        "data": {"dataset": "mafand_target_text", "objective": "causal"},
        "costs": {
            "trainable_parameters": 368640,
            "train_samples": 2411,
            "train_steps": 302,
            "train_seconds": 1635.2,
        },
        "test": {"perplexity": 45.167},
        "injection": {"method": "lora"},
        "learning_rate": 0.002,
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    assert describe_domain_adapter(tmp_path) == (
        f"Domain adapter `{tmp_path}`: lora (368,640 parameters), causal objective on "
        "mafand_target_text (2,411 training texts, 302 steps, lr 2e-03, 1,635 s), "
        "held-out perplexity 45.2."
    )
