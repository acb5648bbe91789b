"""`imbrun train CONFIG --folds K`: one ordinary run per fold, then the fold aggregate like a seed group."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from imbrun.config import Experiment, apply_overrides, validate_config
from imbrun.config.loading import read_yaml_mapping
from imbrun.runs import RunDir
from imbrun.sweep_board import fold_summary, fold_table
from imbrun.sweep_spec import folder_safe
from imbrun.sweep_trials import trial_name


def fold_configs(config: str | Path, overrides: list[str], folds: int) -> list[Experiment]:
    """The K validated configs (split.folds=K, split.fold=k, name suffix `__fold-k`); all checked first."""
    raw = apply_overrides(read_yaml_mapping(config), list(overrides))
    validate_config(raw, source=str(config))  # problems of the config itself, reported once
    base_name = folder_safe(str(raw.get("name", "run")))
    configs = []
    for k in range(folds):
        fold_raw = apply_overrides(raw, [f"split.folds={folds}", f"split.fold={k}"])
        fold_raw["name"] = trial_name(base_name, {"split.fold": k})
        configs.append(validate_config(fold_raw, source=f"{config} (--folds {folds}, fold {k})"))
    return configs


def train_folds(console: Console, config: Path, overrides: list[str], runs_dir: Path, folds: int,
                quiet: bool) -> list[RunDir]:
    """Train every fold in turn (a failing fold stops here), print each run and the aggregate over folds."""
    from imbrun.cli_output import print_run_summary, training_progress
    from imbrun.pipeline import run_experiment

    runs = []
    for cfg in fold_configs(config, overrides, folds):
        if not quiet:
            console.print(f"fold {cfg.split.fold + 1} of {folds}", highlight=False)
        with training_progress(console, cfg.train.epochs, quiet) as on_epoch:
            runs.append(run_experiment(cfg, runs_dir, on_epoch=on_epoch))
        print_run_summary(console, runs[-1], quiet=True)  # just `run: <folder>`
    if not quiet:
        console.print(fold_table(fold_summary(runs), f"{folds}-fold cross-validation (test folds)"))
    return runs
