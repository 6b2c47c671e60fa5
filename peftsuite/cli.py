"""The `peftsuite` command: run a config, list methods, show a composed config."""

from __future__ import annotations

import argparse
import sys

# Commands import what they need when they run, so `peftsuite --help` answers without torch.


def run_command(overrides: list[str]) -> None:
    from peftsuite.config import load_config
    from peftsuite.runner import run_experiment
    from peftsuite.summary import print_summary

    directory = run_experiment(load_config(overrides))
    print_summary(directory)
    print(directory)  # last: scripts read the run directory from the last line


def methods_command(_: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from shared.methods import get_method, method_names

    table = Table(title="PEFT methods (method=<name>)")
    for column in ("name", "what trains", "mergeable", "via peft"):
        table.add_column(column)
    for name in method_names():
        spec = get_method(name)
        table.add_row(name, spec.summary, str(spec.merge is not None), str(spec.uses_peft))
    Console().print(table)


def show_config_command(overrides: list[str]) -> None:
    from omegaconf import OmegaConf

    from peftsuite.config import load_config

    print(OmegaConf.to_yaml(load_config(overrides)))


def sweep_command(arguments: argparse.Namespace) -> None:
    import json

    from peftsuite.sweep.execute import run_locally, run_sweep
    from peftsuite.sweep.spec import read_sweep

    spec = read_sweep(arguments.sweep_file, arguments.overrides)
    runner = run_locally
    if arguments.ray is not None:
        from peftsuite.sweep.ray_runner import ray_runner

        runner = ray_runner(
            arguments.ray, cpus=arguments.cpus_per_cell, gpus=arguments.gpus_per_cell
        )
    summary = run_sweep(spec, dry_run=arguments.dry_run, runner=runner)
    if arguments.dry_run:
        for cell in summary["selection_cells"] + summary["cells"]:
            print(json.dumps(cell))
        return
    print(spec.directory)


def report_command(arguments: argparse.Namespace) -> None:
    from peftsuite.sweep.report import write_report

    print(write_report(arguments.sweep_directory, arguments.metric or None))


COMMANDS = {
    "run": (run_command, "train then test one config; Hydra overrides, e.g. method=ssf"),
    "methods": (methods_command, "list the registered PEFT methods"),
    "show-config": (show_config_command, "print the composed, validated config"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peftsuite", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("overrides", nargs="*", help="Hydra overrides: key=value, group=option")
    sweep = commands.add_parser(
        "sweep", help="run a grid of configs (a YAML sweep file), resumably; see README"
    )
    sweep.add_argument("sweep_file", help="the sweep's YAML file")
    sweep.add_argument("overrides", nargs="*", help="Hydra overrides added to every cell")
    sweep.add_argument("--dry-run", action="store_true", help="list the cells and which are done")
    sweep.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        default=None,
        metavar="ADDRESS",
        help="run cells as Ray tasks (cluster address; 'local' starts one here)",
    )
    sweep.add_argument("--cpus-per-cell", type=float, default=1.0)
    sweep.add_argument("--gpus-per-cell", type=float, default=0.0)
    report = commands.add_parser("report", help="write a sweep's report (Markdown, HTML, PNGs)")
    report.add_argument("sweep_directory")
    report.add_argument("--metric", action="append", help="test metric(s) to report")
    return parser


def main(argv: list[str] | None = None) -> None:
    arguments = build_parser().parse_args(argv)
    try:
        if arguments.command == "sweep":
            sweep_command(arguments)
        elif arguments.command == "report":
            report_command(arguments)
        else:
            COMMANDS[arguments.command][0](arguments.overrides)
    except (ValueError, FileNotFoundError) as error:  # bad input: one clear line
        print(f"peftsuite: error: {error}", file=sys.stderr)
        raise SystemExit(2) from error


if __name__ == "__main__":
    main()
