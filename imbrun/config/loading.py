"""Read YAML, apply --set overrides, validate, and report every problem at once as `file: path: message`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from imbrun.config.errors import format_validation_errors
from imbrun.config.experiment import Experiment
from imbrun.errors import ImbrunError


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Experiment:
    """Load a YAML experiment file, apply `key.path=value` overrides and validate it.

    Example:
        cfg = load_config("configs/quickstart.yaml", ["train.lr=0.0003", "model.kind=lstm"])
    """
    raw = read_yaml_mapping(path)
    raw = apply_overrides(raw, overrides)
    return validate_config(raw, source=str(path))


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Safely parse a YAML file whose top level must be a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ImbrunError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ImbrunError(f"{path}{where}: invalid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise ImbrunError(f"{path}: not a UTF-8 text file") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ImbrunError(f"{path}: expected a mapping of sections (data:, model:, ...) at the top level, "
                          f"got {type(raw).__name__}")
    return raw


def validate_config(raw: dict[str, Any], source: str = "<config>") -> Experiment:
    """Validate a raw mapping; all problems become one ImbrunError with a line each."""
    try:
        return Experiment.model_validate(raw)
    except ValidationError as exc:
        raise ImbrunError("\n".join(format_validation_errors(exc, raw, source))) from None


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Return a copy of `raw` with each `dotted.key=yaml_value` applied in order.

    Setting a section's `kind` to a different value starts that section afresh (`{kind: new}`), because the
    old kind's options usually do not exist for the new one; later overrides may then fill it in.
    """
    import copy

    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ImbrunError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.lr=0.0003")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        _set_path(raw, key.strip().split("."), value, item)
    return raw


def _set_path(raw: dict[str, Any], parts: list[str], value: Any, item: str) -> None:
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, item)]
            if not isinstance(node, (dict, list)):
                raise ImbrunError(f"--set {item!r}: '{'.'.join(parts[:depth + 1])}' is a value ({node!r}), "
                                  f"not a section")
            continue
        child = node.get(part)
        if not isinstance(child, (dict, list)):
            child = node[part] = {}
        node = child
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, item)] = value
    elif last == "kind" and isinstance(node, dict) and node.get("kind", value) != value:
        node.clear()
        node["kind"] = value
    else:
        node[last] = value


def _list_index(node: list, part: str, item: str) -> int:
    if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
        raise ImbrunError(f"--set {item!r}: {part!r} is not an index of a list of {len(node)} items")
    return int(part)
