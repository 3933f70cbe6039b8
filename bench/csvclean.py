#!/usr/bin/env python3
"""Benchmark: csvclean --preset tweet against the same cleaning written in
Python (bench/ref_clean.py: re + html + snowballstemmer) on the Kaggle tweets
(train.csv + test.csv, 31,015 rows), in the same run. Prints the best of REPS
wall times for each, the speed ratio, and whether the outputs are identical.

usage: bench/csvclean.py BIN_DIR SHARED_DIR [--reps N]"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("shared")
ap.add_argument("--reps", type=int, default=5)
args = ap.parse_args()
tweets = os.path.join(args.shared, "datasets", "tweet_sentiment_extraction")
inputs = [os.path.join(tweets, "train.csv"), os.path.join(tweets, "test.csv")]


def best_of(cmd, out_path):
    best = None
    for _ in range(args.reps):
        with open(out_path, "wb") as out:
            start = time.perf_counter()
            subprocess.run(cmd, stdout=out, check=True)
            took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    return best


with tempfile.TemporaryDirectory() as tmp:
    c_out, py_out = os.path.join(tmp, "c.jsonl"), os.path.join(tmp, "py.jsonl")
    c_time = best_of([os.path.join(args.bin, "csvclean"), "-q", "--preset", "tweet",
                      "--id", "textID", "--label", "sentiment"] + inputs, c_out)
    c_lines = open(c_out, encoding="utf-8").read().splitlines()
    refs = []  # (name, seconds, lines that differ from csvclean's output)
    for stemmer in ["snowballstemmer", "pystemmer"]:
        try:
            py_time = best_of([sys.executable, os.path.join(repo, "bench", "ref_clean.py"),
                               "--stemmer", stemmer,
                               "--stopwords", os.path.join(repo, "data", "stopwords", "english.txt")]
                              + inputs, py_out)
        except subprocess.CalledProcessError:
            print(f"  (Python reference with {stemmer} did not run: is it installed?)")
            continue
        py_lines = open(py_out, encoding="utf-8").read().splitlines()
        differ = sum(a != b for a, b in zip(c_lines, py_lines)) + abs(len(c_lines) - len(py_lines))
        refs.append((stemmer, py_time, differ))

from importlib.metadata import version  # noqa: E402

print(f"csvclean --preset tweet on {len(c_lines)} written rows, best of {args.reps} runs, "
      f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
print(f"  csvclean (C)                          {c_time:8.3f} s")
for stemmer, py_time, differ in refs:
    pkg = {"snowballstemmer": "snowballstemmer", "pystemmer": "PyStemmer"}[stemmer]
    print(f"  Python re + html + {pkg:<16} {py_time:8.3f} s   {py_time / c_time:6.1f}x slower"
          f" ({pkg} {version(pkg)}); outputs identical: {'yes' if differ == 0 else f'no, {differ} lines differ'}")
