"""`balance: {kind: auto}` against fixed strategies and scikit-learn / imbalanced-learn baselines, by 5-fold CV.

Run from the repository root: python bench/auto.py  (about 96 min on 2 cores with --workers 2 and the default
network, two thirds of it the auto variants on phoneme and mammography; --with FILE.json reuses the rows of an
earlier --out made with the same resolved network and training, e.g. the fixed strategies of a --no-auto run).
Tables (../shared/data/uci_imbalanced, not copied): pima, haberman, new-thyroid, yeast, phoneme, mammography
(ecoli is left out: two of its classes have 2 rows, too few for 5 stratified folds).

For every fold (imbrun's own stratified 5-fold split, seed 0: split.folds=5, split.fold=k, a validation share of
0.2 carved from the other folds):
  - imbrun with balance auto, and with each strategy any fold's shortlist holds (none and class_weight always):
    the same dense network and training for all (MODEL, TRAIN below; best epoch kept),
    through run_experiment (figures off);
    the best of these per table and metric is "best single (hindsight)";
  - LogisticRegression(class_weight="balanced") and imblearn's BalancedRandomForestClassifier (seed 0), trained on
    the same fold's training + validation rows (they need no validation split), standardised by imbrun's
    Preprocessor fitted on those rows.
All scored on the fold's test rows with imbrun.metrics (macro-F1 over all classes, G-mean over the classes present).
Goal: auto's mean over tables >= the best baseline's, on macro-F1 and on G-mean.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

TABLES = {
    "pima": {"path": "pima-indians-diabetes.csv", "header": False},
    "haberman": {"path": "haberman.csv", "header": False},
    "new-thyroid": {"path": "new-thyroid.csv", "header": False},
    "yeast": {"path": "yeast.data", "header": True, "sep": r"\s+", "label": "class", "drop": ["Sequence_Name"]},
    "phoneme": {"path": "phoneme.csv", "header": False},
    "mammography": {"path": "mammography.csv", "header": False, "quote": "'"},
}
FOLDS, SEED = 5, 0
# One network and training for every imbrun method: a 3 x 256 MLP, light regularisation, early stopping on the
# validation balanced accuracy (patience 50, best epoch kept). Until 2026-12-01 the bench used [128, 64] and early
# stopping on the validation loss (patience 30), which stopped phoneme's networks some 0.02 G-mean short: the loss
# rises (over-confidence) while the ranking still improves. BENCH_MODEL / BENCH_TRAIN (JSON) replace them.
MODEL = json.loads(os.environ.get("BENCH_MODEL", '{"kind": "dense", "hidden": [256, 256, 256], "dropout": 0.1}'))
TRAIN = json.loads(os.environ.get("BENCH_TRAIN", '{"batch_size": 64, "lr": 0.001, "weight_decay": 0.0001, '
                                                 '"early_stopping": {"monitor": "val_balanced_accuracy", '
                                                 '"patience": 50}}'))
BASELINES = ("logreg_balanced", "balanced_rf")


def experiment(table: str, data_dir: Path, fold: int, balance, epochs: int) -> dict:
    """The raw imbrun config of one fold; every imbrun method shares all but `balance`."""
    data = {"kind": "csv", **TABLES[table], "path": str(data_dir / TABLES[table]["path"])}
    return {"name": f"{table}-f{fold}", "seed": SEED, "data": data,
            "split": {"folds": FOLDS, "fold": fold, "val_size": 0.2},
            "preprocess": {"normalize": {"kind": "standard"}},
            "model": MODEL,
            "train": {**TRAIN, "epochs": epochs, "threads": 1},
            "balance": balance}


def resolved_network(epochs: int) -> dict:
    """The model and train sections every imbrun method runs with, defaults filled in: what --with compares, so that
    a file measured before a default changed (e.g. early_stopping.tie_break) is not mixed with a new run."""
    from imbrun.config import validate_config

    cfg = validate_config(experiment(next(iter(TABLES)), Path("."), 0, {"kind": "none"}, epochs))
    return {"model": cfg.model.model_dump(mode="json"), "train": cfg.train.model_dump(mode="json")}


def shortlisted_kinds(table: str, data_dir: Path, epochs: int) -> list[str]:
    """The union over folds of the strategies auto's shortlist pilots (measured on each fold's training split)."""
    from imbrun.balance.auto_candidates import measure, shortlist
    from imbrun.config import validate_config
    from imbrun.data import load_data
    from imbrun.data.split import split_data

    kinds: list[str] = []
    for fold in range(FOLDS):
        cfg = validate_config(experiment(table, data_dir, fold, {"kind": "none"}, epochs))
        data = load_data(cfg.data)
        train = split_data(data, cfg.split, cfg.seed).train
        for c in shortlist(measure(train.y, train.X, data.class_names)):
            if c.included and c.label not in kinds:
                kinds.append(c.label)
    return kinds


def imbrun_scores(raw: dict) -> dict:
    """Run one imbrun experiment (figures off) and read back its test scores and, for auto, its choice."""
    import imbrun.artifacts as artifacts
    import imbrun.calibration as calibration
    import imbrun.pipeline as pipeline
    from imbrun.config import validate_config

    for module, figure in ((pipeline, "curves_png"), (artifacts, "confusion_png"), (calibration, "reliability_png"),
                           (calibration, "pr_curves_png")):
        setattr(module, figure, lambda *args, **kwargs: None)  # PNGs cost ~2 s a run and are not measured here
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="imbrun-bench-auto-") as tmp:
        run = pipeline.run_experiment(validate_config(raw), tmp, use_cache=False)
        overall = run.read_json("metrics.json")["test"]["overall"]
        auto = run.read_json("balance.json").get("auto")
    chosen = None if auto is None else auto["chosen"] + ("+thr" if auto.get("thresholds_tuned") else "")
    return {"macro_f1": overall["macro_f1"], "gmean": overall["gmean"], "chosen": chosen,
            "seconds": time.perf_counter() - started}


def baseline_scores(raw: dict, method: str) -> dict:
    """A scikit-learn / imbalanced-learn baseline on the fold's training + validation rows, scored on its test rows."""
    from imblearn.ensemble import BalancedRandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from imbrun.config import validate_config
    from imbrun.data import load_data
    from imbrun.data.split import split_data
    from imbrun.metrics import confusion, summary
    from imbrun.preprocess import Preprocessor

    started = time.perf_counter()
    cfg = validate_config(raw)
    splits = split_data(load_data(cfg.data), cfg.split, cfg.seed)
    X_fit = np.concatenate([splits.train.X, splits.val.X])
    y_fit = np.concatenate([splits.train.y, splits.val.y])
    pre = Preprocessor(cfg.preprocess).fit(X_fit)
    model = LogisticRegression(class_weight="balanced", max_iter=2000) if method == "logreg_balanced" else \
        BalancedRandomForestClassifier(random_state=SEED, n_jobs=1)
    model.fit(pre.transform(X_fit), y_fit)
    pred = model.predict(pre.transform(splits.test.X))
    overall = summary(confusion(splits.test.y, pred, len(splits.class_names)))
    return {"macro_f1": overall["macro_f1"], "gmean": overall["gmean"], "chosen": None,
            "seconds": time.perf_counter() - started}


