"""Strategies that each take a different role but make no sense together: check_combination (balance.py) asks
pair_problem for the reason, after the one-strategy-per-role check.

What the training code does decides it (balance/__init__.py build_plan):
- an array strategy resamples first and every other strategy is fitted to the resampled labels, so a loss after
  `smote` corrects by the resampled counts: not twice (allowed, e.g. smote + class_weight with ratio 0.5);
- a sampler (weighted_sampler, and crt's second phase) leaves the labels the loss is fitted to as they are, so a
  loss or prediction offset that corrects by those counts, on batches the sampler has already re-balanced,
  corrects the class prior twice (Ren et al. 2020 report the over-correction for balanced softmax + a
  class-balanced sampler);
- an over-sampler and a sampler both raise the minority classes' share of training: one of them is redundant.
"""

OVERSAMPLERS = ("oversample", "smote", "borderline_smote", "adasyn", "smote_tomek", "smote_enn")
SAMPLERS = {"weighted_sampler": "'weighted_sampler' draws re-balanced batches",
            "crt": "'crt' re-trains the head on class-balanced batches"}


def prior_correction(item) -> tuple[str, str] | None:
    """(what it does, the fix to suggest) when `item` corrects by the training class counts, else None.

    Manual class weights and a manual focal alpha are the user's own costs, not derived from the counts.
    """
    kind = item.kind
    if kind == "class_weight" and item.scheme != "manual":
        return f"'class_weight' (scheme {item.scheme}) weights the loss", "keep one of them"
    if kind == "focal" and item.alpha == "class_weight":
        return ("'focal' with alpha: class_weight weights the loss",
                "drop focal's alpha (focal with gamma only combines with a sampler) or drop {sampler}")
    if kind == "balanced_softmax":
        return "'balanced_softmax' shifts the logits by log n_k", "keep one of them"
    if kind == "logit_adjust":
        if item.posthoc:
            return "'logit_adjust' (posthoc) shifts the predictions by -tau log prior", "keep one of them"
        return "'logit_adjust' shifts the logits by tau log prior", "keep one of them"
    if kind == "ldam_drw" and item.drw_epoch is not None:
        return (f"'ldam_drw' re-weights the loss from drw_epoch {item.drw_epoch} on",
                "leave ldam_drw's drw_epoch unset (its margins alone combine with a sampler) or drop {sampler}")
    return None


def pair_problem(items: list) -> str | None:
    """Why a list (one strategy per role) is refused, or None when it combines."""
    sampler = next((item for item in items if item.kind in SAMPLERS), None)
    if sampler is None:
        return None
    for item in items:
        if item.kind in OVERSAMPLERS:
            return (f"{item.kind!r} adds minority rows to the training arrays and {SAMPLERS[sampler.kind]}: both raise "
                    f"the minority classes' share, so one is redundant; keep one of them "
                    f"({sampler.kind} combines with the cleaning methods tomek and enn)")
        prior = prior_correction(item)
        if prior is not None:
            does, fix = prior
            return (f"{SAMPLERS[sampler.kind]} and {does}, both by the same training class counts, so the class "
                    f"prior is corrected twice; {fix.format(sampler=sampler.kind)}")
    return None
