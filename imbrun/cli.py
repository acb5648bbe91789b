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


NoCache = Annotated[bool, typer.Option("--no-cache", help="Load and prepare the data afresh; do not read or write "
                                        "the prepared-data cache.")]


SetKeys = Annotated[list[str], typer.Option("--set", help="Override a config key, e.g. --set train.lr=0.0003 "
                                          "(repeatable).")]


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"
    csv = "csv"


def _fail(message: str, code: int) -> None:
    from rich.markup import escape

    for line in message.splitlines() or [""]:
        err_console.print(f"[red]error:[/red] {escape(line)}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _guarded(action):
    """Run a command body; user errors become `error: ...` lines, never tracebacks."""
    try:
        return action()
    except ImbrunError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt as exc:  # a run's RunInterrupted says what happened to it
        _fail(str(exc) or "interrupted", 130)
    except typer.Exit:
        raise
    except Exception as exc:  # an internal error: one line, the traceback only on request
        if os.environ.get("IMBRUN_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set IMBRUN_DEBUG=1 for the traceback)", 1)


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    set_: SetKeys = [],
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are created.")] = Path("runs"),
    name: Annotated[str | None, typer.Option(help="Run name (default: the config's name).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display; print only the run path.")] = False,
    folds: Annotated[int | None, typer.Option(min=2, help="K-fold cross-validation: one run per fold, "
                                              "then mean ± std and 95% CI over folds.")] = None,
    overfit_check: Annotated[bool, typer.Option("--overfit-check", help="Only check that the model can fit "
                                                "100 training rows (as `imbrun sanity`); no run folder.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="CONFIG is an interrupted run folder: continue it "
                                         "from its checkpoint.")] = False,
    no_cache: NoCache = False,
) -> None:
    """Train one experiment and write runs/<timestamp>_<name>/ with per-class metrics.

    Ctrl-C stops at the next batch and saves a checkpoint: continue with imbrun train --resume RUN_DIR.
    """
    def action():
        from imbrun.config import load_config
        from imbrun.cli_output import print_run_summary, training_progress
        from imbrun.pipeline import resume_experiment, run_experiment
        overrides = list(set_) + ([f"name={name}"] if name else [])
        if resume:
            if overrides or folds is not None or overfit_check:
                raise ImbrunError("--resume continues a run exactly as configured: drop --set/--name/--folds")
            cfg = load_config(config / "config.yaml") if (config / "config.yaml").is_file() else None
            with training_progress(console, cfg.train.epochs if cfg else 1, quiet) as on_epoch:
                run = resume_experiment(config, on_epoch=on_epoch, use_cache=not no_cache,
                                        progress=False if quiet else None)
            return print_run_summary(console, run, quiet, err_console)
        if folds is not None:
            from imbrun.sweep_folds import train_folds
            return train_folds(console, config, overrides, runs_dir, folds, quiet)
        cfg = load_config(config, overrides)
        if overfit_check:
            return _sanity(cfg, 100, 200, not no_cache)
        with training_progress(console, cfg.train.epochs, quiet) as on_epoch:
            run = run_experiment(cfg, runs_dir, on_epoch=on_epoch, use_cache=not no_cache,
                                 progress=False if quiet else None)
        print_run_summary(console, run, quiet, err_console)
    _guarded(action)


