"""MNIST and Fashion-MNIST from IDX files: class subsets, per-class caps, relabelling (e.g. 9-vs-4)."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

from imbrun.data.base import LoadedData
from imbrun.data.files import source_record
from imbrun.data.idx import read_idx
from imbrun.errors import ImbrunError

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
# tried in order; a module-level list so tests can point it at a local or unreachable server
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
    "fashion": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}
# published md5 of each original file
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
PARTS = {"train": ["train"], "test": ["test"], "both": ["train", "test"]}


def _fetch_one(url: str, dest: Path, md5: str) -> str | None:
    """Download url to dest via a temp name; None on success, else the reason it failed."""
    tmp = dest.with_name(f"{dest.name}.part{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as out:
            digest = hashlib.md5()
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != md5:
            return f"md5 expected {md5}, got {digest.hexdigest()}"
        os.replace(tmp, dest)
        return None
    except OSError as err:  # URLError, HTTPError and timeouts are all OSError
        return str(getattr(err, "reason", err))
    finally:
        tmp.unlink(missing_ok=True)


def download_mnist(folder: Path, variant: str, names: list[str]) -> None:
    """Fetch the named files of a variant from its mirrors, checking the published md5.

    The first file no mirror serves stops the download (without network every file would fail, each after a
    timeout); the error lists every file still missing and where to put them by hand.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        failures = []
        for mirror in MIRRORS[variant]:
            reason = _fetch_one(mirror + name, folder / name, MD5[variant][name])
            if reason is None:
                break
            failures.append(f"{mirror + name}: {reason}")
        else:
            raise ImbrunError(f"could not download {name} ({'; '.join(failures)}); put {', '.join(names[index:])} "
                              f"in {folder} by hand (from {MIRRORS[variant][0]})")


def _local_file(folder: Path, name: str) -> Path | None:
    """The file of an original `.gz` name in folder: compressed if present, else uncompressed, else None."""
    for path in (folder / name, folder / name.removesuffix(".gz")):
        if path.is_file():
            return path
    return None


def _ensure_files(folder: Path, variant: str, part: str, download: bool) -> list[Path]:
    """Paths of the (images, labels) files for each part (.gz or raw), downloading missing ones if allowed."""
    names = [name for p in PARTS[part] for name in MNIST_FILES[p]]
    missing = [name for name in names if _local_file(folder, name) is None]
    if missing and download:
        download_mnist(folder, variant, missing)
    elif missing:
        raise ImbrunError(
            f"{variant} files missing: put {', '.join(missing)} (or the same without .gz) in {folder} "
            f"(from {MIRRORS[variant][0]}) or set download: true"
        )
    return [_local_file(folder, name) for name in names]


def _read_part(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, rows, cols) and labels (n,) of one part, checked to agree."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise ImbrunError(f"{images_path}: expected 3-D images and 1-D labels, got {images.ndim}-D and {labels.ndim}-D")
    if len(images) != len(labels):
        raise ImbrunError(f"{labels_path}: expected {len(images)} labels (one per image), got {len(labels)}")
    return images, labels


def _subsample(labels: np.ndarray, per_class: dict, seed: int) -> np.ndarray:
    """Sorted row indices keeping a cap (int) or fraction (float <= 1) of each class in per_class.

    Each class draws from its own generator seeded with (seed, class), so changing one class's cap
    does not change which rows another class keeps.
    """
    keep = [np.flatnonzero(~np.isin(labels, list(per_class)))]
    for cls, amount in sorted(per_class.items()):
        rows = np.flatnonzero(labels == cls)
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0:
            raise ImbrunError(f"per_class[{cls}]: expected a count >= 1 or a fraction in (0, 1], got {amount!r}")
        if isinstance(amount, float) and amount > 1:
            raise ImbrunError(f"per_class[{cls}]: expected a fraction <= 1 (or an int count), got {amount}")
        k = min(len(rows), amount) if isinstance(amount, int) else int(np.floor(amount * len(rows) + 0.5))
        if k == 0:
            raise ImbrunError(f"per_class[{cls}]: {amount} of {len(rows)} rows keeps none; expected at least 1")
        rng = np.random.default_rng([seed, int(cls)])
        keep.append(rng.choice(rows, size=k, replace=False))
    return np.sort(np.concatenate(keep))


