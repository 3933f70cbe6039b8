#!/usr/bin/env python3
"""Golden values for lib/eval/metrics, from scikit-learn.

Writes, under tests/golden/metrics/ (committed, small):
  NAME.jsonl        prediction records {"id","label","pred","probs",...},
                    seeded random, the degenerate cases on purpose
  NAME.sklearn.json what scikit-learn computes from NAME.jsonl as read back
                    (so the C side and sklearn see the same numbers)

The prediction sets: binary (probabilities with two decimals: many tied
scores; a "year" field), three (3 classes, full-precision probabilities; a
"domain" field missing in some records), tracks26 (26 long class names,
some absent from gold, some never predicted), degenerate (a class absent
from gold, a class never predicted, a gold label the model has no column
for, scores in steps of 1/8: ties everywhere).

sklearn calls: accuracy_score; precision_recall_fscore_support with
zero_division=0 (average=None over all classes, 'macro' and 'weighted' with
sklearn's default labels); confusion_matrix; roc_auc_score and
average_precision_score per class one-vs-rest; log_loss; calibration_curve
(uniform, 15 bins) for the ECE; top_k_accuracy_score for k = 1, 2, 3 (ties
in binary, degenerate; k >= n_classes in binary, three); and for tracks26,
with made-up training counts per class, accuracy_score and f1_score
(average='macro') per class-size bin. See the comments for what is
undefined.
Run by `make golden-metrics`. Usage: metrics_ref.py [OUTDIR]
"""
import json
import os
import sys
import warnings

import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (accuracy_score, average_precision_score, confusion_matrix, f1_score,
                             log_loss, precision_recall_fscore_support, roc_auc_score,
                             top_k_accuracy_score)

TRACKS = [
    "Computational Social Science, Cultural Analytics and NLP for Social Good",
    "Dialogue and Interactive Systems",
    "Discourse, Pragmatics and Reasoning about Implicature",
    "Efficient, Low-Resource Methods for NLP",
    "Ethics, Bias, Fairness and Privacy",
    "Generation",
    "Human-Centered NLP",
    "Information Extraction",
    "Information Retrieval and Text Mining",
    "Interpretability and Analysis of Models for NLP",
    "Language Modeling",
    "Linguistic Theories, Cognitive Modeling and Psycholinguistics",
    "Machine Learning for NLP",
    "Machine Translation",
    "Multilinguality and Language Diversity",
    "Multimodality and Language Grounding to Vision, Robotics and Beyond",
    "NLP Applications",
    "Phonology, Morphology and Word Segmentation",
    "Question Answering",
    "Resources and Evaluation",
    "Semantics: Lexical and Sentence-Level",
    "Sentiment Analysis, Stylistic Analysis, and Argument Mining",
    "Speech Recognition, Text-to-Speech and Spoken Language Understanding",
    "Summarization",
    "Syntax: Tagging, Chunking and Parsing",
    "Special Theme: Generalisation & \u201cRobustness\u201d <of> NLP Models",
]


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def make_binary(rng):
    recs = []
    for i in range(200):
        gold = "accept" if rng.random() < 0.4 else "reject"
        p = float(np.clip(rng.normal(0.62 if gold == "accept" else 0.38, 0.2), 0, 1))
        pa = round(p, 2)
        pr = round(1 - pa, 2)
        pred = "accept" if pa >= 0.5 else "reject"
        recs.append({"id": f"b{i}", "label": gold, "pred": pred, "probs": {"accept": pa, "reject": pr},
                     "year": 2017 + int(rng.random() < 0.5)})
    return recs, {"positive": "accept", "by": "year"}


def make_three(rng):
    classes = ["negative", "neutral", "positive"]
    domains = ["news", "tweets", "reviews"]
    recs = []
    for i in range(300):
        g = int(rng.choice(3, p=[0.3, 0.4, 0.3]))
        z = rng.normal(0, 1, 3)
        z[g] += 1.2
        p = softmax(z)
        rec = {"id": f"t{i}", "label": classes[g], "pred": classes[int(np.argmax(p))],
               "probs": {c: float(v) for c, v in zip(classes, p)}}
        if rng.random() < 0.9:
            rec["domain"] = domains[int(rng.integers(3))]
        recs.append(rec)
    return recs, {"positive": "negative", "by": "domain"}


