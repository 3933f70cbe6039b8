#!/bin/sh
# check_layers.sh [ROOT]: the includes of lib/ point one way (SPEC: Code layout).
#   core            includes only core
#   text, eval      core and themselves
#   linear, bert    core, text, eval and themselves (not each other)
# filters/, bench/ and tests/ may include any layer. A cross-layer include is
# spelled "layer/header.h" (the build has -Ilib); a plain "header.h" is the
# including file's own folder. Prints each include that breaks the rule as
# FILE:LINE and exits 1 if there is one.
cd "${1:-.}" || exit 2
[ -d lib/core ] || { echo "check_layers: no lib/core under $(pwd)" >&2; exit 2; }
find lib -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sort |
while read -r f; do
    layer=${f#lib/}
    layer=${layer%%/*}
    case $layer in
        core) may="core" ;;
        text | eval) may="core $layer" ;;
        linear | bert) may="core text eval $layer" ;;
        *) echo "$f: lib/$layer is not a layer (core, text, linear, bert, eval)"; continue ;;
    esac
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
    while IFS= read -r hit; do
        line=${hit%%:*}
        target=$(printf '%s\n' "$hit" | sed 's/.*include[[:space:]]*"\([^"]*\)".*/\1/')
        case $target in
            */*) to=${target%%/*} ;;
            *) continue ;; # its own folder
        esac
        case " $may " in
            *" $to "*) ;;
            *) echo "$f:$line: includes \"$target\": lib/$layer may include only: $may" ;;
        esac
    done
done | { if IFS= read -r first; then
        printf '%s\n' "$first"; cat; exit 1; fi; exit 0; }
