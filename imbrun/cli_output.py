"""What the CLI shows: live epoch progress, the per-class summary tables, auto's pilot and evaluate's notes."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from imbrun.runs import RunDir


@contextmanager
def training_progress(console: Console, epochs: int, quiet: bool):
    """Yields an on_epoch(row) callback updating a progress bar with the live loss and validation macro-F1."""
    if quiet:
        yield None
        return
    progress = Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[info]}"),
                        TimeElapsedColumn(), console=console, transient=False)
    task = None

    def on_epoch(row: dict) -> None:
        nonlocal task
        if task is None:  # shown from the first epoch on, so a data error never leaves a stray bar
            progress.start()
            task = progress.add_task("train", total=epochs, info="")
        info = (f"loss {row['train_loss']:.4f}  val_loss {row['val_loss']:.4f}  "
                f"val macro-F1 {row['val_macro_f1']:.4f}") + (f"  ! {escape(row['note'])}" if row.get("note") else "")
        progress.update(task, completed=row["epoch"], info=info)

    try:
        yield on_epoch
    finally:
        if task is not None:  # a bar never started would still print an empty line on stop()
            progress.stop()


def per_class_table(metrics: dict, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("class", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, values in metrics["test"]["per_class"].items():
        table.add_row(name, f"{values['precision']:.4f}", f"{values['recall']:.4f}", f"{values['f1']:.4f}",
                      str(values["support"]))
    return table


def _overall_line(metrics: dict) -> str:
    o = metrics["test"]["overall"]
    return (f"macro-F1 {o['macro_f1']:.4f}  balanced acc {o['balanced_accuracy']:.4f}  "
            f"accuracy {o['accuracy']:.4f}  MCC {o['mcc']:.4f}  G-mean {o['gmean']:.4f}")


def print_run_summary(console: Console, run: RunDir, quiet: bool, err_console: Console | None = None) -> None:
    """The per-class table and overall line (unless quiet), the run's warnings (always, on stderr), the path."""
    from imbrun.diagnose import format_warnings, read_warnings

    metrics = run.read_json("metrics.json")
    auto = run.read_json("balance.json").get("auto") if run.file("balance.json").is_file() else None
    if auto and not quiet:
        print_auto_choice(console, auto)
    if not quiet:
        console.print(per_class_table(metrics, f"Test split (best epoch {metrics['best_epoch']} of "
                                               f"{metrics['epochs_run']})"))
        console.print(_overall_line(metrics))
    for line in format_warnings(read_warnings(run)):
        (err_console or console).print(line, style="yellow", markup=False, highlight=False, soft_wrap=True)
    console.print(f"run: {run.path}", highlight=False, soft_wrap=True)


def print_eval_summary(console: Console, out: RunDir, metrics: dict, matches: bool | None, quiet: bool,
                       err_console: Console | None = None) -> None:
    """The per-class table and overall line (unless quiet), the eval's warnings (always, on stderr), the path."""
    from imbrun.diagnose import format_warnings, read_warnings

    for line in format_warnings(read_warnings(out)):  # e.g. categories the training data never had
        (err_console or console).print(line, style="yellow", markup=False, highlight=False, soft_wrap=True)
    if not quiet:
        console.print(per_class_table(metrics, "Evaluation"))
        console.print(_overall_line(metrics))
        if matches is not None:
            console.print("matches the stored metrics.json" if matches else
                          "[red]differs from the stored metrics.json[/red]")
    console.print(f"eval: {out.path}", highlight=False, soft_wrap=True)


def print_posthoc_notes(err_console: Console, posthoc: dict, kind: str | None) -> None:
    """evaluate --posthoc: say when the logit prior is not the original training counts, and when the correction
    stacks on one the run already applies."""
    source = posthoc.get("prior_source", "balance.json class_counts.train")
    if source != "balance.json class_counts.train":
        err_console.print(f"note: logit adjustment uses the prior the model was trained on ({source}), "
                          "not the original training counts", highlight=False, soft_wrap=True, markup=False)
    if posthoc.get("on_top_of"):
        err_console.print(f"note: --posthoc {kind} is applied on top of {posthoc['on_top_of']}, "
                          "which the run already applies", highlight=False, soft_wrap=True, markup=False)


def print_data_check(console: Console, err_console: Console, run: Path) -> None:
    """evaluate --check: one warning line per changed or missing source file, else `data unchanged`."""
    from imbrun.environment import check_data_sources

    folder = RunDir.open(run, require=("env.json", "status.json"), completed=True)
    sources = folder.read_json("env.json").get("data_sources") or []
    warnings, notes = check_data_sources(sources)
    for line in warnings:
        err_console.print(f"warning: {line}", highlight=False, soft_wrap=True, markup=False)
    for line in notes:
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    checked = sum("path" in s for s in sources)
    if not warnings:
        console.print(f"data unchanged: {checked} source file(s) have the sha256 recorded at training" if checked
                      else "no data files recorded in env.json to check", highlight=False, soft_wrap=True)


def pilot_table(auto: dict) -> Table:
    """balance kind auto: each piloted candidate's validation score per rung; the chosen one marked."""
    table = Table(title=f"balance auto: pilot (validation {auto['metric']})", title_justify="left")
    table.add_column("candidate")
    for r, rung in enumerate(auto["rungs"], start=1):
        table.add_column(f"rung {r} ({rung['epochs']} ep)", justify="right")
    table.add_column("")
    for candidate in (c for c in auto["candidates"] if c["included"]):
        label = candidate["label"]
        cells = [_pilot_cell(rung, label) for rung in auto["rungs"]]
        table.add_row(escape(label), *cells, "chosen" if label == auto["chosen"] else "")
    if any(p.get("reused") for rung in auto["rungs"] for p in rung["pilots"]):
        table.caption = "reused: early stopping had ended that pilot before, so it was not trained again"
        table.caption_justify = "left"
    return table


def _pilot_cell(rung: dict, label: str) -> str:
    pilot = next((p for p in rung["pilots"] if p["label"] == label), None)
    if pilot is None:
        return ""
    if pilot["status"] != "completed":
        return pilot["status"]
    return f"{pilot['score']:.4f}" + (" reused" if pilot.get("reused") else "")


def print_auto_choice(console: Console, auto: dict) -> None:
    """The pilot table, the choice with its reason, what was not piloted and whether thresholds were kept."""
    if auto["rungs"]:
        console.print(pilot_table(auto))
    console.print(f"auto chose {auto['chosen']}: {auto['reason']}", markup=False, highlight=False, soft_wrap=True)
    for c in auto["candidates"]:
        if not c["included"] and c.get("measured"):
            console.print(f"not piloted: {c['label']}: {c['reason']}", markup=False, highlight=False, soft_wrap=True)
    others = [c["label"] for c in auto["candidates"] if not c["included"] and not c.get("measured")]
    if others:
        console.print(f"not piloted on any data (reasons in balance.json): {', '.join(others)}", markup=False,
                      highlight=False, soft_wrap=True)
    thresholds = auto.get("thresholds") or {}
    if "val_before" in thresholds:
        console.print(f"thresholds tuned on validation: {thresholds['metric']} {thresholds['val_before']:.4f} -> "
                      f"{thresholds['val_after']:.4f}, {thresholds['cross_fitted_gain']:+.4f} on held-out halves: "
                      f"{'kept' if thresholds['kept'] else 'not kept'}", markup=False, highlight=False,
                      soft_wrap=True)
    elif thresholds.get("reason"):
        console.print(f"thresholds not tuned: {thresholds['reason']}", markup=False, highlight=False, soft_wrap=True)
