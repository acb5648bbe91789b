"""Small helpers for source files: existence checks and content hashes."""

import hashlib
from pathlib import Path

from imbrun.errors import ImbrunError


def existing_file(path: str | Path, what: str = "data file") -> Path:
    """The path, or a one-line error when it is not a readable file."""
    path = Path(path)
    if not path.exists():
        raise ImbrunError(f"{path}: {what} not found")
    if not path.is_file():
        raise ImbrunError(f"{path}: {what} is not a file")
    return path


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large files are never held in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def source_record(path: str | Path) -> dict:
    """What the run folder records about a file it read."""
    path = Path(path)
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)}
