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
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Re-score a saved run on its test split (must equal metrics.json), or on other data."""
    def action():
        from imbrun.cli_output import print_eval_summary
        from imbrun.evaluate import evaluate_run
        out, metrics, matches = evaluate_run(run, data)
        print_eval_summary(console, out, metrics, matches, quiet)
        if matches is False:
            raise ImbrunError(f"{run}: re-scored test metrics differ from metrics.json", exit_code=1)
    _guarded(action)


@app.command()
def compare(
    runs: Annotated[list[str], typer.Argument(help="Run folders or globs; the first is the baseline.")],
    format: Annotated[Format, typer.Option("--format", "-f", help="table, markdown or json.")] = Format.table,
) -> None:
    """Compare runs: overall metrics, per-class F1/recall with deltas, config keys that differ."""
    def action():
        from imbrun.compare import compare_runs, expand_runs, load_summary
        from imbrun.compare_render import print_tables, render_json, render_markdown
        result = compare_runs([load_summary(p) for p in expand_runs(runs)])
        if format is Format.json:
            sys.stdout.write(render_json(result) + "\n")
        elif format is Format.markdown:
            sys.stdout.write(render_markdown(result) + "\n")
        else:
            print_tables(result, console)
    _guarded(action)


def main() -> None:
    app()