def make_tracks26(rng):
    k = len(TRACKS)
    weights = 0.85 ** np.arange(k)
    weights /= weights.sum()
    recs = []
    for i in range(90):
        g = int(rng.choice(k, p=weights))
        z = rng.normal(0, 1, k) - 0.08 * np.arange(k)
        z[g] += 2.5
        p = softmax(z)
        probs = {TRACKS[j]: round(float(p[j]), 8) for j in range(k)}
        pred = max(probs, key=lambda c: probs[c])
        recs.append({"id": f"p{i}", "label": TRACKS[g], "pred": pred, "probs": probs})
    # training counts for the class-size bins: falling with the class
    # index, one on an inner edge (bins are (lo, hi]) and one 0 (the first
    # bin is closed)
    counts = [int(400 * 0.85 ** j) for j in range(k)]
    counts[10], counts[25] = 100, 0
    train = {TRACKS[j]: counts[j] for j in range(k)}
    return recs, {"positive": TRACKS[15], "train_counts": train, "bins": [0, 50, 100, 200, "inf"]}


def make_degenerate(rng):
    # model classes a b c d; gold never c (absent from gold), sometimes e (no
    # model column); d never predicted; probabilities in eighths: ties
    recs = []
    for i in range(60):
        gold = str(rng.choice(["a", "b", "d", "e"], p=[0.35, 0.35, 0.2, 0.1]))
        parts = rng.multinomial(8, [0.25, 0.25, 0.25, 0.25])
        if gold in "abd":
            parts["abcd".index(gold)] += 2
        parts = parts.astype(float)
        total = parts.sum()
        probs = {c: float(v / total) for c, v in zip("abcd", parts)}
        # quantise to eighths so scores tie; keep the sum exactly 1
        q = np.floor(np.array(list(probs.values())) * 8) / 8
        q[int(np.argmax(q))] += 1 - q.sum()
        probs = dict(zip("abcd", map(float, q)))
        pred = max("abc", key=lambda c: probs[c])  # d is never predicted
        recs.append({"id": f"d{i}", "label": gold, "pred": pred, "probs": probs})
    return recs, {"positive": "b"}


def read_back(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def none_if_nan(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


def prf_dict(y, p, average):
    pr, rc, f1, _ = precision_recall_fscore_support(y, p, average=average, zero_division=0)
    return {"precision": float(pr), "recall": float(rc), "f1": float(f1)}


def ece(y, p, conf):
    """Expected calibration error, 15 equal-width bins of the max probability
    (bins (lo, hi], as sklearn's calibration_curve bins them)."""
    correct = (np.asarray(y) == np.asarray(p)).astype(int)
    n_bins = 15
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=n_bins, strategy="uniform", pos_label=1)
    # calibration_curve returns the non-empty bins only; their sizes come
    # from the same binning it uses internally
    bins = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(bins[1:-1], conf), minlength=n_bins)
    counts = counts[counts > 0]
    return float(np.sum(counts / len(conf) * np.abs(prob_true - prob_pred)))


