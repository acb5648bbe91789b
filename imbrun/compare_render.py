"""Render a comparison (from compare_runs) as rich tables, Markdown, JSON or CSV, or write it to a folder."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from imbrun.compare import OVERALL_KEYS
from imbrun.runs import RunDir

LEFT_COLUMNS = ("run", "class", "key", "strategy", "metric", "group", "vs group", "bucket", "warning", "message")


def _fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _delta(value: float, significant: bool | None = None) -> str:
    text = "" if abs(value) < 5e-5 else f"{value:+.4f}"
    return text + ("*" if significant else "")


def _pvalue(p: float) -> str:
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


def _percent(level: float) -> str:
    """0.95 -> '95%', 0.9 -> '90%', 0.975 -> '97.5%'."""
    return f"{round(level * 100, 6):g}%"


def _sig(flag: bool) -> str:
    return "yes" if flag else ""


def _basic_sections(result: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    overall = [[r["run"], r["strategy"], *(_fmt(r[k]) for k in OVERALL_KEYS)] for r in result["overall"]]
    per_class = [[r["class"], r["run"], str(r["support"]), _fmt(r["precision"]), _delta(r["d_precision"]),
                  _fmt(r["recall"]), _delta(r["d_recall"], r.get("recall_significant")), _fmt(r["f1"]),
                  _delta(r["d_f1"])] for r in result["per_class"]]
    names = [r["run"] for r in result["overall"]]
    diffs = [[key, *(_fmt(v) for v in values)] for key, values in result["config_differences"].items()]
    return [("Overall (test split)", ["run", "strategy", *OVERALL_KEYS], overall),
            ("Per class (deltas against the baseline, * = bootstrap interval excludes 0)",
             ["class", "run", "support", "precision", "Δprecision", "recall", "Δrecall", "f1", "Δf1"], per_class),
            ("Config keys that differ", ["key", *names], diffs)]


def _paired_sections(paired: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    level = paired["settings"]["level"]
    mcnemar = [[r["run"], str(r["rows"]), str(r["base_right_run_wrong"]), str(r["base_wrong_run_right"]),
                _pvalue(r["pvalue"]), _sig(r["significant"])] for r in paired["mcnemar"]]
    intervals = [[r["run"], r["metric"], _delta(r["delta"]) or "0", _fmt(r["low"]), _fmt(r["high"]),
                  _sig(r["significant"])] for r in paired["intervals"]]
    return [("McNemar exact test against the baseline (same test rows)",
             ["run", "rows", "baseline right, run wrong", "baseline wrong, run right", "p-value", "significant"],
             mcnemar),
            (f"Paired bootstrap, run - baseline ({paired['settings']['resamples']} resamples, "
             f"{_percent(level)} interval)", ["run", "metric", "delta", "low", "high", "significant"], intervals)]


def _group_sections(groups: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    members = [[label, ", ".join(names)] for label, names in groups["members"].items()]
    summary = [[r["group"], r["metric"], str(r["n"]), f"{_fmt(r['mean'])} ± {_fmt(r['std'])}",
                f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"] for r in groups["summary"]]
    welch = [[r["group"], r["baseline_group"], r["metric"], _delta(r["delta_mean"]) or "0", _pvalue(r["pvalue"]),
              _sig(r["significant"])] for r in groups["welch"]]
    sections = [("Seed groups (configs equal but for seeds)", ["group", "runs"], members),
                (f"Seed groups: mean ± std and {_percent(groups.get('level', 0.95))} t interval",
                 ["group", "metric", "n", "mean ± std", "interval"], summary)]
    if welch:
        sections.append(("Seed groups against the baseline's group (Welch t-test on per-seed values)",
                         ["group", "vs group", "metric", "Δmean", "p-value", "significant"], welch))
    return sections


def _bucket_section(buckets: dict) -> tuple[str, list[str], list[list[str]]]:
    present = [b for b in ("many", "medium", "few") if any(r["bucket"] == b for r in buckets["rows"])]
    sizes = {r["bucket"]: r["classes"] for r in buckets["rows"]}
    by_run: dict[str, dict[str, float]] = {}
    for row in buckets["rows"]:
        by_run.setdefault(row["run"], {})[row["bucket"]] = row["mean_recall"]
    t = buckets["thresholds"]
    title = f"Mean recall by training support (many > {t['many']}, few < {t['few']})"
    header = ["run", *(f"{b} ({sizes[b]} classes)" for b in present)]
    return title, header, [[run, *(_fmt(values[b]) for b in present)] for run, values in by_run.items()]


def sections(result: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for each table, shared by the table, Markdown and CSV formats."""
    out = _basic_sections(result)
    if result.get("paired"):
        out += _paired_sections(result["paired"])
    if result.get("seed_groups"):
        out += _group_sections(result["seed_groups"])
    if result.get("buckets"):
        out.append(_bucket_section(result["buckets"]))
    if result.get("warnings"):
        out.append(("Warnings (warnings.json of each run)", ["run", "warning", "epoch", "message"],
                    [[w["run"], w["code"], "" if w["epoch"] is None else str(w["epoch"]), w["message"]]
                     for w in result["warnings"]]))
    return out


