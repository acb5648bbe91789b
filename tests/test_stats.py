"""imbrun.stats against hand-computed values and independent implementations (scipy, statsmodels, sklearn)."""

import doctest
import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from imbrun import stats, stats_groups, stats_paired
from imbrun.errors import ImbrunError


def _three_runs(n, n_classes, seed, class_p, acc_a, acc_b):
    """Seeded y_true plus two noisy predictions with per-row accuracies acc_a and acc_b."""
    rng = np.random.default_rng(seed)
    y = rng.choice(n_classes, size=n, p=class_p)
    preds = []
    for acc in (acc_a, acc_b):
        wrong = rng.random(n) > acc
        preds.append(np.where(wrong, rng.integers(0, n_classes, n), y))
    return y, preds[0], preds[1]


# ---- McNemar -------------------------------------------------------------------------------------

# 10 rows: both right on rows 0-1, A right/B wrong on row 2 (b=1), A wrong/B right on rows 3-8 (c=6),
# both wrong on row 9.
Y_TINY = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
A_TINY = [0, 1, 2, 1, 2, 0, 1, 2, 0, 2]
B_TINY = [0, 1, 0, 0, 1, 2, 0, 1, 2, 1]


def test_mcnemar_tiny_exact_counts_and_pvalue():
    result = stats.mcnemar_exact(Y_TINY, A_TINY, B_TINY)
    assert (result.b, result.c) == (1, 6)
    assert result.pvalue == pytest.approx(0.125, abs=1e-15)  # 2 * (C(7,0) + C(7,1)) / 2**7
    assert result.pvalue == pytest.approx(sps.binomtest(1, 7, 0.5).pvalue, rel=1e-12)
    table = [[2, 1], [6, 1]]  # rows: A right/wrong, columns: B right/wrong
    assert result.pvalue == pytest.approx(sm_mcnemar(table, exact=True).pvalue, rel=1e-12)


