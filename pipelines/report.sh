#!/bin/sh
# Writes a study report (Markdown) on stdout from the files a study run left
# in RUNS: the steps' summaries (*.log), the metrics tables and the SVG
# plots, linked relative to where the report is written.
# Usage: pipelines/report.sh RUNS baseline   -> for RUNS/baseline/report.md
#        pipelines/report.sh RUNS study      -> for RUNS/report.md
set -eu
runs=$1
mode=$2

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
# Tweet sentiment study: $([ "$mode" = study ] && echo report || echo baseline)

Made by \`make $mode\` (pipeclf) on $(date -u '+%Y-%m-%d %H:%M UTC') from \`$runs\`.
Three classes (negative / neutral / positive), Kaggle Tweet Sentiment
Extraction, train.csv + test.csv cleaned together, split 70/15/15.
Macro-F1 of the original notebook (40% train subsample): baseline val 0.637 /
test 0.623; bert-base-uncased val 0.671 / test 0.668. The notebook's code is
not at hand, so a difference from these (pipeclf's baseline scores about 0.68 /
0.69 with FAST=1) cannot be traced to its cleaning or split; on pipeclf's own
cleaned data, split and folds, scikit-learn's TfidfVectorizer + GridSearchCV
choose the same model, with the same val and test macro-F1 (\`make bench-logreg\`).

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
block "Cleaning (csvclean --preset tweet)" "$runs/clean.log"
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
fi
