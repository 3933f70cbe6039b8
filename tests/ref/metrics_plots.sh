#!/bin/sh
# Draws every cmplot chart from the golden prediction sets, as SVG and PNG,
# for a person to look at (make plots-metrics). Usage: metrics_plots.sh BIN OUTDIR
set -eu
bin=$1
out=$2
g=$(dirname "$0")/../golden/metrics
mkdir -p "$out"
PATH=$bin:$PATH
for set in binary three tracks26 degenerate; do
    metrics --json "$out/$set.json" --names "$set" "$g/$set.jsonl" > "$out/$set.txt"
    cmplot confusion "$out/$set.json" -o "$out/$set.cm.svg"
    cmplot confusion --normalize "$out/$set.json" -o "$out/$set.cm_norm.svg"
    cmplot roc "$g/$set.jsonl" -o "$out/$set.roc.svg"
    cmplot pr "$g/$set.jsonl" -o "$out/$set.pr.svg"
done
cmplot bars --compare "$out/binary.json" "$out/three.json" "$out/tracks26.json" -o "$out/bars.svg"
metrics --compare --format csv --names val,test --positive accept "$g/binary.jsonl" "$g/binary.jsonl" -o "$out/runs.csv"
cmplot bars "$out/runs.csv" --metrics accuracy,pos_precision,pos_recall,pos_f1,pos_predicted_rate -o "$out/bars_csv.svg"
# a made-up training log: loss every 50 steps, evaluation every 200
awk 'BEGIN { for (s = 50; s <= 2000; s += 50) {
    printf "{\"step\":%d,\"epoch\":%.3f,\"train_loss\":%.4f,\"lr\":%.3g}\n", s, s / 1000, 0.5 + 0.7 * exp(-s / 500), s < 200 ? 2e-5 * s / 200 : 2e-5 * (2000 - s) / 1800
    if (s % 200 == 0) printf "{\"step\":%d,\"epoch\":%.3f,\"val_loss\":%.4f,\"val_macro_f1\":%.4f}\n", s, s / 1000, 0.6 + 0.7 * exp(-s / 500) + s / 20000, 0.6 + 0.08 * (1 - exp(-s / 400)) } }' > "$out/log.ndjson"
cmplot curves "$out/log.ndjson" -o "$out/curves.svg"
for f in "$out"/*.svg; do
    xmllint --noout "$f"
    rsvg-convert "$f" -o "${f%.svg}.png"
done
echo "plots in $out" >&2