def test_mcnemar_no_discordant_pairs_and_balanced_pairs_give_one():
    assert stats.mcnemar_exact([0, 1, 1], [0, 1, 0], [0, 1, 0]) == stats.McNemarResult(b=0, c=0, pvalue=1.0)
    # b = c = 2: A right/B wrong on rows 0-1, A wrong/B right on rows 2-3.
    assert stats.mcnemar_exact([0, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]) == stats.McNemarResult(2, 2, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mcnemar_matches_scipy_and_statsmodels_on_seeded_runs(seed):
    y, a, b = _three_runs(300, 4, seed, [0.7, 0.2, 0.07, 0.03], 0.8, 0.85)
    result = stats.mcnemar_exact(y, a, b)
    a_right, b_right = a == y, b == y
    table = [[np.sum(a_right & b_right), np.sum(a_right & ~b_right)],
             [np.sum(~a_right & b_right), np.sum(~a_right & ~b_right)]]
    assert (result.b, result.c) == (table[0][1], table[1][0])
    assert result.pvalue == pytest.approx(sps.binomtest(result.b, result.b + result.c).pvalue, rel=1e-12)
    assert result.pvalue == pytest.approx(sm_mcnemar(table, exact=True).pvalue, rel=1e-12)


@pytest.mark.parametrize(
    ("y", "a", "b", "message"),
    [
        ([0, 1], [0, 1, 1], [0, 1], "y_true, pred_a and pred_b must have the same rows, got lengths [2, 3, 2]"),
        ([], [], [], "y_true, pred_a and pred_b: expected at least one test row, got 0"),
        ([[0, 1]], [[0, 1]], [[0, 1]], "y_true: expected a 1-D array of class codes, got shape (1, 2)"),
        ([0, 1], [0.5, 1.0], [0, 1], "pred_a: expected integer class codes, got dtype float64"),
        ([0, 1], [0, 1], ["a", "b"], "pred_b: expected integer class codes, got dtype <U1"),
    ],
)
def test_mcnemar_bad_input_one_line_error(y, a, b, message):
    with pytest.raises(ImbrunError) as err:
        stats.mcnemar_exact(y, a, b)
    assert str(err.value) == message


# ---- paired bootstrap: full-data deltas ----------------------------------------------------------

@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_bootstrap_full_data_deltas_match_sklearn_with_a_class_never_true():
    # Class 3 is never true but B predicts it: macro-F1 counts it as 0, balanced accuracy leaves it out.
    y, a, b = _three_runs(200, 3, 5, [0.8, 0.15, 0.05], 0.7, 0.8)
    b = b.copy()
    b[:7] = 3
    cis = stats.paired_bootstrap(y, a, b, 4, n_resamples=20)
    labels = list(range(4))

    def macro(pred):
        return f1_score(y, pred, average="macro", labels=labels, zero_division=0)

    assert cis["macro_f1"].delta == pytest.approx(macro(b) - macro(a), abs=1e-12)
    expected_bal = balanced_accuracy_score(y, b) - balanced_accuracy_score(y, a)
    assert cis["balanced_accuracy"].delta == pytest.approx(expected_bal, abs=1e-12)
    recall_delta = (recall_score(y, b, labels=labels, average=None, zero_division=0)
                    - recall_score(y, a, labels=labels, average=None, zero_division=0))
    for k in range(3):
        assert cis[f"recall[{k}]"].delta == pytest.approx(recall_delta[k], abs=1e-12)
    absent = cis["recall[3]"]
    assert math.isnan(absent.delta) and math.isnan(absent.low) and math.isnan(absent.high)
    assert (absent.significant, absent.n_valid) == (False, 0)
    assert sorted(cis) == ["balanced_accuracy", "macro_f1", "recall[0]", "recall[1]", "recall[2]", "recall[3]"]


def test_bootstrap_identical_runs_give_zero_interval():
    y, a, _ = _three_runs(100, 3, 9, [0.6, 0.3, 0.1], 0.8, 0.8)
    for ci in stats.paired_bootstrap(y, a, a, 3, n_resamples=50).values():
        assert (ci.delta, ci.low, ci.high, ci.significant) == (0.0, 0.0, 0.0, False)


def test_bootstrap_clearly_better_run_is_significant_and_reproducible():
    y, a, b = _three_runs(1000, 3, 3, [0.8, 0.15, 0.05], 0.6, 0.95)
    cis = stats.paired_bootstrap(y, a, b, 3, n_resamples=200, seed=7)
    assert cis["macro_f1"].significant and cis["macro_f1"].low > 0
    assert cis["macro_f1"].low <= cis["macro_f1"].delta <= cis["macro_f1"].high
    assert stats.paired_bootstrap(y, a, b, 3, n_resamples=200, seed=7) == cis
    assert stats.paired_bootstrap(y, a, b, 3, n_resamples=200, seed=8)["macro_f1"].low != cis["macro_f1"].low


# ---- paired bootstrap: slow reference loop with the same rng -------------------------------------

def _reference_bootstrap(y, a, b, n_classes, n_resamples, seed, level, draw):
    """Resample rows one resample at a time and score them with sklearn."""
    labels = list(range(n_classes))
    joint = (y * n_classes + a) * n_classes + b
    codes, counts = np.unique(joint, return_counts=True)
    rows_by_code = np.argsort(joint, kind="stable")  # rows grouped by code, in code order
    rng = np.random.default_rng(seed)
    deltas = {"macro_f1": [], "balanced_accuracy": [], **{f"recall[{k}]": [] for k in labels}}
    for _ in range(n_resamples):
        if draw == "multinomial":
            first_row = rows_by_code[np.cumsum(counts) - counts]  # one representative row per code
            rows = np.repeat(first_row, rng.multinomial(len(y), counts / len(y)))
        else:
            rows = rows_by_code[rng.integers(0, len(y), len(y))]
        yr, ar, br = y[rows], a[rows], b[rows]
        f1 = [f1_score(yr, p, average="macro", labels=labels, zero_division=0) for p in (ar, br)]
        deltas["macro_f1"].append(f1[1] - f1[0])
        deltas["balanced_accuracy"].append(balanced_accuracy_score(yr, br) - balanced_accuracy_score(yr, ar))
        rec = [recall_score(yr, p, labels=labels, average=None, zero_division=0) for p in (ar, br)]
        for k in labels:
            if np.any(yr == k):  # recall undefined -> resample dropped for this class
                deltas[f"recall[{k}]"].append(rec[1][k] - rec[0][k])
    return {key: (np.quantile(v, [(1 - level) / 2, (1 + level) / 2]), len(v)) for key, v in deltas.items()}


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize(
    ("n", "draw"),
    [(400, "multinomial"), (40, "indices")],  # 40 rows have more than n/4 distinct codes -> index draws
)
def test_bootstrap_matches_slow_reference_loop(n, draw):
    # Class 3 has one row, so most resamples miss it: its recall interval uses fewer resamples.
    y, a, b = _three_runs(n, 4, 11, [0.6, 0.3, 0.1, 0.0], 0.6, 0.7)
    y[0] = 3
    n_codes = len(np.unique((y * 4 + a) * 4 + b))
    assert (4 * n_codes > n) == (draw == "indices")  # each case exercises the draw it is named after
    cis = stats.paired_bootstrap(y, a, b, 4, n_resamples=40, seed=3, level=0.9)
    reference = _reference_bootstrap(y, a, b, 4, 40, 3, 0.9, draw)
    assert reference["recall[3]"][1] < 40
    for key, ((low, high), n_valid) in reference.items():
        ci = cis[key]
        assert ci.n_valid == n_valid, key
        assert (ci.low, ci.high) == (low, high), key  # same draws, same float operations: exact


# ---- paired bootstrap vs scipy.stats.bootstrap ---------------------------------------------------

def _macro_f1_delta(y, a, b):
    """Independent numpy macro-F1(B) - macro-F1(A) over 3 classes, for scipy.stats.bootstrap."""
    out = []
    for pred in (a, b):
        conf = np.bincount(y * 3 + pred, minlength=9).reshape(3, 3)
        denom = conf.sum(0) + conf.sum(1)
        out.append(np.mean(np.where(denom > 0, 2 * np.diag(conf) / np.maximum(denom, 1), 0.0)))
    return out[1] - out[0]


def _balanced_delta(y, a, b):
    out = []
    for pred in (a, b):
        conf = np.bincount(y * 3 + pred, minlength=9).reshape(3, 3)
        present = conf.sum(1) > 0
        out.append(np.mean(np.diag(conf)[present] / conf.sum(1)[present]))
    return out[1] - out[0]


@pytest.mark.parametrize(("key", "statistic"), [("macro_f1", _macro_f1_delta), ("balanced_accuracy", _balanced_delta)])
def test_bootstrap_interval_agrees_with_scipy_bootstrap(key, statistic):
    y, a, b = _three_runs(2000, 3, 21, [0.8, 0.15, 0.05], 0.8, 0.83)
    ours = stats.paired_bootstrap(y, a, b, 3, n_resamples=2000, seed=0)[key]
    theirs = sps.bootstrap((y, a, b), statistic, paired=True, vectorized=False, n_resamples=2000,
                           method="percentile", confidence_level=0.95, rng=np.random.default_rng(1))
    assert ours.delta == pytest.approx(statistic(y, a, b), abs=1e-12)
    assert ours.low == pytest.approx(theirs.confidence_interval.low, abs=0.01)
    assert ours.high == pytest.approx(theirs.confidence_interval.high, abs=0.01)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_classes": 2}, "pred_b: expected class codes in [0, 2), got 2 at row 3"),
        ({"n_classes": 0}, "n_classes: expected an integer >= 1, got 0"),
        ({"n_classes": 3, "n_resamples": 0}, "n_resamples: expected an integer >= 1, got 0"),
        ({"n_classes": 3, "level": 95}, "level: expected a confidence level strictly between 0 and 1, got 95"),
        ({"n_classes": 3, "level": "0.9"}, "level: expected a confidence level strictly between 0 and 1, got '0.9'"),
    ],
)
def test_bootstrap_bad_input_one_line_error(kwargs, message):
    with pytest.raises(ImbrunError) as err:
        stats.paired_bootstrap([0, 1, 1, 0], [0, 1, 0, 0], [0, 1, 1, 2], **kwargs)
    assert str(err.value) == message