def run_job(job: tuple) -> dict:
    table, fold, method, raw = job
    import torch

    torch.set_num_threads(1)
    scores = baseline_scores(raw, method) if method in BASELINES else imbrun_scores(raw)
    return {"table": table, "fold": fold, "method": method, **scores}


def summarise(rows: list[dict], tables: list[str]) -> dict:
    """Per table and method: fold means; the hindsight best single strategy per metric; means over tables."""
    by: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        by.setdefault((row["table"], row["method"]), []).append(row)
    means = {key: {m: float(np.mean([r[m] for r in group])) for m in ("macro_f1", "gmean")}
             for key, group in by.items()}
    out: dict = {}
    for table in tables:
        methods = {method: means[(t, method)] for (t, method) in means if t == table}
        singles = {m: v for m, v in methods.items() if m not in BASELINES and not m.startswith("auto")}
        best = {metric: max(singles, key=lambda m: singles[m][metric]) for metric in ("macro_f1", "gmean")}
        out[table] = {"methods": methods, "hindsight": {metric: {"strategy": best[metric],
                                                                 "score": singles[best[metric]][metric]}
                                                        for metric in best},
                      "auto_choices": {a: [r["chosen"] for r in sorted(by[(table, a)], key=lambda r: r["fold"])]
                                       for a in ("auto", "auto:gmean") if (table, a) in by}}
    return out


