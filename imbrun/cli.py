"""The `imbrun` command: parses arguments, calls the library, turns ImbrunError into one line + exit code.

Heavy imports (torch, pandas) happen inside the commands so that `imbrun --help` starts fast.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from imbrun.errors import ImbrunError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, evaluate and compare classifiers on class-imbalanced data.")
console = Console()
err_console = Console(stderr=True)


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"
    csv = "csv"


def _fail(message: str, code: int) -> None:
    for line in message.splitlines() or [""]:
        err_console.print(f"[red]error:[/red] {line}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _guarded(action):
    """Run a command body; user errors become `error: ...` lines, never tracebacks."""
    try:
        return action()
    except ImbrunError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except typer.Exit:
        raise
    except Exception as exc:  # an internal error: one line, the traceback only on request
        if os.environ.get("IMBRUN_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set IMBRUN_DEBUG=1 for the traceback)", 1)


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    set_: Annotated[list[str], typer.Option("--set", help="Override a key: --set train.lr=0.0003")] = [],
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are created.")] = Path("runs"),
    name: Annotated[str | None, typer.Option(help="Run name (default: the config's name).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display; print only the run path.")] = False,
) -> None:
    """Train one experiment and write runs/<timestamp>_<name>/ with per-class metrics."""
    def action():
        from imbrun.config import load_config
        overrides = list(set_) + ([f"name={name}"] if name else [])
        cfg = load_config(config, overrides)
        from imbrun.cli_output import print_run_summary, training_progress
        from imbrun.pipeline import run_experiment
        with training_progress(console, cfg.train.epochs, quiet) as on_epoch:
            run = run_experiment(cfg, runs_dir, on_epoch=on_epoch)
        print_run_summary(console, run, quiet)
    _guarded(action)


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run folder.")],
    data: Annotated[str | None, typer.Option(help="Score other data: a CSV file or a config YAML.")] = None,
    posthoc: Annotated[str | None, typer.Option(
        help="Post-hoc correction of the same checkpoint: logit_adjust or threshold (tuned on validation).")] = None,
    tau: Annotated[float, typer.Option(help="Strength of --posthoc logit_adjust.")] = 1.0,
    tune_metric: Annotated[str, typer.Option(help="What --posthoc threshold maximises on validation.")] = "macro_f1",
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Re-score a saved run on its test split (must equal metrics.json), or on other data.

    With --posthoc, score a corrected version of the same checkpoint in its own eval folder, without retraining.
    Example: imbrun evaluate runs/20240101-120000_none --posthoc logit_adjust --tau 1.0
    """
    def action():
        from imbrun.cli_output import print_eval_summary
        from imbrun.evaluate import evaluate_posthoc, evaluate_run
        if posthoc is not None and data is not None:
            raise ImbrunError("--posthoc scores the run's own test split; drop --data")
        out, metrics, matches = evaluate_run(run, data) if posthoc is None else \
            evaluate_posthoc(run, posthoc, tau=tau, metric=tune_metric)
        print_eval_summary(console, out, metrics, matches, quiet)
        if matches is False:
            raise ImbrunError(f"{run}: re-scored test metrics differ from metrics.json", exit_code=1)
    _guarded(action)


@app.command()
def compare(
    runs: Annotated[list[str], typer.Argument(help="Run folders or globs (runs/*ecg*); the first is the baseline.")],
    baseline: Annotated[Path | None, typer.Option(help="The run every delta and test is against.")] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="table, markdown, json or csv.")] = Format.table,
    out: Annotated[Path | None, typer.Option(help="Also write a comparison folder: tables and figures.")] = None,
    resamples: Annotated[int, typer.Option(min=1, help="Paired bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    level: Annotated[float, typer.Option(min=0.5, max=0.999, help="Confidence level of intervals.")] = 0.95,
    many: Annotated[int, typer.Option(help="Classes with more training rows than this are 'many'.")] = 100,
    few: Annotated[int, typer.Option(help="Classes with fewer training rows than this are 'few'.")] = 20,
    paired: Annotated[bool | None, typer.Option(
        help="Paired tests on predictions.csv; --paired refuses runs on other test rows (default: skip them).",
        show_default=False)] = None,
) -> None:
    """Compare runs: metrics side by side, per-class deltas with paired tests, seed groups, class buckets.

    Example: imbrun compare runs/*none* runs/*focal* --baseline runs/20240101-120000_none --out cmp/
    """
    def action():
        from imbrun.compare import CompareOptions, compare_runs, expand_runs, load_summary, order_with_baseline
        from imbrun.compare_render import print_tables, render_csv, render_json, render_markdown, write_comparison
        summaries = [load_summary(p) for p in order_with_baseline(expand_runs(runs), baseline)]
        options = CompareOptions(resamples, seed, level, many, few, paired)
        result = compare_runs(summaries, options)
        renderers = {Format.json: render_json, Format.markdown: render_markdown, Format.csv: render_csv}
        if format is Format.table:
            print_tables(result, console)
        else:
            sys.stdout.write(renderers[format](result) + "\n")
        if out is not None:
            folder = write_comparison(result, summaries, out)
            err_console.print(f"comparison: {folder.path}", highlight=False, soft_wrap=True)
    _guarded(action)


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="A run folder or a comparison folder (compare --out).")],
    out: Annotated[Path | None, typer.Option(help="The HTML file (default: FOLDER/report.html).")] = None,
) -> None:
    """Write one self-contained HTML report (images embedded, no network) of a run or a comparison.

    Example: imbrun report runs/20240101-120000_quickstart --out quickstart.html
    """
    def action():
        from imbrun.report import write_report
        console.print(f"report: {write_report(folder, out)}", highlight=False, soft_wrap=True)
    _guarded(action)


def main() -> None:
    app()