# ---- seed groups ---------------------------------------------------------------------------------

def test_seed_group_summary_matches_hand_values_and_scipy_t_interval():
    values = [0.70, 0.72, 0.68, 0.71]
    summary = stats.seed_group_summary(values)
    assert (summary.mean, summary.n) == (pytest.approx(0.7025, abs=1e-15), 4)
    assert summary.std == pytest.approx(math.sqrt(0.000875 / 3), abs=1e-15)  # squared deviations sum to 0.000875
    low, high = sps.t.interval(0.95, 3, loc=np.mean(values), scale=sps.sem(values))
    assert (summary.ci_low, summary.ci_high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    low90, high90 = sps.t.interval(0.9, 3, loc=np.mean(values), scale=sps.sem(values))
    assert stats.seed_group_summary(values, level=0.9).ci_low == pytest.approx(low90, abs=1e-12)


def test_seed_group_summary_one_seed_and_constant_seeds():
    one = stats.seed_group_summary([0.5])
    assert (one.mean, one.n) == (0.5, 1) and all(math.isnan(x) for x in (one.std, one.ci_low, one.ci_high))
    assert stats.seed_group_summary([0.5, 0.5, 0.5]) == stats.GroupSummary(0.5, 0.0, 3, 0.5, 0.5)


def test_seed_group_summary_bad_values():
    with pytest.raises(ImbrunError, match=r"^values: expected finite numbers, got nan at position 1$"):
        stats.seed_group_summary([0.5, float("nan")])
    with pytest.raises(ImbrunError, match=r"^values: expected a non-empty list of numbers, got shape \(0,\)$"):
        stats.seed_group_summary([])


def test_welch_groups_matches_hand_value_and_scipy():
    # Means 2 and 5, variances 1 and 1, n 3 and 3: t = -3 / sqrt(2/3), Welch df = 4.
    expected = 2 * sps.t.sf(3 / math.sqrt(2 / 3), 4)
    assert stats.welch_groups([1, 2, 3], [4, 5, 6]) == pytest.approx(expected, rel=1e-12)
    a, b = [0.71, 0.69, 0.74, 0.70], [0.75, 0.78, 0.74]
    assert stats.welch_groups(a, b) == pytest.approx(sps.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-12)


def test_welch_groups_constant_groups_and_too_few_seeds():
    assert stats.welch_groups([0.7, 0.7], [0.7, 0.7, 0.7]) == 1.0
    assert stats.welch_groups([0.7, 0.7], [0.8, 0.8]) == 0.0
    with pytest.raises(ImbrunError, match=r"^b_values: Welch's t-test needs at least 2 seeds per group, got 1$"):
        stats.welch_groups([0.7, 0.71], [0.8])


# ---- class buckets and fingerprints --------------------------------------------------------------

def test_bucket_classes_default_and_custom_thresholds():
    assert stats.bucket_classes([500, 101, 100, 20, 19, 0]) == ["many", "many", "medium", "medium", "few", "few"]
    assert stats.bucket_classes([50, 10, 5], many=40, few=6) == ["many", "medium", "few"]
    with pytest.raises(ImbrunError, match=r"^bucket thresholds: expected few <= many, got few=50, many=10$"):
        stats.bucket_classes([1], many=10, few=50)
    with pytest.raises(ImbrunError, match=r"^train_counts\[1\]: expected a non-negative integer count, got -3$"):
        stats.bucket_classes([4, -3])


def test_test_fingerprint_exact_value_and_what_changes_it():
    fingerprint = stats.test_fingerprint(np.array([3, 1, 2]), np.array([0, 1, 1]))
    assert fingerprint == "e4cc2592ebde4f142129096403d165f41e2a3a4d8d766b3c9ae7343dbf0ef428"
    assert stats.test_fingerprint([1, 2, 3], [1, 1, 0]) == fingerprint  # same rows in another order
    assert stats.test_fingerprint([3, 1, 2], [0, 1, 2]) != fingerprint  # a label differs
    assert stats.test_fingerprint([3, 1, 4], [0, 1, 1]) != fingerprint  # a row differs
    assert stats.test_fingerprint([3, 1], [0, 1]) != fingerprint  # a row missing


def test_test_fingerprint_bad_input():
    with pytest.raises(ImbrunError, match=r"^row_ids: expected unique ids, got 2 more than once$"):
        stats.test_fingerprint([2, 1, 2], [0, 0, 1])
    with pytest.raises(ImbrunError, match=r"^row_ids and y_true must have the same rows, got 2 and 3$"):
        stats.test_fingerprint([1, 2], [0, 0, 1])


@pytest.mark.parametrize("module", [stats_paired, stats_groups])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert (result.failed, result.attempted > 0) == (0, True)
