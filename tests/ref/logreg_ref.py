#!/usr/bin/env python3
"""Goldens for logreg (lib/linear/logreg, lib/linear/linsolve, lib/linear/gridsearch), made with
scikit-learn's liblinear. Run by `make golden-logreg`:

    tests/ref/logreg_ref.py BIN_DIR SHARED_DIR [--only grid_list]

(--only grid_list: only grid_list.json, from the tweets.jsonl.gz and
folds.jsonl.gz already there; the other goldens are left as they are.)

Writes tests/golden/logreg/:
  tweets.jsonl.gz   features: the first 1500 cleaned tweets of the Kaggle
                    train.csv (`csvclean -q --preset tweet --id textID --label
                    sentiment`), scikit-learn TfidfVectorizer(ngram_range=(1,2),
                    min_df=2, max_features=2000, sublinear_tf=True), as records
                    {"id","label","x"}; 3 classes.
  binary.jsonl.gz   make_classification(n_samples=300, n_features=20,
                    n_informative=6, random_state=7): dense vectors, labels
                    "no"/"yes"; 2 classes.
  liblinear.jsonl.gz one line per configuration: the logreg options, and what
                    scikit-learn's liblinear gives: n_iter, the intercept, the
                    number of nonzero weights, whether it warned that liblinear
                    failed to converge, the prediction of every row and
                    the decision values (full precision) of every 5th row;
                    for C=1 also predict_proba of every 5th row.
  multinomial.jsonl.gz the same for LogisticRegression(solver='lbfgs')
                    (multinomial for the tweets, binomial for the binary
                    set; `logreg --multi-class multinomial`), decision
                    values and predict_proba of every 10th row, "tight" marking the
                    configurations run to tol 1e-10 on both sides.
  grid.json         GridSearchCV over C x penalty x class_weight on
                    tweets.jsonl.gz with StratifiedKFold(3, shuffle=True,
                    random_state=0) folds (folds.jsonl.gz): every candidate's mean
                    macro-F1, the best candidate and score.
  folds.jsonl.gz    those folds, {"id","fold"} per row.
  grid_list.json    GridSearchCV with a list of grids (logreg --grid 'SPEC |
                    SPEC') on the same data and folds: liblinear's one-vs-rest
                    over C x penalty x class_weight, then multinomial (lbfgs,
                    tol 1e-10) over C x class_weight; every candidate's params
                    (its own keys only, as cv_results_['params']), fold and
                    mean macro-F1 and rank, the best index, params and score.
  scores.json       accuracy_score and f1_score(average='macro'|'weighted') of a
                    few (truth, prediction) vectors.

The reference models:
  * two classes: LogisticRegression(solver='liblinear') itself;
  * three classes: scikit-learn 1.8 dropped multiclass from
    LogisticRegression(solver='liblinear'), so LiblinearOvR below calls the
    function it used to call, sklearn.svm._base._fit_liblinear, with
    multi_class='ovr': liblinear's own one-vs-rest, as the original study ran.
Both pass random_state=0; liblinear then gets the seed
RandomState(0).randint(INT_MAX) (= SKLEARN_SEED) for the L1 solver's
coordinate order, and logreg is run with --seed SKLEARN_SEED to match.
"""
import gzip
import io
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.svm._base import _fit_liblinear

# decision values of every 5th row go into the golden (keeps it small);
# for the multinomial golden, decision values and probabilities of every 10th
DECISION_EVERY = 5
MULTI_EVERY = 10
# the seed scikit-learn hands liblinear for random_state=0
SKLEARN_SEED = int(np.random.RandomState(0).randint(np.iinfo("i").max))


class LiblinearSeed(np.random.RandomState):
    """A random_state that hands liblinear the given number itself as its
    seed (scikit-learn passes random_state.randint(INT_MAX)), so that
    scikit-learn's L1 fits visit coordinates in the order `logreg --seed N`
    does for any N. Survives clone() and pickling (GridSearchCV's workers)."""

    def __init__(self, seed):
        super().__init__(0)
        self.liblinear_seed = seed

    def randint(self, *args, **kwargs):
        return self.liblinear_seed

    def __reduce__(self):
        return (LiblinearSeed, (self.liblinear_seed,))


