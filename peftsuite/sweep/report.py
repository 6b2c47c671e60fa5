"""`peftsuite report <sweep>`: Markdown, a self-contained HTML page, PNGs and JSON aggregates.

What it draws: learning curves (metric vs training size, one line per method, seed spread
shaded), cost vs metric (trainable parameters, peak memory, training time; the Pareto front
marked), and a heatmap per cross-domain matrix. Every table names its model-selection rule and
gives mean ± std over seeds with n; aggregates.json adds the standard error and 95% interval.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from peftsuite.sweep.aggregate import (  # noqa: E402
    aggregate,
    cross_domain_matrices,
    paired_differences,
    pipeline_baselines,
)
from peftsuite.sweep.execute import finished_records  # noqa: E402
from shared.atomic import atomic_path, write_json_atomic, write_text_atomic  # noqa: E402

COSTS = (
    ("trainable_parameters", "trainable parameters", True),
    ("peak_memory_mb", "peak memory (MiB)", False),
    ("train_seconds", "training time (s)", False),
)


def label_of(labels: dict[str, Any], drop: Sequence[str]) -> str:
    return ", ".join(f"{axis}={value}" for axis, value in labels.items() if axis not in drop)


def mean_std(summary: dict[str, Any] | None, sign: str = "") -> str:
    """ "mean ± std" to 3 decimals; `sign="+"` also signs the mean (for differences)."""
    if not summary:
        return "—"
    spread = f" ± {summary['std']:.3f}" if summary["std"] is not None else ""
    return f"{summary['mean']:{sign}.3f}{spread}"


def save_figure(figure, path: Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)


def learning_curves(rows, metric: str, size_axis: str, path: Path) -> bool:
    lines: dict[str, list[tuple[float, dict]]] = {}
    for row in rows:
        if size_axis not in row["labels"] or not row[metric]:
            continue
        lines.setdefault(label_of(row["labels"], [size_axis]), []).append(
            (row["labels"][size_axis], row[metric])
        )
    if not lines:
        return False
    figure, axes = plt.subplots(figsize=(6.5, 4))
    for name, points in sorted(lines.items()):
        points.sort(key=lambda point: point[0])
        sizes = [size for size, _ in points]
        means = [summary["mean"] for _, summary in points]
        spreads = [summary["std"] or 0.0 for _, summary in points]
        axes.plot(sizes, means, marker="o", label=name)
        axes.fill_between(
            sizes,
            [m - s for m, s in zip(means, spreads, strict=True)],
            [m + s for m, s in zip(means, spreads, strict=True)],
            alpha=0.2,
        )
    axes.set_xlabel(size_axis)
    axes.set_ylabel(f"test {metric} (mean ± std over seeds)")
    axes.set_xscale("log")
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    save_figure(figure, path)
    return True


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both lower cost and higher metric."""
    return [
        i
        for i, (cost, value) in enumerate(points)
        if not any(
            (c <= cost and v >= value) and (c < cost or v > value)
            for j, (c, v) in enumerate(points)
            if j != i
        )
    ]


def cost_vs_metric(rows, metric: str, path: Path) -> bool:
    usable = [row for row in rows if row[metric]]
    if not usable:
        return False
    figure, panels = plt.subplots(1, len(COSTS), figsize=(5 * len(COSTS), 4))
    for panel, (cost, title, log_scale) in zip(panels, COSTS, strict=True):
        points = [
            (row[cost]["mean"], row[metric]["mean"], label_of(row["labels"], []))
            for row in usable
            if row[cost]
        ]
        if not points:
            continue
        front = set(pareto_front([(c, v) for c, v, _ in points]))
        for index, (c, v, name) in enumerate(points):
            panel.scatter(c, v, color="C3" if index in front else "C0", zorder=3)
            panel.annotate(name, (c, v), fontsize=6)
        ordered = sorted((points[i][0], points[i][1]) for i in front)
        panel.plot([c for c, _ in ordered], [v for _, v in ordered], "C3--", alpha=0.6)
        panel.set_xlabel(title)
        panel.set_ylabel(f"test {metric}")
        if log_scale:
            panel.set_xscale("log")
        panel.grid(alpha=0.3)
    figure.suptitle("cost vs metric (red: Pareto front)")
    save_figure(figure, path)
    return True