def _class_mapping(
    variant: str, classes: list[int] | None, relabel: dict[int, int] | None, class_names: list[str] | None
) -> tuple[dict[int, int], list[str]]:
    """Old class -> new code, and the new class names (default: old names joined with '+')."""
    known = CLASS_NAMES[variant]
    kept = list(classes) if classes is not None else (sorted(relabel) if relabel else list(range(len(known))))
    unknown = [c for c in kept if c not in range(len(known))]
    if not kept or len(set(kept)) != len(kept):
        raise ImbrunError(f"classes: expected distinct class ids, at least one, got {kept}")
    if unknown:
        raise ImbrunError(f"classes: expected class ids 0..{len(known) - 1}, got {unknown}")
    mapping = dict(relabel) if relabel is not None else {c: i for i, c in enumerate(sorted(kept))}
    if set(mapping) != set(kept):
        raise ImbrunError(f"relabel: expected exactly the kept classes {sorted(kept)} as keys, got {sorted(mapping)}")
    codes = sorted(set(mapping.values()))
    if codes != list(range(len(codes))):
        raise ImbrunError(f"relabel: expected new codes 0..{len(codes) - 1} each used, got {codes}")
    names = ["+".join(known[c] for c in sorted(mapping) if mapping[c] == code) for code in codes]
    if class_names is not None:
        if len(class_names) != len(codes):
            raise ImbrunError(f"class_names: expected {len(codes)} names, got {len(class_names)}: {class_names}")
        names = list(class_names)
    return mapping, names


def load_mnist(
    folder: str | Path,
    *,
    variant: str = "mnist",
    part: str = "test",
    classes: list[int] | None = None,
    per_class: dict[int, int | float] | None = None,
    relabel: dict[int, int] | None = None,
    class_names: list[str] | None = None,
    subset_seed: int = 0,
    flatten: bool = True,
    scale: float = 1 / 255,
    download: bool = False,
) -> LoadedData:
    """Load MNIST or Fashion-MNIST, keep some classes, cap them and relabel.

    Args:
        folder: holds the four original `*-idx?-ubyte.gz` files, or the same uncompressed (only those of `part`
            are read; a .gz file is preferred when both are there).
        variant: "mnist" or "fashion".
        part: "train", "test" or "both" (train rows get row_ids 0..59999, test rows follow on).
        classes: original class ids to keep (default: all, or the keys of `relabel`).
        per_class: per original class, a cap (int) or a fraction (float <= 1) drawn with `subset_seed`.
        relabel: original class -> new code 0..K-1; without it kept classes get codes in sorted order.
        class_names: names of the new codes (default: original names, merged ones joined by '+').
        flatten: X is (n, 784) if True, else (n, 28, 28) read as (time = rows, channels = columns).
        scale: pixel multiplier (1/255 maps to [0, 1]).
        download: fetch missing files from the public mirrors, checking md5.

    Returns:
        LoadedData with float32 X, int64 y, row_ids = row index in the source file(s).

    Example:
        >>> d = load_mnist("data/mnist", classes=[4, 9], relabel={4: 0, 9: 1}, per_class={9: 0.1})
        >>> d.class_names
        ['4', '9']
    """
    if variant not in CLASS_NAMES:
        raise ImbrunError(f"variant: expected one of {sorted(CLASS_NAMES)}, got {variant!r}")
    if part not in PARTS:
        raise ImbrunError(f"part: expected one of {sorted(PARTS)}, got {part!r}")
    folder = Path(folder)
    paths = _ensure_files(folder, variant, part, download)
    parts = [_read_part(paths[i], paths[i + 1]) for i in range(0, len(paths), 2)]
    images = np.concatenate([p[0] for p in parts])  # (n, rows, cols) uint8
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)  # (n,)
    mapping, names = _class_mapping(variant, classes, relabel, class_names)
    rows = np.flatnonzero(np.isin(labels, list(mapping)))
    if per_class:
        outside = sorted(set(per_class) - set(mapping))
        if outside:
            raise ImbrunError(f"per_class: expected keys among kept classes {sorted(mapping)}, got {outside}")
        rows = rows[_subsample(labels[rows], per_class, subset_seed)]
    X = images[rows].astype(np.float32) * np.float32(scale)
    if flatten:
        X = X.reshape(len(rows), -1)  # (n, rows * cols)
    y = np.array([mapping[int(c)] for c in labels[rows]], dtype=np.int64)
    sources = [source_record(p) for p in paths]
    return LoadedData(X=X, y=y, class_names=names, row_ids=rows.astype(np.int64), sources=sources)