class LiblinearOvR(LinearClassifierMixin, BaseEstimator):
    """liblinear's one-vs-rest logistic regression, as
    LogisticRegression(solver='liblinear', multi_class='ovr') fitted it up to
    scikit-learn 1.7 (same function, same arguments); predict_proba is the
    one-vs-rest normalisation scikit-learn uses for liblinear."""

    def __init__(self, C=1.0, penalty="l2", class_weight=None, tol=1e-4, max_iter=100,
                 fit_intercept=True, intercept_scaling=1.0, random_state=None):
        self.C = C
        self.penalty = penalty
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.random_state = random_state

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.coef_, self.intercept_, self.n_iter_ = _fit_liblinear(
            X, y, self.C, self.fit_intercept, self.intercept_scaling, self.class_weight,
            self.penalty, False, 0, self.max_iter, self.tol, self.random_state,
            multi_class="ovr", loss="logistic_regression")
        return self

    def predict_proba(self, X):
        return self._predict_proba_lr(X)


class StudyLogReg(ClassifierMixin, BaseEstimator):
    """logreg's options as one estimator, so that one GridSearchCV can search
    over multi_class as `logreg --grid` does: 'ovr' is liblinear's
    one-vs-rest (LiblinearOvR), 'multinomial' LogisticRegression(solver=
    'lbfgs') (L2 only, as `logreg --multi-class multinomial`; scikit-learn
    1.8 dropped multi_class, lbfgs being multinomial for 3+ classes). The
    defaults are logreg's, which a candidate whose grid lacks a key takes."""

    def __init__(self, C=1.0, penalty="l2", class_weight=None, tol=1e-4, max_iter=100, multi_class="ovr",
                 random_state=None):
        self.C = C
        self.penalty = penalty
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.multi_class = multi_class
        self.random_state = random_state

    def fit(self, X, y):
        if self.multi_class == "multinomial":
            if self.penalty != "l2":
                raise ValueError("multinomial takes penalty l2 only")
            self.model_ = LogisticRegression(C=self.C, class_weight=self.class_weight, tol=self.tol,
                                             max_iter=self.max_iter)
        else:
            self.model_ = LiblinearOvR(C=self.C, penalty=self.penalty, class_weight=self.class_weight, tol=self.tol,
                                       max_iter=self.max_iter, random_state=self.random_state)
        self.model_.fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


