"""No strategy leaks into validation or test: the real pipeline, once per registered strategy and a few combinations."""

import numpy as np
import pandas as pd
import pytest

import imbrun.pipeline as pipeline
from imbrun.balance import STRATEGIES, TrainJob
from imbrun.config import validate_config
from imbrun.data import load_data
from imbrun.data.split import split_data
from imbrun.pipeline import run_experiment
from imbrun.preprocess import Preprocessor
from imbrun.runs import RunDir
from tests.conftest import tiny_config, write_blobs_csv


# Settings a strategy needs on this tiny table (its smallest class has 4 training rows; with 1 feature
# all classes share one centre, so ADASYN finds rows of other classes among every neighbourhood).
SETTINGS = {kind: {"k_neighbors": 2} for kind in ("smote", "borderline_smote", "adasyn", "smote_tomek", "smote_enn")}
SETTINGS["crt"] = {"epochs": 1}
SETTINGS["ldam_drw"] = {"drw_epoch": 1}
CASES = [{"kind": kind, **SETTINGS.get(kind, {})} for kind in sorted(STRATEGIES)] + [
    {"kind": "logit_adjust", "posthoc": True},
    [{"kind": "undersample", "ratio": 0.5}, {"kind": "weighted_sampler"}, {"kind": "focal"}, {"kind": "threshold"}],
    [{"kind": "undersample"}, {"kind": "cascade"}, {"kind": "class_weight"}],
]


def _label(case) -> str:
    items = case if isinstance(case, list) else [case]
    return "+".join(item["kind"] + ("_posthoc" if item.get("posthoc") else "") for item in items)


def _counts(y, k=3) -> list[int]:
    return np.bincount(y, minlength=k).tolist()


@pytest.mark.parametrize("balance", CASES, ids=_label)
def test_validation_and_test_are_never_resampled_or_changed(balance, tmp_path, monkeypatch, no_figures):
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(40, 12, 8), features=1)
    cfg = validate_config(tiny_config(csv, balance=balance, train={"epochs": 1, "batch_size": 16, "lr": 0.01}))
    jobs, scored = [], []
    monkeypatch.setattr(pipeline, "TrainJob", lambda *args, **kwargs: jobs.append(TrainJob(*args, **kwargs)) or jobs[-1])
    real_predict = pipeline.predict_proba
    monkeypatch.setattr(pipeline, "predict_proba",
                        lambda model, X, *rest: scored.append(X.copy()) or real_predict(model, X, *rest))
    run = run_experiment(cfg, runs_dir=tmp_path / "runs")

    # what the splits really are, rebuilt independently of the run
    splits = split_data(load_data(cfg.data), cfg.split, cfg.seed)
    pre = Preprocessor(cfg.preprocess).fit(splits.train.X)
    X_train, X_val, X_test = (pre.transform(part.X) for part in (splits.train, splits.val, splits.test))
    names = splits.class_names
    metrics, record = RunDir(run.path).read_json("metrics.json"), RunDir(run.path).read_json("balance.json")
    for split, part in (("val", splits.val), ("test", splits.test)):
        assert [metrics[split]["per_class"][n]["support"] for n in names] == _counts(part.y)
        assert list(record["class_counts"][split].values()) == _counts(part.y)
    assert list(record["class_counts"]["train"].values()) == _counts(splits.train.y)
    # the arrays validated on and scored are exactly the untouched validation and test splits
    (job,) = jobs
    np.testing.assert_array_equal(job.val[0], X_val)
    np.testing.assert_array_equal(job.val[1], splits.val.y)
    assert len(scored) == 2
    np.testing.assert_array_equal(scored[0], X_val)
    np.testing.assert_array_equal(scored[1], X_test)
    predictions = pd.read_csv(run.file("predictions.csv"))
    np.testing.assert_array_equal(predictions["row_id"].to_numpy(), splits.test.row_ids)
    # only the training arrays may change, and the record says how
    X_fit, y_fit = job.train
    if "resampling" in record:
        assert record["resampling"]["train_before"] == record["class_counts"]["train"]
        assert list(record["resampling"]["train_after"].values()) == _counts(y_fit)
    else:
        np.testing.assert_array_equal(X_fit, X_train)
        np.testing.assert_array_equal(y_fit, splits.train.y)
