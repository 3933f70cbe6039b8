#!/usr/bin/env python3
"""Benchmark: `logreg --multi-class multinomial` against scikit-learn's
LogisticRegression(solver='lbfgs') (multinomial) on the same vectors, in the
same run.

The vectors: the Kaggle tweets' train.csv cleaned (`csvclean --preset
tweet`) and vectorised with the study's TF-IDF (`tfidf fit`, 1-3-grams,
100k features, min_df 2, max_df 0.95, sublinear tf); both sides read the
same file (scikit-learn's reading is not timed, ours is). For each C: the
best of REPS wall times of each side (ours: the whole `logreg` process),
the ratio, the iterations, and how far the two models agree (predictions,
largest probability difference) at scikit-learn's default tol 1e-4, where
both stop short of the optimum by other L-BFGS paths.

usage: bench/logreg_multinomial.py BIN_DIR SHARED_DIR [--reps N] [--cs 0.1,1,8]"""
import argparse
import json
import os
import platform
import subprocess
import tempfile
import warnings

from timing import best_of  # bench/timing.py, beside this script

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("shared")
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--cs", default="0.1,1,8")
args = ap.parse_args()
csv = os.path.join(args.shared, "datasets", "tweet_sentiment_extraction", "train.csv")


def read_vectors(path):
    ind, ptr, val, labels, dim = [], [0], [], [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            ind += r["x"]["idx"]
            val += r["x"]["val"]
            ptr.append(len(ind))
            labels.append(r["label"])
            dim = r["x"]["dim"]
    return sp.csr_matrix((val, ind, ptr), shape=(len(labels), dim)), np.array(labels)


def load_model(path, dim):
    m = json.load(open(os.path.join(path, "logreg.json"), encoding="utf-8"))
    W = np.zeros((len(m["coef"]), dim))
    for v, c in enumerate(m["coef"]):
        W[v, c["idx"]] = c["val"]
    return m, W, np.array(m["intercept"])




with tempfile.TemporaryDirectory() as tmp:
    clean, vec = os.path.join(tmp, "clean.jsonl"), os.path.join(tmp, "train.vec.jsonl")
    with open(clean, "wb") as out:
        subprocess.run([os.path.join(args.bin, "csvclean"), "-q", "--preset", "tweet", "--id", "textID",
                        "--label", "sentiment", csv], stdout=out, check=True)
    subprocess.run([os.path.join(args.bin, "tfidf"), "fit", "-q", "-m", os.path.join(tmp, "tfidf"), "--ngram", "1,3",
                    "--max-features", "100000", "--min-df", "2", "--max-df", "0.95", "--sublinear-tf", "-o", vec,
                    clean], check=True)
    X, y = read_vectors(vec)
    print(f"multinomial logistic regression: {X.shape[0]} rows x {X.shape[1]} features (nnz {X.nnz}), "
          f"{len(np.unique(y))} classes, best of {args.reps}; {platform.machine()}, {os.cpu_count()} cores, "
          f"scikit-learn {sklearn.__version__}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"load average at the start {os.getloadavg()[0]:.2f}")
    for C in [float(c) for c in args.cs.split(",")]:
        model = os.path.join(tmp, f"m{C}")
        ours, _ = best_of(lambda: subprocess.run(
            [os.path.join(args.bin, "logreg"), "-q", "-m", model, "-C", repr(C), "--multi-class", "multinomial", vec],
            check=True, capture_output=True), args.reps)

        def fit_sklearn():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                return LogisticRegression(C=C).fit(X, y)

        theirs, sk = best_of(fit_sklearn, args.reps)
        m, W, b = load_model(model, X.shape[1])
        dec = X @ W.T + b
        P = np.exp(dec - dec.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        agree = float((np.asarray(sk.classes_)[dec.argmax(axis=1)] == sk.predict(X)).mean())
        print(f"  C={C:g}: logreg {ours:.3f} s ({m['n_iter'][0]} iterations), LogisticRegression {theirs:.3f} s "
              f"({int(sk.n_iter_[0])} iterations): {theirs / ours:.1f}x; predictions agree on {100 * agree:.2f}% "
              f"of rows, probabilities within {np.abs(P - sk.predict_proba(X)).max():.2g}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
