"""balance kind auto: measurements and shortlist rules, successive halving, the choice on tiny data, no test leak."""

import json
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import imbrun.balance.auto as auto
import imbrun.balance.auto_pilot as auto_pilot
import imbrun.balance.procedures as procedures
import imbrun.pipeline as pipeline
import imbrun.train as train
from imbrun.balance.auto_candidates import candidates_for, measure, shortlist
from imbrun.balance.auto_confidence import confident_choice, win_rate
from imbrun.balance.auto_pilot import rung_epochs, rung_schedule, score, successive_halving
from imbrun.cli import app
from imbrun.config import validate_config
from imbrun.data.split import Part
from imbrun.errors import ImbrunError
from imbrun.pipeline import prepare, resume_experiment, run_experiment
from tests.conftest import tiny_config, write_blobs_csv



def overlap_csv(path, n_major=1140, n_minor=60, shift=1.5, seed=0):
    """Two overlapping 2-D Gaussians, 19:1: plain CE favours the majority, class weights balance the recalls."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (n_major, 2)), rng.normal(shift, 1, (n_minor, 2))])
    y = ["major"] * n_major + ["minor"] * n_minor
    order = rng.permutation(len(y))
    path.write_text("f0,f1,label\n" + "".join(f"{X[i, 0]:.5f},{X[i, 1]:.5f},{y[i]}\n" for i in order))
    return path


def hidden_minority_csv(path, n_major=1100, n_shared=70, n_minor=30, seed=0):
    """A minority cluster that majority rows share 70:30: where it lives p(minor | x) is about 0.3, so a model of
    plain cross-entropy predicts the majority everywhere (at any number of epochs), while weighting the minority
    up (class_weight, smote, ...) predicts it in the cluster: recall about 1 at precision about 0.3."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (n_major, 2)), rng.normal(4, 0.5, (n_shared + n_minor, 2))])
    y = ["major"] * (n_major + n_shared) + ["minor"] * n_minor
    order = rng.permutation(len(y))
    path.write_text("f0,f1,label\n" + "".join(f"{X[i, 0]:.5f},{X[i, 1]:.5f},{y[i]}\n" for i in order))
    return path


def auto_cfg(csv, balance=None, **sections):
    return validate_config(tiny_config(csv, balance={"kind": "auto", **(balance or {})}, **sections))


def choice_without_timing(record: dict) -> dict:
    """The record minus wall-clock numbers (pilot and budget seconds differ run to run)."""
    rungs = [{**rung, "pilots": [{k: v for k, v in p.items() if k != "seconds"} for p in rung["pilots"]]}
             for rung in record["rungs"]]
    budget = {k: v for k, v in record["budget"].items() if k != "pilot_seconds"}
    return {**record, "rungs": rungs, "budget": budget}


# ---- config ---------------------------------------------------------------------------------------------

def test_auto_config_defaults_shorthand_and_refusals():
    cfg = validate_config({"data": {"kind": "csv", "path": "x.csv"},
                           "balance": {"kind": "auto", "candidates": ["none", ["smote", "focal"]]}})
    assert cfg.model_dump(mode="json")["balance"]["candidates"][0] == {"kind": "none"}
    assert [item.kind for item in cfg.balance.candidates[1]] == ["smote", "focal"]
    assert (cfg.balance.budget_epochs, cfg.balance.eta, cfg.balance.metric, cfg.balance.backend, cfg.balance.ray,
            cfg.balance.tune_thresholds) == (None, 3, "macro_f1", "inline", None, True)
    ray = validate_config({"data": {"kind": "csv", "path": "x.csv"}, "balance": {
        "kind": "auto", "backend": "ray", "ray": {"address": "10.0.0.1:6379", "cpus_per_trial": 2}}}).balance.ray
    assert ray.model_dump() == {"address": "10.0.0.1:6379", "cpus_per_trial": 2.0, "gpus_per_trial": 0.0}
    dumped = validate_config({"data": {"kind": "csv", "path": "x.csv"}, "balance": {"kind": "auto"}})
    assert validate_config(dumped.model_dump(mode="json")).balance.ray is None  # config.yaml reads back
    for balance, message in [
        ([{"kind": "auto"}, {"kind": "focal"}], "balance: 'auto' chooses a strategy by itself and cannot be "
                                                "combined in a list; use balance: {kind: auto} (its `candidates` "
                                                "may hold combinations)"),
        ({"kind": "auto", "budget_epoch": 3}, "balance.budget_epoch: unknown key (did you mean 'budget_epochs'?)"),
        ({"kind": "auto", "candidates": ["none", "none"]}, "balance.candidates: 'none' is listed twice"),
        ({"kind": "auto", "candidates": ["auto"]}, "balance.candidates.0: 'auto' cannot be one of its own candidates"),
        ({"kind": "aut"}, "balance: unknown kind 'aut' (did you mean 'auto'?)"),
        ({"kind": "auto", "ray": {"cpus_per_trial": 2}},
         "balance.ray: ray options apply to backend ray only, got backend 'inline'"),
        ({"kind": "auto", "backend": "local", "ray": {}},
         "balance.ray: ray options apply to backend ray only, got backend 'local'"),
        ({"kind": "auto", "backend": "ray", "ray": {"cpus": 2}},
         "balance.ray.cpus: unknown key; known keys: address, cpus_per_trial, gpus_per_trial"),
        ({"kind": "auto", "backend": "ray", "ray": {"gpus_per_trial": -1}},
         "balance.ray.gpus_per_trial: Input should be greater than or equal to 0 (got -1)"),
    ]:
        with pytest.raises(ImbrunError) as err:
            validate_config({"data": {"kind": "csv", "path": "x.csv"}, "balance": balance})
        assert str(err.value).startswith(f"<config>: {message}")


