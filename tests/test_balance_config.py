"""The `balance` section: one strategy or a list, with nonsensical combinations refused with a reason."""

import pytest

from imbrun.compare import RunSummary
from imbrun.config import validate_config
from imbrun.config.balance import strategy_label
from imbrun.errors import ImbrunError


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


@pytest.mark.parametrize("balance", [
    [{"kind": "smote"}, {"kind": "weighted_sampler"}, {"kind": "focal"}, {"kind": "threshold"}],
    [{"kind": "undersample"}, {"kind": "cascade"}, {"kind": "class_weight"}],
    [{"kind": "crt"}, {"kind": "threshold"}, {"kind": "ldam_drw"}],
    [{"kind": "logit_adjust", "posthoc": True}, {"kind": "weighted_sampler"}],
])
def test_one_strategy_per_role_combines(balance):
    assert len(_validate(balance).balance) == len(balance)


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
