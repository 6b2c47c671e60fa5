"""A run killed with SIGKILL and run again reports the costs of the whole run.

Each run is a real `peftsuite run` in a subprocess on the toy parity domain (a tiny random MLP,
60 in-memory examples: 20 train, batches of 8 -> 3 steps of 8, 8, 4 examples per epoch). The
subprocess kills itself at a chosen point: after a given training step, or while writing
metrics.json (after training and testing finished). Running the same config again resumes from
the last checkpoint; its `costs` must count what an uninterrupted run counts.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
EPOCHS = 3
TRAIN_EXAMPLES_PER_EPOCH = 20

RUN_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    sys.path[:0] = [{tests!r}]
    import lightning
    import peftsuite.runner as runner
    from peftsuite.cli import main
    from toy_domain import register_parity_domain

    kill_after_step, kill_on_metrics = {kill_after_step!r}, {kill_on_metrics!r}

    class KillAfterStep(lightning.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_index):
            if trainer.global_step == kill_after_step:
                os.kill(os.getpid(), signal.SIGKILL)

    make_trainer, write_json_atomic = runner.make_trainer, runner.write_json_atomic

    def make_trainer_that_dies(*args, **kwargs):
        trainer = make_trainer(*args, **kwargs)
        trainer.callbacks.append(KillAfterStep())
        return trainer

    def write_json_then_die(path, values):
        if kill_on_metrics and path.name == "metrics.json":
            os.kill(os.getpid(), signal.SIGKILL)
        write_json_atomic(path, values)

    runner.make_trainer, runner.write_json_atomic = make_trainer_that_dies, write_json_then_die
    main(["run", *register_parity_domain(), *sys.argv[1:]])
    """
)


def peftsuite_run(output_dir: Path, kill_after_step=None, kill_on_metrics=False):
    script = RUN_SCRIPT.format(
        tests=str(TESTS),
        kill_after_step=kill_after_step,
        kill_on_metrics=kill_on_metrics,
    )
    overrides = [
        "method=lora",
        "method.target_modules=[hidden]",
        "data.options.examples=60",
        f"trainer.max_epochs={EPOCHS}",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        f"run.output_dir={output_dir}",
    ]
    return subprocess.run(
        [sys.executable, "-c", script, *overrides],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=TESTS.parent,
    )


def finished_costs(output_dir: Path) -> dict:
    [metrics] = output_dir.rglob("metrics.json")
    return json.loads(metrics.read_text())["costs"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    completed = peftsuite_run(output_dir)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return finished_costs(output_dir)


def test_an_uninterrupted_run_counts_every_example_in_one_process(uninterrupted):
    assert uninterrupted["train_samples"] == EPOCHS * TRAIN_EXAMPLES_PER_EPOCH
    assert uninterrupted["train_steps"] == EPOCHS * 3
    assert (uninterrupted["processes"], uninterrupted["resumed_from_step"]) == (1, None)


@pytest.mark.parametrize(
    ("kill", "resumed_from_step"),
    [
        ({"kill_after_step": 5}, 3),  # mid epoch 2: resumes from the end of epoch 1
        ({"kill_on_metrics": True}, EPOCHS * 3),  # training and testing done, results not
    ],
    ids=["mid-training", "mid-write"],
)
def test_a_killed_and_resumed_run_reports_the_whole_run_s_costs(
    uninterrupted, tmp_path, kill, resumed_from_step
):
    killed = peftsuite_run(tmp_path, **kill)
    assert killed.returncode == -signal.SIGKILL
    assert not list(tmp_path.rglob("metrics.json"))

    resumed = peftsuite_run(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    costs = finished_costs(tmp_path)
    assert costs["train_samples"] == uninterrupted["train_samples"]
    assert costs["train_steps"] == uninterrupted["train_steps"]
    assert (costs["processes"], costs["resumed_from_step"]) == (2, resumed_from_step)
    assert costs["train_seconds"] > 0 and costs["train_step_seconds"] > 0
