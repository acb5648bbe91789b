"""Which strategies of a `balance` list can combine: one strategy per role (roles, check_combination), and no pair
that makes no sense together (pair_problem), checked after the role check.

What the training code does decides the pairs (balance/__init__.py build_plan):
- an array strategy resamples first and every other strategy is fitted to the resampled labels, so a loss after
  `smote` corrects by the resampled counts: not twice (allowed, e.g. smote + class_weight with ratio 0.5);
- a sampler (weighted_sampler, and crt's second phase) leaves the labels the loss is fitted to as they are, so a
  loss or prediction offset that corrects by those counts, on batches the sampler has already re-balanced,
  corrects the class prior twice (Ren et al. 2020 report the over-correction for balanced softmax + a
  class-balanced sampler);
- an over-sampler and a sampler both raise the minority classes' share of training: one of them is redundant.
"""

# What each role means, for the message when two strategies of a list claim the same one.
ROLE_PHRASES = {
    "alone": "cannot be combined ('none' means no balancing)",
    "loss": "set the training loss",
    "sampler": "choose the training batches",
    "arrays": "resample the training arrays (for SMOTE then cleaning use smote_tomek or smote_enn)",
    "training": "change the training procedure",
    "prediction": "adjust the predictions after training",
}
_ARRAY_KINDS = ("oversample", "undersample", "smote", "borderline_smote", "adasyn", "tomek", "enn",
                "smote_tomek", "smote_enn")


def roles(item) -> tuple[str, ...]:
    """Where a strategy acts: loss, sampler, arrays, training (procedure), prediction; or alone (none)."""
    kind = item.kind
    if kind == "none":
        return ("alone",)
    if kind == "weighted_sampler":
        return ("sampler",)
    if kind in _ARRAY_KINDS:
        return ("arrays",)
    if kind == "logit_adjust" and item.posthoc:
        return ("loss", "prediction")  # plain CE is its loss
    if kind == "cascade":
        return ("training", "prediction")  # its prediction walks the stages
    if kind == "crt":
        return ("training", "sampler")  # it samples plainly, then class-balanced
    if kind == "threshold":
        return ("prediction",)
    return ("loss",)


def check_combination(items: list) -> list:
    """A list of strategies is valid when no two claim the same role (see ROLE_PHRASES) and no pair is refused by
    pair_problem (the class prior corrected twice, or two strategies doing the same job)."""
    if not items:
        raise ValueError("an empty list; give one strategy, e.g. {kind: none}, or several that combine")
    claimed: dict[str, str] = {}
    for item in items:
        for role in roles(item):
            if role == "alone" and len(items) > 1:
                raise ValueError(f"'none' {ROLE_PHRASES['alone']}; remove it or the other strategies")
            if role in claimed:
                raise ValueError(f"{claimed[role]!r} and {item.kind!r} both {ROLE_PHRASES[role]}; keep one of them")
            claimed[role] = item.kind
    problem = pair_problem(items)
    if problem is not None:
        raise ValueError(problem)
    return items


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
