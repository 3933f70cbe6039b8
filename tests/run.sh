#!/bin/bash
# The test driver. Usage: tests/run.sh BUILD_DIR SHARED_DIR [FILTER]
# 1. Every C unit test binary in BUILD_DIR/unit; each prints "PASS name" or
#    "FAIL name: why" per check and exits non-zero on any failure.
# 2. Every data-driven case tests/cases/<prog>/<case>/: the case directory is
#    copied to a scratch directory and `cmd` runs there under sh, with the
#    programs on PATH and $SHARED, $REPO, $DATA set. When present, the files
#    expected_stdout and expected_stderr must match exactly, and
#    expected_status (default 0) must equal the exit code.
# Ends with "N passed, N failed"; exits 1 if anything failed.
# Other suites reuse this driver (tests/cuda/run.sh) through the environment:
#   TEST_BINS   the unit-test binaries (default: BUILD_DIR/unit/test_*)
#   TEST_CASES  the case directories (default: tests/cases/*/*/)
#   TEST_PATH   the programs' directory, first on PATH (default: BUILD_DIR/bin)
# A unit test's "TIME ..." lines (kernel timings) and "SKIP ..." lines are shown.
set -u
build=$(cd "$1" && pwd)
shared=$(cd "$2" && pwd) || { echo "run.sh: no shared folder $2" >&2; exit 2; }
filter=${3:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pipeclf-tests.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

passed=0
failed=0
failures=()

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL $1" >&2; }

for t in ${TEST_BINS:-"$build"/unit/test_*}; do
    [ -x "$t" ] || { [ -n "${TEST_BINS:-}" ] && fail "$t: not built"; continue; }
    name=unit/$(basename "$t")
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    out=$(cd "$repo" && SHARED=$shared "$t" 2>&1)
    rc=$?
    grep -e '^TIME ' -e '^SKIP ' <<<"$out" | sed "s|^|$name: |"
    p=$(grep -c '^PASS ' <<<"$out")
    f=$(grep -c '^FAIL ' <<<"$out")
    passed=$((passed + p))
    if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
        grep '^FAIL ' <<<"$out" | sed "s|^FAIL |FAIL $name: |" >&2
        [ "$f" -eq 0 ] && { echo "$out" | tail -5 >&2; f=1; }
        failed=$((failed + f))
        failures+=("$name")
    fi
done

export PATH="${TEST_PATH:-$build/bin}:$PATH" SHARED="$shared" REPO="$repo" DATA="$repo/data"
export LC_ALL=C
for dir in ${TEST_CASES:-"$repo"/tests/cases/*/*/}; do
    dir=${dir%/}
    name=${dir#"$repo"/tests/}
    name=${name#cases/}
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    [ -f "$dir/cmd" ] || { fail "$name (no cmd file)"; continue; }
    work="$scratch/$name"
    mkdir -p "$work"
    cp -R "$dir"/. "$work"/
    (cd "$work" && sh ./cmd >"$scratch/out" 2>"$scratch/err" </dev/null)
    rc=$?
    want_rc=0
    [ -f "$dir/expected_status" ] && want_rc=$(cat "$dir/expected_status")
    why=""
    [ "$rc" = "$want_rc" ] || why="exit status $rc, expected $want_rc"
    if [ -z "$why" ] && [ -f "$dir/expected_stdout" ] && ! cmp -s "$dir/expected_stdout" "$scratch/out"; then
        why="stdout differs: $(diff "$dir/expected_stdout" "$scratch/out" | head -8 | tr '\n' '|')"
    fi
    if [ -z "$why" ] && [ -f "$dir/expected_stderr" ] && ! cmp -s "$dir/expected_stderr" "$scratch/err"; then
        why="stderr differs: $(diff "$dir/expected_stderr" "$scratch/err" | head -8 | tr '\n' '|')"
    fi
    if [ -z "$why" ]; then pass; else
        fail "$name: $why"
        [ -s "$scratch/err" ] && [ ! -f "$dir/expected_stderr" ] && head -3 "$scratch/err" | sed 's/^/    stderr: /' >&2
    fi
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
