"""Turn pydantic's ValidationError into `file: dotted.path: message` lines with did-you-mean hints."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

_MISSING = object()


def format_validation_errors(exc: ValidationError, raw: dict[str, Any], source: str) -> list[str]:
    """One line per problem, in the order pydantic found them; union alternatives merged per path."""
    from imbrun.config.experiment import Experiment

    by_path: dict[str, list[str]] = {}
    for err in exc.errors():
        path = _path_in_raw(err["loc"], raw)
        message = _message(err, path, raw, Experiment)
        messages = by_path.setdefault(".".join(path) or "<top>", [])
        if message not in messages:
            messages.append(message)
    return [f"{source}: {path}: {' | '.join(msgs)}" for path, msgs in by_path.items()]


def _path_in_raw(loc: tuple, raw: Any) -> list[str]:
    """The user's key path: pydantic's union-member labels (e.g. the `kind` tag) are dropped."""
    path, node = [], raw
    for seg in loc:
        if node is _MISSING:
            break
        if isinstance(node, dict) and seg in node:
            path.append(str(seg))
            node = node[seg]
        elif isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            path.append(str(seg))
            node = node[seg]
        elif isinstance(node, dict) and node.get("kind") == seg:
            continue  # the discriminator tag pydantic inserts
        elif isinstance(node, dict):
            path.append(str(seg))  # a key the user left out (missing) or a wrong type
            node = _MISSING
        else:
            break  # a label of one union alternative for a scalar value
    return path


def _message(err: dict, path: list[str], raw: dict, root: type[BaseModel]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_keys(root, path[:-1], raw)
        hint = _did_you_mean(path[-1], known)
        return f"unknown key{hint}; known keys: {', '.join(known)}" if known else "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        expected = [t.strip(" '") for t in err.get("ctx", {}).get("expected_tags", "").split(",") if t.strip()]
        expected = expected or _kinds_at(root, path, raw)
        if kind == "union_tag_not_found":
            return f"missing key 'kind'; expected one of: {', '.join(expected)}"
        tag = str(err["ctx"]["tag"])
        return f"unknown kind {tag!r}{_did_you_mean(tag, expected)}; expected one of: {', '.join(expected)}"
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if "input" in err and kind not in ("model_type", "dict_type") and not isinstance(err["input"], (dict, list)):
        message += f" (got {err['input']!r})"
    elif kind in ("model_type", "dict_type"):
        message = f"expected a mapping of keys, got {type(err.get('input')).__name__}"
    return message


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known_keys(root: type[BaseModel], path: list[str], raw: Any) -> list[str]:
    """Field names of the section at `path`, following `kind` tags through unions."""
    model, node = root, raw
    for seg in path:
        node = node.get(seg) if isinstance(node, dict) else None
        field = model.model_fields.get(seg)
        if field is None:
            return []
        members = _section_types(field.annotation)
        tag = node.get("kind") if isinstance(node, dict) else None
        chosen = [m for m in members if len(members) == 1 or m.model_fields.get("kind") and
                  m.model_fields["kind"].default == tag]
        if not chosen:
            return []
        model = chosen[0]
    return list(model.model_fields)


def _kinds_at(root: type[BaseModel], path: list[str], raw: Any) -> list[str]:
    """The `kind` values a swappable section at `path` accepts (pydantic omits them when `kind` is missing)."""
    if not path:
        return []
    parent = root
    known = _known_keys(root, path[:-1], raw)
    if path[-1] not in known:
        return []
    if len(path) > 1:  # find the parent model class by following the same route as _known_keys
        node = raw
        for seg in path[:-1]:
            node = node.get(seg) if isinstance(node, dict) else None
            members = _section_types(parent.model_fields[seg].annotation)
            tag = node.get("kind") if isinstance(node, dict) else None
            parent = next((m for m in members if len(members) == 1 or
                           getattr(m.model_fields.get("kind"), "default", None) == tag), members[0])
    members = _section_types(parent.model_fields[path[-1]].annotation)
    return [m.model_fields["kind"].default for m in members if "kind" in m.model_fields]


def _section_types(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic model classes inside an annotation such as `Annotated[A | B, ...]` or `X | None`."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _section_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _section_types(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []
