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


def check_data_sources(sources: list[dict]) -> tuple[list[str], list[str]]:
    """Recompute the sha256 of each recorded source file: (warnings for changed or missing files, notes).

    A live MySQL source (url + rows_sha256) is not queried again: re-reading a server may be slow or need its
    password, so a note says it was not re-checked.
    """
    from pathlib import Path

    from imbrun.data.files import sha256_file

    warnings, notes = [], []
    for source in sources:
        if "path" not in source:
            what = f"table {source['table']}" if source.get("table") else "query"
            notes.append(f"not re-checked: {source.get('url', 'a live source')} ({what}) is a live MySQL source; "
                         f"its rows had sha256 {str(source.get('rows_sha256'))[:12]}.. at training")
            continue
        path, was = Path(source["path"]), str(source.get("sha256"))
        if not path.is_file():
            warnings.append(f"data changed since training: {path} is missing (sha256 was {was[:12]}..)")
            continue
        now = sha256_file(path)
        if now != was:
            warnings.append(f"data changed since training: {path} (sha256 was {was[:12]}.., now {now[:12]}..)")
    return warnings, notes
