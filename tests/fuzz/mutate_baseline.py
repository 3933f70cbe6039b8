#!/usr/bin/env python3
"""Mutation fuzzing of the baseline programs as a user runs them (make
fuzz-baseline; not part of make check). From 200 cleaned tweets it makes
valid inputs (text records, vector records, a tfidf + logreg model
directory, its logreg.json one-vs-rest or multinomial), then runs tfidf
fit / apply, logreg (one fit or a small grid search on two threads, either
kind) and predict on randomly damaged copies: bytes
changed, cut, repeated, or replaced by numbers and escapes at the edges of
JSON (1e308, NaN, \\u0000, lone surrogates, ...), or a damaged model file.

Every run must end with exit status 0, 1 or 2 within 60 seconds; a success
must write JSON records (no NaN or Infinity), a failure exactly one line on
standard error and no output file; and no run may print a sanitizer report. Build the programs
with SANITIZE=1 for the last check to mean something (the make target
does). Failing inputs are kept in the work directory.

usage: tests/fuzz/mutate_baseline.py BIN_DIR SHARED_DIR [--seed N] [--runs N] [--work DIR]"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("shared")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--runs", type=int, default=500)
ap.add_argument("--work", help="keep the inputs here (default: a temporary directory)")
args = ap.parse_args()
rng = random.Random(args.seed)
EDGES = [b"1e308", b"-1e308", b"1e999", b"-0", b"NaN", b"\\u0000", b"\\ud800", b"99999999999", b"4294967296",
         b"[]", b"{}", b"null", b"\"", b",", b"\n", b"\r", b"-1", b"0.5e-320", b"\"dim\":0", b"\xff", b"\xc3"]


def prog(name):
    return os.path.join(args.bin, name)


NUMBERS = [b"1e308", b"-1e308", b"1e30", b"1e31", b"-1e-320", b"0", b"-0", b"0.0", b"4294967295", b"4294967296",
           b"7731", b"7732", b"-1", b"1.5", b"123456789012345678901234567890", b"1E2", b"2e-5"]
STRINGS = [b"", b"\\u0000", b"\\ud800", b"\\u00e9\\u4e2d", b"\xf0\x9f\x98\x80", b"a b c", b"\\\"", b"x" * 300]
NUMBER = re.compile(rb"-?[0-9][0-9.eE+-]*")
STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def mutate(b):
    """half the time a few values swapped for edge cases, the JSON kept
    valid (so that the run gets past the parser), else raw byte damage"""
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 3)):
            pattern, choices = (NUMBER, NUMBERS) if rng.random() < 0.7 else (STRING, STRINGS)
            found = list(pattern.finditer(b))
            if not found:
                break
            m = rng.choice(found)
            new = rng.choice(choices)
            if pattern is STRING:
                new = b'"' + new + b'"'
            b = b[:m.start()] + new + b[m.end():]
        return b
    b = bytearray(b)
    for _ in range(rng.randint(1, 8)):
        if not b:
            break
        i, op = rng.randrange(len(b)), rng.random()
        if op < 0.3:
            b[i] = rng.randrange(256)
        elif op < 0.5:
            del b[i:i + rng.randint(1, 20)]
        elif op < 0.7:
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randint(1, 40)]
        elif op < 0.9:
            b[i:i] = rng.choice(EDGES)
        else:
            del b[i:]
    return bytes(b)


def reject(token):
    raise ValueError(f"{token} is not JSON")


def not_json_lines(path):
    """None if every line of path is a JSON object with finite numbers"""
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line, parse_constant=reject)
            except ValueError as e:
                return f"output line {n} is not JSON ({e})"
            if not isinstance(rec, dict):
                return f"output line {n} is not an object"
    return None


def main():
    work = args.work or tempfile.mkdtemp(prefix="fuzz-baseline.")
    os.makedirs(work, exist_ok=True)
    csv = os.path.join(args.shared, "datasets", "tweet_sentiment_extraction", "train.csv")
    clean = subprocess.run([prog("csvclean"), "-q", "--preset", "tweet", "--id", "textID", "--label", "sentiment",
                            csv], check=True, capture_output=True).stdout
    texts = b"".join(clean.splitlines(keepends=True)[:200])
    seed_dir = os.path.join(work, "seed")
    os.makedirs(seed_dir, exist_ok=True)
    with open(os.path.join(seed_dir, "texts.jsonl"), "wb") as f:
        f.write(texts)
    model = os.path.join(seed_dir, "model")
    vectors = subprocess.run([prog("tfidf"), "fit", "-q", "-m", model, "--ngram", "1,2", "--drop-text",
                              os.path.join(seed_dir, "texts.jsonl")], check=True, capture_output=True).stdout
    with open(os.path.join(seed_dir, "vectors.jsonl"), "wb") as f:
        f.write(vectors)
    subprocess.run([prog("logreg"), "-q", "-m", model, "-C", "2", os.path.join(seed_dir, "vectors.jsonl")],
                   check=True)
    model_files = {n: open(os.path.join(model, n), "rb").read() for n in ("tfidf.json", "logreg.json")}
    # the same directory with a multinomial logreg.json, for half the runs
    subprocess.run([prog("logreg"), "-q", "-m", model, "-C", "2", "--multi-class", "multinomial",
                    os.path.join(seed_dir, "vectors.jsonl")], check=True)
    multinomial_logreg = open(os.path.join(model, "logreg.json"), "rb").read()

    kinds = ["tfidf fit", "tfidf apply", "logreg", "logreg grid", "predict vectors", "predict text",
             "damaged tfidf.json", "damaged logreg.json"]
    bad = 0
    outcomes = {}  # (kind, exit status) -> runs
    for run in range(args.runs):
        kind = rng.choice(kinds)
        w = os.path.join(work, "run")
        shutil.rmtree(w, ignore_errors=True)
        os.makedirs(os.path.join(w, "model"))
        multinomial = rng.random() < 0.5
        for n, t in model_files.items():
            if n == "logreg.json" and multinomial:
                t = multinomial_logreg
            damaged = kind == "damaged " + n
            with open(os.path.join(w, "model", n), "wb") as f:
                f.write(mutate(t) if damaged else t)
        text_input = kind in ("tfidf fit", "tfidf apply", "predict text", "damaged tfidf.json")
        data = texts if text_input else vectors
        if not kind.startswith("damaged"):
            data = mutate(data)
        inp, out, m2 = os.path.join(w, "in.jsonl"), os.path.join(w, "out.jsonl"), os.path.join(w, "m2")
        with open(inp, "wb") as f:
            f.write(data)
        penalty = rng.choice(["l1", "l2"])
        cmd = {"tfidf fit": [prog("tfidf"), "fit", "-q", "-m", m2, "--ngram", "1,3", "--min-df", "2", "-o", out, inp],
               "tfidf apply": [prog("tfidf"), "apply", "-q", "-m", os.path.join(w, "model"), "-o", out, inp],
               "logreg": [prog("logreg"), "-q", "-m", m2, "--penalty", penalty, inp]
               + (["--multi-class", "multinomial"] if multinomial and penalty == "l2" else []),
               "logreg grid": [prog("logreg"), "-q", "-m", m2, "--grid",
                               "C=0.5,4;multi_class=ovr,multinomial" if multinomial else "C=0.5,4;penalty=l1,l2",
                               "--cv", "2", "--jobs", "2", "--cv-out", out, inp]}.get(kind)
        if cmd is None:
            cmd = [prog("predict"), "-q", "-m", os.path.join(w, "model"), "-o", out, inp]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            r = None
        key = (kind, r.returncode if r else "hang")
        outcomes[key] = outcomes.get(key, 0) + 1
        problem = None
        if r is None:
            problem = "no end within 60 s"
        else:
            err = r.stderr.decode(errors="replace")
            lines = [line for line in err.split("\n") if line.strip()]  # not splitlines: an id may hold \x1c
            if "Sanitizer" in err or "runtime error" in err:
                problem = "a sanitizer report"
            elif r.returncode not in (0, 1, 2):
                problem = f"exit status {r.returncode}"
            elif r.returncode and len(lines) != 1:
                problem = f"{len(lines)} lines on standard error"
            elif r.returncode and (os.path.exists(out) or os.path.exists(m2)):
                problem = "output left behind"
            elif r.returncode == 0 and os.path.exists(out) and kind != "logreg grid":
                problem = not_json_lines(out)
        if problem:
            bad += 1
            keep = os.path.join(work, f"failure{run}")
            shutil.copytree(w, keep)
            print(f"FAIL run {run} ({kind}): {problem}: {' '.join(cmd)}; inputs in {keep}")
    for k in sorted(outcomes, key=str):
        print(f"  {k[0]}: exit {k[1]} x{outcomes[k]}")
    print(f"{args.runs} runs, {bad} failed (seed {args.seed})")
    if not args.work and not bad:
        shutil.rmtree(work)
    raise SystemExit(1 if bad else 0)


main()
