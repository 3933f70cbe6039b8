#!/usr/bin/env python3
"""Does scikit-learn's liblinear stop at max_iter on the same cross-validation
fits as logreg? For each fold of a fold file (from `logreg --folds-out`, so
the very folds logreg's --cv drew), fits the fold's training rows -- in the
same order -- once with scikit-learn's liblinear (sklearn.svm._liblinear
.train_wrap, the call _fit_liblinear makes, one-vs-rest, given logreg's
--seed as liblinear's seed so that L1 visits coordinates in the same order)
and once with `logreg` itself, and prints per fold: each side's iterations
per class, fit time, whether it stopped at max_iter, and how far the weights
differ.

usage: bench/logreg_convergence.py BIN_DIR VECTORS FOLDS -C C --penalty P
           [--class-weight W] [--max-iter N] [--tol X] [--seed S]

e.g. the tweet study's slowest candidate:
  build/release/bin/logreg -q -m /tmp/m --grid 'C=1' --cv 5 --seed 42 \\
      --folds-out /tmp/folds.jsonl runs/tweets-fast/baseline/train.vec.jsonl
  bench/logreg_convergence.py build/release/bin runs/tweets-fast/baseline/train.vec.jsonl \\
      /tmp/folds.jsonl -C 4 --penalty l1 \\
      --class-weight negative:1.2,neutral:0.8,positive:1.2 --max-iter 2000 --seed 42"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "ref"))
from logreg_ref import read_vectors, write_vectors  # noqa: E402

from sklearn.svm import _liblinear as liblinear  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("vectors")
ap.add_argument("folds")
ap.add_argument("-C", type=float, required=True)
ap.add_argument("--penalty", default="l2")
ap.add_argument("--class-weight", default="none")
ap.add_argument("--max-iter", type=int, default=100)
ap.add_argument("--tol", type=float, default=1e-4)
ap.add_argument("--seed", type=int, default=0)
args = ap.parse_args()

ids, X, y = read_vectors(args.vectors)
fold_by_id = {}
with open(args.folds, encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        fold_by_id[r["id"]] = r["fold"]
fold_of = np.array([fold_by_id[i] for i in ids])
k = fold_of.max() + 1

cw = args.class_weight.strip("{}")
if cw == "none":
    class_weight = None
elif cw == "balanced":
    class_weight = "balanced"
else:
    class_weight = {a: float(b) for a, b in (p.rsplit(":", 1) for p in cw.split(","))}

# liblinear's solver numbers (linear.h): L2R_LR 0, L1R_LR 6
solver = 6 if args.penalty == "l1" else 0
liblinear.set_verbosity_wrap(0)


def sklearn_fit(Xs, ys):
    classes = np.unique(ys)
    y_ind = np.searchsorted(classes, ys).astype(np.float64)
    cw_ = compute_class_weight(class_weight, classes=classes, y=ys)
    sw = np.ones(Xs.shape[0])
    start = time.perf_counter()
    raw, n_iter = liblinear.train_wrap(Xs, y_ind, True, solver, args.tol, 1.0, args.C, cw_, args.max_iter,
                                       args.seed, 0.1, sw)
    return raw, np.asarray(n_iter), time.perf_counter() - start


print(f"{X.shape[0]} rows x {X.shape[1]} features, {k} folds; C={args.C:g} penalty={args.penalty} "
      f"class_weight={args.class_weight} max_iter={args.max_iter} tol={args.tol:g} seed={args.seed}")
print("fold  scikit-learn iterations   time      logreg iterations         time   max |w diff|")
with tempfile.TemporaryDirectory() as tmp:
    for fold in range(k):
        rows = np.flatnonzero(fold_of != fold)
        Xs, ys = X[rows], y[rows]
        raw, sk_iter, sk_time = sklearn_fit(Xs, ys)
        path = os.path.join(tmp, "train.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            write_vectors(f, [ids[i] for i in rows], Xs, ys)
        model = os.path.join(tmp, "m")
        cmd = [os.path.join(args.bin, "logreg"), "-q", "-m", model, "-C", repr(args.C), "--penalty", args.penalty,
               "--class-weight", args.class_weight, "--max-iter", str(args.max_iter), "--tol", repr(args.tol),
               "--seed", str(args.seed), path]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        our_time = time.perf_counter() - start
        m = json.load(open(os.path.join(model, "logreg.json"), encoding="utf-8"))
        W = np.zeros((len(m["coef"]), m["dim"] + 1))
        for v, c in enumerate(m["coef"]):
            W[v, c["idx"]] = c["val"]
            W[v, -1] = m["intercept"][v]
        diff = np.abs(W - raw).max()

        def show(it):
            return ",".join(str(int(i)) + ("*" if i >= args.max_iter else "") for i in it)

        print(f"{fold:4d}  {show(sk_iter):<24} {sk_time:7.2f} s   {show(m['n_iter']):<24} {our_time:7.2f} s   {diff:.3g}")
print("(* stopped at max_iter; logreg's time includes reading the rows)")
