"""Prepared-data cache: loading + cleaning + interpolation of a large source happens once.

An entry is keyed by a hash of the data section (and whatever else shapes the prepared arrays) plus each source
file's size, mtime and content hash; it is written to a temp name and renamed, so a killed process never leaves
an entry that a later run would read.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from imbrun.atomic import atomic_write
from imbrun.data.base import LoadedData
from imbrun.data.files import sha256_file

FORMAT = 2  # bump when the entry layout changes


def source_files(section: dict) -> list[Path] | None:
    """The files a data section reads (paths, folders expanded), or None when it reads a live source."""
    if section.get("url"):
        return None  # a live database can change without us seeing it: never cached
    files: list[Path] = []
    for key in ("path", "test_path", "annotations_path"):
        value = section.get(key)
        if not value:
            continue
        path = Path(value)
        if path.is_dir():
            # hidden names at any depth are skipped: e.g. a cache folder (data/.cache) inside a data folder
            files += sorted(p for p in path.rglob("*")
                            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            files.append(path)
    return files


def cache_key(section: dict, extra: dict, files: list[Path]) -> str:
    """Hash of the config that shapes the arrays and of every source file's size, mtime and content."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, "data": section, "extra": extra},
                                       sort_keys=True, default=str).encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{sha256_file(path)}".encode())
    return digest.hexdigest()[:32]


def cached(section: dict, extra: dict, cache_dir: str | Path, build: Callable[[], LoadedData],
           use_cache: bool = True) -> tuple[LoadedData, str]:
    """The prepared data, from the cache when an entry for this key exists; returns (data, "hit"|"miss"|"off")."""
    files = source_files(section) if use_cache else None
    if files is None or not files:
        return build(), "off"
    path = Path(cache_dir) / f"{cache_key(section, extra, files)}.npz"
    if path.is_file():
        try:
            return read_entry(path), "hit"
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)  # unreadable entry: rebuild it
    data = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_entry(path, data)
    return data, "miss"


def write_entry(path: Path, data: LoadedData) -> None:
    arrays = _arrays(data, "")
    if data.test is not None:
        arrays.update(_arrays(data.test, "test_"))
    meta = {"class_names": data.class_names, "feature_names": data.feature_names, "sources": data.sources,
            "notes": data.notes, "has_test": data.test is not None}
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_write(path, lambda h: np.savez(h, **arrays), binary=True)


def read_entry(path: Path) -> LoadedData:
    with np.load(path, allow_pickle=False) as entry:
        meta = json.loads(str(entry["meta"]))
        data = _data(entry, "", meta)
        if meta["has_test"]:
            data.test = _data(entry, "test_", meta)
    return data


def _arrays(data: LoadedData, prefix: str) -> dict[str, np.ndarray]:
    arrays = {f"{prefix}X": data.X, f"{prefix}y": data.y, f"{prefix}row_ids": data.row_ids}
    if data.groups is not None:
        arrays[f"{prefix}groups"] = np.asarray(data.groups).astype(str)
    return arrays


def _data(entry, prefix: str, meta: dict) -> LoadedData:
    groups = entry[f"{prefix}groups"].astype(object) if f"{prefix}groups" in entry else None
    return LoadedData(X=entry[f"{prefix}X"], y=entry[f"{prefix}y"], class_names=meta["class_names"],
                      row_ids=entry[f"{prefix}row_ids"], groups=groups, feature_names=meta["feature_names"],
                      sources=meta["sources"] if not prefix else [], notes=meta.get("notes", {}) if not prefix else {})
