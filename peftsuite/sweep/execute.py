"""Run a sweep: learning rates chosen on validation first, then every cell, resumably.

Every cell is an ordinary run directory under `<sweep>/runs/` (named by its config hash), run by
`peftsuite run` in a fresh process, so a cell's peak memory is its own and a crash stays inside
it. A cell whose metrics.json exists is done and skipped; a failed cell leaves its log and a
record in `<sweep>/failures/` and the sweep goes on; killing the sweep loses at most the cells
in progress (each resumes from its last checkpoint). Cells run locally one at a time, or as Ray
tasks on a cluster whose nodes share the sweep folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import Progress

from peftsuite.config import load_config
from peftsuite.run_directory import run_directory
from peftsuite.sweep.spec import Cell, SweepError, SweepSpec
from shared.atomic import write_json_atomic, write_text_atomic

METRICS_FILE = "metrics.json"
LEARNING_RATES_FILE = "learning_rates.json"
CELLS_FILE = "cells.json"


@dataclass(frozen=True)
class PlannedCell:
    cell: Cell
    directory: Path

    @property
    def done(self) -> bool:
        return (self.directory / METRICS_FILE).is_file()


def runs_folder(spec: SweepSpec) -> Path:
    return spec.directory / "runs"


def plan_cells(spec: SweepSpec, cells: Sequence[Cell]) -> list[PlannedCell]:
    """Compose every cell's config (all checks included) and find its run directory; every
    offending cell is listed in one error, before any cell runs."""
    planned, problems = [], []
    for cell in cells:
        overrides = [*cell.overrides, f"run.output_dir={runs_folder(spec)}"]
        try:
            planned.append(PlannedCell(cell, run_directory(load_config(overrides))))
        except ValueError as error:
            problems.append(f"[{cell.key}] {error}")
    if problems:
        raise SweepError(f"{len(problems)} cell(s) cannot run: " + " | ".join(problems))
    return planned


def selection_cells(spec: SweepSpec) -> list[Cell]:
    """The cells that choose each method's learning rate: the first seed, the largest training
    size, the first value of every other axis, one cell per candidate rate."""
    if not spec.learning_rates:
        return []
    chosen = {}
    for axis, values in spec.grid.items():
        chosen[axis] = max(values) if axis == spec.size_axis else values[0]
    methods = spec.grid.get("method", [None])
    cells = []
    for method in methods:
        rates = spec.learning_rates.get(str(method), spec.learning_rates.get("default"))
        if rates is None:
            raise SweepError(f"learning_rates has no entry for method {method!r} and no default")
        fixed = {**chosen, **({"method": method} if method is not None else {})}
        one = SweepSpec(**{**spec.__dict__, "grid": {k: [v] for k, v in fixed.items()}})
        for rate in rates:
            cells += one.cells(extra={"optim.lr": rate})
    return cells


def rate_key(labels: dict[str, Any]) -> str:
    """Whose learning rate a cell uses: its method's, and in a cross-domain sweep its training
    domain's (each domain's rate is chosen on that domain's own validation split)."""
    method, domain = str(labels.get("method")), labels.get("domain")
    return method if domain is None else f"{method} on {domain}"


def selection_rule(spec: SweepSpec, monitor: str) -> str:
    if spec.size_axis:
        where = f"the largest training size ({spec.size_axis}={max(spec.grid[spec.size_axis])})"
    else:
        where = "the full training set"
    seed = spec.grid.get("seed", [None])[0]
    source = f"validation {monitor}" if spec.selection == "validation" else "TEST metric (oracle)"
    whose = "per method and training domain" if spec.domains else "per method"
    return (
        f"learning rate {whose} chosen on {source} at seed {seed} and {where}, then reused "
        "for every data size and seed"
    )


def choose_learning_rates(
    spec: SweepSpec, planned: Sequence[PlannedCell], metric: str
) -> dict[str, Any]:
    """The best rate per `rate_key` from the finished selection cells, and every candidate's
    score (signed so that higher is better: a loss monitor's score is its negative)."""
    candidates: dict[str, dict[str, float | None]] = {}
    for item in planned:
        score = selection_score(spec, read_metrics(item.directory), metric)
        rates = candidates.setdefault(rate_key(item.cell.labels), {})
        rates[str(item.cell.labels["optim.lr"])] = score
    chosen = {}
    for method, scores in candidates.items():
        scored = {rate: score for rate, score in scores.items() if score is not None}
        if scored:
            chosen[method] = float(max(scored, key=scored.get))
    return {"chosen": chosen, "candidates": candidates}


def selection_score(spec: SweepSpec, metrics: dict[str, Any] | None, metric: str) -> float | None:
    if metrics is None:
        return None
    if spec.selection == "oracle":
        return metrics["test"].get(metric)
    validation = metrics.get("validation", {})
    best = validation.get("best")
    if best is None:
        return None
    return best if validation.get("mode", "max") == "max" else -best