def print_report(summary: dict, seconds: float) -> None:
    shown = [m for m in ("auto", "auto:gmean", "none", "class_weight")
             if all(m in s["methods"] for s in summary.values())]  # --only / --no-auto may leave some out
    autos = [m for m in shown if m.startswith("auto")]
    columns = [*shown, "hindsight", *BASELINES]
    print("\nmean over 5 folds: macro-F1 / G-mean\n")
    print("| table | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    totals: dict[str, dict[str, list[float]]] = {c: {"macro_f1": [], "gmean": []} for c in columns}
    for table, s in summary.items():
        cells = []
        for column in columns:
            if column == "hindsight":
                values = {m: s["hindsight"][m]["score"] for m in ("macro_f1", "gmean")}
                label = f" ({s['hindsight']['macro_f1']['strategy']} / {s['hindsight']['gmean']['strategy']})"
            else:
                values, label = s["methods"][column], ""
            for metric in values:
                totals[column][metric].append(values[metric])
            cells.append(f"{values['macro_f1']:.3f} / {values['gmean']:.3f}{label}")
        print(f"| {table} | " + " | ".join(cells) + " |")
    mean = {c: {m: float(np.mean(v)) for m, v in totals[c].items()} for c in columns}
    print("| **mean** | " + " | ".join(f"**{mean[c]['macro_f1']:.3f} / {mean[c]['gmean']:.3f}**" for c in columns)
          + " |")
    print("\nauto's choices per fold (+thr: tuned thresholds kept):")
    for table, s in summary.items():
        for variant, choices in s["auto_choices"].items():
            print(f"  {table:<12} {variant:<11} {', '.join(choices)}")
    goal = {m: max(mean[b][m] for b in BASELINES) for m in ("macro_f1", "gmean")}
    for variant in autos:
        for metric in ("macro_f1", "gmean"):
            verdict = "meets" if mean[variant][metric] >= goal[metric] else "misses"
            print(f"goal on {metric}: {variant} {mean[variant][metric]:.4f} vs best baseline {goal[metric]:.4f} "
                  f"-> {verdict}")
    print(f"wall time {seconds / 60:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/uci_imbalanced"))
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--epochs", type=int, default=200, help="most training epochs of every imbrun run")
    parser.add_argument("--workers", type=int, default=2, help="folds trained at once (one torch thread each)")
    parser.add_argument("--auto", default="{}", help="extra balance auto options as JSON, e.g. '{\"eta\": 2}'")
    parser.add_argument("--only", nargs="*", help="fixed strategies to run (default: the shortlist)")
    parser.add_argument("--no-auto", action="store_true", help="only the fixed strategies and the baselines")
    parser.add_argument("--out", type=Path, help="also write every fold's scores and the summary as JSON")
    parser.add_argument("--with", dest="earlier", type=Path,
                        help="an earlier --out of the same tables, network and training: its methods are not run "
                             "again, their rows join this run's report")
    args = parser.parse_args()
    if not args.data_dir.is_dir():
        raise SystemExit(f"{args.data_dir}: not found (pass --data-dir)")
    started = time.perf_counter()
    network, earlier = resolved_network(args.epochs), []
    if args.earlier:
        saved = json.loads(args.earlier.read_text())
        if saved.get("network") != network:
            raise SystemExit(f"{args.earlier}: measured with another network, training, --epochs or imbrun defaults; "
                             "run it again")
        earlier = saved["rows"]
    done = {(row["table"], row["fold"], row["method"]) for row in earlier}
    jobs = []
    for table in args.tables:
        kinds = shortlisted_kinds(table, args.data_dir, args.epochs)
        print(f"{table}: strategies shortlisted on some fold: {', '.join(kinds)}", flush=True)
        auto = {"kind": "auto", **json.loads(args.auto)}
        autos = [] if args.no_auto else [("auto", auto), ("auto:gmean", {**auto, "metric": "gmean"})]
        methods = autos + [(k, {"kind": k}) for k in kinds
                                                                           if not args.only or k in args.only]
        for fold in range(FOLDS):
            for method, balance in methods:
                jobs.append((table, fold, method, experiment(table, args.data_dir, fold, balance, args.epochs)))
            for method in BASELINES:
                jobs.append((table, fold, method, experiment(table, args.data_dir, fold, {"kind": "none"}, args.epochs)))
    jobs = [job for job in jobs if job[:3] not in done]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = [row for row in earlier if row["table"] in args.tables]
        for row in pool.map(run_job, jobs):
            rows.append(row)
            print(f"  {row['table']:<12} fold {row['fold']} {row['method']:<16} macro-F1 {row['macro_f1']:.3f} "
                  f"G-mean {row['gmean']:.3f} {row['seconds']:6.1f} s" + (f"  chose {row['chosen']}"
                                                                            if row["chosen"] else ""), flush=True)
    summary = summarise(rows, args.tables)
    print_report(summary, time.perf_counter() - started)
    if args.out:
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                        "network": network, "rows": rows,
                                        "summary": summary}, indent=1) + "\n")


if __name__ == "__main__":
    main()
