"""Shared test setup: one torch thread (small ops run far slower with two on 2-core machines)."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# the prepared-data cache of every test (and of the CLI subprocesses they start) lives in a throwaway folder
os.environ.setdefault("IMBRUN_CACHE_DIR", tempfile.mkdtemp(prefix="imbrun-test-cache-"))

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a hard dependency
    pass

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def no_figures(monkeypatch):
    """Runs draw no PNG figures (about 2 s a run, and not what the test is about)."""
    from imbrun import artifacts, calibration, pipeline

    for module, figure in ((pipeline, "curves_png"), (artifacts, "confusion_png"), (calibration, "reliability_png"),
                           (calibration, "pr_curves_png")):
        monkeypatch.setattr(module, figure, lambda *args, **kwargs: None, raising=False)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data beside the checkout; skipped where it is absent (it is present in CI)."""
    return need_shared(SHARED_DATA)


def need_shared(path: Path) -> Path:
    """A file or folder under ../shared/data: skipped where absent, a failure under CI=true (where it must be)."""
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing under CI")
        pytest.skip(f"shared data {path} absent")
    return path


@pytest.fixture(scope="session")
def ray_instance():
    """One local Ray instance for the whole session (~10 s to start; Ray 2.60 has no local_mode): 2 CPUs, no
    dashboard, no auth token. Skipped without Ray, except under CI, which installs the ray extra."""
    try:
        import ray
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("ray is not importable under CI (install the project with its ray extra)", pytrace=False)
        pytest.skip("ray is not installed (pip install 'ray>=2.9')")
    before = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    if before is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = before


def write_blobs_csv(path: Path, counts=(40, 12, 6), features: int = 4, seed: int = 0, header: bool = True) -> Path:
    """A tiny imbalanced table: one Gaussian blob per class (well separated), label in the last column."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, count in enumerate(counts):
        centre = np.zeros(features)
        centre[label % features] = 4.0
        for x in rng.normal(centre, 1.0, size=(count, features)):
            rows.append(",".join(f"{v:.5f}" for v in x) + f",c{label}")
    order = rng.permutation(len(rows))
    lines = ([",".join([f"f{i}" for i in range(features)] + ["label"])] if header else []) + [rows[i] for i in order]
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_config(csv_path: Path, **sections) -> dict:
    """A raw config dict for the blobs table: few epochs, small model."""
    raw = {
        "name": "tiny",
        "seed": 0,
        "data": {"kind": "csv", "path": str(csv_path), "label": "label"},
        "split": {"test_size": 0.25, "val_size": 0.2},
        "preprocess": {"normalize": {"kind": "standard"}},
        "model": {"kind": "dense", "hidden": [16]},
        "train": {"epochs": 3, "batch_size": 16, "lr": 0.01},
    }
    raw.update(sections)
    return raw
