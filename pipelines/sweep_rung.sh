#!/bin/bash
# One rung of one trial of make sweep (pipelines/sweep.mk): successive
# halving, rung by rung.
#   sweep_rung.sh SW TRIAL K STOP CUT METRIC -- COMMAND...
# SW is the sweep's folder (SW/plan.jsonl lists the trials, as `trials`
# writes them), TRIAL a trial id, K the rung (1, 2, ...), STOP where the rung
# ends: A/B of the trial's schedule (bert-train --stop-at) or "end". CUT is
# the previous rung's cut (`trials rung`'s records) or "-" for none: a trial
# the cut did not promote is pruned here without training. METRIC is the
# validation score (macro_f1, accuracy, weighted_f1). COMMAND is bert-train
# with everything but the trial's own options, its checkpoint, log, output
# and --stop-at, which are added here (a launcher prefix such as
# slurm_run.sh may come first).
# With LEDGER_ADD set (a `ledger add` command: program, ledger, study,
# model, commit), a trial adds its row to the ledger when it ends, done or
# pruned: run SWEEP/TRIAL, its parameters, the validation scores of its
# last evaluation (done: of its best, whose weights it keeps), wall time.
# Writes SW/TRIAL/rungK.json on standard output: {"trial", "rung", "status"
# (running, done or pruned), "step", "total_steps", "score" (the metric at
# the rung's last evaluation; for a done trial the best one, whose weights
# it keeps), "loss" (the validation loss there: the cut's tiebreak),
# "wall_s" (training time so far), "pruned_at"}.
set -eu
[ $# -ge 8 ] && [ "$7" = -- ] || { echo "usage: sweep_rung.sh SW TRIAL K STOP CUT METRIC -- COMMAND..." >&2; exit 2; }
sw=$1 trial=$2 k=$3 stop=$4 cut=$5 metric=$6
shift 7
dir=$sw/$trial
prev=$dir/rung$((k - 1)).json

# ledger_row RECORD VAL_JSON: the trial's row in the ledger, once it has ended
ledger_row() {
    [ -n "${LEDGER_ADD:-}" ] || return 0
    local params
    params=$(jq -r --arg t "$trial" 'select(.trial == $t) | .params | to_entries | map("\(.key)=\(.value)") | join(" ")' \
             "$sw/plan.jsonl")
    params="$params $(echo "$1" | jq -r '"steps=\(.step)/\(.total_steps)" + if .pruned_at then " pruned_at_rung=\(.pruned_at)" else "" end')"
    # shellcheck disable=SC2086 # LEDGER_ADD is a command line
    $LEDGER_ADD --run "$(basename "$sw")/$trial" --params "$params" --val "$2" --wall "$(echo "$1" | jq .wall_s)" >&2
}
# scores as metrics --json has them, for `ledger add --val`
scores_json() { jq -c --arg a "$1" --arg f "$2" '{accuracy: .[$a], macro: {f1: .[$f]}}'; }

# not promoted by the previous cut, or already ended: carried forward
if [ "$cut" != - ]; then
    status=$(jq -r .status "$prev")
    if [ "$status" != running ] || ! jq -s -e --arg t "$trial" 'any(.[]; .trial == $t and .promoted)' "$cut" >/dev/null; then
        rec=$(jq -c --argjson k "$k" '.rung = $k | if .status == "running" then .status = "pruned" | .pruned_at = $k - 1 else . end' "$prev")
        if [ "$status" = running ]; then # pruned here: its last evaluation's scores
            jq -c 'select(.val_accuracy != null)' "$dir/train_log.jsonl" | tail -1 | scores_json val_accuracy val_macro_f1 > "$dir/val.scores.json"
            ledger_row "$rec" "$dir/val.scores.json"
        fi
        echo "$rec"
        exit 0
    fi
fi

args=$(jq -r --arg t "$trial" 'select(.trial == $t) | .args' "$sw/plan.jsonl")
[ -n "$args" ] || { echo "sweep_rung.sh: $trial is not in $sw/plan.jsonl" >&2; exit 1; }
stop_opt=()
[ "$stop" = end ] || stop_opt=(--stop-at "$stop")
start=$(date +%s.%N)
# shellcheck disable=SC2086 # the trial's options are words
"$@" $args --metric "$metric" --checkpoint-dir "$dir/checkpoint" --resume --log "$dir/train_log.jsonl" \
    -o "$dir/model" "${stop_opt[@]}" 2> "$dir/train.log" || { cat "$dir/train.log" >&2; exit 1; }
cat "$dir/train.log" >&2
wall=$(echo "$(date +%s.%N) - $start" | bc)
before=0
[ -f "$prev" ] && before=$(jq .wall_s "$prev")

last_eval=$(jq -c "select(.val_$metric != null)" "$dir/train_log.jsonl" | tail -1)
step=$(tail -1 "$dir/train_log.jsonl" | jq .step)
if [ "$stop" = end ]; then
    status=done
    total=$(jq .total_steps "$dir/model/trainer_state.json")
    score=$(jq .best_metric "$dir/model/trainer_state.json")
else
    status=running
    total=$(jq .total_steps "$dir/checkpoint/trainer_state.json")
    score=$(echo "$last_eval" | jq ".val_$metric")
fi
loss=$(echo "$last_eval" | jq .val_loss)
rec=$(jq -nc --arg t "$trial" --argjson k "$k" --arg s "$status" --argjson step "$step" --argjson total "$total" \
    --argjson score "${score:-null}" --argjson loss "${loss:-null}" --argjson w "$(echo "$before + $wall" | bc)" \
    '{trial: $t, rung: $k, status: $s, step: $step, total_steps: $total, score: $score, loss: $loss, wall_s: $w,
      pruned_at: null}')
if [ "$status" = done ]; then # the scores of its best evaluation, whose weights the model keeps
    jq -c .best_eval "$dir/model/trainer_state.json" | scores_json val_accuracy val_macro_f1 > "$dir/val.scores.json"
    ledger_row "$rec" "$dir/val.scores.json"
fi
echo "$rec"
