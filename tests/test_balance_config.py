"""The `balance` section: one strategy or a list, with nonsensical combinations refused with a reason."""

from pathlib import Path

import pytest

from imbrun.compare import RunSummary
from imbrun.config import load_config, validate_config
from imbrun.config.balance import strategy_label
from imbrun.errors import ImbrunError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _validate(balance):
    return validate_config({"data": {"kind": "csv", "path": "x.csv"}, "balance": balance})


def test_a_single_mapping_stays_valid_and_dumps_as_a_mapping():
    cfg = _validate({"kind": "focal", "gamma": 1.5, "alpha": "class_weight", "alpha_scheme": "effective_number"})
    assert cfg.balance.kind == "focal" and cfg.balance.alpha_scheme == "effective_number"
    assert cfg.model_dump(mode="json")["balance"] == {"kind": "focal", "gamma": 1.5, "alpha": "class_weight",
                                                      "alpha_scheme": "effective_number", "beta": 0.999}
    assert strategy_label(cfg.balance) == "focal"


def test_a_list_combines_and_round_trips_through_the_dump():
    cfg = _validate([{"kind": "weighted_sampler"}, {"kind": "focal", "gamma": 2}])
    assert [item.kind for item in cfg.balance] == ["weighted_sampler", "focal"]
    again = validate_config(cfg.model_dump(mode="json"))
    assert again == cfg
    assert strategy_label(cfg.balance) == "weighted_sampler+focal"


@pytest.mark.parametrize("balance, message", [
    ([{"kind": "class_weight"}, {"kind": "focal"}],
     "'class_weight' and 'focal' both set the training loss; keep one of them"),
    ([{"kind": "weighted_sampler"}, {"kind": "weighted_sampler", "scheme": "sqrt_inverse"}],
     "'weighted_sampler' and 'weighted_sampler' both choose the training batches; keep one of them"),
    ([{"kind": "crt"}, {"kind": "weighted_sampler"}],
     "'crt' and 'weighted_sampler' both choose the training batches; keep one of them"),
    ([{"kind": "smote"}, {"kind": "tomek"}],
     "'smote' and 'tomek' both resample the training arrays (for SMOTE then cleaning use smote_tomek or "
     "smote_enn); keep one of them"),
    ([{"kind": "cascade"}, {"kind": "crt"}],
     "'cascade' and 'crt' both change the training procedure; keep one of them"),
    ([{"kind": "cascade"}, {"kind": "threshold"}],
     "'cascade' and 'threshold' both adjust the predictions after training; keep one of them"),
    ([{"kind": "logit_adjust", "posthoc": True}, {"kind": "threshold"}],
     "'logit_adjust' and 'threshold' both adjust the predictions after training; keep one of them"),
    ([{"kind": "logit_adjust", "posthoc": True}, {"kind": "focal"}],
     "'logit_adjust' and 'focal' both set the training loss; keep one of them"),
    ([{"kind": "none"}, {"kind": "focal"}],
     "'none' cannot be combined ('none' means no balancing); remove it or the other strategies"),
    ([], "an empty list; give one strategy, e.g. {kind: none}, or several that combine"),
])
def test_nonsensical_combinations_are_refused_with_a_reason(balance, message):
    with pytest.raises(ImbrunError) as err:
        _validate(balance)
    assert str(err.value) == f"<config>: balance: {message}"


TWICE = ", both by the same training class counts, so the class prior is corrected twice; "


@pytest.mark.parametrize("balance, message", [
    ([{"kind": "weighted_sampler"}, {"kind": "class_weight"}],
     "'weighted_sampler' draws re-balanced batches and 'class_weight' (scheme inverse) weights the loss" + TWICE
     + "keep one of them"),
    ([{"kind": "class_weight", "scheme": "effective_number"}, {"kind": "weighted_sampler", "scheme": "sqrt_inverse"}],
     "'weighted_sampler' draws re-balanced batches and 'class_weight' (scheme effective_number) weights the loss"
     + TWICE + "keep one of them"),
    ([{"kind": "weighted_sampler"}, {"kind": "focal", "alpha": "class_weight"}],
     "'weighted_sampler' draws re-balanced batches and 'focal' with alpha: class_weight weights the loss" + TWICE
     + "drop focal's alpha (focal with gamma only combines with a sampler) or drop weighted_sampler"),
    ([{"kind": "weighted_sampler"}, {"kind": "balanced_softmax"}],
     "'weighted_sampler' draws re-balanced batches and 'balanced_softmax' shifts the logits by log n_k" + TWICE
     + "keep one of them"),
    ([{"kind": "weighted_sampler", "scheme": "target", "target": {0: 1, 1: 1}}, {"kind": "logit_adjust"}],
     "'weighted_sampler' draws re-balanced batches and 'logit_adjust' shifts the logits by tau log prior" + TWICE
     + "keep one of them"),
    ([{"kind": "logit_adjust", "posthoc": True}, {"kind": "weighted_sampler"}],
     "'weighted_sampler' draws re-balanced batches and 'logit_adjust' (posthoc) shifts the predictions by -tau "
     "log prior" + TWICE + "keep one of them"),
    ([{"kind": "weighted_sampler"}, {"kind": "ldam_drw", "drw_epoch": 3}],
     "'weighted_sampler' draws re-balanced batches and 'ldam_drw' re-weights the loss from drw_epoch 3 on" + TWICE
     + "leave ldam_drw's drw_epoch unset (its margins alone combine with a sampler) or drop weighted_sampler"),
    ([{"kind": "crt"}, {"kind": "class_weight", "scheme": "sqrt_inverse"}],
     "'crt' re-trains the head on class-balanced batches and 'class_weight' (scheme sqrt_inverse) weights the loss"
     + TWICE + "keep one of them"),
    ([{"kind": "crt"}, {"kind": "balanced_softmax"}],
     "'crt' re-trains the head on class-balanced batches and 'balanced_softmax' shifts the logits by log n_k"
     + TWICE + "keep one of them"),
    ([{"kind": "crt"}, {"kind": "ldam_drw", "drw_epoch": 5}],
     "'crt' re-trains the head on class-balanced batches and 'ldam_drw' re-weights the loss from drw_epoch 5 on"
     + TWICE + "leave ldam_drw's drw_epoch unset (its margins alone combine with a sampler) or drop crt"),
    ([{"kind": "smote"}, {"kind": "weighted_sampler"}, {"kind": "focal"}, {"kind": "threshold"}],
     "'smote' adds minority rows to the training arrays and 'weighted_sampler' draws re-balanced batches: both "
     "raise the minority classes' share, so one is redundant; keep one of them (weighted_sampler combines with "
     "the cleaning methods tomek and enn)"),
    ([{"kind": "weighted_sampler"}, {"kind": "oversample", "ratio": 0.5}],
     "'oversample' adds minority rows to the training arrays and 'weighted_sampler' draws re-balanced batches: "
     "both raise the minority classes' share, so one is redundant; keep one of them (weighted_sampler combines "
     "with the cleaning methods tomek and enn)"),
    ([{"kind": "smote_enn"}, {"kind": "crt"}],
     "'smote_enn' adds minority rows to the training arrays and 'crt' re-trains the head on class-balanced "
     "batches: both raise the minority classes' share, so one is redundant; keep one of them (crt combines with "
     "the cleaning methods tomek and enn)"),
])
def test_pairs_that_correct_the_prior_twice_or_do_one_job_twice_are_refused(balance, message):
    with pytest.raises(ImbrunError) as err:
        _validate(balance)
    assert str(err.value) == f"<config>: balance: {message}"


