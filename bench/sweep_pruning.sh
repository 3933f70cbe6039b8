#!/bin/bash
# Successive halving against the full search on one small space (issue 18):
# the tweet study's tokens, 12% of train and 15% of val (stratified, seed 42),
# a 6-trial grid (lr 1e-5..1e-4 on a log scale x batch 16, 32; 2 epochs,
# 128 tokens), first without pruning (runs/tweets-sweep/sweep-full), then with
# it (sweep/); the pruned search's report (runs/tweets-sweep/sweep/report.md)
# then says whether it found the full search's best trial, and at what cost.
#   bench/sweep_pruning.sh [BIN] [SHARED]
set -eu
cd "$(dirname "$0")/.."
B=${1:-build/release/bin} S=${2:-../shared}
R=runs/tweets-sweep
make -s -f pipelines/tweets.mk BIN="$B" SHARED="$S" RUNS=$R $R/tokens/train.jsonl $R/tokens/val.jsonl $R/tokens/test.jsonl
mkdir -p $R/sub
for s in train:0.12 val:0.15; do
    "$B"/stratsplit -q --names "${s%:*}" --ratios 100 --subsample "${s#*:}" --seed 42 -d $R/sub.tmp "$R/tokens/${s%:*}.jsonl"
    mv "$R/sub.tmp/${s%:*}.jsonl" "$R/sub/${s%:*}.jsonl"
done
args=(-f pipelines/tweets.mk BIN="$B" SHARED="$S" RUNS=$R SWEEP_TRAIN=$R/sub/train.jsonl SWEEP_VAL=$R/sub/val.jsonl
      SEARCH=grid "SPACE=lr=1e-5..1e-4:log:3;batch=16,32" "SWEEP_BERT_OPTS=--epochs 2 --warmup 0.1 --bucket --log-every 10")
s=$(date +%s); make -s "${args[@]}" PRUNE=0 sweep; echo "full search: $(( $(date +%s) - s )) s"
s=$(date +%s); make -s "${args[@]}" sweep; echo "pruned search: $(( $(date +%s) - s )) s"
sed -n '/### What pruning saved/,/### Plots/p' $R/sweep/report.md