# ---- measurements and shortlist ---------------------------------------------------------------------------

def test_measure_reports_counts_ratio_minority_and_input_kind():
    y = np.repeat([0, 1, 2], [40, 12, 3])
    assert measure(y, np.zeros((55, 4)), ["a", "b", "c"]) == {
        "rows": 55, "classes": 3, "class_counts": {"a": 40, "b": 12, "c": 3}, "imbalance_ratio": 40 / 3,
        "minority_class": "c", "minority_rows": 3, "classes_below_few_rows": ["a", "b", "c"], "input": "tabular",
        "row_shape": [4], "values_per_row": 4}
    assert measure(np.array([0, 1]), np.zeros((2, 30, 2)), ["a", "b"])["input"] == "series"


def _included(counts, shape=(4,)):
    y = np.repeat(np.arange(len(counts)), counts)
    found = shortlist(measure(y, np.zeros((len(y), *shape)), [f"c{k}" for k in range(len(counts))]))
    return [c.label for c in found if c.included], {c.label: c.reason for c in found}


def test_shortlist_for_a_tiny_minority_keeps_the_loss_side_only():
    included, reasons = _included([40, 12, 3])
    assert included == ["class_weight", "none", "logit_adjust", "focal"]
    assert reasons["smote"] == "class 'c2' has 3 training rows: SMOTE's k_neighbors=5 needs at least 6"
    assert reasons["undersample"] == "only 3 'c2' training rows: undersampling would keep 9 of 55 rows"
    assert reasons["weighted_sampler"] == ("only 3 'c2' training rows: each would be drawn ~13 times per epoch; "
                                           "the loss-side strategies give the same weight without repeating rows")


def test_shortlist_for_a_large_minority_adds_sampling_and_resampling():
    included, reasons = _included([600, 150])
    assert included == ["class_weight", "none", "logit_adjust", "focal", "weighted_sampler", "smote", "undersample"]
    assert reasons["undersample"] == "150 'c1' training rows: enough to keep 300 rows"
    assert len(shortlist(measure(np.repeat([0, 1], [600, 150]), np.zeros((750, 4)), ["a", "b"]))) == 19


def test_shortlist_when_nearly_balanced_or_high_dimensional():
    included, reasons = _included([50, 40])
    assert included == ["class_weight", "none"]
    assert reasons["focal"] == "the ratio 1.2:1 is nearly balanced (below 1.5:1)"
    included, reasons = _included([300, 60], shape=(300, 2))
    assert "smote" not in included and included[-1] == "weighted_sampler"
    assert reasons["smote"] == ("600 values per row: nearest neighbours in that many dimensions carry little "
                                "meaning (more than 500)")


def test_listed_candidates_are_joined_by_class_weight_and_none():
    def piloted(candidates):
        cfg = validate_config({"data": {"kind": "csv", "path": "x.csv"},
                               "balance": {"kind": "auto", "candidates": candidates}}).balance
        found = candidates_for(cfg, {})  # listed candidates need no measurements
        assert all(c.included and not c.measured for c in found)
        return [(c.label, c.reason) for c in found]
    listed, always = "listed in balance.candidates", "always included"
    assert piloted(["focal", ["weighted_sampler", "focal"]]) == [
        ("focal", listed), ("weighted_sampler+focal", listed), ("class_weight", always), ("none", always)]
    assert piloted(["none", {"kind": "class_weight", "scheme": "sqrt_inverse"}]) == [
        ("none", listed), ("class_weight(scheme=sqrt_inverse)", listed), ("class_weight", always)]
    assert piloted(["class_weight", "none"]) == [("class_weight", listed), ("none", listed)]


# ---- successive halving -------------------------------------------------------------------------------------