def test_a_refused_pair_among_auto_candidates_names_the_candidate():
    with pytest.raises(ImbrunError) as err:
        _validate({"kind": "auto", "candidates": ["none", ["weighted_sampler", "balanced_softmax"]]})
    assert str(err.value) == ("<config>: balance.candidates.1: 'weighted_sampler' draws re-balanced batches and "
                              "'balanced_softmax' shifts the logits by log n_k" + TWICE + "keep one of them")


@pytest.mark.parametrize("balance", [
    [{"kind": "weighted_sampler", "scheme": "sqrt_inverse"}, {"kind": "focal", "gamma": 2.0}],  # the ECG seed
    [{"kind": "weighted_sampler"}, {"kind": "focal", "alpha": [0.25, 0.75]}],  # the user's own alpha
    [{"kind": "weighted_sampler"}, {"kind": "ldam_drw"}],  # LDAM margins without re-weighting (LDAM-RS)
    [{"kind": "weighted_sampler"}, {"kind": "class_weight", "scheme": "manual", "weights": {1: 3}}],  # costs
    [{"kind": "weighted_sampler"}, {"kind": "threshold"}],
    [{"kind": "tomek"}, {"kind": "weighted_sampler"}, {"kind": "focal"}, {"kind": "threshold"}],
    [{"kind": "enn"}, {"kind": "weighted_sampler"}],
    [{"kind": "undersample"}, {"kind": "weighted_sampler"}],
    # array strategies resample first and the loss is fitted to the resampled counts: not corrected twice
    [{"kind": "smote"}, {"kind": "focal"}],
    [{"kind": "smote", "ratio": 0.5}, {"kind": "class_weight"}, {"kind": "threshold"}],
    [{"kind": "oversample"}, {"kind": "logit_adjust", "posthoc": True}],
    [{"kind": "undersample"}, {"kind": "cascade"}, {"kind": "class_weight"}],
    [{"kind": "enn"}, {"kind": "balanced_softmax"}],
    [{"kind": "crt"}, {"kind": "threshold"}, {"kind": "ldam_drw"}],
    [{"kind": "crt"}, {"kind": "focal", "gamma": 1.0}],
    [{"kind": "cascade"}, {"kind": "weighted_sampler"}, {"kind": "focal"}],
    [{"kind": "logit_adjust", "posthoc": True}, {"kind": "tomek"}],
])
def test_sensible_combinations_are_accepted(balance):
    assert [item.kind for item in _validate(balance).balance] == [item["kind"] for item in balance]


def test_every_shipped_config_still_validates():
    configs = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith("sweep_"))  # sweeps: test_sweep
    labels = {path.name: strategy_label(load_config(path).balance) for path in configs}
    assert len(labels) == 10
    assert labels["ecg_cnn1d.yaml"] == labels["ecg_kaggle_csv.yaml"] == "weighted_sampler+focal"


def test_errors_inside_one_strategy_keep_their_path_and_suggest_keys():
    with pytest.raises(ImbrunError) as err:
        _validate({"kind": "smote", "k_neighbour": 3})
    assert str(err.value).startswith("<config>: balance.k_neighbour: unknown key (did you mean 'k_neighbors'?); "
                                     "known keys: ratio, counts, seed, kind, k_neighbors")
    with pytest.raises(ImbrunError) as err:
        _validate({"kind": "fcoal"})
    assert str(err.value).startswith("<config>: balance: unknown kind 'fcoal' (did you mean 'focal'?)")


def test_compare_shows_a_list_as_joined_kinds():
    def summary(balance):
        return RunSummary("r", None, {"balance": balance}, {})
    assert summary([{"kind": "weighted_sampler"}, {"kind": "focal"}]).strategy == "weighted_sampler+focal"
    assert summary({"kind": "smote"}).strategy == "smote"
