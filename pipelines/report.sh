#!/bin/sh
# Writes a study report (Markdown) on stdout from the files a study run left
# in RUNS: the steps' summaries (*.log), the metrics tables and the SVG
# plots, linked relative to where the report is written.
# Usage: pipelines/report.sh RUNS baseline   -> for RUNS/baseline/report.md
#        pipelines/report.sh RUNS study      -> for RUNS/report.md
# The study's own words come from the environment (pipelines/study.mk
# exports them from the study file): REPORT_TITLE, REPORT_MAKE and
# REPORT_MAKE_BASELINE (the make targets that made it), REPORT_ABOUT (a Markdown
# file), REPORT_CLEANING (the cleaning section's title) and REPORT_EXTRA (a
# script run with RUNS whose output ends the study report).
set -eu
runs=$1
mode=$2
: "${REPORT_TITLE:?set by the study file}" "${REPORT_ABOUT:?set by the study file}"

block() { # block TITLE FILE: a section with FILE as preformatted text
    printf '\n### %s\n\n```\n' "$1"
    cat "$2"
    printf '```\n'
}

# model_section DIR NAME LINKPREFIX: metrics and plots of one model
model_section() {
    for e in val test; do
        block "$2 on $e (metrics)" "$1/$e.metrics.txt"
        printf '\n![confusion matrix, %s](%s%s.cm.svg)\n' "$e" "$3" "$e"
        printf '![ROC, %s](%s%s.roc.svg)\n' "$e" "$3" "$e"
        printf '![precision-recall, %s](%s%s.pr.svg)\n' "$e" "$3" "$e"
    done
}

cat <<EOT
# $REPORT_TITLE: $([ "$mode" = study ] && echo report || echo baseline)

Made by \`make $([ "$mode" = study ] && echo "${REPORT_MAKE:-study}" || echo "${REPORT_MAKE_BASELINE:-baseline}")\` (pipeclf) on $(date -u '+%Y-%m-%d %H:%M UTC') from \`$runs\`.
$(cat "$REPORT_ABOUT")

## Results

EOT
if [ "$mode" = study ]; then
    cat "$runs/compare.md"
    printf '\n![baseline vs BERT](compare.svg)\n'
    base=baseline/
else
    cat "$runs/baseline/compare.md"
    base=
fi

printf '\n## Data\n'
block "${REPORT_CLEANING:-Cleaning (csvclean)}" "$runs/clean.log"
block "Split (stratsplit)" "$runs/split.log"

printf '\n## Baseline: TF-IDF + logistic regression\n'
block "TF-IDF (tfidf fit)" "$runs/baseline/tfidf.log"
block "Grid search (logreg; the whole table in baseline/cv.csv)" "$runs/baseline/logreg.log"
model_section "$runs/baseline" baseline "$base"

if [ "$mode" = study ]; then
    printf '\n## BERT fine-tuning\n'
    block "Training (bert-train; the metrics log in bert/train_log.jsonl)" "$runs/bert/train.log"
    printf '\n![training curves](bert/curves.svg)\n'
    model_section "$runs/bert" BERT bert/
    if [ -n "${REPORT_EXTRA:-}" ]; then "$REPORT_EXTRA" "$runs"; fi
    # make sweep's search, when it has run (its plots are in sweep/)
    if [ -f "$runs/sweep/report.md" ]; then echo; sed 's/](\([a-z0-9_-]*\.svg\))/](sweep\/\1)/' "$runs/sweep/report.md"; fi
fi