def read_metrics(directory: Path) -> dict[str, Any] | None:
    path = directory / METRICS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def run_cell_process(
    overrides: Sequence[str], log: Path, threads: int | None = None, cwd: Path | None = None
) -> tuple[int, str]:
    """`peftsuite run` in a fresh process, its output into `log`; (exit code, output tail).

    `threads` caps the process's OpenMP/torch threads (a Ray task's CPU request): cells that
    share a machine then do not oversubscribe its cores, where waiting threads cost far more
    than the cores they were given. `cwd`: where the sweep was started, so relative paths in
    its overrides (a domain adapter, the output folder) mean the same in a Ray worker."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "peftsuite.cli", "run", *overrides]
    env = os.environ.copy()
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    with log.open("w") as output:
        code = subprocess.run(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=cwd
        ).returncode
    return code, log.read_text()[-3000:]


# Runs (overrides, log) jobs; yields (job index, exit code, output tail) as each one finishes.
CellRunner = Callable[[list[tuple[list[str], Path]]], Iterator[tuple[int, int, str]]]


def run_locally(jobs: list[tuple[list[str], Path]]) -> Iterator[tuple[int, int, str]]:
    for index, (overrides, log) in enumerate(jobs):
        yield (index, *run_cell_process(overrides, log))


def run_pending(
    spec: SweepSpec, planned: Sequence[PlannedCell], runner: CellRunner, label: str
) -> dict[str, int]:
    """Run the cells not done yet, recording failures; returns counts."""
    pending = [item for item in planned if not item.done]
    counts = {"done_before": len(planned) - len(pending), "finished": 0, "failed": 0}
    failures = spec.directory / "failures"
    jobs = [
        (
            [
                *item.cell.overrides,
                f"run.output_dir={runs_folder(spec)}",
                "trainer.enable_progress_bar=false",
            ],
            spec.directory / "logs" / f"{item.directory.name}.log",
        )
        for item in pending
    ]
    with Progress(transient=False) as progress:
        task = progress.add_task(f"{spec.name}: {label}", total=len(pending))
        for index, code, tail in runner(jobs):
            item, log = pending[index], jobs[index][1]
            record = failures / f"{item.directory.name}.json"
            if code == 0 and item.done:
                counts["finished"] += 1
                record.unlink(missing_ok=True)
            else:
                counts["failed"] += 1
                write_json_atomic(
                    record,
                    {"cell": item.cell.labels, "exit_code": code, "log": str(log), "tail": tail},
                )
            progress.advance(task)
    return counts


def describe(planned: Sequence[PlannedCell]) -> list[dict[str, Any]]:
    return [
        {"labels": item.cell.labels, "directory": str(item.directory), "done": item.done}
        for item in planned
    ]


def run_sweep(
    spec: SweepSpec, *, dry_run: bool = False, runner: CellRunner = run_locally
) -> dict[str, Any]:
    """Select learning rates (if asked), then run every cell; returns what happened."""
    from peftsuite.sweep.aggregate import primary_metric

    selection = plan_cells(spec, selection_cells(spec))
    main_cells = spec.cells()
    plan_cells(spec, main_cells)  # every cell must compose before anything runs
    summary: dict[str, Any] = {"selection_cells": describe(selection)}
    if dry_run:
        summary["cells"] = (
            describe(plan_cells(spec, main_cells))
            if not selection
            else [
                {"labels": cell.labels, "learning_rate": "chosen after selection"}
                for cell in main_cells
            ]
        )
        return summary
    spec.directory.mkdir(parents=True, exist_ok=True)
    write_text_atomic(spec.directory / "sweep.json", json.dumps(spec.__dict__, indent=2))
    if selection:
        summary["selection_run"] = run_pending(spec, selection, runner, "learning rates")
        monitor = load_config(selection[0].cell.overrides).pipeline.monitor
        chosen = choose_learning_rates(spec, selection, primary_metric(spec, selection))
        chosen["rule"] = selection_rule(spec, monitor)
        write_json_atomic(spec.directory / LEARNING_RATES_FILE, chosen)
        main_cells = with_chosen_rates(main_cells, chosen["chosen"])
    planned = plan_cells(spec, main_cells)
    summary["run"] = run_pending(spec, planned, runner, "cells")
    write_json_atomic(spec.directory / CELLS_FILE, describe(planned))
    summary["cells"] = describe(planned)
    return summary


def with_chosen_rates(cells: Sequence[Cell], chosen: dict[str, float]) -> list[Cell]:
    updated = []
    for cell in cells:
        rate = chosen.get(rate_key(cell.labels))
        if rate is None:
            updated.append(cell)
            continue
        updated.append(Cell(cell.labels, [*cell.overrides, f"optim.lr={rate}"]))
    return updated


def finished_records(directory: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(learning-rate selection records, main records, cells planned) of a sweep folder, from
    its plan rebuilt out of sweep.json: an interrupted sweep reports what it finished."""
    stored = json.loads((directory / "sweep.json").read_text())
    spec = SweepSpec(**{**stored, "output_dir": str(directory.parent)})
    selection = plan_cells(spec, selection_cells(spec))
    rates = directory / LEARNING_RATES_FILE
    main = []
    if rates.is_file() or not spec.learning_rates:
        chosen = json.loads(rates.read_text())["chosen"] if rates.is_file() else {}
        main = plan_cells(spec, with_chosen_rates(spec.cells(), chosen))
    planned = len(selection) + (len(main) if main else len(spec.cells()))
    return records_of(selection), records_of(main), planned


def records_of(planned: Sequence[PlannedCell]) -> list[dict[str, Any]]:
    return [
        {"labels": item.cell.labels, "metrics": read_metrics(item.directory)}
        for item in planned
        if item.done
    ]
