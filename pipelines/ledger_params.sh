#!/bin/sh
# ledger_params.sh MODEL_DIR: a model's settings as the ledger's params text
# ("lr=5e-05 batch=16 epochs=3 ..."): a BERT model's from its
# training_args.json, a baseline's from its logreg.json (the options it was
# fitted with, the grid search's choice among them).
set -eu
dir=$1
if [ -f "$dir/training_args.json" ]; then
    jq -r '"lr=\(.lr) batch=\(.batch_size * .grad_accum) epochs=\(if .max_steps > 0 then "-" else .epochs end)"
           + " steps=\(.steps) warmup=\(.warmup) weight_decay=\(.weight_decay) schedule=\(.schedule) seed=\(.seed)"
           + (.class_weights | to_entries | map(select(.value != 1)) | if length > 0 then
                " class_weight=" + (map("\(.key):\(.value)") | join(",")) else "" end)' "$dir/training_args.json"
elif [ -f "$dir/logreg.json" ]; then
    jq -r '.options | "C=\(.C) penalty=\(.penalty) max_iter=\(.max_iter) class_weight="
           + (if (.class_weight | type) == "object" then (.class_weight | to_entries | map("\(.key):\(.value)") | join(","))
              else (.class_weight // "none" | tostring) end)' "$dir/logreg.json"
else
    echo "ledger_params.sh: $dir holds neither training_args.json nor logreg.json" >&2
    exit 1
fi
