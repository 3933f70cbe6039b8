#!/bin/sh
# Writes the study's Markdown report on stdout from the files a study run
# left in RUNS: the steps' summaries (*.log), the metrics tables and the
# SVG plots, which the report links relative to RUNS.
# Usage: pipelines/report.sh RUNS
set -eu
runs=$1
base=$runs/baseline

block() { # block TITLE FILE: a section with FILE as preformatted text
    printf '\n### %s\n\n```\n' "$1"
    cat "$2"
    printf '```\n'
}

cat <<EOT
# Tweet sentiment study: report

Made by \`make study\` (pipeclf) on $(date -u '+%Y-%m-%d %H:%M UTC') from \`$runs\`.
Three classes (negative / neutral / positive), Kaggle Tweet Sentiment
Extraction, train.csv + test.csv cleaned together, split 70/15/15.

## Results

Macro-F1 of the original notebook (40% train subsample): baseline val 0.637 /
test 0.623; bert-base-uncased val 0.671 / test 0.668.

EOT
cat "$base/compare.md"
cat <<EOT

![val vs test]($(basename "$base")/compare.svg)

## Data
EOT
block "Cleaning (csvclean --preset tweet)" "$runs/clean.log"
block "Split (stratsplit)" "$runs/split.log"

printf '\n## Baseline: TF-IDF + logistic regression\n'
block "TF-IDF (tfidf fit)" "$base/tfidf.log"
block "Grid search (logreg, full table in baseline/cv.csv)" "$base/logreg.log"
for e in val test; do
    block "Baseline on $e (metrics)" "$base/$e.metrics.txt"
    printf '\n![confusion matrix, %s](baseline/%s.cm.svg)\n' "$e" "$e"
    printf '![ROC, %s](baseline/%s.roc.svg)\n' "$e" "$e"
    printf '![precision-recall, %s](baseline/%s.pr.svg)\n' "$e" "$e"
done
