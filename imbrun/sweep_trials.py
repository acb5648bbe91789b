"""Expand a SweepSpec into trials and build every trial's config, validating all of them before anything runs."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from imbrun.config import apply_overrides, validate_config
from imbrun.errors import ImbrunError
from imbrun.sweep_spec import RandomSearch, SweepSpec, folder_safe

# Axes that repeat a configuration rather than change it: the leaderboard averages over them.
REPEAT_KEYS = ("seed", "split.folds", "split.fold")


@dataclass(frozen=True)
class Trial:
    """One run of the sweep: its 1-based number, folder-safe name and the overrides it adds to the base."""

    number: int
    name: str
    overrides: dict[str, Any]

    @property
    def label(self) -> str:
        """The overrides as `key=value, ...` (for messages); `(base)` when there are none."""
        return ", ".join(f"{k}={_show(v)}" for k, v in self.overrides.items()) or "(base)"

    @property
    def configuration(self) -> str:
        """The overrides without seed and fold: trials sharing it form one leaderboard row.

        Floats in full (repr), so two random draws that round alike are never pooled.
        """
        parts = [f"{k}={_show(v, exact=True)}" for k, v in self.overrides.items() if k not in REPEAT_KEYS]
        return " ".join(parts) or "(base)"


def expand_trials(spec: SweepSpec) -> list[Trial]:
    """grid x random samples x folds x seeds, in that nesting order (seeds vary fastest)."""
    grid = [dict(zip(spec.grid, combo)) for combo in itertools.product(*spec.grid.values())]
    samples = sample_space(spec.random) if spec.random else []
    folds = [{"split.folds": spec.folds, "split.fold": k} for k in range(spec.folds or 0)]
    seeds = [{"seed": seed} for seed in spec.seeds or []]
    base_name = folder_safe(str(spec.set.get("name", spec.base.get("name", "run"))))
    overrides = [{**g, **r, **f, **s} for g, r, f, s in
                 itertools.product(grid or [{}], samples or [{}], folds or [{}], seeds or [{}])]
    names = [trial_name(base_name, o) for o in overrides]
    repeated = {n for n in names if names.count(n) > 1}  # e.g. random draws equal to 4 digits
    return [Trial(k, f"{name}__t{k}" if name in repeated else name, o)
            for k, (name, o) in enumerate(zip(names, overrides), start=1)]


def trial_name(base_name: str, overrides: dict[str, Any]) -> str:
    """`<base>__balance.kind-focal__fold-2__seed-1`: the overrides, folder-safe ('=' becomes '-')."""
    parts = [base_name]
    for key, value in overrides.items():
        if key == "split.folds":
            continue
        parts.append(f"{'fold' if key == 'split.fold' else key}={_show(value)}")
    return folder_safe("__".join(parts))


def sample_space(search: RandomSearch) -> list[dict[str, Any]]:
    """`search.trials` draws; keys in the space's order, so a fixed seed gives the same trials everywhere."""
    rng = np.random.default_rng(search.seed)
    return [{key: _draw(rng, dist) for key, dist in search.space.items()} for _ in range(search.trials)]


def _draw(rng: np.random.Generator, dist: dict[str, list]) -> Any:
    kind, args = next(iter(dist.items()))
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    low, high = (float(a) for a in args)
    if kind == "randint":
        return int(rng.integers(int(low), int(high) + 1))  # both bounds included
    if kind == "loguniform":
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return float(rng.uniform(low, high))


def trial_configs(spec: SweepSpec, trials: list[Trial]) -> list[dict[str, Any]]:
    """Each trial's raw config (base + set + overrides, name = trial name), all validated first.

    Raises one ImbrunError listing every invalid trial, e.g.
    `sweep.yaml: trial 3 (balance.kind=focl): balance.kind: unknown kind 'focl' ...`.
    """
    fixed = _apply(spec.base, spec.set, f"{spec.source}: base + set")
    validate_config(fixed, source=f"{spec.source}: base + set")  # one report, not one per trial
    configs, problems = [], []
    for trial in trials:
        where = f"{spec.source}: trial {trial.number} ({trial.label})"
        try:
            raw = _apply(fixed, trial.overrides, where)
            raw["name"] = trial.name
            validate_config(raw, source=where)
            configs.append(raw)
        except ImbrunError as exc:
            problems.extend(line if line.startswith(where) else f"{where}: {line}"
                            for line in str(exc).splitlines())
    if problems:
        raise ImbrunError("\n".join(problems))
    return configs


def _apply(raw: dict[str, Any], overrides: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        return apply_overrides(raw, [f"{key}={yaml_flow(value)}" for key, value in overrides.items()])
    except ImbrunError as exc:
        raise ImbrunError(f"{where}: {exc}") from None


def yaml_flow(value: Any) -> str:
    """A value as YAML flow text that reads back as the same value (floats keep a '.', strings are quoted)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float):
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            text = text.replace("e", ".0e")  # YAML 1.1 reads 1e-05 as a string, 1.0e-05 as a float
        return text if math.isfinite(value) else {"inf": ".inf", "-inf": "-.inf"}.get(text, ".nan")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{yaml_flow(str(k))}: {yaml_flow(v)}" for k, v in value.items()) + "}"
    import json
    return json.dumps(str(value))  # a JSON string is a YAML double-quoted scalar


def _show(value: Any, exact: bool = False) -> str:
    if isinstance(value, float):
        return repr(value) if exact else f"{value:.4g}"
    if isinstance(value, list):
        return "-".join(_show(v, exact) for v in value)
    return str(value)
