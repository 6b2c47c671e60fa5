"""`peftsuite sweep` and `peftsuite report` on the toy parity domain (tests/toy_domain.py).

Cells run as real `peftsuite run` processes, which find the toy domain through
PEFTSUITE_PLUGINS. Covered: resume after the sweep is interrupted (finished cells are not
rerun), a failing cell recorded while the others complete, the aggregation math on known
numbers, learning-rate selection on validation, bad sweeps refused before any cell runs, the
report's images, and two cells through a local Ray instance.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import pytest
from toy_domain import PARITY_GROUPS

from peftsuite.sweep.aggregate import (
    aggregate,
    cross_domain_matrices,
    paired_differences,
    pipeline_baselines,
    summarize,
)
from peftsuite.sweep.execute import (
    PlannedCell,
    choose_learning_rates,
    run_locally,
    run_sweep,
    with_chosen_rates,
)
from peftsuite.sweep.report import edge_note, html_page, pareto_front, write_report
from peftsuite.sweep.spec import Cell, SweepError, sweep_from_mapping

TESTS = Path(__file__).resolve().parents[1]
TOY = [
    *PARITY_GROUPS,
    "data.options.examples=60",
    "trainer.max_epochs=1",
    "trainer.accelerator=cpu",
    "method.target_modules=[hidden]",
]


@pytest.fixture(autouse=True)
def toy_plugin(monkeypatch):
    """Cell processes import the toy domain by name, from the tests folder."""
    monkeypatch.setenv("PEFTSUITE_PLUGINS", "toy_domain")
    monkeypatch.setenv("PYTHONPATH", str(TESTS))


def toy_sweep(tmp_path, **fields):
    return sweep_from_mapping(
        {"name": "toy", "output_dir": str(tmp_path), "overrides": TOY, **fields}
    )


class Interrupted(Exception):
    pass


def test_an_interrupted_sweep_resumes_without_rerunning_finished_cells(tmp_path):
    spec = toy_sweep(tmp_path, grid={"method": ["lora", "bitfit"], "seed": [0, 1]})

    def interrupted_after_two(jobs):
        for number, outcome in enumerate(run_locally(jobs)):
            yield outcome
            if number == 1:
                raise Interrupted  # as Ctrl-C would, between cells

    with pytest.raises(Interrupted):
        run_sweep(spec, runner=interrupted_after_two)
    finished = sorted(tmp_path.rglob("metrics.json"))
    assert len(finished) == 2
    stamps = {path: path.stat().st_mtime_ns for path in finished}

    ran = []

    def counting(jobs):
        ran.extend(jobs)
        yield from run_locally(jobs)

    summary = run_sweep(spec, runner=counting)
    assert len(ran) == 2 and summary["run"] == {"done_before": 2, "finished": 2, "failed": 0}
    assert all(path.stat().st_mtime_ns == stamp for path, stamp in stamps.items())
    assert all(cell["done"] for cell in json.loads((spec.directory / "cells.json").read_text()))


def test_a_failing_cell_is_recorded_and_the_rest_complete(tmp_path):
    broken = ["method=lora", "method.target_modules=[no_such_layer]"]  # composes, fails at inject
    spec = toy_sweep(tmp_path, grid={"method": ["bitfit", "broken"]}, variants={"broken": broken})
    summary = run_sweep(spec)
    assert summary["run"]["finished"] == 1 and summary["run"]["failed"] == 1
    [record] = (spec.directory / "failures").glob("*.json")
    failure = json.loads(record.read_text())
    assert failure["cell"] == {"method": "broken"} and failure["exit_code"] != 0
    assert "no_such_layer" in failure["tail"] and Path(failure["log"]).is_file()


def test_bad_sweeps_are_refused_before_any_cell_runs_listing_every_problem(tmp_path):
    with pytest.raises(SweepError, match="grid is empty"):
        toy_sweep(tmp_path, grid={})
    with pytest.raises(SweepError) as error:
        toy_sweep(
            tmp_path,
            grid={"seed": [0, 0], "data.fraction": [0.5, 1.5]},
            selection="best",
            speed="fast",
        )
    message = str(error.value)
    for problem in ("lists a value twice", "1.5", "selection='best'", "unknown key(s) ['speed']"):
        assert problem in message
    spec = toy_sweep(tmp_path, grid={"method": ["lora", "lorra"], "optim.lr": [0.0, 0.1]})
    with pytest.raises(SweepError, match=r"3 cell\(s\) cannot run.*optim\.lr.*lorra"):
        run_sweep(spec, dry_run=True)
    assert not spec.directory.exists()


def test_summary_statistics_on_known_numbers():
    summary = summarize([0.8, 0.9, 1.0])
    assert summary.mean == pytest.approx(0.9) and summary.std == pytest.approx(0.1)
    assert summary.sem == pytest.approx(0.1 / math.sqrt(3))
    half_width = 4.302652729911275 * 0.1 / math.sqrt(3)  # t(0.975, df=2)
    assert summary.ci95 == pytest.approx((0.9 - half_width, 0.9 + half_width))
    single = summarize([0.7])
    assert (single.n, single.mean, single.std, single.ci95) == (1, 0.7, None, None)


def record(labels, accuracy, cross=None, params=10):
    return {
        "labels": labels,
        "metrics": {
            "test": {"accuracy": accuracy},
            "cross_domain": {name: {"accuracy": value} for name, value in (cross or {}).items()},
            "costs": {"trainable_parameters": params, "peak_memory_mb": 100.0},
        },
    }


def test_aggregation_groups_over_seeds_and_builds_the_cross_domain_matrix():
    records = [
        record({"domain": "a", "seed": seed}, 0.9 + seed / 100, {"b": 0.5 + seed / 100, "c": 0.4})
        for seed in (0, 1, 2)
    ] + [record({"domain": "b", "seed": seed}, 0.8, {"a": 0.6, "c": 0.3}) for seed in (0, 1, 2)]
    rows = aggregate(records, ["accuracy"])
    assert [row["labels"] for row in rows] == [{"domain": "a"}, {"domain": "b"}]
    assert rows[0]["accuracy"]["mean"] == pytest.approx(0.91) and rows[0]["seeds"] == [0, 1, 2]
    [matrix] = cross_domain_matrices(records, "accuracy")
    assert matrix["rows"] == ["a", "b"] and matrix["columns"] == ["a", "b", "c"]
    assert matrix["cells"]["a"]["a"]["mean"] == pytest.approx(0.91)  # diagonal: in domain
    assert matrix["cells"]["a"]["b"]["mean"] == pytest.approx(0.51)
    assert matrix["cells"]["b"]["a"]["std"] == pytest.approx(0.0)


def test_paired_differences_subtract_seed_by_seed_within_each_group():
    scores = {("two_step", 0): 0.80, ("two_step", 1): 0.72, ("two_step", 2): 0.91}
    scores |= {("alone", 0): 0.75, ("alone", 1): 0.70, ("alone", 2): 0.92}
    records = [
        record({"method": method, "data.fraction": 0.1, "seed": seed}, accuracy)
        for (method, seed), accuracy in scores.items()
    ]
    records.append(record({"method": "alone", "data.fraction": 1.0, "seed": 0}, 0.9))
    [row] = paired_differences(records, "method", ["two_step", "alone"], "accuracy")
    assert row["labels"] == {"data.fraction": 0.1} and row["seeds"] == [0, 1, 2]
    assert row["difference"]["mean"] == pytest.approx((0.05 + 0.02 - 0.01) / 3)
    assert row["treatment_better"] == 2
    with pytest.raises(SweepError) as error:
        sweep_from_mapping(
            {
                "name": "x",
                "grid": {"method": ["two_step", "alone"], "data.fraction": [0.1, 1.0]},
                "compare": [["two_step", "missing"], ["0.1", 1.0]],  # "0.1" is not 0.1
            }
        )
    assert "compare ['two_step', 'missing']" in str(error.value)
    assert "compare ['0.1', 1.0]" in str(error.value)


def test_pipeline_baselines_count_each_seed_once_per_data_size():
    records = []
    for method in ("lora", "full"):  # both runs of a seed fit the same baseline on one split
        for seed, tfidf in ((0, 0.70), (1, 0.74)):
            cell = record({"method": method, "data.fraction": 0.1, "seed": seed}, 0.5)
            cell["metrics"]["baselines"] = {"tfidf": {"accuracy": tfidf}}
            records.append(cell)
    cell = record({"method": "lora", "data.fraction": 1.0, "seed": 0}, 0.9)
    cell["metrics"]["baselines"] = {"tfidf": {"accuracy": 0.95}}
    records += [cell, record({"method": "lora", "data.fraction": 1.0, "seed": 1}, 0.9)]
    small, large = pipeline_baselines(records, ["accuracy"])
    assert small["labels"] == {"baseline": "tfidf", "data.fraction": 0.1}
    assert small["seeds"] == [0, 1] and small["accuracy"]["n"] == 2
    assert small["accuracy"]["mean"] == pytest.approx(0.72)
    assert large["seeds"] == [0] and large["accuracy"]["mean"] == pytest.approx(0.95)


def finished_cell(tmp_path, method, rate, validation, mode="max", test=0.0, domain=None):
    directory = tmp_path / f"{method}-{rate}-{domain}"
    directory.mkdir()
    metrics = {"validation": {"best": validation, "mode": mode}, "test": {"accuracy": test}}
    (directory / "metrics.json").write_text(json.dumps(metrics))
    labels = {"method": method, "optim.lr": rate, **({"domain": domain} if domain else {})}
    return PlannedCell(Cell(labels, []), directory)


def test_learning_rate_selection_picks_the_validation_best_and_oracle_only_when_asked(tmp_path):
    cells = [
        finished_cell(tmp_path, "lora", 0.001, 0.70, test=0.95),
        finished_cell(tmp_path, "lora", 0.01, 0.80, test=0.60),
        finished_cell(tmp_path, "full", 1e-5, 0.30, mode="min"),  # a loss: lower is better
        finished_cell(tmp_path, "full", 1e-4, 0.20, mode="min"),
    ]
    spec = toy_sweep(tmp_path, grid={"method": ["lora", "full"]})
    chosen = choose_learning_rates(spec, cells, "accuracy")["chosen"]
    assert chosen == {"lora": 0.01, "full": 1e-4}
    oracle = toy_sweep(tmp_path, grid={"method": ["lora"]}, selection="oracle")
    assert choose_learning_rates(oracle, cells[:2], "accuracy")["chosen"] == {"lora": 0.001}


def test_each_training_domain_gets_the_rate_its_own_validation_prefers(tmp_path):
    cells = [
        finished_cell(tmp_path, "lora", 0.001, 0.90, domain="a"),
        finished_cell(tmp_path, "lora", 0.01, 0.70, domain="a"),
        finished_cell(tmp_path, "lora", 0.001, 0.40, domain="b"),
        finished_cell(tmp_path, "lora", 0.01, 0.60, domain="b"),
    ]
    spec = toy_sweep(tmp_path, grid={"method": ["lora"]})
    chosen = choose_learning_rates(spec, cells, "accuracy")["chosen"]
    assert chosen == {"lora on a": 0.001, "lora on b": 0.01}
    main = [Cell({"method": "lora", "domain": d, "seed": 1}, ["x=1"]) for d in ("a", "b")]
    assert [cell.overrides[-1] for cell in with_chosen_rates(main, chosen)] == [
        "optim.lr=0.001",
        "optim.lr=0.01",
    ]


def test_the_html_page_embeds_a_figure_whose_title_holds_brackets(tmp_path):
    (tmp_path / "cross_domain_0.png").write_bytes(b"png bytes")
    lines = ["## Cross-domain (method=lora)", "", "![Cross (method=lora)](cross_domain_0.png)"]
    page = html_page("sweep", lines, tmp_path)
    assert base64.b64encode(b"png bytes").decode() in page


def test_a_rate_at_the_grid_edge_is_flagged_and_an_inner_one_is_not():
    candidates = {"0.001": 0.7, "0.01": 0.9, "0.1": 0.8}
    assert edge_note(0.01, candidates) == ""
    assert "grid edge" in edge_note(0.1, candidates) and "grid edge" in edge_note(0.001, candidates)
    assert edge_note(0.1, {"0.1": 0.8}) == ""  # one candidate: no grid to widen


def test_pareto_front_keeps_only_undominated_points():
    assert pareto_front([(1, 0.5), (2, 0.9), (3, 0.8), (1, 0.4)]) == [0, 1]


def test_report_writes_markdown_html_json_and_png_images(tmp_path):
    spec = toy_sweep(
        tmp_path,
        grid={"method": ["lora", "bitfit"], "seed": [0, 1]},
        learning_rates={"default": [0.001, 0.01]},
        metrics=["agreement"],
        compare=[["lora", "bitfit"]],
    )
    run_sweep(spec)
    report = write_report(spec.directory)
    text = report.read_text()
    assert "## lora minus bitfit, paired by seed" in text and "| agreement | 2 |" in text
    assert "chosen on validation val_agreement at seed 0" in text
    assert "| lora |" in text.replace("| 0.01 |", "")
    for image in ("cost_vs_metric.png",):
        assert (spec.directory / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in (spec.directory / "report.html").read_text()
    aggregates = json.loads((spec.directory / "aggregates.json").read_text())
    assert {row["labels"]["method"] for row in aggregates["rows"]} == {"lora", "bitfit"}
    assert all(row["agreement"]["n"] == 2 for row in aggregates["rows"])
    [[comparison]] = aggregates["paired_differences"]
    assert comparison["seeds"] == [0, 1] and comparison["difference"]["n"] == 2


def test_two_cells_run_as_tasks_on_a_local_ray_instance(tmp_path, monkeypatch):
    import ray

    from peftsuite.sweep.ray_runner import ray_runner

    monkeypatch.chdir(tmp_path)  # a relative sweep folder must mean the same in the workers
    spec = toy_sweep(tmp_path, grid={"seed": [0, 1]}, output_dir="relative_sweeps")
    try:
        summary = run_sweep(spec, runner=ray_runner("local", cpus=1))
    finally:
        ray.shutdown()
    assert summary["run"]["finished"] == 2
    written = list((tmp_path / "relative_sweeps").rglob("metrics.json"))
    metrics = [json.loads(path.read_text()) for path in written]
    assert len(metrics) == 2
    # Each cell used the one core it asked for, so two cells on two cores do not oversubscribe.
    assert [m["costs"]["cpu_threads"] for m in metrics] == [1, 1]
