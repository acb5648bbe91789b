"""The statistics of `imbrun compare`, wired to run folders: paired tests, seed groups and class buckets.

The numbers themselves come from `imbrun.stats`; this module aligns rows, groups runs and shapes rows of
plain data for the renderers.
"""

from __future__ import annotations

import numpy as np

from imbrun.compare import OVERALL_KEYS, CompareOptions, RunSummary, flatten
from imbrun.errors import ImbrunError
from imbrun.stats import bucket_classes, mcnemar_exact, paired_bootstrap, seed_group_summary, welch_groups

BUCKETS = ("many", "medium", "few")


def aligned_predictions(base: RunSummary, other: RunSummary):
    """(y_true, pred_base, pred_other) on the same test rows, aligned by row_id; refuses different test sets."""
    reason = different_rows_reason(base, other)
    if reason is not None:
        raise ImbrunError(reason)
    ids_a, true_a, pred_a = base.predictions()
    ids_b, true_b, pred_b = other.predictions()
    order_a, order_b = np.argsort(ids_a, kind="stable"), np.argsort(ids_b, kind="stable")
    if not np.array_equal(ids_a[order_a], ids_b[order_b]):
        raise ImbrunError(f"compare: {base.path} and {other.path}: predictions.csv row_ids differ although "
                          "their test fingerprints match")
    if not np.array_equal(true_a[order_a], true_b[order_b]):
        row = ids_a[order_a][np.flatnonzero(true_a[order_a] != true_b[order_b])[0]]
        raise ImbrunError(f"compare: {base.path} and {other.path} disagree on the true class of row_id {row}")
    return true_a[order_a], pred_a[order_a], pred_b[order_b]


def different_rows_reason(base: RunSummary, other: RunSummary) -> str | None:
    """One line saying why two runs cannot be paired, or None when they were scored on the same test rows."""
    fingerprints = base.metrics.get("test_fingerprint"), other.metrics.get("test_fingerprint")
    if None not in fingerprints and fingerprints[0] == fingerprints[1]:
        return None
    shown = [f[:12] if f else "missing" for f in fingerprints]
    return (f"compare: {base.path} and {other.path} were scored on different test rows "
            f"(test_fingerprint {shown[0]} vs {shown[1]})")


def paired_statistics(runs: list[RunSummary], options: CompareOptions) -> dict:
    """McNemar and paired bootstrap intervals (run - baseline) for every run against the first one.

    options.paired None tests only the runs scored on the baseline's test rows and lists the others in
    "skipped" with the reason; options.paired True refuses (ImbrunError) when any run cannot be paired.
    """
    base, classes = runs[0], runs[0].metrics["class_names"]
    mcnemar_rows, interval_rows, skipped = [], [], []
    for run in runs[1:]:
        reason = different_rows_reason(base, run)
        if reason is not None:
            if options.paired:
                raise ImbrunError(reason + "; pass --no-paired to compare the stored metrics only")
            skipped.append(reason.removeprefix("compare: "))
            continue
        y, pred_base, pred_run = aligned_predictions(base, run)
        test = mcnemar_exact(y, pred_base, pred_run)
        mcnemar_rows.append({"run": run.name, "baseline": base.name, "rows": len(y), "base_right_run_wrong": test.b,
                             "base_wrong_run_right": test.c, "pvalue": test.pvalue,
                             "significant": test.pvalue < 1 - options.level})
        cis = paired_bootstrap(y, pred_base, pred_run, len(classes), n_resamples=options.resamples,
                               seed=options.seed, level=options.level)
        for key, ci in cis.items():
            metric = f"recall[{classes[int(key[7:-1])]}]" if key.startswith("recall[") else key
            interval_rows.append({"run": run.name, "metric": metric, "delta": ci.delta, "low": ci.low,
                                  "high": ci.high, "significant": ci.significant, "n_valid": ci.n_valid})
    settings = {"resamples": options.resamples, "seed": options.seed, "level": options.level}
    return {"settings": settings, "mcnemar": mcnemar_rows, "intervals": interval_rows, "skipped": skipped}


