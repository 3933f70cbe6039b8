#!/usr/bin/env python3
"""Benchmark: tfidf fit + apply against scikit-learn's TfidfVectorizer
fit_transform + transform, in the same run, on all the cleaned tweets
(csvclean --preset tweet over train.csv + test.csv), with the study's options:
1-3-grams, max_features 100000, min_df 2, max_df 0.95, sublinear tf.

Prints the best of REPS wall times (and the CPU time of that run) for each
side and the end-to-end speed ratio, tfidf on one thread (the default) and on
one per processor (-j N); the peak RSS of tfidf fit (and of sklearn's
process for comparison); and whether the two agree (the same vocabulary,
values to 1e-6).

tfidf's times include reading the NDJSON records and writing the model and
every vector as NDJSON text (to a file); sklearn's take a Python list of the
texts and return an in-memory sparse matrix (its reading of the records is
timed apart and not counted).

usage: bench/tfidf.py BIN_DIR SHARED_DIR [--reps N]"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("shared")
ap.add_argument("--reps", type=int, default=5)
args = ap.parse_args()
tweets = os.path.join(args.shared, "datasets", "tweet_sentiment_extraction")
inputs = [os.path.join(tweets, "train.csv"), os.path.join(tweets, "test.csv")]
tfidf = os.path.join(args.bin, "tfidf")
FIT_OPTS = ["--ngram", "1,3", "--max-features", "100000", "--min-df", "2", "--max-df", "0.95", "--sublinear-tf"]
SK_PARAMS = dict(ngram_range=(1, 3), max_features=100000, min_df=2, max_df=0.95, sublinear_tf=True)
THREADS = min(os.cpu_count() or 1, 8)


def run_child(cmd, out_path):
    """Runs cmd with stdout to out_path; returns (wall s, cpu s, peak RSS MiB) of that child alone."""
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({status})")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def best(runs):
    return min(runs, key=lambda r: r[0])


SK_CHILD = r"""
import json, sys, time, resource
from sklearn.feature_extraction.text import TfidfVectorizer
t0 = time.perf_counter()
docs = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
t1 = time.perf_counter()
c1 = time.process_time()
v = TfidfVectorizer(**eval(sys.argv[2]))
X = v.fit_transform(docs)
t2 = time.perf_counter()
c2 = time.process_time()
Y = v.transform(docs)
t3 = time.perf_counter()
c3 = time.process_time()
print(json.dumps({"read": t1 - t0, "fit": t2 - t1, "apply": t3 - t2, "fit_cpu": c2 - c1, "apply_cpu": c3 - c2,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

with tempfile.TemporaryDirectory() as tmp:
    clean = os.path.join(tmp, "clean.jsonl")
    with open(clean, "wb") as out:
        subprocess.run([os.path.join(args.bin, "csvclean"), "-q", "--preset", "tweet", "--id", "textID",
                        "--label", "sentiment"] + inputs, stdout=out, check=True)
    n_docs = sum(1 for _ in open(clean, encoding="utf-8"))
    model = os.path.join(tmp, "model")
    fit_out, apply_out = os.path.join(tmp, "fit.jsonl"), os.path.join(tmp, "apply.jsonl")

    c_fit, c_apply, c_fit1, c_apply1, sk = [], [], [], [], []
    for _ in range(args.reps):
        jn = ["-j", str(THREADS)]
        c_fit.append(run_child([tfidf, "fit"] + jn + ["-q", "-m", model] + FIT_OPTS + [clean], fit_out))
        c_apply.append(run_child([tfidf, "apply"] + jn + ["-m", model, clean], apply_out))
        c_fit1.append(run_child([tfidf, "fit", "-q", "-m", model] + FIT_OPTS + [clean], fit_out))
        c_apply1.append(run_child([tfidf, "apply", "-m", model, clean], apply_out))
        r = subprocess.run([sys.executable, "-c", SK_CHILD, clean, repr(SK_PARAMS)], stdout=subprocess.PIPE,
                           check=True)
        sk.append(json.loads(r.stdout))
    # peak RSS of fit with every 1-3-gram kept (no min_df / max_df / max_features)
    all_grams = run_child([tfidf, "fit", "-q", "-m", os.path.join(tmp, "all"), "--ngram", "1,3", clean],
                          os.path.join(tmp, "all.jsonl"))
    all_dim = json.load(open(os.path.join(tmp, "all", "tfidf.json")))["n_features"]

    # agreement with sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    docs = [json.loads(line)["text"] for line in open(clean, encoding="utf-8")]
    vec = TfidfVectorizer(**SK_PARAMS)
    X = vec.fit_transform(docs).tocsr()
    X.sort_indices()
    ours = json.load(open(os.path.join(model, "tfidf.json"), encoding="utf-8"))
    same_vocab = ours["vocabulary"] == vec.get_feature_names_out().tolist()
    worst = 0.0
    same_pattern = True
    for i, line in enumerate(open(fit_out, encoding="utf-8")):
        x = json.loads(line)["x"]
        row = X[i]
        if x["idx"] != row.indices.tolist():
            same_pattern = False
            break
        if x["idx"]:
            worst = max(worst, float(np.max(np.abs(np.array(x["val"]) - row.data))))
    same_apply = open(fit_out, "rb").read() == open(apply_out, "rb").read()

from importlib.metadata import version  # noqa: E402

fit_b, apply_b = best(c_fit), best(c_apply)
fit1_b, apply1_b = best(c_fit1), best(c_apply1)
sk_fit = min(s["fit"] for s in sk)
sk_apply = min(s["apply"] for s in sk)
sk_fit_cpu = min(s["fit_cpu"] for s in sk)
sk_apply_cpu = min(s["apply_cpu"] for s in sk)
sk_total = sk_fit + sk_apply
threads = THREADS
print(f"tfidf fit + apply vs scikit-learn {version('scikit-learn')} TfidfVectorizer fit_transform + transform")
print(f"  {n_docs} cleaned tweets (train.csv + test.csv), ngram 1-3, max_features 100000, min_df 2, "
      f"max_df 0.95, sublinear_tf; {len(ours['vocabulary'])} features")
print(f"  best of {args.reps} runs (wall; CPU of that run), {platform.processor() or platform.machine()}, "
      f"{os.cpu_count()} cores, Python {platform.python_version()}")
print(f"  tfidf fit    1 thread {fit1_b[0]:7.3f} s  (cpu {fit1_b[1]:.3f})   -j {threads} {fit_b[0]:7.3f} s  "
      f"(cpu {fit_b[1]:.3f})   reads NDJSON, writes model + NDJSON vectors")
print(f"  tfidf apply  1 thread {apply1_b[0]:7.3f} s  (cpu {apply1_b[1]:.3f})   -j {threads} {apply_b[0]:7.3f} s  "
      f"(cpu {apply_b[1]:.3f})   reads NDJSON, writes NDJSON vectors")
print(f"  sklearn fit_transform {sk_fit:7.3f} s  (cpu {sk_fit_cpu:.3f})   list of str in, sparse matrix out")
print(f"  sklearn transform     {sk_apply:7.3f} s  (cpu {sk_apply_cpu:.3f})")
print(f"  (sklearn reading the records with json.loads, not counted: {min(s['read'] for s in sk):.3f} s)")
for label, f, a in (("1 thread", fit1_b, apply1_b), (f"-j {threads}", fit_b, apply_b)):
    print(f"  end to end, tfidf {label}: {f[0] + a[0]:.3f} s vs sklearn {sk_total:.3f} s: "
          f"speed ratio {sk_total / (f[0] + a[0]):.1f}x  (CPU time ratio "
          f"{(sk_fit_cpu + sk_apply_cpu) / (f[1] + a[1]):.1f}x)")
print(f"  peak RSS: tfidf fit {max(r[2] for r in c_fit1):.0f} MiB (-j {threads}: {max(r[2] for r in c_fit):.0f}); with every 1-3-gram kept ({all_dim} features) "
      f"{all_grams[2]:.0f} MiB; sklearn's process {max(s['rss'] for s in sk):.0f} MiB")
print(f"  agreement: vocabulary {'identical' if same_vocab else 'DIFFERS'}, "
      f"{'same nonzeros' if same_pattern else 'nonzeros DIFFER'}, values max |diff| {worst:.1e}; "
      f"apply output {'identical to' if same_apply else 'DIFFERS from'} fit's")
