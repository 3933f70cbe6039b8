#!/bin/bash
# The tables of make sweep (pipelines/sweep.mk).
#   sweep_table.sh jsonl SW NRUNGS METRIC PARTS   every trial of SW/plan.jsonl,
#       a record each: trial, params, status (done or pruned), pruned_at
#       (the rung whose cut stopped it), steps (trained), total_steps (of its
#       schedule), wall_s, final_score (done: the best validation score, whose
#       weights the model keeps; pruned: the score at its last rung) and
#       evals: [{step, share (of the schedule), score}] from its training log
#   sweep_table.sh csv < trials.jsonl      the same as CSV, a column per parameter
#   sweep_table.sh curves < trials.jsonl   trial,share,score: one row per evaluation
set -eu
case ${1:-} in
jsonl)
    sw=$2 nrungs=$3 metric=$4 parts=$5
    jq -r .trial "$sw/plan.jsonl" | while read -r t; do
        jq -c --arg m "val_$metric" --argjson p "$parts" --slurpfile r "$sw/$t/rung$nrungs.json" \
              --slurpfile plan <(jq -c --arg t "$t" 'select(.trial == $t)' "$sw/plan.jsonl") -s '
            $r[0] as $f
            | {trial: $f.trial, params: $plan[0].params, status: $f.status, pruned_at: $f.pruned_at,
               steps: $f.step, total_steps: $f.total_steps, wall_s: $f.wall_s, final_score: $f.score,
               evals: [.[] | select(.[$m] != null)
                       | {step, share: ((.step * $p / $f.total_steps | floor) / $p), score: .[$m]}]}' \
            "$sw/$t/train_log.jsonl"
    done
    ;;
csv)
    jq -rs '(.[0].params | keys_unsorted) as $k
        | (["trial", "index"] + $k + ["status", "pruned_at", "steps", "total_steps", "wall_s", "final_score"] | join(",")),
          (to_entries[] | .key as $i | .value
           | [.trial, $i] + [.params[$k[]]] + [.status, .pruned_at, .steps, .total_steps, .wall_s, .final_score]
           | map(if . == null then "" else tostring end) | join(","))'
    ;;
curves)
    echo "trial,share,score"
    jq -r '.trial as $t | .evals[] | "\($t),\(.share),\(.score)"'
    ;;
*)
    echo "usage: sweep_table.sh jsonl SW NRUNGS METRIC PARTS | csv | curves" >&2
    exit 2
    ;;
esac
