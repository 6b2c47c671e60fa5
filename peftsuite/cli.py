"""The `peftsuite` command: run a config, list methods, show a composed config."""

from __future__ import annotations

import argparse
import sys

# Commands import what they need when they run, so `peftsuite --help` answers without torch.


def run_command(overrides: list[str]) -> None:
    from peftsuite.config import load_config
    from peftsuite.runner import run_experiment

    directory = run_experiment(load_config(overrides))
    print(directory)


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


COMMANDS = {
    "run": (run_command, "train then test one config; Hydra overrides, e.g. method=ssf"),
    "methods": (methods_command, "list the registered PEFT methods"),
    "show-config": (show_config_command, "print the composed, validated config"),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="peftsuite", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("overrides", nargs="*", help="Hydra overrides: key=value, group=option")
    arguments = parser.parse_args(argv)
    try:
        COMMANDS[arguments.command][0](arguments.overrides)
    except (ValueError, FileNotFoundError) as error:  # bad input: one clear line
        print(f"peftsuite: error: {error}", file=sys.stderr)
        raise SystemExit(2) from error


if __name__ == "__main__":
    main()
