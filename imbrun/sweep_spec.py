"""The sweep file: a base config plus axes (grid, random search, folds, seeds), parsed and checked in one pass.

    name: quickstart_sweep            # optional; default: the file's stem
    base: configs/quickstart.yaml     # a config path (relative to the current directory) or an inline mapping
    set: {train.epochs: 10}           # fixed overrides for every trial
    grid: {balance.kind: [none, focal], model.kind: [dense, cnn1d]}
    random: {trials: 20, seed: 0, space: {train.lr: {loguniform: [1.0e-4, 1.0e-2]}}}
    folds: 5                          # k-fold cross-validation: split.folds=5, split.fold=0..4
    seeds: [0, 1, 2]                  # sets `seed`
    metric: macro_f1                  # any overall test metric; higher is better

Imports no torch: every problem of the file itself is reported before anything runs.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imbrun.config.loading import read_yaml_mapping
from imbrun.errors import ImbrunError

SPEC_KEYS = ("name", "base", "set", "grid", "random", "folds", "seeds", "metric")
RANDOM_KEYS = ("trials", "seed", "space")
DISTRIBUTIONS = ("choice", "uniform", "loguniform", "randint")


@dataclass
class RandomSearch:
    """`trials` draws from `space` (dotted key -> {distribution: args}) with numpy's generator seeded by `seed`."""

    trials: int
    seed: int
    space: dict[str, dict[str, list]]


@dataclass
class SweepSpec:
    """A parsed sweep file; `base` is always the inline raw config (a path is read once, at parse time)."""

    name: str
    source: str
    base: dict[str, Any]
    set: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)
    random: RandomSearch | None = None
    folds: int | None = None
    seeds: list[int] | None = None
    metric: str = "macro_f1"

    def resolved(self) -> dict[str, Any]:
        """What the sweep folder's sweep.yaml holds: enough to rerun the sweep without the original files."""
        out: dict[str, Any] = {"name": self.name, "base": self.base, "set": self.set, "grid": self.grid}
        if self.random is not None:
            out["random"] = {"trials": self.random.trials, "seed": self.random.seed, "space": self.random.space}
        if self.folds is not None:
            out["folds"] = self.folds
        if self.seeds is not None:
            out["seeds"] = self.seeds
        out["metric"] = self.metric
        return out


def load_sweep_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep file; all problems become one ImbrunError, a line each."""
    path = Path(path)
    return parse_sweep_spec(read_yaml_mapping(path), source=str(path), default_name=path.stem)


def parse_sweep_spec(raw: dict[str, Any], source: str, default_name: str = "sweep") -> SweepSpec:
    """Check a raw sweep mapping: unknown keys, axis shapes, distributions, metric, name."""
    problems: list[str] = []
    for key in raw:
        if key not in SPEC_KEYS:
            problems.append(f"{source}: {key}: unknown key{_did_you_mean(str(key), SPEC_KEYS)}; "
                            f"known keys: {', '.join(SPEC_KEYS)}")
    name = raw.get("name", folder_safe(default_name))
    if not isinstance(name, str) or folder_safe(name) != name:
        problems.append(f"{source}: name: must be letters, digits, '.', '_' or '-', got {name!r}")
    base = _parse_base(raw.get("base"), source, problems)
    spec = SweepSpec(name=name, source=source, base=base,
                     set=_mapping(raw, "set", source, problems),
                     grid=_parse_grid(raw.get("grid"), source, problems),
                     random=_parse_random(raw.get("random"), source, problems),
                     folds=_parse_folds(raw.get("folds"), source, problems),
                     seeds=_parse_seeds(raw.get("seeds"), source, problems),
                     metric=_parse_metric(raw.get("metric", "macro_f1"), source, problems))
    _check_axes_disjoint(spec, problems)
    if problems:
        raise ImbrunError("\n".join(problems))
    return spec


def overall_metric_names() -> list[str]:
    """The keys of metrics.json's test.overall block (accuracy, balanced_accuracy, macro_f1, ...)."""
    from imbrun.metrics import summary

    return list(summary(np.eye(2, dtype=np.int64)))


def folder_safe(text: str, limit: int = 180) -> str:
    """Letters, digits, '.', '_' and '-' only: '=' becomes '-', each run of other characters one '_', '..' '.'.

    At most `limit` characters (a long name keeps a hash of the rest, so names stay distinct).
    """
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace("=", "-"))
    safe = re.sub(r"\.{2,}", ".", text).strip("_.-") or "trial"  # '..' would climb out of the runs folder
    if len(safe) > limit:
        safe = safe[:limit - 10] + "_" + hashlib.sha1(safe.encode()).hexdigest()[:8]
    return safe


def _parse_base(value: Any, source: str, problems: list[str]) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            return read_yaml_mapping(value)
        except ImbrunError as exc:
            problems.append(f"{source}: base: {exc}")
            return {}
    problems.append(f"{source}: base: expected a config file path or an inline config mapping, "
                    f"got {'nothing' if value is None else repr(value)}")
    return {}


