"""env.json: what a run ran on, so a result can be traced and reproduced."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: str, seed: int, threads: int, sources: list[dict]) -> dict:
    """Versions, device, seed, thread count, the git state of the working directory and the data hashes."""
    commit = _git("rev-parse", "HEAD")
    return {
        "imbrun": _version("imbrun"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in ("torch", "numpy", "pandas", "scikit-learn", "scipy",
                                              "imbalanced-learn", "pydantic")},
        "device": device,
        "threads": threads,
        "seed": seed,
        "git_commit": commit,
        "git_dirty": bool(_git("status", "--porcelain")) if commit else None,
        "data_sources": sources,
    }
