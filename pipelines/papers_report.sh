#!/bin/sh
# The papers study's own report sections (run by pipelines/report.sh):
# the classes dropped, the scores by class size, titles alone, and the
# table of the papers without a track. Usage: pipelines/papers_report.sh RUNS
set -eu
runs=$1

printf '\n## Classes dropped\n\n'
jq -r '(.small_classes // {}) as $s
       | if ($s | length) == 0 then "None: every track has at least MIN_CLASS rows."
         else "\($s | length) tracks with fewer than MIN_CLASS rows, \([$s[]] | add) rows: "
              + ([$s | to_entries[] | "\(.key) (\(.value))"] | join(", ")) + "." end' "$runs/clean.stats.json"

printf '\n## By class size (training rows per track)\n\n'
for m in baseline bert; do
    for e in val test; do
        printf '%s on %s:\n\n' "$m" "$e"
        jq -r '.class_size_bins // [] | (["bin", "tracks", "papers", "accuracy", "macro_f1"] | @tsv),
               def r: if . == null then "-" else . * 10000 | round / 10000 end;
               (.[] | [.bin, (.classes | length), .n, (.accuracy | r), (.macro_f1 | r)] | @tsv)' \
            "$runs/$m/$e.metrics.json" | sed 's/\t/ | /g; s/^/| /; s/$/ |/' |
            awk 'NR == 1 { print; h = $0; gsub(/[^|]/, "-", h); print h; next } { print }'
        printf '\n'
    done
done

printf '\n## Titles alone (the test papers without their abstracts)\n\n'
cat "$runs/titles.md"

n=$(wc -l < "$runs/unlabeled.pred.jsonl")
printf '\n## The papers without a track (%s: Industry, Demo, TACL, CL; titles only)\n\n' "$n"
printf 'Predicted track of each model and its top 3 with probabilities; all of them in `unlabeled.pred.jsonl`.\n\n'
printf '| venue | title | baseline | BERT | BERT top 3 |\n|---|---|---|---|---|\n'
jq -r 'def p: (. * 100 | round | tostring) + "%";
       [.venue, (.title | gsub("\\|"; "/")), "\(.baseline.pred) (\(.baseline.top[0].prob | p))",
        "\(.bert.pred) (\(.bert.top[0].prob | p))", ([.bert.top[] | "\(.label) \(.prob | p)"] | join("; "))]
       | "| " + join(" | ") + " |"' "$runs/unlabeled.pred.jsonl"
