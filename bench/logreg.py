#!/usr/bin/env python3
"""Benchmark: the tweet study's logistic-regression grid search, logreg
against scikit-learn's GridSearchCV on the same features, folds and grid, in
the same run.

Data: the Kaggle tweets (train.csv + test.csv) through `csvclean --preset
tweet`, split 70/15/15 with `stratsplit --seed 42 --subsample 40%` (the
study's FAST setting), TF-IDF from scikit-learn's TfidfVectorizer(ngram_range
(1,3), max_features 100000, min_df 2, max_df 0.95, sublinear_tf) fitted on
train. Grid: C 0.1,0.5,1,2,4,8 x class_weight none, balanced,
{negative:1.2, neutral:0.8, positive:1.2} x max_iter 2000,3000 x penalty
l1,l2 (72 candidates) on StratifiedKFold(5, shuffle=True, random_state=42)
folds, scored by macro-F1, best refitted on all train rows.

Timed end to end: `logreg --grid ... --folds ... --jobs N` as a process
(reading the vectors included) against GridSearchCV(n_jobs=N).fit on the
matrix already in memory. The scikit-learn estimator is liblinear's
one-vs-rest (tests/ref/logreg_ref.py LiblinearOvR: the _fit_liblinear call
LogisticRegression(solver='liblinear') made for multiclass up to 1.7).
Prints both times and their ratio, each side's chosen parameters and best CV
macro-F1, how far the 72 mean CV scores differ, and the val/test macro-F1 of
both refitted models.

usage: bench/logreg.py BIN_DIR SHARED_DIR [--jobs N] [--reps N]"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ref_dir = os.path.join(repo, "tests", "ref")
sys.path.insert(0, ref_dir)
# GridSearchCV's worker processes import the estimator's module too
os.environ["PYTHONPATH"] = ref_dir + os.pathsep + os.environ.get("PYTHONPATH", "")
from logreg_ref import SKLEARN_SEED, LiblinearOvR, write_vectors  # noqa: E402

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("shared")
ap.add_argument("--jobs", type=int, default=2)
ap.add_argument("--reps", type=int, default=1, help="runs of each side; the best time counts")
args = ap.parse_args()

EXPLICIT = {"negative": 1.2, "neutral": 0.8, "positive": 1.2}
GRID_SPEC = ("C=0.1,0.5,1,2,4,8;class_weight=none,balanced,{negative:1.2,neutral:0.8,positive:1.2};"
             "max_iter=2000,3000;penalty=l1,l2")
PARAM_GRID = {"C": [0.1, 0.5, 1, 2, 4, 8], "class_weight": [None, "balanced", EXPLICIT],
              "max_iter": [2000, 3000], "penalty": ["l1", "l2"]}


def read_records(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def cw_name(cw):
    if cw is None:
        return "none"
    if isinstance(cw, dict):
        return "{" + ",".join(f"{k}:{v:g}" for k, v in cw.items()) + "}"
    return cw


with tempfile.TemporaryDirectory() as tmp:
    tweets = os.path.join(args.shared, "datasets", "tweet_sentiment_extraction")
    clean = subprocess.run([os.path.join(args.bin, "csvclean"), "-q", "--preset", "tweet", "--id", "textID",
                            "--label", "sentiment", os.path.join(tweets, "train.csv"),
                            os.path.join(tweets, "test.csv")], check=True, capture_output=True).stdout
    subprocess.run([os.path.join(args.bin, "stratsplit"), "-q", "--ratios", "70/15/15", "--seed", "42",
                    "--subsample", "40%", "-d", os.path.join(tmp, "split")], input=clean, check=True)
    split = {s: read_records(os.path.join(tmp, "split", s + ".jsonl")) for s in ("train", "val", "test")}
    vec = TfidfVectorizer(ngram_range=(1, 3), max_features=100000, min_df=2, max_df=0.95, sublinear_tf=True)
    X = {"train": vec.fit_transform([r["text"] for r in split["train"]])}
    for s in ("val", "test"):
        X[s] = vec.transform([r["text"] for r in split[s]])
    for s in X:
        X[s].sort_indices()
    y = {s: np.array([r["label"] for r in split[s]]) for s in split}
    ids = [r["id"] for r in split["train"]]
    train_vec = os.path.join(tmp, "train.vec.jsonl")
    with open(train_vec, "w", encoding="utf-8") as f:
        write_vectors(f, ids, X["train"], y["train"])
    skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    fold_of = np.empty(len(ids), dtype=int)
    for k, (_, test) in enumerate(skf.split(X["train"], y["train"])):
        fold_of[test] = k
    folds_path = os.path.join(tmp, "folds.jsonl")
    with open(folds_path, "w", encoding="utf-8") as f:
        for i, k in zip(ids, fold_of):
            f.write(json.dumps({"id": i, "fold": int(k)}) + "\n")
    splits = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(5)]

    # ours
    model_dir, cv_csv = os.path.join(tmp, "model"), os.path.join(tmp, "cv.csv")
    cmd = [os.path.join(args.bin, "logreg"), "-m", model_dir, "--grid", GRID_SPEC, "--folds", folds_path,
           "--jobs", str(args.jobs), "--seed", str(SKLEARN_SEED), "--cv-out", cv_csv, train_vec]
    c_time = None
    for _ in range(args.reps):
        start = time.perf_counter()
        summary = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
        took = time.perf_counter() - start
        c_time = took if c_time is None else min(c_time, took)

    # scikit-learn
    py_time = None
    for _ in range(args.reps):
        gs = GridSearchCV(LiblinearOvR(random_state=0), PARAM_GRID, scoring="f1_macro", cv=splits,
                          n_jobs=args.jobs, refit=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            gs.fit(X["train"], y["train"])
            took = time.perf_counter() - start
        py_time = took if py_time is None else min(py_time, took)

    model = json.load(open(os.path.join(model_dir, "logreg.json"), encoding="utf-8"))
    labels = np.array(model["labels"])
    W = np.zeros((len(model["coef"]), model["dim"]))
    for k, v in enumerate(model["coef"]):
        W[k, v["idx"]] = v["val"]
    b = np.array(model["intercept"])

    def ours_predict(Xs):
        return labels[np.argmax(Xs @ W.T + b, axis=1)]

    import csv
    with open(cv_csv, encoding="utf-8") as f:
        ours_cv = list(csv.DictReader(f))
    ours_means = np.array([float(r["mean_score"]) for r in ours_cv])
    sk_means = gs.cv_results_["mean_test_score"]
    cv = model["cv"]

from importlib.metadata import version  # noqa: E402

n_train, dim = X["train"].shape
print(f"logreg grid search: {len(sk_means)} candidates x 5 folds on {n_train} train rows x {dim} features "
      f"(nnz {X['train'].nnz}), --jobs {args.jobs}, best of {args.reps} run(s), "
      f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
      f"scikit-learn {version('scikit-learn')}")
fits = re.search(r"\((\d+) fits\)", summary)
print(f"  logreg (C)                         {c_time:8.3f} s   ({fits.group(1) if fits else '?'} fits + the refit;"
      f" candidates differing only in max_iter share converged fits)")
print(f"  scikit-learn GridSearchCV          {py_time:8.3f} s   {py_time / c_time:6.1f}x slower")
bp = cv["best_params"]
print(f"  logreg chosen:  C={bp['C']} class_weight={cw_name(bp['class_weight'])} max_iter={bp['max_iter']} "
      f"penalty={bp['penalty']}  best CV macro-F1 {cv['best_score']:.6f}")
sp_ = gs.best_params_
print(f"  sklearn chosen: C={sp_['C']} class_weight={cw_name(sp_['class_weight'])} max_iter={sp_['max_iter']} "
      f"penalty={sp_['penalty']}  best CV macro-F1 {gs.best_score_:.6f}")
print(f"  mean CV macro-F1, largest difference over the {len(sk_means)} candidates: "
      f"{np.abs(ours_means - sk_means).max():.3g}")
for s in ("val", "test"):
    ours_f1 = f1_score(y[s], ours_predict(X[s]), average="macro")
    sk_f1 = f1_score(y[s], gs.best_estimator_.predict(X[s]), average="macro")
    print(f"  {s:<5} macro-F1 of the refitted best model: logreg {ours_f1:.6f}, scikit-learn {sk_f1:.6f}")