def is_seed_key(dotted: str) -> bool:
    """Keys that only pick random streams: any key whose last part contains 'seed'."""
    return "seed" in dotted.rsplit(".", 1)[-1].lower()


def group_key(run: RunSummary) -> str:
    """The config without seed keys and without the run name: runs with equal keys differ only in seeds."""
    flat = flatten(run.config)
    return repr(sorted((k, repr(v)) for k, v in flat.items() if not is_seed_key(k) and k != "name"))


def group_runs(runs: list[RunSummary]) -> list[list[RunSummary]]:
    """Runs grouped by group_key, groups in order of first appearance (the baseline's group first)."""
    groups: dict[str, list[RunSummary]] = {}
    for run in runs:
        groups.setdefault(group_key(run), []).append(run)
    return list(groups.values())


def run_scores(run: RunSummary) -> dict[str, float]:
    """Overall scores plus f1[class] and recall[class] of one run's test split."""
    test = run.metrics["test"]
    scores = {k: test["overall"][k] for k in OVERALL_KEYS}
    for name, values in test["per_class"].items():
        scores[f"f1[{name}]"] = values["f1"]
        scores[f"recall[{name}]"] = values["recall"]
    return scores


def seed_groups(runs: list[RunSummary], options: CompareOptions) -> dict | None:
    """Mean, std and t interval per metric of each seed group; Welch p-values of each group vs the first.

    None unless some group holds at least two runs (otherwise there is nothing to average).
    """
    groups = group_runs(runs)
    if max(len(g) for g in groups) < 2:
        return None
    labels = [f"G{i + 1} {g[0].strategy}" for i, g in enumerate(groups)]
    scores = [[run_scores(r) for r in g] for g in groups]
    summary_rows, test_rows = [], []
    for label, group, group_scores in zip(labels, groups, scores):
        for metric in group_scores[0]:
            s = seed_group_summary([sc[metric] for sc in group_scores], level=options.level)
            summary_rows.append({"group": label, "metric": metric, "n": s.n, "mean": s.mean, "std": s.std,
                                 "ci_low": s.ci_low, "ci_high": s.ci_high})
    for label, group_scores in zip(labels[1:], scores[1:]):
        if len(scores[0]) < 2 or len(group_scores) < 2:
            continue
        for metric in group_scores[0]:
            p = welch_groups([sc[metric] for sc in scores[0]], [sc[metric] for sc in group_scores])
            delta = np.mean([sc[metric] for sc in group_scores]) - np.mean([sc[metric] for sc in scores[0]])
            test_rows.append({"group": label, "baseline_group": labels[0], "metric": metric,
                              "delta_mean": float(delta), "pvalue": p, "significant": p < 1 - options.level})
    members = {label: [r.name for r in g] for label, g in zip(labels, groups)}
    return {"level": options.level, "members": members, "summary": summary_rows, "welch": test_rows}


def bucket_recalls(runs: list[RunSummary], options: CompareOptions) -> dict | None:
    """Classes bucketed many / medium / few by the baseline's training counts; mean recall per bucket and run."""
    counts = runs[0].train_counts()
    classes = runs[0].metrics["class_names"]
    if counts is None:
        return None
    missing = [c for c in classes if c not in counts]
    if missing:
        raise ImbrunError(f"{runs[0].path / 'balance.json'}: class_counts.train has no count for class {missing[0]!r}")
    buckets = bucket_classes([int(counts[c]) for c in classes], many=options.many, few=options.few)
    rows = []
    for run in runs:
        per_class = run.metrics["test"]["per_class"]
        for bucket in BUCKETS:
            members = [c for c, b in zip(classes, buckets) if b == bucket]
            if members:
                rows.append({"run": run.name, "bucket": bucket, "classes": len(members),
                             "mean_recall": float(np.mean([per_class[c]["recall"] for c in members]))})
    return {"thresholds": {"many": options.many, "few": options.few},
            "classes": {c: {"bucket": b, "train_count": int(counts[c])} for c, b in zip(classes, buckets)},
            "rows": rows}