def test_rung_epochs_leave_at_most_eta_candidates_for_the_full_budget():
    assert rung_epochs(2, 3, 9) == [9]
    assert rung_epochs(3, 3, 9) == [9]
    assert rung_epochs(7, 3, 9) == [3, 9]
    assert rung_epochs(10, 3, 9) == [1, 3, 9]
    assert rung_epochs(5, 2, 4) == [1, 2, 4]


def test_rungs_of_equal_epochs_are_merged():
    """With few epochs the halvings' budgets coincide: one rung trains them once and halves as often."""
    assert rung_schedule(10, 3, 9) == [(1, 1), (3, 1), (9, 1)]
    assert rung_schedule(10, 3, 3) == [(1, 2), (3, 1)]  # unmerged: 1, 1, 3 epochs
    assert rung_schedule(10, 3, 1) == [(1, 3)]
    assert rung_schedule(28, 3, 4) == [(1, 3), (4, 1)]  # unmerged: 0 -> 1, 0 -> 1, 1, 4 epochs
    assert rung_epochs(4, 3, 1) == [1] and rung_epochs(10, 3, 3) == [1, 3]
    table = {k: {1: 0.1 * i, 3: 1 - 0.1 * i} for i, k in enumerate("abcdefghij")}
    seen = []
    result = successive_halving([(k, None) for k in table], _fake_rung(table, seen), eta=3, budget=3)
    # 10 -> ceil(10 / 3) = 4 -> ceil(4 / 3) = 2 at 1 epoch, as two rungs of 1 epoch would keep, then the best
    assert seen == [[(k, 1) for k in table], [("j", 3), ("i", 3)]]
    assert [(rung["epochs"], rung["kept"]) for rung in result["rungs"]] == [(1, ["j", "i"]), (3, ["i"])]
    assert result["winner"] == "i"


def test_a_merged_rung_keeps_what_the_unmerged_rungs_would_when_pilots_fail():
    """The second halving of a merged rung counts the pilots that completed, as a rerun rung would."""
    def run_rung(pilots):
        return [{"label": p.label, "status": "failed" if p.label in "abcdefg" else "completed",
                 "score": 0.5, "tiebreak": 0.0} for p in pilots]
    result = successive_halving([(k, None) for k in "abcdefghij"], run_rung, eta=3, budget=3)
    # unmerged: rung 1 keeps h, i, j (3 of ceil(10 / 3) = 4 completed), rung 2 keeps ceil(3 / 3) = 1
    assert [rung["kept"] for rung in result["rungs"]] == [["h"], ["h"]]


def _fake_rung(table, seen):
    """run_rung scoring each candidate from `table[label][epochs]`; records what ran."""
    def run_rung(pilots):
        seen.append([(p.label, p.epochs) for p in pilots])
        return [{"label": p.label, "status": "completed", "score": table[p.label][p.epochs],
                 "tiebreak": table[p.label].get("ba", 0.0), "epochs_run": p.epochs} for p in pilots]
    return run_rung


def test_successive_halving_keeps_the_best_third_then_picks_the_best():
    table = {"a": {3: 0.5, 9: 0.6}, "b": {3: 0.7, 9: 0.65}, "c": {3: 0.6, 9: 0.8}, "d": {3: 0.4, 9: 0.9}}
    seen = []
    result = successive_halving([(k, None) for k in table], _fake_rung(table, seen), eta=3, budget=9)
    assert seen == [[("a", 3), ("b", 3), ("c", 3), ("d", 3)], [("b", 9), ("c", 9)]]
    assert [rung["kept"] for rung in result["rungs"]] == [["b", "c"], ["c"]]
    assert (result["winner"], result["decided_at"], result["stopped_by_time"]) == ("c", 1, False)


def test_equal_scores_go_to_higher_balanced_accuracy_then_to_the_earlier_candidate():
    table = {"a": {9: 0.0, "ba": 0.5}, "b": {9: 0.0, "ba": 0.7}, "c": {9: 0.0, "ba": 0.7}}
    result = successive_halving([(k, None) for k in table], _fake_rung(table, []), eta=3, budget=9)
    assert result["winner"] == "b"


def test_a_pilot_early_stopping_ended_is_reused_by_the_later_rungs_not_trained_again():
    """b stopped early at rung 1 (3 epochs): rung 2 trains only c; b keeps its score, marked reused."""
    seen = []

    def run_rung(pilots):
        seen.append([(p.label, p.epochs) for p in pilots])
        scores = {("a", 3): 0.5, ("b", 3): 0.7, ("c", 3): 0.6, ("d", 3): 0.4, ("c", 9): 0.65}
        return [{"label": p.label, "status": "completed", "score": scores[p.label, p.epochs], "tiebreak": 0.0,
                 "epochs_run": 2 if p.label == "b" else p.epochs, "early_stopped": p.label == "b",
                 "seconds": 1.5} for p in pilots]
    result = successive_halving([(k, None) for k in "abcd"], run_rung, eta=3, budget=9)
    assert seen == [[("a", 3), ("b", 3), ("c", 3), ("d", 3)], [("c", 9)]]
    second = {p["label"]: p for p in result["rungs"][1]["pilots"]}
    assert second["b"] == {"label": "b", "status": "completed", "score": 0.7, "tiebreak": 0.0, "epochs_run": 2,
                           "early_stopped": True, "seconds": 0.0, "reused": True}
    assert result["rungs"][1]["scores"] == {"b": 0.7, "c": 0.65} and result["winner"] == "b"


