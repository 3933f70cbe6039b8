#!/usr/bin/env python3
"""Independent reference for stratsplit's sizes: the largest-remainder rule in
exact rational arithmetic. Given per-class row counts (a csvclean --stats JSON
from bench/ref_clean.py), prints the table stratsplit writes on stderr for
--ratios R --seed S [--subsample F]. Sizes only: which rows go where is
stratsplit's seeded draw and is checked by its own tests.

usage: split_ref.py STATS.json RATIOS SEED [SUBSAMPLE_FRACTION]"""
import json
import math
import sys
from fractions import Fraction


def apportion(total, weights):
    """floor of each quota, then the remaining units to the largest
    remainders, ties to the lower index"""
    wsum = sum(weights)
    quotas = [Fraction(total) * w / wsum for w in weights]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda k: (-(quotas[k] - counts[k]), k))
    for k in order[: total - sum(counts)]:
        counts[k] += 1
    return counts


stats = json.load(open(sys.argv[1]))
ratios = [Fraction(r) for r in sys.argv[2].split("/")]
seed = sys.argv[3]
subsample = Fraction(sys.argv[4]) if len(sys.argv) > 4 else None
names = {2: ["train", "test"], 3: ["train", "val", "test"]}[len(ratios)]
labels = sorted(stats["labels"])  # byte order == code point order for these labels
sizes = [stats["labels"][l] for l in labels]

table = {name: [0] * len(labels) for name in names}
for c, n in enumerate(sizes):
    for name, k in zip(names, apportion(n, ratios)):
        table[name][c] = k
if subsample is not None:
    train = table["train"]
    total = math.floor(subsample * sum(train) + Fraction(1, 2))
    table["train"] = apportion(total, train)

header = ["split"] + labels + ["total"]
rows = [[name] + [str(v) for v in table[name]] + [str(sum(table[name]))] for name in names]
first = max(len(r[0]) for r in [header] + rows)
widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
n_rows = sum(sizes)
print(f"stratsplit: {n_rows} row{'s' if n_rows != 1 else ''}, {len(labels)} class{'es' if len(labels) != 1 else ''}, seed {seed}")
for r in [header] + rows:
    print(r[0].ljust(first) + "".join("  " + r[i].rjust(widths[i]) for i in range(1, len(r))))
