"""Prepared-data cache: loading + cleaning + interpolation of a large source happens once.

An entry is keyed by a hash of the data section (and whatever else shapes the prepared arrays), imbrun's version,
the entry format, a digest of the code that prepares the arrays, and each source file's size, mtime and content
hash; it is written to a temp name and renamed, so a killed process never leaves an entry that a later run would
read. A cache folder that cannot be written only costs the caching: one warning line, and the run goes on.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

import imbrun
from imbrun.atomic import atomic_write
from imbrun.data.base import LoadedData
from imbrun.data.files import sha256_file

FORMAT = 4  # bump when the entry layout changes (3: one-hot categories and the test set's notes kept;
#              4: the key holds imbrun's version and a digest of the preparing code)
# the code whose changes can change prepared arrays (the loaders, gap filling); an edited file makes new entries
_PREPARING_CODE = ("data/*.py", "interpolate*.py", "prepare.py")


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
    header = {"format": FORMAT, "imbrun": imbrun.__version__, "code": code_digest(), "data": section, "extra": extra}
    digest = hashlib.sha256(json.dumps(header, sort_keys=True, default=str).encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{sha256_file(path)}".encode())
    return digest.hexdigest()[:32]


@functools.cache
def code_digest() -> str:
    """sha256 of imbrun's data-preparing source files: an edited loader or interpolation misses old entries."""
    package = Path(imbrun.__file__).parent
    digest = hashlib.sha256()
    for path in preparing_code():
        digest.update(f"{path.relative_to(package).as_posix()}|".encode() + path.read_bytes())
    return digest.hexdigest()


def preparing_code() -> list[Path]:
    """imbrun's source files that `code_digest` covers, sorted."""
    package = Path(imbrun.__file__).parent
    return sorted({path for pattern in _PREPARING_CODE for path in package.glob(pattern)})


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
            _remove(path)  # unreadable entry: rebuild it
    data = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_entry(path, data)
    except OSError as error:  # e.g. a folder below a regular file, read-only or full: run uncached
        reason = error.strerror or type(error).__name__
        print(f"warning: prepared-data cache not written: {path.parent}: {reason}", file=sys.stderr)
    return data, "miss"


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache folder: the entry is rebuilt (and not written) each time


def write_entry(path: Path, data: LoadedData) -> None:
    arrays = _arrays(data, "")
    if data.test is not None:
        arrays.update(_arrays(data.test, "test_"))
    meta = {"class_names": data.class_names, "feature_names": data.feature_names, "sources": data.sources,
            "notes": data.notes, "has_test": data.test is not None, "categories": data.categories,
            "test_notes": data.test.notes if data.test is not None else {}}
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
                      categories=meta["categories"], sources=meta["sources"] if not prefix else [],
                      notes=meta["test_notes"] if prefix else meta["notes"])