def golden(recs, extra):
    y = [r["label"] for r in recs]
    p = [r["pred"] for r in recs]
    scored = sorted(recs[0]["probs"])
    classes = sorted(set(y) | set(p) | set(scored))
    P = np.array([[r["probs"][c] for c in scored] for r in recs])
    out = {"generator": f"tests/ref/metrics_ref.py, scikit-learn {sklearn.__version__}",
           "classes": classes, "n": len(recs)}
    out["accuracy"] = float(accuracy_score(y, p))
    pr, rc, f1, sup = precision_recall_fscore_support(y, p, labels=classes, average=None, zero_division=0)
    out["precision"] = [float(v) for v in pr]
    out["recall"] = [float(v) for v in rc]
    out["f1"] = [float(v) for v in f1]
    out["support"] = [int(v) for v in sup]
    # labels=None: sklearn averages over the labels in y or p
    out["macro"] = prf_dict(y, p, "macro")
    out["weighted"] = prf_dict(y, p, "weighted")
    out["confusion_matrix"] = confusion_matrix(y, p, labels=classes).tolist()

    # One-vs-rest per scored class. roc_auc_score is undefined (sklearn
    # warns, returns nan) for a class absent from gold: null, and the macro
    # is the mean of the defined ones (nanmean). A gold label with no model
    # column has no scores: null for both, outside both macros. Average
    # precision of a class without positives is 0 in sklearn (with a
    # warning), and counts in the macro as sklearn's average='macro' does.
    roc, ap = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.filterwarnings("ignore", message="No positive class found")
        for c in classes:
            if c not in scored:
                roc.append(None)
                ap.append(None)
                continue
            t = np.array([label == c for label in y], dtype=int)
            s = P[:, scored.index(c)]
            roc.append(none_if_nan(roc_auc_score(t, s)))
            ap.append(float(average_precision_score(t, s)))
        onehot = np.array([[label == c for c in scored] for label in y], dtype=int)
        ap_macro = float(average_precision_score(onehot, P, average="macro"))
    out["roc_auc"] = roc
    defined = [v for v in roc if v is not None]
    out["roc_auc_macro"] = float(np.mean(defined)) if defined else None
    if all(v is not None for v in roc) and len(scored) > 2:
        # every class has a defined AUC: the same as sklearn's multi-class call
        mc = roc_auc_score(y, P, multi_class="ovr", average="macro", labels=scored)
        assert abs(mc - out["roc_auc_macro"]) < 1e-12, (mc, out["roc_auc_macro"])
    out["average_precision"] = ap
    out["average_precision_macro"] = ap_macro
    # log_loss over every class: a gold label without a model column has
    # probability 0 there (clipped to eps by sklearn)
    Pall = np.array([[r["probs"].get(c, 0.0) for c in classes] for r in recs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rounded probabilities
        out["log_loss"] = float(log_loss(y, Pall, labels=classes))
    out["ece"] = ece(y, p, P.max(axis=1))

    # top_k_accuracy_score over every class, a class without a probs key
    # scoring 0 (as for log_loss). With two classes sklearn takes only the
    # second class's score (a 2-column y_score is an error). k >= n_classes
    # warns and gives 1.
    y_score = Pall[:, 1] if len(classes) == 2 else Pall
    out["top_k_accuracy"] = {}
    for k in (1, 2, 3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UndefinedMetricWarning)
            v = float(top_k_accuracy_score(y, y_score, k=k, labels=classes))
        if k >= len(classes):
            assert v == 1.0 and any("greater than or equal" in str(w.message) for w in caught), (k, v)
        out["top_k_accuracy"][str(k)] = v

    pos = extra.get("positive")
    if pos:
        pr, rc, f1, sup = precision_recall_fscore_support(y, p, labels=[pos], average=None, zero_division=0)
        out["positive"] = {"label": pos, "precision": float(pr[0]), "recall": float(rc[0]), "f1": float(f1[0]),
                           "support": int(sup[0]), "predicted_rate": float(np.mean([v == pos for v in p]))}
    field = extra.get("by")
    if field:
        def text(v):
            return "(missing)" if v is None else str(v)
        values = sorted({text(r.get(field)) for r in recs})
        groups = []
        for v in values:
            idx = [i for i, r in enumerate(recs) if text(r.get(field)) == v]
            yg = [y[i] for i in idx]
            pg = [p[i] for i in idx]
            groups.append({"value": v, "n": len(idx), "accuracy": float(accuracy_score(yg, pg)),
                           "macro_f1": float(f1_score(yg, pg, average="macro", zero_division=0))})
        out["by"] = {"field": field, "groups": groups}
    train = extra.get("train_counts")
    if train:
        # a class falls in the bin (lo, hi] of its training count, the first
        # bin [lo, hi] (pandas.cut, include_lowest); a bin's rows are those
        # whose gold class is in it, its classes the gold classes among them
        edges = [float(e) for e in extra["bins"]]
        bins = []
        for b in range(len(edges) - 1):
            lo, hi = edges[b], edges[b + 1]
            members = {c for c in classes if (train.get(c, 0) > lo or (b == 0 and train.get(c, 0) == lo))
                       and train.get(c, 0) <= hi}
            idx = [i for i, label in enumerate(y) if label in members]
            yb, pb = [y[i] for i in idx], [p[i] for i in idx]
            labels = sorted(set(yb))
            bins.append({"lo": lo, "hi": None if np.isinf(hi) else hi, "classes": labels, "n": len(idx),
                         "accuracy": float(accuracy_score(yb, pb)) if idx else None,
                         "macro_f1": float(f1_score(yb, pb, labels=labels, average="macro", zero_division=0))
                         if idx else None})
        out["class_size_bins"] = {"train_counts": train, "edges": extra["bins"], "bins": bins}
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "golden", "metrics")
    os.makedirs(outdir, exist_ok=True)
    makers = [("binary", make_binary, 1), ("three", make_three, 2), ("tracks26", make_tracks26, 3),
              ("degenerate", make_degenerate, 4)]
    for name, make, seed in makers:
        recs, extra = make(np.random.default_rng(seed))
        path = os.path.join(outdir, name + ".jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        gold = golden(read_back(path), extra)
        with open(os.path.join(outdir, name + ".sklearn.json"), "w", encoding="utf-8") as f:
            json.dump(gold, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"{name}: {len(recs)} records, {len(gold['classes'])} classes", file=sys.stderr)


if __name__ == "__main__":
    main()
