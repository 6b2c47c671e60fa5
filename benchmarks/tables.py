"""One benchmark table, printed with rich and written as Markdown, from a column list.

Each sweep names its columns once (header, row key, format) and gets the console table and the
Markdown report from the same rows, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    format: str = "{}"
    numeric: bool = True

    def cell(self, row: dict[str, Any]) -> str:
        value = row.get(self.key)
        return "" if value is None else self.format.format(value)


def print_table(title: str, columns: Sequence[Column], rows: Sequence[dict[str, Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column.header, justify="right" if column.numeric else "left")
    for row in rows:
        table.add_row(*(column.cell(row) for column in columns))
    Console().print(table)


def markdown_table(columns: Sequence[Column], rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| " + " | ".join(column.header for column in columns) + " |",
        "|" + "|".join("---:" if column.numeric else "---" for column in columns) + "|",
    ]
    lines += ["| " + " | ".join(column.cell(row) for column in columns) + " |" for row in rows]
    return lines
