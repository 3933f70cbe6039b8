#!/bin/bash
# The sweep's report (runs/STUDY/sweep/report.md), from what pipelines/sweep.mk
# made in SW: trials.csv, trials.jsonl, best.json, test.metrics.json, plots.
#   sweep_report.sh SW SEARCH SPACE METRIC PRUNE ETA RUNGS
# When a full search (PRUNE=0) of the same plan exists beside it (SW-full),
# the report says whether pruning found the same best trial, and at what cost.
set -eu
sw=$1 search=$2 space=$3 metric=$4 prune=$5 eta=$6 rungs=$7
n=$(jq -s length "$sw/trials.jsonl")
f4() { awk -v x="$1" 'BEGIN { printf "%.4f", x }'; }

echo "## Hyperparameter search"
echo
echo "$search search over \`$space\`: $n trials (\`trials\` writes them to plan.jsonl, reproducibly from the seed),"
echo "each bert-train on the training split, scored by validation $metric."
if [ "$prune" = 1 ]; then
    shares=$(for k in $(seq 1 $((rungs - 1))); do printf '1/%s, ' $((eta ** (rungs - k))); done)
    echo "Pruning: successive halving with eta = $eta: every trial trains to ${shares}then the whole of its own schedule;"
    echo "at each rung only the best max(1, n/$eta) by validation $metric go on."
else
    echo "No pruning: every trial trains to the end of its schedule."
fi
echo
echo "### Trials, best first"
echo
jq -rs --arg m "$metric" '(.[0].params | keys_unsorted) as $k
    | "| trial | " + ($k | join(" | ")) + " | status | steps | wall (s) | val \($m) |",
      "|---|" + ($k | map("---") | join("|")) + "|---|---:|---:|---:|",
      (sort_by(-(.final_score // -1))[]
       | "| \(.trial) | " + ([.params[$k[]] | tostring] | join(" | ")) + " | "
         + (if .status == "pruned" then "pruned at rung \(.pruned_at)" else "done" end)
         + " | \(.steps) of \(.total_steps) | \(.wall_s | floor) | \(.final_score * 10000 | round / 10000) |")' "$sw/trials.jsonl"
echo
best=$(jq -r .trial "$sw/best.json")
echo "### The best trial, scored on test once"
echo
echo "**$best** ($(jq -r '.params | to_entries | map("\(.key) \(.value)") | join(", ")' "$sw/best.json")):"
echo "validation $metric $(f4 "$(jq .final_score "$sw/best.json")"); on test accuracy $(f4 "$(jq .accuracy "$sw/test.metrics.json")"),"
echo "macro-F1 $(f4 "$(jq .macro.f1 "$sw/test.metrics.json")") (test.metrics.json; its model: $best/model)."
echo
trained=$(jq -s 'map(.steps) | add' "$sw/trials.jsonl")
full=$(jq -s 'map(.total_steps) | add' "$sw/trials.jsonl")
wall=$(jq -s 'map(.wall_s) | add | floor' "$sw/trials.jsonl")
if [ "$prune" = 1 ]; then
    echo "### What pruning saved"
    echo
    pruned=$(jq -s 'map(select(.status == "pruned")) | length' "$sw/trials.jsonl")
    echo "$pruned of $n trials were pruned. Training steps: $trained, against $full for every trial to its end:"
    echo "$((full - trained)) steps saved ($(awk -v a="$trained" -v b="$full" 'BEGIN { printf "%.0f", 100 * (1 - a / b) }')%). Training time in all: ${wall} s."
    fullsw=$sw-full
    if [ -f "$fullsw/trials.jsonl" ] && [ -f "$fullsw/best.json" ] && cmp -s "$sw/plan.jsonl" "$fullsw/plan.jsonl"; then
        fbest=$(jq -r .trial "$fullsw/best.json")
        ffull=$(jq -s 'map(.steps) | add' "$fullsw/trials.jsonl")
        fwall=$(jq -s 'map(.wall_s) | add | floor' "$fullsw/trials.jsonl")
        echo
        if [ "$fbest" = "$best" ]; then
            echo "The full search of the same plan (PRUNE=0, $(basename "$fullsw")/) found the same best trial, **$fbest**,"
        else
            echo "The full search of the same plan (PRUNE=0, $(basename "$fullsw")/) found another best trial, **$fbest**"
            echo "(validation $metric $(f4 "$(jq .final_score "$fullsw/best.json")"), against $(f4 "$(jq .final_score "$sw/best.json")") here),"
        fi
        echo "with $ffull training steps in $fwall s, against $trained steps in $wall s with pruning."
    fi
else
    echo "Training steps: $trained; training time in all: ${wall} s."
fi
echo
echo "### Plots"
echo
echo "- Validation $metric at each evaluation, by trial (pruned trials stop at their rung): ![curves](curves.svg)"
for f in "$sw"/param-*.svg; do
    [ -e "$f" ] || continue
    p=$(basename "$f" .svg)
    p=${p#param-}
    echo "- Final validation $metric against $p: ![$p]($(basename "$f"))"
done
