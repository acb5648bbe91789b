"""Show an inspection report (inspect_data.inspect_splits): rich tables, JSON, and a class-distribution PNG."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from imbrun.inspect_data import PAIRS, SPLITS


def render_json(report: dict) -> str:
    """JSON text; an infinite imbalance ratio (a class without rows) becomes null."""
    return json.dumps(_finite(report), indent=2)


def print_report(report: dict, console: Console, source: str = "") -> None:
    """The report as a class table followed by one line per check and the suggestions."""
    shape = "x".join(map(str, report["feature_shape"]))
    console.print(f"{source + ': ' if source else ''}{report['rows']} rows, features {shape}, "
                  f"{len(report['class_names'])} classes", highlight=False, soft_wrap=True)
    console.print(class_counts_table(report))
    for line in check_lines(report):
        console.print(line, highlight=False, soft_wrap=True, markup=False)


def class_counts_table(report: dict) -> Table:
    table = Table(title="class counts (share)", title_justify="left")
    table.add_column("class")
    columns = [*SPLITS, "all"]
    for name in columns:
        table.add_column(name, justify="right")
    blocks = [report["splits"][s] for s in SPLITS] + [report["all"]]
    for cls in report["class_names"]:
        table.add_row(cls, *(f"{b['counts'][cls]} ({100 * b['shares'][cls]:.1f}%)" for b in blocks))
    table.add_row("rows", *(str(b["rows"]) for b in blocks))
    table.add_row("ratio", *(_ratio(b["imbalance_ratio"]) for b in blocks))
    return table


def check_lines(report: dict) -> list[str]:
    """One line per check: missing values, padding, duplicates, leakage, empty classes, then suggestions."""
    lines = [_missing_line(report["missing"]), _duplicates_line(report["duplicates"])]
    if "padding" in report:
        lines.append("padding (trailing zero steps): " + "; ".join(
            f"{s} {p['padded']}/{p['series']} series ({100 * p['padded_share']:.1f}%), mean "
            f"{p['mean_padded_length']:.1f} of {p['timesteps']} steps" for s, p in report["padding"].items()))
    if "group_leakage" in report:
        leak = report["group_leakage"]
        shared = "; ".join(f"{pair}: {len(names)} ({', '.join(names[:5])}{' ...' if len(names) > 5 else ''})"
                           for pair, names in leak["shared"].items())
        lines.append(f"groups ({leak['group_by']}): " + (f"LEAK shared across splits: {shared}" if shared else
                     "none shared across splits"))
    for split, names in report["empty_classes"].items():
        if names:
            lines.append(f"warning: the {split} split has no rows of {', '.join(map(repr, names))}")
    lines += [f"warning: {w}" for w in report["split_warnings"]]
    for tip in report["suggestions"]:
        use = f"use {', '.join(tip['use'])}" if tip["use"] else ""
        avoid = f"avoid {', '.join(tip['avoid'])}" if tip["avoid"] else ""
        lines.append(f"suggestion: {'; '.join(p for p in (use, avoid) if p) or 'none'} - {tip['reason']}")
    return lines


def class_distribution_png(report: dict, path: Path) -> Path:
    """One bar panel per split (train, val, test): rows per class, the count written above each bar."""
    from imbrun.plots import _pyplot

    plt = _pyplot()
    names = report["class_names"]
    width = max(4.0, 0.45 * len(names) + 2.0)
    fig, axes = plt.subplots(1, len(SPLITS), figsize=(width * len(SPLITS), 3.6))
    for ax, split in zip(axes, SPLITS):
        counts = [report["splits"][split]["counts"][n] for n in names]
        bars = ax.bar(range(len(names)), counts, color="tab:blue")
        ax.bar_label(bars, fontsize=8)
        ax.set_xticks(range(len(names)), names, rotation=45 if len(names) > 6 else 0, ha="right")
        ax.set_title(f"{split} ({report['splits'][split]['rows']} rows, ratio "
                     f"{_ratio(report['splits'][split]['imbalance_ratio'])})")
        ax.set_ylabel("rows")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _missing_line(missing: dict) -> str:
    if not any(m["cells"] for m in missing.values()):
        return "missing values: none"
    return "missing values: " + "; ".join(f"{s} {m['cells']} cells in {m['rows']} rows ({100 * m['row_share']:.1f}%)"
                                          for s, m in missing.items())


def _duplicates_line(dups: dict) -> str:
    across = [f"{a}-{b} {dups[f'{a}-{b}']}" for a, b in PAIRS]
    total = sum(dups[f"{a}-{b}"] for a, b in PAIRS)
    head = "none" if total == 0 else f"{total} rows (if they are the same examples, test scores are inflated)"
    return f"exact duplicate rows across splits: {head} ({', '.join(across)}); within train {dups['within_train']}"


def _ratio(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1f}:1"


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