def _mapping(raw: dict, key: str, source: str, problems: list[str]) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        problems.append(f"{source}: {key}: expected a mapping of dotted keys to values, got {value!r}")
        return {}
    return {str(k): v for k, v in value.items()}


def _parse_grid(value: Any, source: str, problems: list[str]) -> dict[str, list]:
    grid = _mapping({"grid": value}, "grid", source, problems)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            problems.append(f"{source}: grid.{key}: expected a non-empty list of values, got {values!r}")
    return {k: v for k, v in grid.items() if isinstance(v, list) and v}


def _parse_random(value: Any, source: str, problems: list[str]) -> RandomSearch | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append(f"{source}: random: expected a mapping with trials, seed and space, got {value!r}")
        return None
    for key in value:
        if key not in RANDOM_KEYS:
            problems.append(f"{source}: random.{key}: unknown key{_did_you_mean(str(key), RANDOM_KEYS)}; "
                            f"known keys: {', '.join(RANDOM_KEYS)}")
    trials, seed = value.get("trials"), value.get("seed", 0)
    if not _is_int(trials) or trials < 1:
        problems.append(f"{source}: random.trials: expected a positive integer, got {trials!r}")
    if not _is_int(seed):
        problems.append(f"{source}: random.seed: expected an integer, got {seed!r}")
    space = value.get("space")
    if not isinstance(space, dict) or not space:
        problems.append(f"{source}: random.space: expected a mapping of dotted keys to distributions, got {space!r}")
        space = {}
    for key, dist in space.items():
        problem = _distribution_problem(dist)
        if problem:
            problems.append(f"{source}: random.space.{key}: {problem}")
    ok = _is_int(trials) and trials >= 1 and _is_int(seed)
    return RandomSearch(trials, seed, {str(k): v for k, v in space.items()}) if ok else None


def _distribution_problem(dist: Any) -> str | None:
    """None when `dist` is one of {choice: [..]}, {uniform|loguniform|randint: [low, high]}."""
    expected = "expected one of {choice: [...]}, {uniform: [low, high]}, {loguniform: [low, high]}, " \
               "{randint: [low, high]}"
    if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
        return f"{expected}, got {dist!r}"
    kind, args = next(iter(dist.items()))
    if kind == "choice":
        return None if isinstance(args, list) and args else f"choice: expected a non-empty list, got {args!r}"
    bounds = _numbers(args)
    if bounds is None or len(bounds) != 2 or not bounds[0] < bounds[1]:
        return f"{kind}: expected [low, high] numbers with low < high, got {args!r}"
    if kind == "loguniform" and bounds[0] <= 0:
        return f"loguniform: expected low > 0, got {args!r}"
    if kind == "randint" and not all(float(b).is_integer() for b in bounds):
        return f"randint: expected integer bounds, got {args!r}"
    return None


def _numbers(args: Any) -> list[float] | None:
    """Numbers, also from strings: YAML 1.1 reads `1e-4` (no dot) as the string '1e-4'."""
    if not isinstance(args, list):
        return None
    try:
        values = [float(a) for a in args if not isinstance(a, bool)]
    except (TypeError, ValueError):
        return None
    return values if len(values) == len(args) and all(math.isfinite(v) for v in values) else None


def _parse_folds(value: Any, source: str, problems: list[str]) -> int | None:
    if value is not None and (not _is_int(value) or value < 2):
        problems.append(f"{source}: folds: expected an integer >= 2, got {value!r}")
        return None
    return value


def _parse_seeds(value: Any, source: str, problems: list[str]) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(_is_int(v) for v in value):
        problems.append(f"{source}: seeds: expected a non-empty list of integers, got {value!r}")
        return None
    if len(set(value)) != len(value):
        problems.append(f"{source}: seeds: expected distinct seeds, got {value!r}")
    return value


def _parse_metric(value: Any, source: str, problems: list[str]) -> str:
    known = overall_metric_names()
    if value not in known:
        problems.append(f"{source}: metric: unknown metric {value!r}{_did_you_mean(str(value), known)}; "
                        f"expected one of: {', '.join(known)}")
    return str(value)


def _check_axes_disjoint(spec: SweepSpec, problems: list[str]) -> None:
    """A key may be varied by one axis only; `set` may not fix a key an axis varies."""
    owners: dict[str, str] = {}
    axes = [("grid", list(spec.grid)), ("random", list(spec.random.space) if spec.random else []),
            ("folds", ["split.folds", "split.fold"] if spec.folds else []), ("seeds", ["seed"] if spec.seeds else [])]
    for axis, keys in axes:
        for key in keys:
            if key in owners:
                problems.append(f"{spec.source}: {axis}: {key} is already varied by {owners[key]}")
            owners.setdefault(key, axis)
    for key in spec.set:
        if key in owners:
            problems.append(f"{spec.source}: set: {key} is also varied by {owners[key]}; remove one")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _did_you_mean(word: str, candidates) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
