"""Config loading: defaults, exact one-line-per-problem errors with did-you-mean, YAML failures, --set overrides."""

import typing

import pytest

from imbrun.config import Experiment, apply_overrides, load_config, validate_config
from imbrun.errors import ImbrunError

DATA = {"kind": "csv", "path": "a.csv"}
TOP_KEYS = "name, seed, data, split, preprocess, model, balance, train, tracking"
TRAIN_KEYS = ("epochs, batch_size, lr, optimizer, weight_decay, momentum, grad_clip, early_stopping, device, "
              "init_seed, shuffle_seed, threads, eval_batch_size")


def error_of(raw: dict) -> str:
    """The full message validate_config raises for `raw` (source named exp.yaml)."""
    with pytest.raises(ImbrunError) as info:
        validate_config(raw, source="exp.yaml")
    assert info.value.exit_code == 2
    return str(info.value)


def write(tmp_path, text: str, name: str = "exp.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---- valid configs ----------------------------------------------------------------------------------

def test_minimal_config_fills_every_default():
    cfg = validate_config({"data": DATA})
    assert isinstance(cfg, Experiment)
    assert cfg.model_dump() == {
        "name": "run", "seed": 0,
        "data": {"kind": "csv", "path": "a.csv", "test_path": None, "header": "auto", "sep": ",", "quote": '"',
                 "label": -1, "features": None, "drop": [], "categorical": "auto",
                 "missing": ["", "?", "NaN", "nan", "NA"], "sequence": None},
        "split": {"test_size": 0.2, "val_size": 0.1, "stratify": True, "seed": None, "group_by": None,
                  "folds": None, "fold": 0},
        "preprocess": {"interpolate": None, "impute": "mean",
                       "normalize": {"kind": "none", "factor": 1.0, "per": "feature"}},
        "model": {"kind": "dense", "hidden": [128, 64], "dropout": 0.0, "activation": "relu", "batch_norm": False},
        "balance": {"kind": "none"},
        "train": {"epochs": 20, "batch_size": 64, "lr": 0.001, "optimizer": "adam", "weight_decay": 0.0,
                  "momentum": 0.9, "grad_clip": None, "early_stopping": None, "device": "auto", "init_seed": None,
                  "shuffle_seed": None, "threads": None, "eval_batch_size": 4096},
        "tracking": {"mlflow": None, "tensorboard": None},
    }


def test_union_member_is_chosen_by_kind_and_keeps_its_own_defaults():
    cfg = validate_config({"data": DATA, "model": {"kind": "lstm", "hidden_size": 16}})
    assert cfg.model.model_dump() == {"kind": "lstm", "cell": "lstm", "hidden_size": 16, "num_layers": 1,
                                      "bidirectional": False, "hidden": [], "dropout": 0.0, "activation": "relu"}


def test_load_config_reads_yaml_file(tmp_path):
    path = write(tmp_path, "name: quick-1\ndata: {kind: csv, path: d.csv, label: class}\ntrain: {lr: 0.01}\n")
    cfg = load_config(path)
    assert (cfg.name, cfg.data.path, cfg.data.label, cfg.train.lr) == ("quick-1", "d.csv", "class", 0.01)


# ---- unknown keys and kinds ---------------------------------------------------------------------------

def test_unknown_top_level_key_suggests_the_close_one():
    assert error_of({"data": DATA, "trian": {}}) == (
        f"exp.yaml: trian: unknown key (did you mean 'train'?); known keys: {TOP_KEYS}")


def test_unknown_nested_key_suggests_the_close_one():
    assert error_of({"data": DATA, "train": {"lrr": 1}}) == (
        f"exp.yaml: train.lrr: unknown key (did you mean 'lr'?); known keys: {TRAIN_KEYS}")


def test_unknown_key_two_levels_deep():
    assert error_of({"data": DATA, "train": {"early_stopping": {"patiense": 2}}}) == (
        "exp.yaml: train.early_stopping.patiense: unknown key (did you mean 'patience'?); "
        "known keys: monitor, patience, min_delta, tie_break")


def test_unknown_key_without_a_close_match_lists_known_keys_only():
    assert error_of({"data": DATA, "train": {"zzz": 1}}) == (
        f"exp.yaml: train.zzz: unknown key; known keys: {TRAIN_KEYS}")


def test_unknown_key_in_a_union_member_lists_that_members_keys():
    assert error_of({"data": DATA, "model": {"kind": "dense", "hiddn": [8]}}) == (
        "exp.yaml: model.hiddn: unknown key (did you mean 'hidden'?); "
        "known keys: kind, hidden, dropout, activation, batch_norm")
    assert error_of({"data": DATA, "model": {"kind": "lstm", "hiden_size": 3}}) == (
        "exp.yaml: model.hiden_size: unknown key (did you mean 'hidden_size'?); "
        "known keys: kind, cell, hidden_size, num_layers, bidirectional, hidden, dropout, activation")


def test_unknown_key_inside_the_data_sequence_block():
    assert error_of({"data": {**DATA, "sequence": {"chanels": 2}}}) == (
        "exp.yaml: data.sequence.chanels: unknown key (did you mean 'channels'?); known keys: channels, layout")


def test_union_section_without_kind_lists_the_kinds():
    assert error_of({"data": DATA, "model": {"hiddn": [8]}}) == (
        "exp.yaml: model: missing key 'kind'; expected one of: dense, cnn1d, lstm")


def test_unknown_kind_suggests_and_lists_expected_kinds():
    assert error_of({"data": DATA, "model": {"kind": "dens"}}) == (
        "exp.yaml: model: unknown kind 'dens' (did you mean 'dense'?); expected one of: dense, cnn1d, lstm")
    assert error_of({"data": {"kind": "cvs", "path": "a.csv"}}) == (
        f"exp.yaml: data: unknown kind 'cvs' (did you mean 'csv'?); expected one of: {data_kinds()}")
    assert error_of({"data": DATA, "model": {"kind": "transformer"}}) == (
        "exp.yaml: model: unknown kind 'transformer'; expected one of: dense, cnn1d, lstm")


def data_kinds() -> str:
    """The registered data kinds in schema order (the list grows as loaders are added; csv is first)."""
    annotation = Experiment.model_fields["data"].annotation  # the Union (pydantic strips Annotated)
    members = typing.get_args(annotation) or (annotation,)
    kinds = [m.model_fields["kind"].default for m in members]
    assert kinds[0] == "csv"
    return ", ".join(kinds)


# ---- missing and wrong values ---------------------------------------------------------------------------

def test_missing_data_section():
    assert error_of({}) == "exp.yaml: data: required key is missing"


def test_missing_data_path():
    assert error_of({"data": {"kind": "csv"}}) == "exp.yaml: data.path: required key is missing"


def test_wrong_type_names_the_value():
    assert error_of({"data": DATA, "train": {"lr": "fast"}}) == (
        "exp.yaml: train.lr: Input should be a valid number, unable to parse string as a number (got 'fast')")


def test_wrong_type_inside_a_list_names_the_index():
    assert error_of({"data": DATA, "model": {"kind": "dense", "hidden": [8, "a"]}}) == (
        "exp.yaml: model.hidden.1: Input should be a valid integer, unable to parse string as an integer (got 'a')")


def test_cross_field_rule_of_a_section():
    assert error_of({"data": DATA, "split": {"test_size": 0.6, "val_size": 0.5}}) == (
        "exp.yaml: split: test_size + val_size must be < 1, got 0.6 + 0.5")


def test_several_errors_are_reported_at_once_one_line_each_in_order():
    raw = {"data": {"kind": "csv"}, "train": {"lr": "fast", "epochs": 0}, "modle": {}}
    assert error_of(raw).splitlines() == [
        "exp.yaml: data.path: required key is missing",
        "exp.yaml: train.epochs: Input should be greater than or equal to 1 (got 0)",
        "exp.yaml: train.lr: Input should be a valid number, unable to parse string as a number (got 'fast')",
        f"exp.yaml: modle: unknown key (did you mean 'model'?); known keys: {TOP_KEYS}",
    ]


@pytest.mark.parametrize("name", ["ok", "run_1.a-b", "A9"])
def test_safe_run_names_are_accepted(name):
    assert validate_config({"data": DATA, "name": name}).name == name


@pytest.mark.parametrize("name", ["../x", "a/b", "a..b", ".hidden", ""])
def test_run_name_that_could_leave_the_runs_folder_is_rejected(name):
    with pytest.raises(ImbrunError, match=r"^exp\.yaml: name: must be letters, digits"):
        validate_config({"data": DATA, "name": name}, source="exp.yaml")


def test_run_name_error_names_the_value_once():
    assert error_of({"data": DATA, "name": "../x"}) == (
        "exp.yaml: name: must be letters, digits, '.', '_' or '-' (no '/', no '..') (got '../x')")


# ---- YAML files ------------------------------------------------------------------------------------------

def test_yaml_that_is_a_list_is_rejected(tmp_path):
    path = write(tmp_path, "- a\n- b\n")
    with pytest.raises(ImbrunError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}: expected a mapping of sections (data:, model:, ...) at the top level, "
                               "got list")