def render_json(result: dict) -> str:
    return json.dumps(result, indent=2, default=_json_number)


def _json_number(value):
    return value.item() if hasattr(value, "item") else str(value)


def render_markdown(result: dict) -> str:
    lines: list[str] = []
    for title, header, rows in sections(result):
        lines += [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    lines += [f"Note: {note}" for note in notes(result)]
    return "\n".join(lines)


def render_csv(result: dict) -> str:
    """Every table as CSV, each preceded by a `# title` line and followed by an empty line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for title, header, rows in sections(result):
        buffer.write(f"# {title}\n")
        writer.writerow(header)
        writer.writerows(rows)
        buffer.write("\n")
    return buffer.getvalue().rstrip("\n")


def print_tables(result: dict, console: Console) -> None:
    for title, header, rows in sections(result):
        table = Table(title=title, title_justify="left")
        for column in header:
            table.add_column(column, justify="left" if column in LEFT_COLUMNS else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for note in notes(result):
        console.print(f"Note: {note}", style="yellow", highlight=False, markup=False, soft_wrap=True)


def notes(result: dict) -> list[str]:
    """What the tables leave out: runs that could not be paired with the baseline."""
    out = []
    if not result["same_test_rows"]:
        out.append("the runs were scored on different test rows.")
    for reason in (result.get("paired") or {}).get("skipped", []):
        out.append(f"no paired test: {reason}")
    return out


def raw_tables(result: dict) -> dict[str, list[dict]]:
    """Unformatted rows of each table by file stem, for the CSV files of a comparison folder."""
    tables = {"overall": result["overall"], "per_class": result["per_class"],
              "config_differences": [{"key": k, **dict(zip([r["run"] for r in result["overall"]], v))}
                                     for k, v in result["config_differences"].items()]}
    if result.get("paired"):
        tables |= {"mcnemar": result["paired"]["mcnemar"], "bootstrap": result["paired"]["intervals"]}
    if result.get("seed_groups"):
        tables |= {"seed_groups": result["seed_groups"]["summary"], "seed_group_welch": result["seed_groups"]["welch"]}
    if result.get("buckets"):
        tables["buckets"] = result["buckets"]["rows"]
    return tables


def write_comparison(result: dict, runs, out: str | Path) -> RunDir:
    """A comparison folder: comparison.json/.md, one CSV per table, per-class F1 bars and confusion differences."""
    import pandas as pd

    from imbrun.compare_plots import confusion_difference_png, per_class_f1_png

    folder = RunDir(out)
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.write_text("comparison.json", render_json(result) + "\n")
    folder.write_text("comparison.md", render_markdown(result) + "\n")
    for stem, rows in raw_tables(result).items():
        folder.write_frame(f"{stem}.csv", pd.DataFrame(rows))
    per_class_f1_png(result, folder.file("per_class_f1.png"))
    base = runs[0]
    for index, run in enumerate(runs[1:], start=1):
        confusion_difference_png(base, run, folder.file(f"confusion_diff_{index:02d}.png"))
    return folder
