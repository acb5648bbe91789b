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
    """The user's key path: pydantic's union-member labels (the `kind` tag, 'list') are dropped."""
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
        elif isinstance(node, list) and seg == "list":
            continue  # the tag of the list alternative of a union (balance: [..])
        elif isinstance(node, dict):
            path.append(str(seg))  # a key the user left out (missing) or a wrong type
            node = _MISSING
        else:
            break  # a label of one union alternative for a scalar value
    return path


def _message(err: dict, path: list[str], raw: dict, root: type[BaseModel]) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        known = _known_keys(root, path[:-1], raw)
        hint = _did_you_mean(path[-1], known)
        return f"unknown key{hint}; known keys: {', '.join(known)}" if known else "unknown key"
    if kind == "missing":
        return "required key is missing"
    kinds = _kinds_at(root, path, raw)
    if kinds and not isinstance(value, (dict, list)) and kind in _NOT_A_MAPPING + ("union_tag_not_found",):
        example = value if value in kinds else kinds[0]
        lists = any(typing.get_origin(t) is list for t in _types_at(root, path, raw))
        return (f"expected a mapping with a kind, e.g. {{kind: {example}}}{' (or a list of them)' if lists else ''}, "
                f"got {value!r}; kinds: {', '.join(kinds)}")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        expected = [t.strip(" '") for t in err.get("ctx", {}).get("expected_tags", "").split(",") if t.strip()]
        expected = [t for t in expected or kinds if t != "list"]  # 'list' tags a list of strategies, not a kind
        if kind == "union_tag_not_found":
            return f"missing key 'kind'; expected one of: {', '.join(expected)}"
        tag = str(err["ctx"]["tag"])
        return f"unknown kind {tag!r}{_did_you_mean(tag, expected)}; expected one of: {', '.join(expected)}"
    if kind in _NOT_A_MAPPING:
        return f"expected a mapping of keys, got {type(value).__name__}" + \
            (f" {value!r}" if not isinstance(value, (dict, list)) else "")
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if "input" in err and not isinstance(value, (dict, list)):
        message += f" (got {value!r})"
    return message


_NOT_A_MAPPING = ("model_type", "dict_type", "model_attributes_type")


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known_keys(root: type[BaseModel], path: list[str], raw: Any) -> list[str]:
    """Field names of the section at `path`, following `kind` tags through unions and indices into lists."""
    models = _models_at(root, path, raw)
    return list(models[0].model_fields) if len(models) == 1 else []


def _kinds_at(root: type[BaseModel], path: list[str], raw: Any) -> list[str]:
    """The `kind` values a swappable section at `path` accepts (pydantic omits them when `kind` is missing)."""
    if not path:
        return []
    members = [m for m in _types_at(root, path, raw) if _is_model(m) and "kind" in m.model_fields]
    return [m.model_fields["kind"].default for m in members] if len(members) > 1 else []  # only swappable ones


def _models_at(root: type[BaseModel], path: list[str], raw: Any) -> list[type[BaseModel]]:
    """The model class(es) of the section at `path`: the member whose `kind` is the raw value's, or the only one."""
    node = _raw_at(raw, path)
    models = [m for m in _types_at(root, path, raw) if _is_model(m)]
    tag = node.get("kind") if isinstance(node, dict) else None
    return [m for m in models if len(models) == 1 or getattr(m.model_fields.get("kind"), "default", None) == tag]


def _types_at(root: type[BaseModel], path: list[str], raw: Any) -> list:
    """The model classes and list types a value at `path` may be (a walk through field annotations)."""
    types_: list = [root]
    for depth, seg in enumerate(path):
        parent = _raw_at(raw, path[:depth])
        if seg.isdigit():  # an item of a list
            types_ = [t for a in types_ if typing.get_origin(a) is list for t in _members(typing.get_args(a)[0])]
            continue
        models = [m for m in types_ if _is_model(m)]
        tag = parent.get("kind") if isinstance(parent, dict) else None
        chosen = [m for m in models if len(models) == 1 or getattr(m.model_fields.get("kind"), "default", None) == tag]
        field = chosen[0].model_fields.get(seg) if chosen else None
        types_ = _members(field.annotation) if field is not None else []
    return types_


def _raw_at(raw: Any, path: list[str]) -> Any:
    node = raw
    for seg in path:
        if isinstance(node, dict):
            node = node.get(seg)
        elif isinstance(node, list) and seg.isdigit() and int(seg) < len(node):
            node = node[int(seg)]
        else:
            return None
    return node


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _members(annotation: Any) -> list:
    """The model classes and list types inside an annotation such as `Annotated[A | B | list[C], ...]`."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _members(arg)]
    if origin is list or _is_model(annotation):
        return [annotation]
    return []
