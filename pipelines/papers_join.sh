#!/bin/sh
# The papers without a track, one record each with both models' predictions:
# {"id", "paper_id", "venue", "title", "baseline": {"pred", "top"}, "bert": {"pred", "top"}},
# from the two models' predict --top-k outputs over the same records, in order.
# Usage: pipelines/papers_join.sh BASELINE.pred.jsonl BERT.pred.jsonl
set -eu
jq -c -n --slurpfile a "$1" --slurpfile b "$2" '
    if ($a | length) != ($b | length) then error("the two prediction files differ in length") else . end
    | range($a | length) as $i
    | if $a[$i].id != $b[$i].id then error("record \($i + 1): ids differ") else . end
    | {id: $a[$i].id, paper_id: $a[$i].paper_id, venue: $a[$i].venue, title: $a[$i].text,
       baseline: {pred: $a[$i].pred, top: $a[$i].top}, bert: {pred: $b[$i].pred, top: $b[$i].top}}'