def grid_list_golden(out):
    """grid_list.json: GridSearchCV over a list of grids on tweets.jsonl.gz
    with the folds of folds.jsonl.gz (both as written to out)"""
    from sklearn.model_selection import GridSearchCV
    ids, X, y = read_vectors(os.path.join(out, "tweets.jsonl.gz"))
    with gzip.open(os.path.join(out, "folds.jsonl.gz"), "rt", encoding="utf-8") as f:
        fold_by_id = {r["id"]: r["fold"] for r in map(json.loads, f)}
    fold_of = np.array([fold_by_id[i] for i in ids])
    k = int(fold_of.max()) + 1
    splits = [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]
    param_grid = [{"C": [0.1, 1], "penalty": ["l1", "l2"], "class_weight": [None, "balanced"]},
                  {"C": [0.1, 1, 8], "class_weight": [None, "balanced"], "multi_class": ["multinomial"],
                   "tol": [1e-10], "max_iter": [100000]}]
    spec = ("C=0.1,1;penalty=l1,l2;class_weight=none,balanced | "
            "C=0.1,1,8;class_weight=none,balanced;multi_class=multinomial;tol=1e-10;max_iter=100000")
    gs = GridSearchCV(StudyLogReg(random_state=0), param_grid, scoring="f1_macro", cv=splits, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(X, y)
    res = gs.cv_results_

    def plain(params):
        return {key: "none" if v is None else v for key, v in params.items()}

    cands = []
    for i, params in enumerate(res["params"]):
        cands.append({"params": plain(params), "rank": int(res["rank_test_score"][i]),
                      "mean_score": float(res["mean_test_score"][i]),
                      "fold_scores": [float(res[f"split{f}_test_score"][i]) for f in range(k)]})
    with open(os.path.join(out, "grid_list.json"), "w", encoding="utf-8") as f:
        json.dump({"grid": spec, "param_grid": repr(param_grid), "folds": k, "seed": SKLEARN_SEED,
                   "scoring": "macro_f1", "best_index": int(gs.best_index_), "best_params": plain(gs.best_params_),
                   "best_score": float(gs.best_score_), "candidates": cands}, f, indent=1)
        f.write("\n")


def read_vectors(path):
    """records {"id","label","x"} -> ids, CSR X, labels"""
    opener = gzip.open if path.endswith(".gz") else open
    ids, labels, data, indices, indptr, dim = [], [], [], [], [0], None
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            ids.append(r.get("id"))
            labels.append(r["label"])
            dim = r["x"]["dim"]
            indices += r["x"]["idx"]
            data += r["x"]["val"]
            indptr.append(len(indices))
    X = sp.csr_matrix((np.array(data, dtype=np.float64), np.array(indices, dtype=np.int32),
                       np.array(indptr, dtype=np.int64)), shape=(len(labels), dim))
    return ids, X, np.array(labels)


def write_vectors(f, ids, X, labels):
    """CSR rows as records; indices sorted (logreg requires it, and the
    row order of the sums must be the one liblinear saw)"""
    X = sp.csr_matrix(X)
    X.sort_indices()
    for i in range(X.shape[0]):
        a, b = X.indptr[i], X.indptr[i + 1]
        rec = {"id": ids[i], "label": str(labels[i]),
               "x": {"dim": int(X.shape[1]), "idx": X.indices[a:b].tolist(),
                     "val": [float(v) for v in X.data[a:b]]}}
        f.write(json.dumps(rec, separators=(",", ":")) + "\n")


def gz_text(path):
    """a gzip text writer with a fixed header (reruns give identical bytes)"""
    return io.TextIOWrapper(gzip.GzipFile(path, "wb", mtime=0), encoding="utf-8")


def options(C, penalty, class_weight, extra):
    cw = "none" if class_weight is None else class_weight
    opts = ["-C", repr(C), "--penalty", penalty, "--class-weight", cw]
    if "max_iter" in extra:
        opts += ["--max-iter", str(extra["max_iter"])]
    if "intercept_scaling" in extra:
        opts += ["--intercept-scaling", repr(extra["intercept_scaling"])]
    if "tol" in extra:
        opts += ["--tol", repr(extra["tol"])]
    if extra.get("fit_intercept") is False:
        opts += ["--no-intercept"]
    return opts + ["--seed", str(SKLEARN_SEED)]


def reference(X, y, C, penalty, class_weight, extra):
    """the fitted scikit-learn model; extra: max_iter, intercept_scaling,
    fit_intercept, tol"""
    kw = {"max_iter": 100, **extra}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if len(np.unique(y)) == 2:
            m = LogisticRegression(solver="liblinear", C=C, l1_ratio=1.0 if penalty == "l1" else 0.0,
                                   class_weight=class_weight, random_state=0, **kw)
        else:
            m = LiblinearOvR(C=C, penalty=penalty, class_weight=class_weight, random_state=0, **kw)
        m.fit(X, y)
    m.convergence_warning_ = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return m


def main():
    bindir, shared = sys.argv[1], sys.argv[2]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = os.path.join(repo, "tests", "golden", "logreg")
    os.makedirs(out, exist_ok=True)
    if sys.argv[3:] == ["--only", "grid_list"]:
        grid_list_golden(out)
        print(f"{out}/grid_list.json written")
        return
    if sys.argv[3:]:
        sys.exit("usage: logreg_ref.py BIN_DIR SHARED_DIR [--only grid_list]")
    from sklearn.datasets import make_classification
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    # tweets: 3 classes, sparse TF-IDF
    csv = os.path.join(shared, "datasets", "tweet_sentiment_extraction", "train.csv")
    clean = subprocess.run([os.path.join(bindir, "csvclean"), "-q", "--preset", "tweet", "--id", "textID",
                            "--label", "sentiment", csv], check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in clean.splitlines()[:1500]]
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=2000, sublinear_tf=True)
    Xt = vec.fit_transform([r["text"] for r in rows])
    Xt.sort_indices()
    tweet_ids = [r["id"] for r in rows]
    yt = np.array([r["label"] for r in rows])
    with gz_text(os.path.join(out, "tweets.jsonl.gz")) as f:
        write_vectors(f, tweet_ids, Xt, yt)

    # binary: dense, from make_classification
    Xb, yb_num = make_classification(n_samples=300, n_features=20, n_informative=6, random_state=7)
    yb = np.array(["yes" if v else "no" for v in yb_num])
    bin_ids = [f"b{i}" for i in range(len(yb))]
    Xb = sp.csr_matrix(Xb)
    with gz_text(os.path.join(out, "binary.jsonl.gz")) as f:
        write_vectors(f, bin_ids, Xb, yb)

    configs = []  # (data, C, penalty, class_weight, other options)
    for C in [0.1, 1, 8]:
        for penalty in ["l1", "l2"]:
            for cw in [None, "balanced"]:
                configs.append(("tweets", C, penalty, cw, {}))
    for C in [0.1, 1, 8]:
        for penalty in ["l1", "l2"]:
            configs.append(("binary", C, penalty, "balanced" if C == 1 else None, {}))
    configs.append(("tweets", 1, "l2", "negative:1.2,neutral:0.8,positive:1.2", {}))
    configs.append(("tweets", 1, "l1", "negative:1.2,neutral:0.8,positive:1.2", {}))
    configs.append(("tweets", 1, "l2", None, {"intercept_scaling": 10.0}))
    configs.append(("binary", 1, "l1", None, {"fit_intercept": False}))
    configs.append(("tweets", 8, "l1", None, {"max_iter": 3}))  # stops at max_iter
    configs.append(("tweets", 8, "l2", "balanced", {"max_iter": 2}))
    # tolerances other than the default 1e-4: fewer or more iterations
    configs.append(("tweets", 1, "l2", None, {"tol": 0.1}))
    configs.append(("tweets", 1, "l1", "balanced", {"tol": 0.01}))
    configs.append(("binary", 8, "l2", None, {"tol": 1e-7}))
    configs.append(("binary", 0.1, "l1", None, {"tol": 1e-6}))
    data = {"tweets": (Xt, yt), "binary": (Xb, yb)}
    with gz_text(os.path.join(out, "liblinear.jsonl.gz")) as f:
        for name, C, penalty, cw, extra in configs:
            X, y = data[name]
            cw_arg = cw
            if cw and ":" in cw:
                cw_arg = {k: float(v) for k, v in (p.rsplit(":", 1) for p in cw.split(","))}
            m = reference(X, y, C, penalty, cw_arg, extra)
            dec = m.decision_function(X)
            if dec.ndim == 1:
                dec = np.stack([-dec, dec], axis=1)
            pred = m.predict(X)
            rec = {"data": name, "options": options(C, penalty, cw, extra),
                   "n_iter": [int(v) for v in np.atleast_1d(m.n_iter_)],
                   "intercept": [float(v) for v in np.atleast_1d(m.intercept_)],
                   "nonzero_coef": int(np.count_nonzero(m.coef_)),
                   "convergence_warning": m.convergence_warning_,
                   "pred": [int(np.searchsorted(m.classes_, p)) for p in pred],
                   "decision_every": DECISION_EVERY,
                   "decision": [[float(v) for v in row] for row in dec[::DECISION_EVERY]]}
            if C == 1 and not extra:
                rec["proba"] = [[float(v) for v in row] for row in m.predict_proba(X)[::DECISION_EVERY]]
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")

    # multinomial: scikit-learn's LogisticRegression(solver='lbfgs'), L2;
    # "tight" configurations run both sides to tol 1e-10 (the optimum; the
    # L-BFGS line searches differ, so the iterates on the way do not)
    tight = {"tol": 1e-10, "max_iter": 100000}
    mconfigs = [("tweets", C, cw, tight) for C in [0.1, 1, 8] for cw in [None, "balanced"]]
    mconfigs += [("tweets", 1, "negative:1.2,neutral:0.8,positive:1.2", tight),
                 ("tweets", 1, None, {**tight, "fit_intercept": False}),
                 ("binary", 0.1, None, tight), ("binary", 1, "balanced", tight), ("binary", 8, None, tight),
                 ("tweets", 1, None, {"tol": 1e-4, "max_iter": 100}),  # scikit-learn's defaults
                 ("tweets", 8, None, {"tol": 1e-4, "max_iter": 5})]    # stops at max_iter
    with gz_text(os.path.join(out, "multinomial.jsonl.gz")) as f:
        for name, C, cw, extra in mconfigs:
            X, y = data[name]
            cw_arg = cw
            if cw and ":" in cw:
                cw_arg = {k: float(v) for k, v in (p.rsplit(":", 1) for p in cw.split(","))}
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                m = LogisticRegression(C=C, class_weight=cw_arg, **extra).fit(X, y)
            warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
            opts = ["-C", repr(C), "--class-weight", "none" if cw is None else cw, "--multi-class", "multinomial",
                    "--tol", repr(extra["tol"]), "--max-iter", str(extra["max_iter"])]
            if extra.get("fit_intercept") is False:
                opts += ["--no-intercept"]
            dec = m.decision_function(X)
            if dec.ndim == 1:
                dec = np.stack([-dec, dec], axis=1)
            rec = {"data": name, "options": opts, "tight": extra["tol"] == tight["tol"],
                   "n_iter": [int(v) for v in np.atleast_1d(m.n_iter_)],
                   "intercept": [float(v) for v in np.atleast_1d(m.intercept_)],
                   "convergence_warning": warned,
                   "pred": [int(np.searchsorted(m.classes_, p)) for p in m.predict(X)],
                   "decision_every": MULTI_EVERY,
                   "decision": [[float(v) for v in row] for row in dec[::MULTI_EVERY]],
                   "proba": [[float(v) for v in row] for row in m.predict_proba(X)[::MULTI_EVERY]]}
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")

    # scores: accuracy and macro/weighted F1 of a few label vectors
    rng = np.random.RandomState(3)
    cases = [(rng.randint(0, 3, 50), rng.randint(0, 3, 50), 3),
             (np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 1, 0]), 3),   # class 2 never predicted
             (np.array([0, 0, 1, 1, 1, 0]), np.array([0, 2, 1, 1, 2, 0]), 3),   # class 2 only predicted
             (np.array([0, 1, 1, 0, 1]), np.array([0, 1, 0, 0, 1]), 4),         # classes 2, 3 nowhere
             (rng.randint(0, 2, 31), rng.randint(0, 2, 31), 2)]
    with open(os.path.join(out, "scores.json"), "w", encoding="utf-8") as f:
        recs = []
        for truth, pred, k in cases:
            recs.append({"classes": k, "truth": truth.tolist(), "pred": pred.tolist(),
                         "accuracy": accuracy_score(truth, pred),
                         "macro_f1": f1_score(truth, pred, average="macro"),
                         "weighted_f1": f1_score(truth, pred, average="weighted")})
        json.dump(recs, f)
        f.write("\n")

    # grid search on the tweets with scikit-learn's folds
    skf = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    fold_of = np.empty(len(yt), dtype=int)
    for k, (_, test) in enumerate(skf.split(Xt, yt)):
        fold_of[test] = k
    with gz_text(os.path.join(out, "folds.jsonl.gz")) as f:
        for i, k in zip(tweet_ids, fold_of):
            f.write(json.dumps({"id": i, "fold": int(k)}) + "\n")
    grid = {"C": [0.1, 1, 8], "penalty": ["l1", "l2"], "class_weight": [None, "balanced"]}
    splits = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(3)]
    gs = GridSearchCV(LiblinearOvR(random_state=0), grid, scoring="f1_macro", cv=splits, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(Xt, yt)
    res = gs.cv_results_
    cands = []
    for i, p in enumerate(res["params"]):
        cands.append({"C": p["C"], "class_weight": p["class_weight"] or "none", "penalty": p["penalty"],
                      "mean_score": float(res["mean_test_score"][i]), "rank": int(res["rank_test_score"][i])})
    best = gs.best_params_
    with open(os.path.join(out, "grid.json"), "w", encoding="utf-8") as f:
        json.dump({"grid": "C=0.1,1,8;penalty=l1,l2;class_weight=none,balanced", "folds": 3,
                   "seed": SKLEARN_SEED, "scoring": "macro_f1",
                   "best_params": {"C": best["C"], "class_weight": best["class_weight"] or "none",
                                   "penalty": best["penalty"]},
                   "best_score": float(gs.best_score_), "candidates": cands}, f, indent=1)
        f.write("\n")
    grid_list_golden(out)
    print(f"logreg goldens written to {out}")


if __name__ == "__main__":
    main()
