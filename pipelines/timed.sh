#!/bin/sh
# timed.sh FILE COMMAND [ARGS...]: runs COMMAND; when it succeeds, writes its
# wall-clock time in seconds to FILE (the ledger's wall_s). The exit status
# is COMMAND's.
[ $# -ge 2 ] || { echo "usage: timed.sh FILE COMMAND [ARGS...]" >&2; exit 2; }
file=$1
shift
start=$(date +%s.%N)
"$@" || exit
echo "$(date +%s.%N) $start" | awk '{ printf "%.3f\n", $1 - $2 }' > "$file.tmp" && mv "$file.tmp" "$file"