def test_a_rung_cut_by_the_time_budget_leaves_the_choice_to_the_last_complete_rung():
    def run_rung(pilots):
        if pilots[0].epochs == 9:
            return [{"label": p.label, "status": "skipped", "score": None, "tiebreak": None} for p in pilots]
        return [{"label": p.label, "status": "completed", "score": s, "tiebreak": 0.0}
                for p, s in zip(pilots, (0.5, 0.7, 0.6, 0.4))]
    result = successive_halving([(k, None) for k in "abcd"], run_rung, eta=3, budget=9)
    assert (result["winner"], result["decided_at"], result["stopped_by_time"]) == ("b", 0, True)
    assert result["rungs"][1]["kept"] == []


def test_scores_and_the_minority_threshold_search():
    assert score("macro_f1", [0, 0, 1, 1], [0, 1, 1, 1], 2) == pytest.approx((2 / 3 + 0.8) / 2)
    assert score("gmean", [0, 0, 1, 1], [0, 0, 0, 1], 2) == pytest.approx(0.5 ** 0.5)
    assert score("minority_recall_at_precision", [0, 1, 1], [1, 1, 0], 2, minority=1, floor=0.5) == 0.5
    assert score("minority_recall_at_precision", [0, 0, 1], [1, 1, 1], 2, minority=1, floor=0.5) == 0.0
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.6, 0.4], [0.55, 0.45]])
    offsets = auto.tune_offsets("minority_recall_at_precision", probs, np.array([0, 1, 1, 0]), 1, 0.5)
    assert offsets.tolist() == [0.0, 1.0]  # the smallest offset that predicts rows 1-3 as minority: recall 1 at 2/3


# ---- the choice on tiny data ------------------------------------------------------------------------------

def test_the_clearly_right_strategy_is_chosen(tmp_path):
    cfg = auto_cfg(overlap_csv(tmp_path / "overlap.csv"),
                   {"candidates": ["none", "focal", "class_weight"], "metric": "balanced_accuracy",
                    "tune_thresholds": False},
                   split={"test_size": 0.25, "val_size": 0.25}, train={"epochs": 6, "batch_size": 32, "lr": 0.01})
    record = prepare(cfg).auto
    scores = record["rungs"][0]["scores"]
    assert record["chosen"] == "class_weight"
    assert scores["class_weight"] > max(scores["none"], scores["focal"]) + 0.15
    assert record["reason"].startswith("highest validation balanced_accuracy at rung 1 (6 epochs): ")


def test_the_clearly_right_strategy_wins_with_the_default_shortlist_and_metric(tmp_path):
    """balance: {kind: auto} alone (shortlist, macro-F1) on a minority that plain cross-entropy ignores."""
    cfg = auto_cfg(hidden_minority_csv(tmp_path / "hidden.csv"), split={"test_size": 0.25, "val_size": 0.25},
                   train={"epochs": 6, "batch_size": 32, "lr": 0.01})
    prep = prepare(cfg)
    record, y_val = prep.auto, prep.splits.val.y
    assert (record["metric"], cfg.balance.candidates) == ("macro_f1", None)  # the defaults
    assert [c["label"] for c in record["candidates"] if c["included"]] == \
        ["class_weight", "none", "logit_adjust", "focal", "smote"]
    first, last = record["rungs"][0]["scores"], record["rungs"][-1]["scores"]
    all_majority = score("macro_f1", y_val, np.zeros_like(y_val), 2)  # 'major' is code 0
    assert first["none"] == all_majority  # none predicts the majority everywhere: out at rung 1
    assert record["chosen"] != "none" and "none" not in last
    assert last[record["chosen"]] > all_majority + 0.2
    assert choice_without_timing(prepare(cfg).auto) == choice_without_timing(record)  # deterministic


def test_the_choice_is_deterministic_for_a_seed(tmp_path):
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    cfg = auto_cfg(csv, train={"epochs": 6, "batch_size": 16, "lr": 0.01})
    first, second = prepare(cfg).auto, prepare(cfg).auto
    assert choice_without_timing(first) == choice_without_timing(second)
    assert [rung["epochs"] for rung in first["rungs"]] == [2, 6]
    assert len(first["rungs"][0]["scores"]) == 4 and len(first["rungs"][1]["scores"]) == 2


