"""Class/sample weights and the imbalance-aware losses, checked against hand computations."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight

from imbrun.balance.losses import (BalancedSoftmaxLoss, FocalLoss, LDAMLoss, LogitAdjustedLoss,
                                   WeightedCrossEntropy)
from imbrun.balance.weights import class_weights, ldam_margins, log_priors, sampling_weights
from imbrun.errors import ImbrunError

torch.set_num_threads(1)

# Rows of known probabilities: logits = log p, so softmax(logits) == p exactly (rows sum to 1).
PROBS = [[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]
LOGITS = torch.log(torch.tensor(PROBS))  # (3, 3)
TARGETS = torch.tensor([0, 1, 0])  # p_y = 0.5, 0.8, 0.2


# ---- class weights -------------------------------------------------------------------------------

def test_inverse_equals_sklearn_balanced():
    y = np.array([0] * 7 + [1] * 2 + [2] * 1)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(class_weights([7, 2, 1], "inverse"), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(class_weights([90, 10]), [100 / 180, 100 / 20], rtol=0, atol=1e-15)


def test_sqrt_inverse_is_normalised_to_n_samples():
    # sqrt counts 30, 10, 5 (sum 45); w_k = 1025 / (sqrt(n_k) * 45)
    w = class_weights([900, 100, 25], "sqrt_inverse")
    np.testing.assert_allclose(w, [1025 / 1350, 1025 / 450, 1025 / 225], rtol=1e-15)
    assert float(w @ [900, 100, 25]) == pytest.approx(1025, abs=1e-9)


def test_effective_number_matches_hand_values():
    # (1 - 0.999) / (1 - 0.999**n) for n = 5000, 500, 50, rescaled to sum 3 (computed with 30-digit Decimal)
    w = class_weights([5000, 500, 50], "effective_number", beta=0.999)
    np.testing.assert_allclose(w, [0.1256288627951652, 0.3170168249737595, 2.557354312231075], rtol=1e-12)


def test_manual_by_index_and_by_name_missing_get_one():
    names = ["normal", "afib", "other"]
    np.testing.assert_array_equal(class_weights([5, 3, 2], "manual", manual={1: 4.0}), [1.0, 4.0, 1.0])
    got = class_weights([5, 3, 2], "manual", manual={"other": 2.5, 0: 0.5}, class_names=names)
    np.testing.assert_array_equal(got, [0.5, 1.0, 2.5])


@pytest.mark.parametrize("kwargs, message", [
    (dict(manual={"afb": 2.0}, class_names=["normal", "afib"]),
     "manual class weights: unknown class name 'afb'; known class names: 'normal', 'afib'"),
    (dict(manual={"afib": 2.0}),
     "manual class weights: unknown class name 'afib'; known class names: none (use indices)"),
    (dict(manual={2: 2.0}),
     "manual class weights: unknown class index 2; known indices: 0..1"),
    (dict(manual={2: 2.0}, class_names=["4", "9"]),  # 2 is neither an index nor a name: no hint
     "manual class weights: unknown class index 2; known indices: 0..1"),
    (dict(manual={4: 10.0, 9: 1.0}, class_names=["4", "9"]),  # YAML `weights: {4: 10, 9: 1}` on digits 4 and 9
     "manual class weights: unknown class index 4; known indices: 0..1; '4' is a class name: quote it "
     "('4': 10) to refer to the class by name"),
    (dict(manual={1: 10.0}, class_names=["1", "2"]),  # index 1 is class '2', yet '1' names class 0: no guess
     "manual class weights: key 1 is ambiguous: class '2' has index 1, and '1' is another class's name; quote it "
     "('1') for the name, or give every key as a quoted class name"),
    (dict(manual={1: -1.0}),
     "manual class weights: value for class 1 must be a number >= 0, got -1.0"),
    (dict(manual={1: 2.0, "afib": 3.0}, class_names=["normal", "afib"]),
     "manual class weights: class 'afib' (index 1) is given twice"),
])
def test_manual_errors(kwargs, message):
    with pytest.raises(ImbrunError) as err:
        class_weights([5, 3], "manual", **kwargs)
    assert str(err.value) == message


def test_empty_class_and_unknown_scheme_errors():
    with pytest.raises(ImbrunError) as err:
        class_weights([5, 0, 3], class_names=["a", "b", "c"])
    assert str(err.value) == ("class 'b' (index 1) has 0 training samples; "
                              "every class needs at least one to be weighted")
    with pytest.raises(ImbrunError) as err:
        class_weights([5, 3], "inverse_sqrt")
    assert str(err.value) == ("unknown class weight scheme 'inverse_sqrt'; "
                              "known: inverse, sqrt_inverse, effective_number, manual")


# ---- sampling weights ----------------------------------------------------------------------------

LABELS = np.array([0] * 900 + [1] * 90 + [2] * 10)


def _realised_shares(weights: np.ndarray, draws: int = 30_000) -> np.ndarray:
    """Class frequencies of `draws` with-replacement draws from a seeded generator."""
    gen = torch.Generator().manual_seed(0)
    idx = torch.multinomial(torch.as_tensor(weights), draws, replacement=True, generator=gen).numpy()
    return np.bincount(LABELS[idx], minlength=3) / draws


@pytest.mark.parametrize("scheme, target, expected", [
    ("inverse", None, [1 / 3, 1 / 3, 1 / 3]),
    ("sqrt_inverse", None, np.sqrt([900, 90, 10]) / np.sqrt([900, 90, 10]).sum()),
    ("target", {0: 5, 1: 3, 2: 2}, [0.5, 0.3, 0.2]),
])
def test_sampling_weights_give_target_distribution(scheme, target, expected):
    w = sampling_weights(LABELS, scheme, target)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    # exact expected draw probability per class, and realised shares within 0.015 (> 5 standard errors)
    np.testing.assert_allclose(np.bincount(LABELS, weights=w), expected, rtol=1e-12)
    np.testing.assert_allclose(_realised_shares(w), expected, atol=0.015)


def test_sampling_target_errors():
    with pytest.raises(ImbrunError) as err:
        sampling_weights(LABELS, "target", {"a": 1, 2: 1}, class_names=["a", "b", "c"])
    assert str(err.value) == "sampling target: no share given for class 'b' (index 1)"
    with pytest.raises(ImbrunError) as err:
        sampling_weights(np.array([0, 0, 2]), "target", {0: 1, 1: 1, 2: 1})
    assert str(err.value) == "sampling target: class index 1 has share 1.0 but no samples to draw"
    with pytest.raises(ImbrunError) as err:
        sampling_weights(np.array([0, 1, 1]), "target", {0: 0.5, 9: 0.5}, class_names=["4", "9"])
    assert str(err.value) == ("sampling target: unknown class index 9; known indices: 0..1; '9' is a class name: "
                              "quote it ('9': 0.5) to refer to the class by name")


def test_quoted_numeric_class_names_weight_by_name():
    got = class_weights([5, 3], "manual", manual={"4": 10.0, "9": 1.0}, class_names=["4", "9"])
    np.testing.assert_array_equal(got, [10.0, 1.0])


# ---- LDAM margins and priors ---------------------------------------------------------------------

def test_ldam_margins_scale_as_n_to_minus_quarter():
    # 10000**-0.25 = 0.1, 16**-0.25 = 0.5, 1**-0.25 = 1; largest scaled to max_m
    np.testing.assert_allclose(ldam_margins([10000, 16, 1], max_m=0.5), [0.05, 0.25, 0.5], rtol=1e-15)
    np.testing.assert_allclose(ldam_margins([10000, 16, 1], max_m=1.0), [0.1, 0.5, 1.0], rtol=1e-15)


def test_log_priors():
    np.testing.assert_allclose(log_priors([75, 25]), [math.log(0.75), math.log(0.25)], rtol=1e-15)


# ---- losses --------------------------------------------------------------------------------------

def test_weighted_cross_entropy_is_weighted_mean():
    loss = WeightedCrossEntropy([1.0, 2.0, 3.0])(LOGITS, TARGETS)
    expected = (1 * -math.log(0.5) + 2 * -math.log(0.8) + 1 * -math.log(0.2)) / (1 + 2 + 1)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    unweighted = F.cross_entropy(LOGITS, TARGETS).item()
    assert WeightedCrossEntropy()(LOGITS, TARGETS).item() == pytest.approx(unweighted, abs=1e-7)


def test_focal_gamma_zero_is_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(6, 4, generator=gen), torch.tensor([0, 1, 2, 3, 3, 1])
    torch.testing.assert_close(FocalLoss(gamma=0.0)(logits, targets), F.cross_entropy(logits, targets))


def test_focal_gamma_two_by_hand():
    # -(1 - p)^2 log p for p = 0.5, 0.8, 0.2, averaged over 3 rows
    expected = (0.25 * math.log(2) + 0.04 * math.log(1.25) + 0.64 * math.log(5)) / 3
    assert FocalLoss(gamma=2.0)(LOGITS, TARGETS).item() == pytest.approx(expected, abs=1e-6)


def test_focal_per_class_alpha_weights_each_row_by_its_class():
    # targets 0, 1, 0 -> alpha 0.25, 0.5, 0.25; the mean still divides by 3 rows
    expected = (0.25 * 0.25 * math.log(2) + 0.5 * 0.04 * math.log(1.25) + 0.25 * 0.64 * math.log(5)) / 3
    loss = FocalLoss(gamma=2.0, alpha=[0.25, 0.5, 1.0])(LOGITS, TARGETS)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_focal_scalar_alpha_binary_and_refused_for_three_classes():
    logits = torch.log(torch.tensor([[0.5, 0.5], [0.2, 0.8]]))
    # class 0 gets 1 - alpha = 0.75, class 1 gets alpha = 0.25; p_y = 0.5, 0.8
    loss = FocalLoss(gamma=2.0, alpha=0.25)(logits, torch.tensor([0, 1]))
    expected = (0.75 * 0.25 * math.log(2) + 0.25 * 0.04 * math.log(1.25)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-7)
    with pytest.raises(ImbrunError) as err:
        FocalLoss(alpha=0.25)(LOGITS, TARGETS)
    assert str(err.value) == ("focal loss alpha 0.25 as a number is only defined for 2 classes, got 3; "
                              "give one alpha per class instead")
    with pytest.raises(ImbrunError) as err:
        FocalLoss(alpha=[0.2, 0.8], n_classes=3)
    assert str(err.value) == "focal loss alpha has 2 values for 3 classes"


def test_focal_gradients_finite_even_when_confident():
    logits = torch.tensor([[60.0, 0.0, 0.0], [0.0, 1.0, 2.0]], requires_grad=True)  # row 0 has p_y == 1.0
    for gamma in (0.5, 2.0):
        logits.grad = None
        FocalLoss(gamma=gamma, alpha=[1.0, 2.0, 3.0])(logits, torch.tensor([0, 2])).backward()
        assert torch.isfinite(logits.grad).all()


def test_ldam_equals_cross_entropy_on_shifted_scaled_logits():
    loss_fn = LDAMLoss([10000, 16, 1], max_m=0.5, s=2.0)  # margins 0.05, 0.25, 0.5
    logits, targets = torch.zeros(2, 3), torch.tensor([2, 0])
    # row 0: s * [0, 0, -0.5] = [0, 0, -1]; row 1: s * [-0.05, 0, 0] = [-0.1, 0, 0]
    expected = ((1 + math.log(2 + math.exp(-1))) + (0.1 + math.log(math.exp(-0.1) + 2))) / 2
    assert loss_fn(logits, targets).item() == pytest.approx(expected, abs=1e-6)


def test_ldam_deferred_reweighting_switches_exactly_at_drw_epoch():
    counts = [100, 10, 1]
    loss_fn = LDAMLoss(counts, s=1.0, drw_epoch=3, drw_beta=0.99)
    drw = torch.tensor(class_weights(counts, "effective_number", beta=0.99), dtype=torch.float32)
    seen = []
    for epoch in range(5):
        loss_fn.on_epoch_start(epoch)
        seen.append(loss_fn.weight.clone())
    for epoch in (0, 1, 2):
        torch.testing.assert_close(seen[epoch], torch.ones(3), rtol=0, atol=0)
    for epoch in (3, 4):
        torch.testing.assert_close(seen[epoch], drw, rtol=0, atol=0)
    # with DRW on, the loss is the weighted CE of the margin-adjusted logits (s = 1)
    logits, targets = torch.log(torch.tensor(PROBS)), TARGETS
    adjusted = logits - F.one_hot(targets, 3) * loss_fn.margins[targets][:, None]
    torch.testing.assert_close(loss_fn(logits, targets), F.cross_entropy(adjusted, targets, weight=drw))
    loss_fn.on_epoch_start(0)  # a restarted loop goes back to weight 1
    torch.testing.assert_close(loss_fn.weight, torch.ones(3), rtol=0, atol=0)


def test_ldam_without_drw_never_reweights_and_buffers_follow_the_module():
    loss_fn = LDAMLoss([100, 10, 1])
    loss_fn.on_epoch_start(1000)
    torch.testing.assert_close(loss_fn.weight, torch.ones(3), rtol=0, atol=0)
    assert set(loss_fn.state_dict()) == {"margins", "drw_weights", "weight"}
    assert loss_fn.double().margins.dtype == torch.float64


def test_logit_adjusted_shifts_by_tau_log_prior():
    counts, tau = [75, 25, 100], 0.5
    shift = tau * torch.log(torch.tensor([0.375, 0.125, 0.5]))
    expected = F.cross_entropy(LOGITS + shift, TARGETS)
    torch.testing.assert_close(LogitAdjustedLoss(counts, tau=tau)(LOGITS, TARGETS), expected)


def test_balanced_softmax_is_cross_entropy_on_log_count_shift():
    counts = [75, 25, 100]
    expected = F.cross_entropy(LOGITS + torch.log(torch.tensor([75.0, 25.0, 100.0])), TARGETS)
    torch.testing.assert_close(BalancedSoftmaxLoss(counts)(LOGITS, TARGETS), expected)
    # log n_k and log(n_k / n) differ by a constant per row, which softmax ignores
    torch.testing.assert_close(BalancedSoftmaxLoss(counts)(LOGITS, TARGETS),
                               LogitAdjustedLoss(counts, tau=1.0)(LOGITS, TARGETS))