class Split(str, Enum):
    train = "train"
    val = "val"
    test = "test"


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run folder.")],
    data: Annotated[str | None, typer.Option(help="Score other data: a CSV file or a config YAML.")] = None,
    split: Annotated[Split | None, typer.Option(
        help="Which split of the run's own data to rebuild and score: train, val or test.",
        show_default="test")] = None,
    posthoc: Annotated[str | None, typer.Option(
        help="Post-hoc correction of the same checkpoint: logit_adjust or threshold (tuned on validation).")] = None,
    tau: Annotated[float, typer.Option(help="Strength of --posthoc logit_adjust.")] = 1.0,
    tune_metric: Annotated[str, typer.Option(help="What --posthoc threshold maximises on validation: macro_f1, "
                                             "balanced_accuracy or gmean.")] = "macro_f1",
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    check: Annotated[bool, typer.Option("--check", help="Only check that the data sources still have the sha256 "
                                        "recorded in env.json at training; warns about each changed file.")] = False,
) -> None:
    """Re-score a saved run on its test split (must equal metrics.json), another split of it, or other data.

    --split val must equal metrics.json's validation block; --split train has no stored block to match.
    With --posthoc, score a corrected version of the same checkpoint in its own eval folder, without retraining.
    Example: imbrun evaluate runs/20240101-120000_none --posthoc logit_adjust --tau 1.0
    """
    def action():
        from imbrun.cli_output import print_data_check, print_eval_summary, print_posthoc_notes
        from imbrun.evaluate import evaluate_posthoc, evaluate_run
        if check:
            if posthoc is not None or data is not None or split is not None:
                raise ImbrunError("--check only checks the run's data sources; drop --data/--posthoc" +
                                  ("" if split is None else "/--split"))
            return print_data_check(console, err_console, run)
        if posthoc is not None and (data is not None or split is not None):
            raise ImbrunError("--posthoc scores the run's own test split; drop --data" +
                              ("" if split is None else "/--split"))
        out, metrics, matches = evaluate_run(run, data, split.value if split else None) if posthoc is None else \
            evaluate_posthoc(run, posthoc, tau=tau, metric=tune_metric)
        print_posthoc_notes(err_console, metrics.get("posthoc", {}), posthoc)
        print_eval_summary(console, out, metrics, matches, quiet, err_console)
        if matches is False:
            raise ImbrunError(f"{run}: re-scored {metrics.get('split', 'test')} metrics differ from metrics.json",
                              exit_code=1)
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


class Backend(str, Enum):
    local = "local"
    ray = "ray"


@app.command()
def sweep(
    spec: Annotated[Path | None, typer.Argument(help="Sweep YAML file (omit it with --resume).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where the sweep folder is created.")] = Path("runs"),
    backend: Annotated[Backend, typer.Option(help="local: processes here; ray: tasks on a Ray cluster.")] = Backend.local,
    workers: Annotated[int, typer.Option(min=1, help="Local backend: trials at once (torch threads split).")] = 1,
    address: Annotated[str | None, typer.Option(help="Ray cluster (default: RAY_ADDRESS, else a local one).")] = None,
    cpus_per_trial: Annotated[float, typer.Option(min=0, help="Ray: CPUs reserved per trial.")] = 1.0,
    gpus_per_trial: Annotated[float, typer.Option(min=0, help="Ray: GPUs reserved per trial.")] = 0.0,
    resume: Annotated[Path | None, typer.Option(help="A sweep folder: rerun its failed and unfinished trials.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or table; print the sweep folder.")] = False,
) -> None:
    """Run every trial of a sweep (grid, random search, folds, seeds) and rank configurations.

    Exit code 1 when any trial failed. Example: imbrun sweep configs/sweep_quickstart.yaml --workers 2
    """
    def action():
        from imbrun.sweep import SweepOptions
        from imbrun.sweep_ray import RayOptions
        from imbrun.sweep_show import sweep_command
        options = SweepOptions(backend.value, workers, RayOptions(address, cpus_per_trial, gpus_per_trial))
        sweep_command(console, spec, runs_dir, options, resume, quiet)
    _guarded(action)


class ShowFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def inspect(
    config: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    set_: SetKeys = [],
    format: Annotated[ShowFormat, typer.Option("--format", "-f", help="table or json.")] = ShowFormat.table,
    out: Annotated[Path | None, typer.Option(help="Also write inspect.json and class_distribution.png here.")] = None,
    no_cache: NoCache = False,
) -> None:
    """Look at the data before training: class counts per split, duplicates, leakage, suggested strategies.

    Loads, prepares (preprocess.interpolate, prepared-data cache) and splits the data as `train` would (no
    training; a later `train` reuses the cache entry) and reports rows, feature shape, class counts,
    shares and imbalance ratio per split, missing values, series padding, exact duplicate rows and shared groups
    across splits, and which balancing strategies suit the ratio and the minority size.

    Example: imbrun inspect configs/quickstart.yaml --out inspect/
    """
    def action():
        from imbrun.config import load_config
        from imbrun.inspect_data import data_label, inspect_experiment, prepare_lines
        from imbrun.inspect_render import class_distribution_png, print_report, render_json
        cfg = load_config(config, list(set_))
        found = inspect_experiment(cfg, use_cache=not no_cache)
        if format is ShowFormat.json:
            sys.stdout.write(render_json(found) + "\n")
        else:
            print_report(found, console, data_label(cfg.data))
            for line in prepare_lines(found):
                console.print(line, highlight=False, soft_wrap=True, markup=False)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "inspect.json").write_text(render_json(found) + "\n", encoding="utf-8")
            png = class_distribution_png(found, out / "class_distribution.png")
            err_console.print(f"figure: {png}", highlight=False, soft_wrap=True)
    _guarded(action)


def _sanity(cfg, rows: int, epochs: int, use_cache: bool = True) -> None:
    from imbrun.sanity import overfit_check, sanity_lines
    result = overfit_check(cfg, rows=rows, epochs=epochs, use_cache=use_cache)
    for line in sanity_lines(result):
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def sanity(
    config: Annotated[Path, typer.Argument(help="Experiment YAML file.")],
    set_: SetKeys = [],
    rows: Annotated[int, typer.Option(min=2, help="Training rows in the subset (every class kept).")] = 100,
    epochs: Annotated[int, typer.Option(min=1, help="At most this many epochs; stops once the subset is fit.")] = 200,
    no_cache: NoCache = False,
) -> None:
    """Check the model can overfit a small stratified training subset: PASS (exit 0) or FAIL with hints (exit 1).

    Example: imbrun sanity configs/quickstart.yaml --set train.lr=0.1
    """
    def action():
        from imbrun.config import load_config
        _sanity(load_config(config, list(set_)), rows, epochs, not no_cache)
    _guarded(action)


class RunStatus(str, Enum):
    completed = "completed"
    running = "running"
    failed = "failed"
    interrupted = "interrupted"


@app.command()
def runs(
    target: Annotated[list[str] | None, typer.Argument(
        help="[DIR] lists the runs in DIR (default: runs); `rm [DIR]` deletes its failed/interrupted runs.",
        metavar="[rm] [DIR]", show_default=False)] = None,
    status: Annotated[RunStatus | None, typer.Option(help="Only runs with this status.")] = None,
    grep: Annotated[str | None, typer.Option(help="Only runs whose name, data, model or strategy contain it.")] = None,
    sort: Annotated[str, typer.Option(help="A column (time, name, status, data, model, strategy, minority_recall, "
                                      "duration) or any test metric (macro_f1, balanced_accuracy, mcc, ...); "
                                      "scores best first.")] = "time",
    format: Annotated[ShowFormat, typer.Option("--format", "-f", help="table or json.")] = ShowFormat.table,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="runs rm: delete without asking.")] = False,
) -> None:
    """List run folders (status, data, model, strategy, macro-F1, minority recall, duration), or delete failed ones.

    The trial runs inside sweep folders are listed (and removed) too, named <sweep folder>/<run folder>.
    Examples: imbrun runs --status completed --sort balanced_accuracy | imbrun runs rm runs/ --status failed --yes
    """
    def action():
        from imbrun.runs_list import list_command, rm_command
        args = list(target or [])
        if args and args[0] == "rm":
            if len(args) > 2:
                raise ImbrunError(f"runs rm: expected at most one folder, got {len(args) - 1}")
            return rm_command(console, Path(args[1] if len(args) > 1 else "runs"),
                              status.value if status else None, yes or typer.confirm)
        if len(args) > 1:
            raise ImbrunError(f"runs: expected at most one folder, got {len(args)} (to delete: imbrun runs rm DIR)")
        list_command(console, Path(args[0] if args else "runs"), status.value if status else None, grep, sort,
                     format.value)
    _guarded(action)


def main() -> None:
    app()
