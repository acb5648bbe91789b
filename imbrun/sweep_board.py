"""Leaderboards: a sweep's configurations ranked by mean test metric over seeds/folds, and a fold summary.

Scores are read from each run's metrics.json (test.overall), so the leaderboard always matches the runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from rich.table import Table

from imbrun.runs import RunDir
from imbrun.stats import seed_group_summary


def overall_score(run: RunDir, metric: str) -> float:
    """One test.overall score from a run's metrics.json."""
    return float(run.read_json("metrics.json")["test"]["overall"][metric])


def build_leaderboard(records: list[dict], sweep_dir: Path, metric: str) -> pd.DataFrame:
    """One row per configuration (mean, std, 95% CI over its completed trials, n, failed), best mean first;
    then one row per failed or unfinished trial with its error.
    """
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(record["configuration"], []).append(record)
    rows = []
    for configuration, members in groups.items():
        values = [overall_score(RunDir(sweep_dir / r["run"]), metric) for r in members if r["status"] == "completed"]
        summary = seed_group_summary(values) if values else None
        rows.append({"configuration": configuration, "n": len(values), "failed": len(members) - len(values),
                     f"{metric}_mean": summary.mean if summary else math.nan,
                     f"{metric}_std": summary.std if summary else math.nan,
                     f"{metric}_ci_low": summary.ci_low if summary else math.nan,
                     f"{metric}_ci_high": summary.ci_high if summary else math.nan, "trial": "", "error": ""})
    board = pd.DataFrame(rows).sort_values(f"{metric}_mean", ascending=False, kind="stable", na_position="last")
    board.insert(0, "rank", range(1, len(board) + 1))
    failed = [{"rank": pd.NA, "configuration": r["configuration"], "n": 0, "failed": 1, "trial": r["name"],
               "error": r.get("error") or f"not finished ({r['status']})"}
              for r in records if r["status"] != "completed"]
    if failed:
        board = pd.concat([board, pd.DataFrame(failed)], ignore_index=True)
    board["rank"] = board["rank"].astype("Int64")
    return board.reset_index(drop=True)


def leaderboard_table(board: pd.DataFrame, metric: str, title: str) -> Table:
    """The leaderboard as a rich table: `mean ± std` of the metric, n, failed; failed trials with their error."""
    table = Table(title=title, title_justify="left")
    for column in ("#", "configuration", f"{metric} mean ± std", "n", "failed"):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for row in board.itertuples(index=False):
        row = row._asdict()
        if row["trial"]:
            table.add_row("", f"[red]{row['trial']}[/red]", f"[red]failed: {row['error']}[/red]", "", "")
            continue
        table.add_row(str(row["rank"]), row["configuration"],
                      _mean_std(row[f"{metric}_mean"], row[f"{metric}_std"]), str(row["n"]), str(row["failed"]))
    return table


def fold_summary(runs: list[RunDir]) -> pd.DataFrame:
    """Mean, std and 95% CI over folds of macro-F1, balanced accuracy and each class's recall."""
    metrics = [run.read_json("metrics.json") for run in runs]
    scores = {"macro_f1": [m["test"]["overall"]["macro_f1"] for m in metrics],
              "balanced_accuracy": [m["test"]["overall"]["balanced_accuracy"] for m in metrics]}
    for name in metrics[0]["class_names"]:
        scores[f"recall {name}"] = [m["test"]["per_class"][name]["recall"] for m in metrics]
    rows = []
    for score, values in scores.items():
        s = seed_group_summary(values)
        rows.append({"score": score, "mean": s.mean, "std": s.std, "ci_low": s.ci_low, "ci_high": s.ci_high,
                     "n": s.n})
    return pd.DataFrame(rows)


def fold_table(summary: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("score", "mean ± std", "95% CI", "n"):
        table.add_column(column, justify="left" if column == "score" else "right")
    for row in summary.itertuples(index=False):
        ci = "-" if math.isnan(row.ci_low) else f"[{row.ci_low:.4f}, {row.ci_high:.4f}]"
        table.add_row(row.score, _mean_std(row.mean, row.std), ci, str(row.n))
    return table


def _mean_std(mean: float, std: float) -> str:
    if mean is None or pd.isna(mean):
        return "-"
    return f"{mean:.4f}" if pd.isna(std) else f"{mean:.4f} ± {std:.4f}"
