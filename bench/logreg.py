#!/usr/bin/env python3
"""Benchmark: the tweet study's logistic-regression grid search, and the
baseline end to end (TF-IDF fit + apply, then the grid search), logreg
against scikit-learn in the same run.

Data: the Kaggle tweets (train.csv + test.csv) through `csvclean --preset
tweet`, split 70/15/15 with `stratsplit --seed 42 --subsample 40%` (the
study's FAST setting). Grid: C 0.1,0.5,1,2,4,8 x class_weight none, balanced,
{negative:1.2, neutral:0.8, positive:1.2} x max_iter 2000,3000 x penalty
l1,l2 (72 candidates), 5 folds, scored by macro-F1, the best refitted on all
train rows. The scikit-learn estimator is liblinear's one-vs-rest
(tests/ref/logreg_ref.py LiblinearOvR: the _fit_liblinear call
LogisticRegression(solver='liblinear') made for multiclass up to 1.7), in
GridSearchCV(n_jobs=N) on the matrix already in memory; logreg runs as a
process (reading the vectors included) with --jobs N, once with --exact
(every fit scikit-learn's) and once in its default fast mode (warm starts
along C and across class weights, the L1 stall rule, the solvers' fast
arithmetic; see man/logreg.1). Both sides get the same features, folds (passed
to logreg with --folds) and liblinear seed, twice:

A. scikit-learn's TfidfVectorizer(ngram_range (1,3), max_features 100000,
   min_df 2, max_df 0.95, sublinear_tf) features, StratifiedKFold(5,
   shuffle=True, random_state=42) folds, random_state=0.
B. the study's own run: tfidf's features (the same to 1 ulp), the folds
   `logreg --cv 5 --seed 42` draws (written with --folds-out) and liblinear
   seed 42. On these folds a few L1 fits never meet liblinear's tolerance and
   run to max_iter, in scikit-learn as in `logreg --exact`
   (bench/logreg_convergence.py shows it fold by fold).

For each: the times and ratios, each side's chosen parameters and best CV
macro-F1, how far the 72 mean CV scores are from scikit-learn's, the
candidates not converged, and the val/test macro-F1 of the refitted models.
Then end to end: `tfidf fit` on train + `tfidf apply` on val and test
(records in, vector records out, as files) + the logreg search, against
TfidfVectorizer fit_transform + transform (texts already in a Python list) +
the GridSearchCV search of the same part.

The machine's load average is printed at the start and the end: the times
are wall-clock times on whatever else the machine was running.

usage: bench/logreg.py BIN_DIR SHARED_DIR [--jobs N] [--reps N] [--keep DIR]"""
import argparse
import contextlib
import csv
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import warnings

from timing import best_of  # bench/timing.py, beside this script

import numpy as np

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ref_dir = os.path.join(repo, "tests", "ref")
sys.path.insert(0, ref_dir)
# GridSearchCV's worker processes import the estimator's module too
os.environ["PYTHONPATH"] = ref_dir + os.pathsep + os.environ.get("PYTHONPATH", "")
from logreg_ref import SKLEARN_SEED, LiblinearOvR, LiblinearSeed, read_vectors, write_vectors  # noqa: E402

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("shared")
ap.add_argument("--jobs", type=int, default=2)
ap.add_argument("--reps", type=int, default=1, help="runs of each side; the best time counts")
ap.add_argument("--keep", metavar="DIR", help="work in DIR (created) and leave the inputs there, for profiling")
args = ap.parse_args()

EXPLICIT = {"negative": 1.2, "neutral": 0.8, "positive": 1.2}
GRID_SPEC = ("C=0.1,0.5,1,2,4,8;class_weight=none,balanced,{negative:1.2,neutral:0.8,positive:1.2};"
             "max_iter=2000,3000;penalty=l1,l2")
PARAM_GRID = {"C": [0.1, 0.5, 1, 2, 4, 8], "class_weight": [None, "balanced", EXPLICIT],
              "max_iter": [2000, 3000], "penalty": ["l1", "l2"]}
TFIDF_OPTS = ["--ngram", "1,3", "--max-features", "100000", "--min-df", "2", "--max-df", "0.95", "--sublinear-tf"]
SK_TFIDF = dict(ngram_range=(1, 3), max_features=100000, min_df=2, max_df=0.95, sublinear_tf=True)
load_start = os.getloadavg()