def test_a_reused_pilot_scores_what_training_it_for_the_later_rung_would(tmp_path):
    """Early stopping (patience 1) ends some rung-1 pilots: rung 2 reuses them, with the score a fresh pilot of
    rung 2's epochs gets (that candidate piloted alone, in one rung of the full budget)."""
    csv = overlap_csv(tmp_path / "overlap.csv", n_major=300, n_minor=30)
    train = {"epochs": 12, "batch_size": 16, "lr": 0.05, "early_stopping": {"monitor": "val_loss", "patience": 1}}
    record = prepare(auto_cfg(csv, {"candidates": ["focal", "logit_adjust"], "tune_thresholds": False},
                              train=train)).auto
    assert [rung["epochs"] for rung in record["rungs"]] == [4, 12]
    reused = [p for p in record["rungs"][1]["pilots"] if p.get("reused")]
    assert reused, record["rungs"]
    for pilot in reused:
        alone = prepare(auto_cfg(csv, {"candidates": [pilot["label"]], "tune_thresholds": False},
                                 train=train)).auto
        assert [rung["epochs"] for rung in alone["rungs"]] == [12]
        assert alone["rungs"][0]["scores"][pilot["label"]] == pilot["score"]
        assert pilot["epochs_run"] < 4 + 1 and pilot["seconds"] == 0.0


def test_budget_epochs_are_honoured_per_candidate_and_rung(tmp_path, monkeypatch, no_figures):
    trained, real_fit = [], procedures.fit

    def counting_fit(*args, **kwargs):
        result = real_fit(*args, **kwargs)
        trained.append((args[4].epochs, len(result.history)))  # (epochs asked, epochs trained)
        return result
    monkeypatch.setattr(procedures, "fit", counting_fit)
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    cfg = auto_cfg(csv, {"budget_epochs": 6, "tune_thresholds": False}, train={"epochs": 4, "batch_size": 16, "lr": 0.01})
    run = run_experiment(cfg, tmp_path / "runs")
    # 4 candidates at 6 // 3 = 2 epochs, the best ceil(4 / 3) = 2 at 6 epochs, then the winner's full training
    assert trained == [(2, 2)] * 4 + [(6, 6)] * 2 + [(4, 4)]
    record = run.read_json("balance.json")["auto"]
    assert record["budget"]["schedule"] == [2, 6]
    assert [[p["epochs_run"] for p in rung["pilots"]] for rung in record["rungs"]] == [[2, 2, 2, 2], [6, 6]]


def test_one_epoch_budget_trains_each_candidate_once(tmp_path, monkeypatch, no_figures):
    """train.epochs 1: both halvings would train 1 epoch; one rung trains each candidate once, for 1 epoch."""
    trained, real_fit = [], procedures.fit

    def counting_fit(*args, **kwargs):
        result = real_fit(*args, **kwargs)
        trained.append((args[4].epochs, len(result.history)))
        return result
    monkeypatch.setattr(procedures, "fit", counting_fit)
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    run = run_experiment(auto_cfg(csv, {"tune_thresholds": False}, train={"epochs": 1, "batch_size": 16, "lr": 0.01}),
                         tmp_path / "runs")
    record = run.read_json("balance.json")["auto"]
    assert trained == [(1, 1)] * 4 + [(1, 1)]  # 4 pilots, then the winner's full training
    assert record["budget"]["schedule"] == [1]
    assert [(rung["epochs"], len(rung["pilots"]), len(rung["kept"])) for rung in record["rungs"]] == [(1, 4, 1)]
    assert record["reason"].startswith("highest validation macro_f1 at rung 1 (1 epochs): ")


def test_budget_seconds_stops_the_pilots(tmp_path):
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    cfg = auto_cfg(csv, {"budget_epochs": 3000, "budget_seconds": 0.3})
    record = prepare(cfg).auto
    assert record["budget"]["stopped_by_time"] is True
    assert record["budget"]["pilot_seconds"] < 0.3 + 1.5  # the running epoch ends, nothing new starts
    statuses = [p["status"] for p in record["rungs"][0]["pilots"]]
    assert statuses[0] == "stopped" and set(statuses[1:]) == {"skipped"}
    assert record["chosen"] == "class_weight"
    assert record["reason"] == ("the time budget ran out before any pilot finished; class_weight is the fallback "
                                "(it works at any minority size)")