def heatmap(matrix: dict[str, Any], path: Path) -> None:
    rows, columns = matrix["rows"], matrix["columns"]
    values = [
        [matrix["cells"][r].get(c, {}).get("mean", float("nan")) for c in columns] for r in rows
    ]
    figure, axes = plt.subplots(figsize=(1.6 * len(columns) + 2, 1.0 * len(rows) + 1.5))
    image = axes.imshow(values, cmap="viridis")
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            summary = matrix["cells"][row].get(column)
            if summary:
                axes.text(j, i, mean_std(summary), ha="center", va="center", color="w", fontsize=8)
    axes.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xlabel("tested on")
    axes.set_ylabel("trained on")
    axes.set_title(f"{matrix['metric']}: {label_of(matrix['group'], []) or 'all'}")
    figure.colorbar(image)
    save_figure(figure, path)


def selection_table(selection, metrics: Sequence[str]) -> list[str]:
    """The learning-rate selection cells finished so far, one seed each: the validation score
    decides; test metrics are shown for reference only."""
    header = ["cell", "validation (decides)", *(f"test {m} (reference)" for m in metrics)]
    lines = ["## Learning-rate selection so far", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "---|" * len(header))
    for record in selection:
        validation = record["metrics"].get("validation", {})
        test = record["metrics"]["test"]
        cells = [
            label_of(record["labels"], []),
            f"{validation.get('monitor')} {validation.get('best'):.4f}",
        ]
        cells += [f"{test[m]:.3f}" if m in test else "—" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


TABLE_COSTS = {
    "trainable_parameters": "trainable params",
    "peak_memory_mb": "peak MiB",
    "train_seconds": "train s",
    "adapter_bytes": "adapter bytes",
}


def markdown_table(rows, metrics: Sequence[str], costs: dict[str, str] = TABLE_COSTS) -> list[str]:
    """Rows' labels, seed count, metrics (mean ± std) and costs (means); a pipeline baseline's
    rows have no costs."""
    axes = list(rows[0]["labels"]) if rows else []
    header = [*axes, "seeds", *metrics, *costs.values()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [str(row["labels"][axis]) for axis in axes] + [str(len(row["seeds"]))]
        cells += [mean_std(row[metric]) for metric in metrics]
        for cost in costs:
            cells.append(f"{row[cost]['mean']:.0f}" if row[cost] else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_report(sweep_directory: str | Path, metrics: Sequence[str] | None = None) -> Path:
    """Write report.md, report.html, aggregates.json and PNGs into the sweep folder."""
    directory = Path(sweep_directory)
    spec = json.loads((directory / "sweep.json").read_text())
    selection, records, planned = finished_records(directory)
    if not selection and not records:
        raise ValueError(f"{directory}: no finished cell to report yet")
    metrics = list(metrics or spec.get("metrics") or default_metrics(records or selection))
    rows = aggregate(records, metrics)
    baselines = pipeline_baselines(records, metrics)
    matrices = [m for metric in metrics[:1] for m in cross_domain_matrices(records, metric)]
    rates_file = directory / "learning_rates.json"
    rates = json.loads(rates_file.read_text()) if rates_file.is_file() else None
    if rates:
        rule = rates["rule"]
    elif spec.get("learning_rates"):
        rule = "learning rates are chosen on validation per method; the selection has not finished"
    else:
        rule = "the learning rate each config sets (no selection asked)"
    checkpoint = "checkpoint: best validation score of each run (pipeline.monitor)"

    lines = [f"# Sweep {spec['name']}", "", f"- model selection: {rule}; {checkpoint}."]
    if spec.get("selection") == "oracle":
        lines.append("- **ORACLE**: learning rates were chosen on the test metric.")
    finished = len(selection) + len(records)
    state = "" if finished == planned else f" (**interrupted: {finished} of {planned} finished**)"
    lines += [f"- cells: {len(records)} finished{state}; mean ± std (ddof=1) over seeds."]
    threads = sorted({r["metrics"]["costs"].get("cpu_threads") for r in records} - {None})
    if threads:
        lines.append(
            f"- times: measured with {'/'.join(map(str, threads))} CPU thread(s) per cell."
        )
    lines.append("")
    if selection and not rates:
        lines += selection_table(selection, metrics)
    if rates:
        lines += ["## Learning rates chosen", "", "| method | chosen | candidates (score) |"]
        lines.append("|---|---|---|")
        for method, candidates in rates["candidates"].items():
            tried = ", ".join(f"{rate}: {score_text(score)}" for rate, score in candidates.items())
            chosen = rates["chosen"].get(method)
            lines.append(f"| {method} | {chosen}{edge_note(chosen, candidates)} | {tried} |")
        lines.append("")
    if rows:
        lines += ["## Results", "", *markdown_table(rows, metrics), ""]
    if baselines:
        lines += ["## Pipeline baselines", "", "Fitted by every run on its own training split.", ""]
        lines += [*markdown_table(baselines, metrics, costs={}), ""]
    comparisons = [
        [
            row
            for metric in metrics
            for row in paired_differences(records, axis_of(spec["grid"], pair), pair, metric)
        ]
        for pair in spec.get("compare") or []
    ]
    for comparison in filter(None, comparisons):
        lines += paired_table(comparison)
    figures = []
    size_axis = next((a for a in ("data.fraction", "data.k_shot") if a in spec["grid"]), None)
    if size_axis and learning_curves(
        rows, metrics[0], size_axis, directory / "learning_curves.png"
    ):
        figures.append(("Learning curves", "learning_curves.png"))
    if cost_vs_metric(rows, metrics[0], directory / "cost_vs_metric.png"):
        figures.append(("Cost vs metric", "cost_vs_metric.png"))
    for index, matrix in enumerate(matrices):
        name = f"cross_domain_{index}.png"
        heatmap(matrix, directory / name)
        figures.append((f"Cross-domain {matrix['metric']} ({label_of(matrix['group'], [])})", name))
        lines += [f"## Cross-domain {matrix['metric']}: {label_of(matrix['group'], [])}", ""]
        lines += ["| trained on \\ tested on | " + " | ".join(matrix["columns"]) + " |"]
        lines.append("|---|" + "---|" * len(matrix["columns"]))
        for source in matrix["rows"]:
            cells = [mean_std(matrix["cells"][source].get(t)) for t in matrix["columns"]]
            lines.append(f"| {source} | " + " | ".join(cells) + " |")
        lines.append("")
    for title, name in figures:
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
    write_text_atomic(directory / "report.md", "\n".join(lines))
    write_json_atomic(
        directory / "aggregates.json",
        {
            "metrics": metrics,
            "rule": rule,
            "rows": rows,
            "pipeline_baselines": baselines,
            "cross_domain": matrices,
            "paired_differences": comparisons,
        },
    )
    write_text_atomic(directory / "report.html", html_page(spec["name"], lines, directory))
    return directory / "report.md"


def axis_of(grid: dict[str, list[Any]], pair: Sequence[Any]) -> str:
    """The grid axis both values of a comparison belong to (the sweep file was checked so)."""
    return next(axis for axis, values in grid.items() if all(v in values for v in pair))


def paired_table(comparison: list[dict[str, Any]]) -> list[str]:
    """Treatment minus baseline per metric and group, seed by seed: mean ± std, 95% interval,
    and in how many seeds the treatment won."""
    first = comparison[0]
    axes = list(first["labels"])
    header = ["test metric", *axes, "seeds", "difference", "95% interval", "treatment better"]
    lines = [f"## {first['treatment']} minus {first['baseline']}, paired by seed", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in comparison:
        interval = row["difference"]["ci95"]
        cells = [row["metric"], *(str(row["labels"][axis]) for axis in axes)]
        cells += [
            str(len(row["seeds"])),
            mean_std(row["difference"], sign="+"),
            f"[{interval[0]:+.3f}, {interval[1]:+.3f}]" if interval else "—",
            f"{row['treatment_better']} of {len(row['seeds'])}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def score_text(score: float | None) -> str:
    return "failed" if score is None else f"{score:.4f}"


def edge_note(chosen: float | None, candidates: dict[str, float | None]) -> str:
    """A warning when the chosen rate is the grid's smallest or largest: the best may lie
    beyond it, so the grid should be widened."""
    rates = sorted(float(rate) for rate in candidates)
    if chosen is None or len(rates) < 2 or chosen not in (rates[0], rates[-1]):
        return ""
    return " (**grid edge**: widen the grid)"


def default_metrics(records) -> list[str]:
    from peftsuite.config import load_config  # noqa: F401  (registers the pipelines)
    from pipelines.registry import registered_pipelines

    pipeline = records[0]["metrics"].get("pipeline")
    specs = registered_pipelines()
    if pipeline in specs:
        return list(specs[pipeline].test_metrics)
    return [k for k, v in records[0]["metrics"]["test"].items() if isinstance(v, float)][:2]


def html_page(title: str, markdown_lines: Sequence[str], directory: Path) -> str:
    """The Markdown as a plain page with its PNGs embedded: one file to send around."""
    body, table = [], []
    for line in [*markdown_lines, ""]:
        if line.startswith("|"):
            if not set(line) <= set("|-"):
                cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
                table.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if table:
            body.append("<table>" + "".join(table) + "</table>")
            table = []
        if line.startswith("!["):
            name = line[line.rindex("](") + 2 : -1]  # a title may hold brackets itself
            data = base64.b64encode((directory / name).read_bytes()).decode()
            body.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse}td{border:1px solid #ccc;padding:2px 6px}</style>"
        f"</head><body>{''.join(body)}</body></html>\n"
    )