def read_records(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def cw_name(cw):
    if cw is None:
        return "none"
    if isinstance(cw, dict):
        return "{" + ",".join(f"{k}:{v:g}" for k, v in cw.items()) + "}"
    return cw




def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stderr


def logreg(tmp, name, vectors, folds, seed, exact):
    """runs the grid search; returns (seconds, summary, model, CV rows)"""
    model_dir, cv_csv = os.path.join(tmp, name), os.path.join(tmp, name + ".cv.csv")
    cmd = [os.path.join(args.bin, "logreg"), "-m", model_dir, "--grid", GRID_SPEC, "--folds", folds,
           "--jobs", str(args.jobs), "--seed", str(seed), "--cv-out", cv_csv, vectors]
    if exact:
        cmd.insert(1, "--exact")
    took, summary = best_of(lambda: run(cmd), args.reps)
    model = json.load(open(os.path.join(model_dir, "logreg.json"), encoding="utf-8"))
    with open(cv_csv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return took, summary, model, rows


def read_folds(path, ids):
    fold_by_id = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            fold_by_id[r["id"]] = r["fold"]
    fold_of = np.array([fold_by_id[i] for i in ids])
    return [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(fold_of.max() + 1)]


def compare(tmp, name, vectors, X_train, y_train, folds, seed, random_state):
    """part A or B: logreg --exact, logreg, GridSearchCV on the same rows"""
    out = {"exact": logreg(tmp, name + "-exact", vectors, folds, seed, True),
           "fast": logreg(tmp, name + "-fast", vectors, folds, seed, False)}

    def sk_grid():
        gs = GridSearchCV(LiblinearOvR(random_state=random_state), PARAM_GRID, scoring="f1_macro",
                          cv=read_folds(folds, ids), n_jobs=args.jobs, refit=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gs.fit(X_train, y_train)
        return gs
    out["sklearn"] = best_of(sk_grid, args.reps)
    return out


def model_predict(model, X):
    W = np.zeros((len(model["coef"]), model["dim"]))
    for k, v in enumerate(model["coef"]):
        W[k, v["idx"]] = v["val"]
    return np.array(model["labels"])[np.argmax(X @ W.T + np.array(model["intercept"]), axis=1)]


with (contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory()) as tmp:
    os.makedirs(tmp, exist_ok=True)
    tweets = os.path.join(args.shared, "datasets", "tweet_sentiment_extraction")
    clean = subprocess.run([os.path.join(args.bin, "csvclean"), "-q", "--preset", "tweet", "--id", "textID",
                            "--label", "sentiment", os.path.join(tweets, "train.csv"),
                            os.path.join(tweets, "test.csv")], check=True, capture_output=True).stdout
    split_dir = os.path.join(tmp, "split")
    subprocess.run([os.path.join(args.bin, "stratsplit"), "-q", "--ratios", "70/15/15", "--seed", "42",
                    "--subsample", "40%", "-d", split_dir], input=clean, check=True)
    split = {s: read_records(os.path.join(split_dir, s + ".jsonl")) for s in ("train", "val", "test")}
    texts = {s: [r["text"] for r in split[s]] for s in split}
    y = {s: np.array([r["label"] for r in split[s]]) for s in split}
    ids = [r["id"] for r in split["train"]]

    # scikit-learn's TF-IDF, timed (fit on train, transform val and test)
    def sk_tfidf():
        vec = TfidfVectorizer(**SK_TFIDF)
        X = {"train": vec.fit_transform(texts["train"])}
        for s in ("val", "test"):
            X[s] = vec.transform(texts[s])
        return X
    sk_tfidf_time, X = best_of(sk_tfidf, args.reps)
    for s in X:
        X[s].sort_indices()
    sk_vec = os.path.join(tmp, "sk.train.vec.jsonl")
    with open(sk_vec, "w", encoding="utf-8") as f:
        write_vectors(f, ids, X["train"], y["train"])

    # ours, timed: fit on train, apply to val and test, files in and out
    tfidf = os.path.join(args.bin, "tfidf")
    tmodel = os.path.join(tmp, "tfidf")
    our_vec = {s: os.path.join(tmp, s + ".vec.jsonl") for s in ("train", "val", "test")}

    def our_tfidf():
        run([tfidf, "fit", "-q", "-m", tmodel, *TFIDF_OPTS, "--drop-text", "-o", our_vec["train"],
             os.path.join(split_dir, "train.jsonl")])
        for s in ("val", "test"):
            run([tfidf, "apply", "-q", "-m", tmodel, "--drop-text", "-o", our_vec[s],
                 os.path.join(split_dir, s + ".jsonl")])
    our_tfidf_time, _ = best_of(our_tfidf, args.reps)
    our_X = {s: read_vectors(our_vec[s])[1] for s in our_vec}
    feature_diff = abs(our_X["train"] - X["train"]).max()

    # A: scikit-learn's features and StratifiedKFold folds
    folds_a = os.path.join(tmp, "folds-a.jsonl")
    fold_of = np.empty(len(ids), dtype=int)
    for k, (_, test) in enumerate(StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
                                  .split(X["train"], y["train"])):
        fold_of[test] = k
    with open(folds_a, "w", encoding="utf-8") as f:
        for i, k in zip(ids, fold_of):
            f.write(json.dumps({"id": i, "fold": int(k)}) + "\n")
    part = {"A": compare(tmp, "a", sk_vec, X["train"], y["train"], folds_a, SKLEARN_SEED, 0)}

    # B: the study's run: tfidf's features, logreg --cv 5 --seed 42's folds, liblinear seed 42
    folds_b = os.path.join(tmp, "folds-b.jsonl")
    run([os.path.join(args.bin, "logreg"), "-q", "-m", os.path.join(tmp, "folds-only"), "--grid", "C=1",
         "--cv", "5", "--seed", "42", "--folds-out", folds_b, our_vec["train"]])
    part["B"] = compare(tmp, "b", our_vec["train"], our_X["train"], y["train"], folds_b, 42, LiblinearSeed(42))

from importlib.metadata import version  # noqa: E402

n_train, dim = X["train"].shape
ncand = len(part["A"]["sklearn"][1].cv_results_["mean_test_score"])
print(f"logreg grid search: {ncand} candidates x 5 folds on {n_train} train rows x {dim} features "
      f"(nnz {X['train'].nnz}), --jobs {args.jobs} / n_jobs {args.jobs}, best of {args.reps} run(s), "
      f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
      f"scikit-learn {version('scikit-learn')}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
      f"load average at the start {load_start[0]:.2f}")
print(f"TF-IDF fit (train) + apply (val, test): tfidf {our_tfidf_time:.3f} s, TfidfVectorizer {sk_tfidf_time:.3f} s "
      f"({sk_tfidf_time / our_tfidf_time:.1f}x); their train vectors differ by at most {feature_diff:.2g}")
titles = {"A": "A. scikit-learn's features, StratifiedKFold(5, shuffle, random_state=42) folds, random_state=0",
          "B": "B. the study's run: tfidf's features, the folds of logreg --cv 5 --seed 42, liblinear seed 42"}
for key in ("A", "B"):
    res = part[key]
    py_time, gs = res["sklearn"]
    Xs = {s: (X[s] if key == "A" else our_X[s]) for s in ("val", "test")}
    sk_means = gs.cv_results_["mean_test_score"]
    print(titles[key])
    for mode in ("exact", "fast"):
        took, summary, model, rows = res[mode]
        fits = re.search(r"\((\d+) (?:exact )?fits\)", summary)
        label = "logreg --exact" if mode == "exact" else "logreg (fast)"
        print(f"  {label:<33}{took:8.3f} s   {py_time / took:6.1f}x faster than GridSearchCV"
              f"   ({fits.group(1) if fits else '?'} distinct fits + the refit)")
    print(f"  scikit-learn GridSearchCV        {py_time:8.3f} s   ({5 * ncand} fits + the refit)")
    for mode in ("exact", "fast"):
        took, summary, model, rows = res[mode]
        bp, cv = model["cv"]["best_params"], model["cv"]
        means = np.array([float(r["mean_score"]) for r in rows])
        nconv = sum(r["converged"] == "false" for r in rows)
        print(f"  logreg {mode:<6} chose C={bp['C']} class_weight={cw_name(bp['class_weight'])} "
              f"max_iter={bp['max_iter']} penalty={bp['penalty']}: best CV macro-F1 {cv['best_score']:.6f};"
              f" the {ncand} means within {np.abs(means - sk_means).max():.3g} of scikit-learn's;"
              f" {nconv} candidates not converged")
    sp_ = gs.best_params_
    print(f"  sklearn       chose C={sp_['C']} class_weight={cw_name(sp_['class_weight'])} "
          f"max_iter={sp_['max_iter']} penalty={sp_['penalty']}: best CV macro-F1 {gs.best_score_:.6f}")
    for s in ("val", "test"):
        f1 = {m: f1_score(y[s], model_predict(res[m][2], Xs[s]), average="macro") for m in ("exact", "fast")}
        sk_f1 = f1_score(y[s], gs.best_estimator_.predict(Xs[s]), average="macro")
        print(f"  {s:<5} macro-F1 of the refitted best model: logreg exact {f1['exact']:.6f}, "
              f"fast {f1['fast']:.6f}, scikit-learn {sk_f1:.6f}")
    sk_total = sk_tfidf_time + py_time
    print("  end to end, TF-IDF fit + apply + the grid search:")
    for mode in ("fast", "exact"):
        took = res[mode][0]
        total = our_tfidf_time + took
        label = "tfidf + logreg" + (" --exact" if mode == "exact" else " (fast)")
        print(f"    {label:<31}{total:8.3f} s   {sk_total / total:6.1f}x faster than scikit-learn")
    print(f"    TfidfVectorizer + GridSearchCV {sk_total:8.3f} s")
load_end = os.getloadavg()
print(f"load average at the end {load_end[0]:.2f} (1 min), {load_end[1]:.2f} (5 min)")
