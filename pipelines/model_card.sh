#!/bin/sh
# Writes the study's model card (JSON) on stdout: the data, the split, both
# models with their settings, and their val/test scores from compare.csv.
# Usage: pipelines/model_card.sh RUNS PRETRAINED_MODEL_DIR
# The study's own words come from the environment (pipelines/study.mk
# exports them from the study file): CARD_STUDY, CARD_SPLIT and
# CARD_REFERENCE (a JSON value: the original study's numbers, or null).
set -eu
: "${CARD_STUDY:?set by the study file}" "${CARD_SPLIT:?set by the study file}"
runs=$1
pretrained=$2

# q STRING: a JSON string literal (backslashes, quotes, control characters)
q() { printf '%s' "$1" | awk 'BEGIN { ORS = "" } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); if (NR > 1) print "\\n"; print } END { }' | sed 's/^/"/; s/$/"/'; }
# the one line of FILE that starts with PREFIX, without it
line() { grep -m1 "^$2" "$1" | sed "s/^$2//"; }

# scores: one JSON object per run from the compare CSV (header + rows)
scores=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { printf "%s    \"%s\": {\"n\": %s, \"accuracy\": %s, \"macro_f1\": %s, \"weighted_f1\": %s, \"roc_auc_macro\": %s, \"log_loss\": %s}",
             (NR > 2 ? ",\n" : ""), $col["run"], $col["n"], $col["accuracy"], $col["macro_f1"], $col["weighted_f1"],
             $col["roc_auc_macro"], $col["log_loss"] }' "$runs/compare.csv")

cat <<EOT
{
  "study": $(q "$CARD_STUDY"),
  "made_by": "pipeclf make ${REPORT_MAKE:-study}",
  "date": "$(date -u '+%Y-%m-%dT%H:%M:%SZ')",
  "data": {
    "cleaning": $(q "$(line "$runs/clean.log" "csvclean: wrote ")"),
    "split": $(q "$CARD_SPLIT"),
    "split_table": $(q "$(cat "$runs/split.log")")
  },
  "models": {
    "baseline": {
      "kind": "TF-IDF + logistic regression",
      "directory": $(q "$runs/baseline"),
      "grid_search": $(q "$(grep 'best by' "$runs/baseline/logreg.log" || true)")
    },
    "bert": {
      "kind": "BertForSequenceClassification, fine-tuned",
      "pretrained": $(q "$pretrained"),
      "directory": $(q "$runs/bert/model"),
      "training": $(q "$(tail -n 3 "$runs/bert/train.log")")
    }
  },
  "scores": {
$scores
  },
  "reference": ${CARD_REFERENCE:-null}
}
EOT