def test_the_test_split_is_never_seen_by_the_choice(tmp_path, monkeypatch, no_figures):
    """Every array the pilots and the threshold tuning train on or score is training or validation data."""
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    cfg = auto_cfg(csv, train={"epochs": 3, "batch_size": 16, "lr": 0.01})
    seen = {"choose": [], "fit": [], "predict": []}
    real_choose, real_fit, real_predict = pipeline.choose_strategy, procedures.fit, train.predict_proba
    monkeypatch.setattr(pipeline, "choose_strategy", lambda cfg_, data, *rest: seen["choose"].append(data) or
                        real_choose(cfg_, data, *rest))
    monkeypatch.setattr(procedures, "fit", lambda model, tr, val, *rest, **kw: seen["fit"].append((tr[0], val[0])) or
                        real_fit(model, tr, val, *rest, **kw))
    recording = lambda model, X, *rest: seen["predict"].append(X) or real_predict(model, X, *rest)  # noqa: E731
    monkeypatch.setattr(train, "predict_proba", recording)  # the pilots import it when they run
    monkeypatch.setattr(auto, "predict_proba", recording)  # the threshold tuning
    run = run_experiment(cfg, tmp_path / "runs")
    monkeypatch.undo()

    prep = prepare(cfg)  # the same splits and choice, rebuilt
    X_train, X_val, X_test = prep.X["train"], prep.X["val"], prep.X["test"]
    (data,) = seen["choose"]
    np.testing.assert_array_equal(data.X_train, X_train)
    np.testing.assert_array_equal(data.X_val, X_val)
    np.testing.assert_array_equal(data.y_val, prep.splits.val.y)
    train_rows = {row.tobytes() for row in X_train}
    assert len(seen["fit"]) == 7  # 4 + 2 pilots, the final training
    for X_fit, X_fit_val in seen["fit"]:
        assert {row.tobytes() for row in X_fit} <= train_rows
        np.testing.assert_array_equal(X_fit_val, X_val)
    assert len(seen["predict"]) == 8  # each pilot's score; the tuning: validation before and after offsets
    for X in seen["predict"]:
        np.testing.assert_array_equal(X, X_val)
    test_rows = {row.tobytes() for row in X_test}
    assert not test_rows & (train_rows | {row.tobytes() for row in X_val})
    assert run.read_json("balance.json")["auto"]["chosen"] == prep.auto["chosen"]


def test_changing_the_test_split_leaves_the_choice_byte_identical(tmp_path, monkeypatch, no_figures):
    """Test features replaced by noise, test labels shifted by one class: auto.json and balance.json (candidates,
    rung scores, choice, thresholds) do not change by one byte (wall-clock timings frozen); the test scores do."""
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    cfg = auto_cfg(csv, train={"epochs": 3, "batch_size": 16, "lr": 0.01})
    monkeypatch.setattr(auto, "time", SimpleNamespace(time=lambda: 0.0))
    monkeypatch.setattr(auto_pilot, "time", SimpleNamespace(time=lambda: 0.0, perf_counter=lambda: 0.0))
    clean = run_experiment(cfg, tmp_path / "clean")
    real_split = pipeline.split_data

    def perturbed_split(data, split_cfg, seed):
        splits = real_split(data, split_cfg, seed)
        test, rng = splits.test, np.random.default_rng(1)
        noise = rng.normal(0.0, 5.0, test.X.shape).astype(test.X.dtype)
        splits.test = Part(noise, (test.y + 1) % len(splits.class_names), test.row_ids, test.groups)
        return splits
    monkeypatch.setattr(pipeline, "split_data", perturbed_split)
    perturbed = run_experiment(cfg, tmp_path / "perturbed")
    assert perturbed.file("auto.json").read_bytes() == clean.file("auto.json").read_bytes()
    balance = [json.loads(run.file("balance.json").read_text()) for run in (clean, perturbed)]
    assert json.dumps(balance[1]["auto"]) == json.dumps(balance[0]["auto"])
    assert len(balance[0]["auto"]["rungs"]) == 2 and balance[0]["auto"]["thresholds"]["tuned_on"] == "validation"
    tests = [b["class_counts"].pop("test") for b in balance]  # balance.json also reports the splits' counts
    assert (tests, balance[1]) == ([{"c0": 20, "c1": 5, "c2": 2}, {"c0": 2, "c1": 20, "c2": 5}], balance[0])
    metrics = clean.read_json("metrics.json"), perturbed.read_json("metrics.json")
    assert metrics[0]["val"] == metrics[1]["val"]
    assert metrics[0]["test"]["overall"]["macro_f1"] > 0.9 > metrics[1]["test"]["overall"]["macro_f1"]


