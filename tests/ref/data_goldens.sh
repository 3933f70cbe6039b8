#!/bin/sh
# Regenerates the data stage's goldens with the reference implementations:
#   tests/golden/prng.txt                 tests/ref/prng_ref.py (xoshiro256** in Python)
#   tests/golden/tweets/clean.sha256      sha256 of bench/ref_clean.py's records
#                                         (Python re + html + snowballstemmer)
#   tests/golden/tweets/clean_summary.txt csvclean's summary lines, numbers from ref_clean.py
#   tests/golden/tweets/split*.txt        stratsplit's tables, sizes from tests/ref/split_ref.py
# Usage: tests/ref/data_goldens.sh BIN_DIR SHARED_DIR   (run by `make golden`)
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=$2
t=$shared/datasets/tweet_sentiment_extraction
out=$repo/tests/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/tweets"

python3 "$repo/tests/ref/prng_ref.py" "$out/prng.txt"

python3 "$repo/bench/ref_clean.py" --stopwords "$repo/data/stopwords/english.txt" \
    --stats --out "$tmp/clean.jsonl" "$t/train.csv" "$t/test.csv" > "$tmp/stats.json"
sha256sum < "$tmp/clean.jsonl" | cut -d' ' -f1 > "$out/tweets/clean.sha256"
python3 - "$tmp/stats.json" > "$out/tweets/clean_summary.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
d = s["dropped"]
print(f"csvclean: read {s['rows_read']} rows from 2 files")
print(f"csvclean: dropped {d['empty']} empty, {d['duplicate']} duplicate, "
      f"{d['empty_after_tokens']} empty after token steps, 0 missing label, 0 in small classes")
print(f"csvclean: wrote {s['rows_written']} rows: "
      + ", ".join(f"{k} {v}" for k, v in sorted(s["labels"].items())))
PY
python3 "$repo/tests/ref/split_ref.py" "$tmp/stats.json" 70/15/15 42 > "$out/tweets/split.txt"
python3 "$repo/tests/ref/split_ref.py" "$tmp/stats.json" 70/15/15 42 2/5 > "$out/tweets/split_subsample.txt"
echo "data goldens written to $out" >&2
