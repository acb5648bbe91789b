"""`imbrun report`: one self-contained HTML file (inline CSS, images as data URIs) for a run or a comparison."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from imbrun.errors import ImbrunError
from imbrun.runs import RunDir

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px auto; max-width: 1150px;
       color: #1b1f24; background: #fff; }
h1 { font-size: 1.6em; border-bottom: 2px solid #2f6fb0; padding-bottom: 6px; }
h2 { font-size: 1.25em; margin-top: 32px; color: #2f6fb0; }
table { border-collapse: collapse; margin: 10px 0; font-size: 0.88em; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: right; }
th { background: #eef3f8; }
td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #f8fafc; }
img { max-width: 100%; border: 1px solid #d0d7de; margin: 8px 0; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 10px; font-size: 0.85em; overflow-x: auto; }
.note { color: #9a6700; }
"""


def image(path: Path, alt: str) -> str:
    """An <img> whose PNG is embedded as a base64 data URI, or nothing when the file is absent."""
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def page(title: str, body: list[str]) -> str:
    head = f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
    return head + f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>\n" + "\n".join(body) + \
        "\n</body></html>\n"


def run_sections(run: RunDir) -> list[str]:
    """Config, warnings, class distribution, curves, overall and per-class scores, confusion matrix, probability
    quality."""
    from imbrun.diagnose import read_warnings

    metrics = run.read_json("metrics.json")
    test = metrics.get("test") if isinstance(metrics, dict) else None
    if not isinstance(test, dict) or not {"overall", "per_class"} <= set(test) or "class_names" not in metrics:
        raise ImbrunError(f"{run.file('metrics.json')}: no scored 'test' block (overall, per_class) and class_names; "
                          "it is not the metrics.json `imbrun train` or `imbrun evaluate` writes")
    out = [f"<p>Status: {html.escape(run.status())}. Folder: <code>{html.escape(str(run.path))}</code></p>"]
    warnings = read_warnings(run)
    if warnings:
        out += ["<h2>Warnings</h2>", table(["warning", "epoch", "message"],
                                           [[w["code"], w.get("epoch"), w["message"]] for w in warnings])]
    if run.file("balance.json").is_file():
        counts = run.read_json("balance.json").get("class_counts", {})
        splits = list(counts)
        out += ["<h2>Class distribution per split</h2>",
                table(["class", *splits], [[name, *(counts[s].get(name, 0) for s in splits)]
                                           for name in metrics["class_names"]])]
    out += ["<h2>Overall scores (test split)</h2>", table(list(test["overall"]), [list(test["overall"].values())])]
    quality = test.get("probability", {}).get("per_class", {})
    rows = [[name, v["precision"], v["recall"], v["f1"], v["support"],
             *(quality.get(name, {}).get(key) for key in ("roc_auc", "pr_auc", "ece"))]
            for name, v in test["per_class"].items()]
    out += ["<h2>Per class (test split)</h2>",
            table(["class", "precision", "recall", "f1", "support", "ROC-AUC", "PR-AUC", "ECE (one vs rest)"], rows)]
    if "probability" in test:
        line = f"Top-label expected calibration error (15 bins): {test['probability']['ece']:.4f}"
        if test["probability"].get("macro_ece") is not None:
            line += f"; mean one-vs-rest ECE over classes: {test['probability']['macro_ece']:.4f}"
        out.append(f"<p>{line}</p>")
    out += ["<h2>Training curves</h2>", image(run.file("curves.png"), "training curves"),
            "<h2>Confusion matrix (test split)</h2>", image(run.file("confusion_matrix.png"), "confusion matrix"),
            "<h2>Probability quality</h2>", image(run.file("reliability.png"), "reliability diagram"),
            image(run.file("pr_curves.png"), "precision-recall curves")]
    if run.file("config.yaml").is_file():
        out += ["<h2>Config</h2>", f"<pre>{html.escape(run.file('config.yaml').read_text(encoding='utf-8'))}</pre>"]
    return out


def comparison_sections(folder: RunDir) -> list[str]:
    """Every table of the comparison (statistics included) and its figures."""
    from imbrun.compare_render import notes, sections

    result = read_comparison(folder.file("comparison.json"))
    out = [f"<p>Baseline: <code>{html.escape(result['baseline'])}</code>; runs: "
           + ", ".join(f"<code>{html.escape(r)}</code>" for r in result["runs"]) + "</p>"]
    out += [f'<p class="note">Note: {html.escape(n)}</p>' for n in notes(result)]
    for title, header, rows in sections(result):
        out += [f"<h2>{html.escape(title)}</h2>", table(header, rows)]
    out += ["<h2>Per-class F1</h2>", image(folder.file("per_class_f1.png"), "per-class F1")]
    diffs = sorted(folder.path.glob("confusion_diff_*.png"))
    if diffs:
        out.append("<h2>Confusion matrix differences against the baseline (row-normalised)</h2>")
        out += [image(path, path.stem) for path in diffs]
    return out


COMPARISON_KEYS = ("runs", "baseline", "overall", "per_class", "config_differences", "same_test_rows")


def read_comparison(path: Path) -> dict:
    """comparison.json as `imbrun compare --out` wrote it, or one line naming the file and what is wrong."""
    redo = "write it again with imbrun compare ... --out"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ImbrunError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                          f"{redo}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImbrunError(f"{path}: unreadable ({type(exc).__name__}: {exc}); {redo}") from None
    missing = [key for key in COMPARISON_KEYS if not isinstance(result, dict) or key not in result]
    if missing:
        raise ImbrunError(f"{path}: not a comparison, missing {', '.join(missing)}; {redo}")
    return result


def write_report(target: str | Path, out: str | Path | None = None) -> Path:
    """Write one self-contained HTML report of a run folder or a comparison folder; returns its path.

    Example: write_report("runs/20240101-120000_quickstart")  # -> runs/.../report.html
    """
    folder = RunDir(target)
    if not folder.path.is_dir():
        raise ImbrunError(f"{folder.path}: folder not found")
    if folder.file("comparison.json").is_file():
        title, body = f"imbrun comparison: {folder.path.name}", comparison_sections(folder)
    elif folder.file("metrics.json").is_file() or folder.file("status.json").is_file():  # a run or eval folder
        folder = RunDir.open(folder.path, require=("metrics.json", "status.json"), completed=True)
        title, body = f"imbrun run: {folder.path.name}", run_sections(folder)
    else:
        raise ImbrunError(f"{folder.path}: neither a run folder (metrics.json) nor a comparison folder "
                          "(comparison.json, written by `imbrun compare --out`)")
    path = Path(out) if out is not None else folder.file("report.html")
    path.parent.mkdir(parents=True, exist_ok=True)
    RunDir(path.parent).write_text(path.name, page(title, body))
    return path
