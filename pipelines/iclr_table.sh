#!/bin/sh
# The weighted-loss study's table of runs (CSV on stdout): one row per
# prediction file, the run's design (run, proportion, class, gamma, seed,
# correction, series: proportion and class, control: plain, gamma on a class
# or prior shift) then metrics --compare's columns with accept as the
# positive class (pos_rate is the predicted acceptance rate).
# Usage: pipelines/iclr_table.sh BIN DIR PRED...
#   each PRED is DIR/RUN[/sSEED]/test.pred.jsonl or test.prior.pred.jsonl,
#   RUN = pP-g1 or pP-CLASS-gG
#        pipelines/iclr_table.sh --lines < TABLE.csv
#   the rows of the retrained runs for a plot against gamma: a gamma-1 run
#   starts both lines of its proportion (series "1/P accept" and "1/P reject")
set -eu
if [ "${1:-}" = --lines ]; then
    exec awk -F, -v OFS=, '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; print; next }
        $col["correction"] != "none" { next }
        $col["class"] != "none" { print; next }
        { p = $col["proportion"]; $col["series"] = p " accept"; print; $col["series"] = p " reject"; print }'
fi
bin=$1 dir=$2
shift 2
design=$(mktemp)
trap 'rm -f "$design"' EXIT
names=""
for f; do
    rel=${f#"$dir"/}
    run=${rel%%/*}
    seed=$(printf '%s\n' "$rel" | sed -n 's|^[^/]*/s\([0-9]*\)/.*|\1|p')
    case $rel in *.prior.pred.jsonl) corr=prior ;; *) corr=none ;; esac
    p=$(printf '%s\n' "$run" | sed 's/^p\([0-9]*\)-.*/\1/')
    case $run in
        *-g1) class=none gamma=1 ;;
        *) class=$(printf '%s\n' "$run" | sed 's/^p[0-9]*-\(.*\)-g[0-9.]*$/\1/')
           gamma=${run##*-g} ;;
    esac
    case $corr in prior) series="1/$p prior" ;; *) series="1/$p $class" ;; esac
    case $corr/$class in
        prior/*) control="prior shift" ;;
        */none) control=plain ;;
        *) control="gamma on $class" ;;
    esac
    name=$run${seed:+@s$seed}$([ "$corr" = prior ] && echo +prior || true)
    names=${names:+$names,}$name
    printf '%s,%s,1/%s,%s,%s,%s,%s,%s,%s\n' "$name" "$run" "$p" "$class" "$gamma" "${seed:--}" "$corr" "$series" \
        "$control" >>"$design"
done
"$bin/metrics" --compare --positive accept --format csv --names "$names" "$@" |
    awk -F, -v design="$design" '
        BEGIN { while ((getline line < design) > 0) { split(line, d, ","); row[d[1]] = substr(line, length(d[1]) + 2) } }
        NR == 1 { print "run,proportion,class,gamma,seed,correction,series,control," substr($0, index($0, ",") + 1); next }
        { print row[$1] "," substr($0, index($0, ",") + 1) }'
