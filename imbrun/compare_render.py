"""Render a comparison (from compare_runs) as a rich table, Markdown or JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from imbrun.compare import OVERALL_KEYS


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _delta(value: float) -> str:
    return "" if abs(value) < 5e-5 else f"{value:+.4f}"


def _sections(result: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for each table, shared by every text format."""
    overall = [[r["run"], r["strategy"], *(_fmt(r[k]) for k in OVERALL_KEYS)] for r in result["overall"]]
    per_class = [[r["class"], r["run"], str(r["support"]), _fmt(r["recall"]), _delta(r["d_recall"]),
                  _fmt(r["f1"]), _delta(r["d_f1"])] for r in result["per_class"]]
    diffs = [[key, *(_fmt(v) for v in values)] for key, values in result["config_differences"].items()]
    names = [r["run"] for r in result["overall"]]
    return [("Overall (test split)", ["run", "strategy", *OVERALL_KEYS], overall),
            ("Per class (deltas against the first run)", ["class", "run", "support", "recall", "Δrecall", "f1",
                                                         "Δf1"], per_class),
            ("Config keys that differ", ["key", *names], diffs)]


def render_json(result: dict) -> str:
    return json.dumps(result, indent=2)


def render_markdown(result: dict) -> str:
    lines: list[str] = []
    for title, header, rows in _sections(result):
        lines += [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    if not result["same_test_rows"]:
        lines.append("Note: the runs were scored on different test rows.")
    return "\n".join(lines)


def print_tables(result: dict, console: Console) -> None:
    for title, header, rows in _sections(result):
        table = Table(title=title, title_justify="left")
        for column in header:
            table.add_column(column, justify="right" if column not in ("run", "class", "key", "strategy") else "left")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    if not result["same_test_rows"]:
        console.print("[yellow]Note: the runs were scored on different test rows.[/yellow]")