def test_the_pilot_of_the_full_budget_is_the_final_model(tmp_path, no_figures):
    """Same seeds, same epochs: the winner's last-rung validation score is the trained run's validation score."""
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    cfg = auto_cfg(csv, {"tune_thresholds": False}, train={"epochs": 6, "batch_size": 16, "lr": 0.01})
    run = run_experiment(cfg, tmp_path / "runs")
    record = run.read_json("balance.json")
    auto_record = record["auto"]
    assert record["strategy"] == f"auto:{auto_record['chosen']}"
    assert auto_record["thresholds"] == {"kept": False, "reason": "tune_thresholds is off"}
    final = auto_record["rungs"][-1]["scores"][auto_record["chosen"]]
    assert run.read_json("metrics.json")["val"]["overall"]["macro_f1"] == pytest.approx(final, abs=1e-12)
    assert run.read_json("auto.json") == {k: v for k, v in auto_record.items()
                                          if k not in ("thresholds", "thresholds_tuned")}


def test_thresholds_are_kept_only_when_they_help_on_held_out_validation_rows(tmp_path, no_figures):
    csv = overlap_csv(tmp_path / "overlap.csv")
    cfg = auto_cfg(csv, {"candidates": ["none"], "confidence": 0}, split={"test_size": 0.25, "val_size": 0.25},
                   train={"epochs": 6, "batch_size": 32, "lr": 0.01})
    run = run_experiment(cfg, tmp_path / "runs")
    record = run.read_json("balance.json")["auto"]
    assert [(c["label"], c["reason"]) for c in record["candidates"]] == \
        [("none", "listed in balance.candidates"), ("class_weight", "always included")]
    assert record["chosen"] == "none" and list(record["rungs"][0]["scores"]) == ["none", "class_weight"]
    thresholds = record["thresholds"]
    assert thresholds["val_after"] > thresholds["val_before"] and thresholds["cross_fitted_gain"] > 0
    assert record["thresholds_tuned"] is thresholds["kept"] is True
    assert run.read_json("model.json")["predictor"]["adjust"] == {"kind": "offsets", "on_log_probs": True}
    assert run.read_json("metrics.json")["val"]["overall"]["macro_f1"] == pytest.approx(thresholds["val_after"])


def test_win_rate_of_paired_stratified_resamples():
    y = np.array([0, 0, 1, 1])
    assert win_rate("macro_f1", y, y, y, 2) == 0.5  # always a tie
    assert win_rate("gmean", y, y, np.array([0, 0, 0, 0]), 2) == 1.0  # b never recalls class 1
    # b misses row 3: a resample of class 1's two rows holds row 3 with probability 3/4 (a wins), else a tie
    rate = win_rate("macro_f1", y, y, np.array([0, 0, 1, 0]), 2, seed=3)
    assert rate == pytest.approx(0.75 + 0.25 / 2, abs=0.03) and rate == win_rate(
        "macro_f1", y, y, np.array([0, 0, 1, 0]), 2, seed=3)


def test_confident_choice_keeps_the_default_unless_the_winner_is_better_often_enough():
    y = np.array([0, 0, 1, 1])
    preds = {"focal": y, "class_weight": np.array([0, 0, 1, 0])}
    kept, check = confident_choice("focal", "class_weight", preds, y, "macro_f1", 2, 1, 0.5, 0.95, seed=3)
    assert kept == "class_weight" and check["win_rate"] < 0.95 and check["chosen"] == "class_weight"
    assert confident_choice("focal", "class_weight", preds, y, "macro_f1", 2, 1, 0.5, 0.8, seed=3)[0] == "focal"
    assert confident_choice("focal", "class_weight", preds, y, "macro_f1", 2, 1, 0.5, 0.0, 3) == ("focal", None)
    assert confident_choice("class_weight", "class_weight", preds, y, "macro_f1", 2, 1, 0.5, 0.9, 3) == \
        ("class_weight", None)


def test_a_winner_within_the_noise_of_validation_leaves_class_weight_chosen(tmp_path):
    """none wins the halving by a little on 300 validation rows (see the thresholds test): not confidently."""
    csv = overlap_csv(tmp_path / "overlap.csv")
    sections = {"split": {"test_size": 0.25, "val_size": 0.25}, "train": {"epochs": 6, "batch_size": 32, "lr": 0.01}}
    record = prepare(auto_cfg(csv, {"candidates": ["none"], "tune_thresholds": False}, **sections)).auto
    scores, check = record["rungs"][-1]["scores"], record["confidence_check"]
    assert scores["none"] > scores["class_weight"] and record["chosen"] == "class_weight"
    assert check["winner"] == "none" and check["win_rate"] < check["needed"] == 0.9
    assert record["reason"].startswith("none had the highest validation macro_f1 at rung 1 (6 epochs): ")
    assert record["reason"].endswith("needed (balance.confidence): class_weight, the safe default, is kept")
    assert record["chosen_balance"]["kind"] == "class_weight"
    assert all("predictions" not in p for rung in record["rungs"] for p in rung["pilots"])  # not in balance.json
    loose = prepare(auto_cfg(csv, {"candidates": ["none"], "tune_thresholds": False, "confidence": 0},
                             **sections)).auto
    assert loose["chosen"] == "none" and "confidence_check" not in loose