def test_yaml_that_is_a_scalar_is_rejected(tmp_path):
    path = write(tmp_path, "just text\n")
    with pytest.raises(ImbrunError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}: expected a mapping of sections (data:, model:, ...) at the top level, "
                               "got str")


def test_invalid_yaml_names_line_and_column(tmp_path):
    path = write(tmp_path, "data: {kind: csv, path: a.csv}\ntrain:\n  lr: 1\n   epochs: 2\n")
    with pytest.raises(ImbrunError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:4:10: invalid YAML: mapping values are not allowed here"


def test_unclosed_bracket_names_where_the_stream_ended(tmp_path):
    path = write(tmp_path, "data:\n  kind: csv\n  path: [a\n")
    with pytest.raises(ImbrunError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:4:1: invalid YAML: expected ',' or ']', but got '<stream end>'"


def test_empty_yaml_file_reports_the_missing_data_section(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(ImbrunError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: data: required key is missing"


def test_config_file_not_found(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ImbrunError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: config file not found"


def test_errors_name_the_file(tmp_path):
    path = write(tmp_path, "data: {kind: csv, path: a.csv}\ntrain: {lr: fast}\n")
    with pytest.raises(ImbrunError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: train.lr: Input should be a valid number, unable to parse string as a number (got 'fast')")


# ---- --set overrides -----------------------------------------------------------------------------------

BASE = {"data": DATA, "model": {"kind": "dense", "hidden": [4, 2], "dropout": 0.2}}


def test_override_value_is_parsed_as_yaml():
    raw = apply_overrides(BASE, ["train.lr=0.0003", "seed=7", "train.grad_clip=null", "data.label=class"])
    assert raw["train"] == {"lr": 0.0003, "grad_clip": None}
    assert type(raw["train"]["lr"]) is float
    assert (raw["seed"], raw["data"]["label"]) == (7, "class")


def test_override_does_not_modify_its_input():
    apply_overrides(BASE, ["model.hidden.0=8", "train.lr=0.5"])
    assert BASE == {"data": DATA, "model": {"kind": "dense", "hidden": [4, 2], "dropout": 0.2}}


def test_override_creates_nested_keys():
    raw = apply_overrides(BASE, ["train.early_stopping.patience=3", "a.b.c=[1, 2]"])
    assert raw["train"] == {"early_stopping": {"patience": 3}}
    assert raw["a"] == {"b": {"c": [1, 2]}}


def test_override_list_index():
    assert apply_overrides(BASE, ["model.hidden.0=8"])["model"]["hidden"] == [8, 2]
    assert apply_overrides(BASE, ["model.hidden.-1=16"])["model"]["hidden"] == [4, 16]


def test_override_value_may_contain_equals_signs():
    assert apply_overrides(BASE, ["name=a=b"])["name"] == "a=b"


def test_changing_kind_resets_the_section():
    assert apply_overrides(BASE, ["model.kind=lstm"])["model"] == {"kind": "lstm"}
    assert apply_overrides(BASE, ["model.kind=lstm", "model.hidden_size=16"])["model"] == {
        "kind": "lstm", "hidden_size": 16}


def test_setting_the_same_kind_keeps_the_section():
    assert apply_overrides(BASE, ["model.kind=dense"])["model"] == BASE["model"]


def test_kind_override_validates_with_the_new_sections_defaults(tmp_path):
    path = write(tmp_path, "data: {kind: csv, path: a.csv}\nmodel: {kind: dense, hidden: [4], batch_norm: true}\n")
    cfg = load_config(path, ["model.kind=lstm", "train.lr=0.0003"])
    assert cfg.model.kind == "lstm" and cfg.model.hidden == [] and cfg.train.lr == 0.0003


def test_override_scientific_notation_still_validates_as_float(tmp_path):
    # YAML 1.1 reads "1e-3" (no dot) as a string; pydantic's lax mode then parses it to the float.
    path = write(tmp_path, "data: {kind: csv, path: a.csv}\n")
    assert load_config(path, ["train.lr=1e-3"]).train.lr == 0.001


@pytest.mark.parametrize("item", ["trainlr", "=3", " =3"])
def test_override_without_key_or_equals_is_rejected(item):
    with pytest.raises(ImbrunError) as info:
        apply_overrides(BASE, [item])
    assert str(info.value) == f"--set {item!r}: expected KEY=VALUE, e.g. --set train.lr=0.0003"


def test_override_bad_list_index_is_rejected():
    with pytest.raises(ImbrunError) as info:
        apply_overrides(BASE, ["model.hidden.5=1"])
    assert str(info.value) == "--set 'model.hidden.5=1': '5' is not an index of a list of 2 items"
    with pytest.raises(ImbrunError) as info:
        apply_overrides(BASE, ["model.hidden.x=1"])
    assert str(info.value) == "--set 'model.hidden.x=1': 'x' is not an index of a list of 2 items"


def test_override_through_a_list_item_that_is_a_value_is_rejected():
    with pytest.raises(ImbrunError, match=r"^--set 'model\.hidden\.0\.x=1': "):
        apply_overrides(BASE, ["model.hidden.0.x=1"])


def test_override_errors_are_reported_by_validation_with_the_source(tmp_path):
    path = write(tmp_path, "data: {kind: csv, path: a.csv}\n")
    with pytest.raises(ImbrunError) as info:
        load_config(path, ["train.lrr=0.1"])
    assert str(info.value) == f"{path}: train.lrr: unknown key (did you mean 'lr'?); known keys: {TRAIN_KEYS}"
