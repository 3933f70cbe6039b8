#!/usr/bin/env python3
"""Benchmark: `metrics --json` against scikit-learn computing the same
numbers, on the same generated prediction file, in the same run.

The file: N records (default 200,000) of K classes (default 3), seeded
random probabilities, written as `predict` writes them. Timed for each:
  metrics (C)       the whole program: read, parse, score, write the JSON
  sklearn, end to end   json.loads of every line, numpy arrays, then
                        accuracy_score, precision_recall_fscore_support
                        (per class, macro, weighted), confusion_matrix,
                        roc_auc_score and average_precision_score per class,
                        log_loss, calibration_curve (ECE)
  sklearn, scores only  the same calls on arrays already in memory
Best of REPS wall times each; the ratios; and the largest difference between
the two sets of numbers (accuracy, macro-F1, macro ROC-AUC, macro AP, log
loss), which should be below 1e-9.

usage: bench/metrics.py BIN_DIR [--n N] [--classes K] [--reps R]"""
import argparse
import json
import os
import platform
import subprocess
import tempfile
import warnings

from timing import best_of  # bench/timing.py, beside this script

import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, average_precision_score, confusion_matrix, log_loss,
                             precision_recall_fscore_support, roc_auc_score)

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("--n", type=int, default=200_000)
ap.add_argument("--classes", type=int, default=3)
ap.add_argument("--reps", type=int, default=3)
args = ap.parse_args()


def write_predictions(path, n, k):
    rng = np.random.default_rng(42)
    labels = [f"class_{i:02d}" for i in range(k)]
    gold = rng.integers(k, size=n)
    z = rng.normal(size=(n, k))
    z[np.arange(n), gold] += 1.0
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    with open(path, "w") as f:
        for i in range(n):
            probs = {labels[j]: float(p[i, j]) for j in range(k)}
            f.write(json.dumps({"id": str(i), "label": labels[gold[i]], "pred": labels[int(p[i].argmax())],
                                "probs": probs}) + "\n")


def load(path):
    y, pred, rows = [], [], []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            y.append(r["label"])
            pred.append(r["pred"])
            rows.append(r["probs"])
    classes = sorted(rows[0])
    P = np.array([[r[c] for c in classes] for r in rows])
    return np.array(y), np.array(pred), P, classes


def scores(y, pred, P, classes):
    out = {"accuracy": accuracy_score(y, pred)}
    precision_recall_fscore_support(y, pred, labels=classes, zero_division=0)
    out["macro_f1"] = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)[2]
    precision_recall_fscore_support(y, pred, average="weighted", zero_division=0)
    confusion_matrix(y, pred, labels=classes)
    roc, aps = [], []
    for j, c in enumerate(classes):
        t = (y == c).astype(int)
        roc.append(roc_auc_score(t, P[:, j]))
        aps.append(average_precision_score(t, P[:, j]))
    out["roc_auc_macro"] = float(np.mean(roc))
    out["average_precision_macro"] = float(np.mean(aps))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["log_loss"] = log_loss(y, P, labels=classes)
    conf = P.max(axis=1)
    calibration_curve((y == pred).astype(int), conf, n_bins=15, pos_label=1)
    return out




with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "pred.jsonl")
    out = os.path.join(tmp, "m.json")
    write_predictions(path, args.n, args.classes)
    c_time, _ = best_of(lambda: subprocess.run([os.path.join(args.bin, "metrics"), "--json", out, "-o",
                                                os.devnull, path], check=True), args.reps)
    mine = json.load(open(out))["summary"]
    e2e_time, ref = best_of(lambda: scores(*load(path)), args.reps)
    data = load(path)
    only_time, _ = best_of(lambda: scores(*data), args.reps)

worst = max(abs(mine[k] - ref[k]) for k in ref)
print(f"metrics on {args.n} records, {args.classes} classes, best of {args.reps} runs, "
      f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
      f"scikit-learn {sklearn.__version__}, numpy {np.__version__}")
print(f"  metrics --json (C), whole program   {c_time:8.3f} s")
print(f"  sklearn, JSON parsing + scores      {e2e_time:8.3f} s   {e2e_time / c_time:6.1f}x slower")
print(f"  sklearn, scores only (arrays ready) {only_time:8.3f} s   {only_time / c_time:6.1f}x the C whole program")
print(f"  largest difference in accuracy, macro-F1, ROC-AUC, AP, log loss: {worst:.2e}")