def test_local_backend_makes_the_same_choice_as_inline(tmp_path):
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    inline = prepare(auto_cfg(csv, train={"epochs": 3, "batch_size": 16, "lr": 0.01})).auto
    local = prepare(auto_cfg(csv, {"backend": "local", "workers": 2},
                             train={"epochs": 3, "batch_size": 16, "lr": 0.01})).auto
    assert local["chosen"] == inline["chosen"]
    assert [rung["scores"] for rung in local["rungs"]] == [rung["scores"] for rung in inline["rungs"]]


def test_ray_backend_makes_the_same_choice_as_inline(ray_instance, tmp_path):
    """Pilots as tasks on the session's local Ray instance (joined, not restarted): the same scores at every rung."""
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    train_section = {"epochs": 3, "batch_size": 16, "lr": 0.01}
    inline = prepare(auto_cfg(csv, train=train_section)).auto
    on_ray = prepare(auto_cfg(csv, {"backend": "ray", "ray": {"cpus_per_trial": 1}}, train=train_section)).auto
    assert on_ray["budget"]["ray"] == {"address": None, "cpus_per_trial": 1.0, "gpus_per_trial": 0.0}
    assert "ray" not in inline["budget"]
    assert [[p["status"] for p in rung["pilots"]] for rung in on_ray["rungs"]] == [["completed"] * 4, ["completed"] * 2]
    assert on_ray["chosen"] == inline["chosen"]
    assert [rung["scores"] for rung in on_ray["rungs"]] == [rung["scores"] for rung in inline["rungs"]]
    assert ray_instance.is_initialized()  # the session's instance is still up for the other Ray tests


def test_resume_trains_the_saved_choice_without_piloting_again(tmp_path, monkeypatch, no_figures):
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    cfg = auto_cfg(csv, train={"epochs": 4, "batch_size": 16, "lr": 0.01, "threads": 1})
    whole = run_experiment(cfg, tmp_path / "whole")

    polls = iter(range(10**6))

    @contextmanager
    def stop_in_epoch_three():
        yield lambda: next(polls) >= 12  # 4 batches an epoch: stops in epoch 3
    monkeypatch.setattr(pipeline, "stop_on_signals", stop_in_epoch_three)
    with pytest.raises(ImbrunError):
        run_experiment(cfg, tmp_path / "cut")
    (cut,) = (tmp_path / "cut").iterdir()
    monkeypatch.setattr(pipeline, "choose_strategy", lambda *args: pytest.fail("piloted again on --resume"))
    monkeypatch.setattr(pipeline, "stop_on_signals", contextmanager(lambda: (yield None)))
    resumed = resume_experiment(cut)
    assert resumed.read_json("balance.json")["auto"]["chosen"] == whole.read_json("balance.json")["auto"]["chosen"]
    assert resumed.read_json("metrics.json")["test"] == whole.read_json("metrics.json")["test"]


def test_train_prints_the_pilot_table_and_the_choice(tmp_path, no_figures):
    csv = write_blobs_csv(tmp_path / "blobs.csv", counts=(80, 20, 8))
    config = tmp_path / "auto.yaml"
    config.write_text(yaml.safe_dump(tiny_config(csv, balance={"kind": "auto"},
                                                 train={"epochs": 3, "batch_size": 16, "lr": 0.01})))
    result = CliRunner().invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "balance auto: pilot (validation macro_f1)" in out and "rung 1 (1 ep)" in out and "rung 2 (3 ep)" in out
    assert "auto chose " in out and "highest validation macro_f1 at rung 2 (3 epochs)" in out
    assert "not piloted: smote: class 'c2' has 4 training rows: SMOTE's k_neighbors=5 needs at least 6" in out
    quiet = CliRunner().invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert quiet.exit_code == 0 and quiet.output.count("\n") == 1 and quiet.output.startswith("run: ")


def test_the_pilot_table_marks_reused_pilots():
    from rich.console import Console

    from imbrun.cli_output import pilot_table

    pilot = {"label": "none", "status": "completed", "score": 0.5}
    auto = {"metric": "gmean", "chosen": "none", "candidates": [{"label": "none", "included": True}],
            "rungs": [{"epochs": 2, "pilots": [pilot]}, {"epochs": 6, "pilots": [{**pilot, "reused": True}]}]}
    console = Console(width=120, record=True)
    console.print(pilot_table(auto))
    text = console.export_text()
    assert "0.5000 reused" in text and "reused: early stopping had ended that pilot before" in text
    auto["rungs"][1]["pilots"][0].pop("reused")
    console = Console(width=120, record=True)
    console.print(pilot_table(auto))
    assert "reused" not in console.export_text()
