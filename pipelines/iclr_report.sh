#!/bin/sh
# The weighted-loss study's report (Markdown on stdout) from RUNS: the data,
# a table of every run for BERT and the baseline (mean +- standard deviation
# over seeds when there are several), the plots, whether the predicted
# acceptance rate moved monotonically with gamma, and the prior correction
# beside the weighted loss. Usage: pipelines/iclr_report.sh RUNS
set -eu
runs=$1
n=$(cat "$runs/train_size")

cat <<EOT
# Weighted loss: ICLR 2017-2018, accept or reject

Made by \`make iclr\` (pipeclf) on $(date -u '+%Y-%m-%d %H:%M UTC') from \`$runs\`.
1,400 ICLR 2017 and 2018 submissions (OpenReview), accepted = oral or poster;
BERT reads (title, abstract) as a pair, the baseline TF-IDF on both joined.
A balanced test set of $(jq -r '.splits.test | "\(.accept) accepted and \(.reject) rejected"' "$runs/split.stats.json")
papers is held out first and never resampled (its true acceptance rate is 0.5).
From the rest ($(jq -r '.splits.pool | "\(.accept) accepted, \(.reject) rejected"' "$runs/split.stats.json")),
every training set has N = $n papers, the largest size every proportion can
draw without replacement, resampled to an accepted share of 1/2, 1/3, 1/4
and 1/8. A run weights the loss of one class by gamma:
loss = -[gamma y log p + (1 - y) log(1 - p)] for the accept class, and
likewise for the reject class; gamma 1 is plain cross-entropy. bert-train
divides a step's weighted losses by the sum of the step's weights
(PyTorch's CrossEntropyLoss(weight=...) mean), not by the number of
examples as the formula's plain mean would: the balance between the
classes is the same, only each step's scale differs, which AdamW's
normalised updates largely absorb (tests/unit/test_weighted_loss.c checks
a hand-computed batch).
The baseline's C was chosen once, by 5-fold CV on the 1/2 set: C = $(cat "$runs/baseline/C").

EOT

# table MODEL: one row per run and correction, mean +- sd over seeds
table() {
    awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { key = $col["proportion"] SUBSEP $col["class"] SUBSEP $col["gamma"] SUBSEP $col["correction"]
          if (!(key in cnt)) order[++nkeys] = key
          cnt[key]++
          for (m = 1; m <= 7; m++) { v = $col[metric[m]]; sum[key, m] += v; sq[key, m] += v * v } }
        BEGIN { split("accuracy pos_precision pos_recall pos_f1 roc_auc_macro ece pos_predicted_rate", metric, " ") }
        END {
            print "| proportion | class weighted | gamma | correction | runs | accuracy | precision (accept) | recall (accept) | F1 (accept) | ROC-AUC | ECE | predicted acceptance rate |"
            print "|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|"
            for (k = 1; k <= nkeys; k++) {
                key = order[k]; split(key, f, SUBSEP)
                line = "| " f[1] " | " f[2] " | " f[3] " | " f[4] " | " cnt[key]
                for (m = 1; m <= 7; m++) {
                    mean = sum[key, m] / cnt[key]
                    if (cnt[key] > 1) {
                        var = (sq[key, m] - cnt[key] * mean * mean) / (cnt[key] - 1)
                        line = line sprintf(" | %.3f ± %.3f", mean, sqrt(var > 0 ? var : 0))
                    } else line = line sprintf(" | %.3f", mean)
                }
                print line " |"
            }
        }' "$1"
}

# monotone MODEL: per proportion and weighted class, does the mean predicted
# rate move one way as gamma grows (up for accept, down for reject)?
monotone() {
    awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["correction"] != "none" { next }
        { p = $col["proportion"]; c = $col["class"]; g = $col["gamma"] + 0; r = $col["pos_predicted_rate"]
          if (c == "none") { add(p, "accept", 1, r); add(p, "reject", 1, r) } else add(p, c, g, r) }
        function add(p, c, g, r) { k = p SUBSEP c; if (!(k in seen)) { seen[k]; order[++n] = k }
                                   s[k, g] += r; m[k, g]++; gs[k] = gs[k] " " g }
        END {
            for (i = 1; i <= n; i++) {
                k = order[i]; split(k, f, SUBSEP)
                ng = split(gs[k], list, " "); delete uniq; cnt = 0
                for (j = 1; j <= ng; j++) if (!(list[j] in uniq)) { uniq[list[j]]; gl[++cnt] = list[j] + 0 }
                for (a = 1; a <= cnt; a++) for (b = a + 1; b <= cnt; b++) if (gl[b] < gl[a]) { t = gl[a]; gl[a] = gl[b]; gl[b] = t }
                up = 1; down = 1; text = ""
                for (j = 1; j <= cnt; j++) {
                    v = s[k, gl[j]] / m[k, gl[j]]; text = text (j > 1 ? ", " : "") sprintf("%.3f", v)
                    if (j > 1 && v < prev) up = 0
                    if (j > 1 && v > prev) down = 0
                    prev = v
                }
                want = (f[2] == "accept") ? up : down
                range = (cnt > 1) ? ("1 to " gl[cnt]) : gl[1]
                if (cnt < 2) verdict = "one gamma only"
                else if (up && down) verdict = "did not move"
                else if (want) verdict = "monotone, as the hypothesis expected"
                else verdict = "NOT monotone in the expected direction"
                printf "- %s, %s weighted (gamma %s): rate %s: %s\n", f[1], f[2], range, text, verdict
            }
        }' "$1"
}

# prior MODEL: each proportion's prior-corrected gamma-1 model beside the
# weighted-loss run whose predicted rate is nearest to it
prior() {
    awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { key = $col["run"] SUBSEP $col["correction"]; if (!(key in cnt)) { order[++n] = key; prop[key] = $col["proportion"] }
          cnt[key]++; acc[key] += $col["accuracy"]; f1[key] += $col["pos_f1"]; ece[key] += $col["ece"]; rate[key] += $col["pos_predicted_rate"] }
        END {
            print "| proportion | control | run | predicted acceptance rate | accuracy | F1 (accept) | ECE |"
            print "|---|---|---|--:|--:|--:|--:|"
            for (i = 1; i <= n; i++) {
                k = order[i]; split(k, f, SUBSEP); if (f[2] != "prior") continue
                r = rate[k] / cnt[k]; best = ""; bd = 2
                for (j = 1; j <= n; j++) { q = order[j]; split(q, h, SUBSEP)
                    if (h[2] != "none" || prop[q] != prop[k] || h[1] ~ /-g1$/) continue
                    d = rate[q] / cnt[q] - r; if (d < 0) d = -d; if (d < bd) { bd = d; best = q } }
                row(prop[k], "prior shift of gamma 1", f[1], k)
                if (best != "") { split(best, h, SUBSEP); row(prop[k], "weighted loss, nearest rate", h[1], best) }
            }
        }
        function row(p, what, run, k) { printf "| %s | %s | %s | %.3f | %.3f | %.3f | %.3f |\n", p, what, run,
                                           rate[k] / cnt[k], acc[k] / cnt[k], f1[k] / cnt[k], ece[k] / cnt[k] }' "$1"
}

for m in bert baseline; do
    name=$([ $m = bert ] && echo BERT || echo Baseline)
    printf '\n## %s: every run\n\n' "$name"
    table "$runs/$m.csv"
    printf '\n![%s: predicted acceptance rate against gamma](%s.rate.svg)\n' "$name" "$m"
    printf '![%s: accuracy against predicted acceptance rate](%s.accuracy.svg)\n' "$name" "$m"
    printf '\n### Did the predicted acceptance rate move with gamma as expected?\n\n'
    monotone "$runs/$m.csv"
    printf '\n### Shifting the scores instead of retraining (predict --prior accept=0.5)\n\n'
    prior "$runs/$m.csv"
done

# make sweep's search, when it has run (its plots are in sweep/)
if [ -f "$runs/sweep/report.md" ]; then echo; sed 's/](\([a-z0-9_-]*\.svg\))/](sweep\/\1)/' "$runs/sweep/report.md"; fi
