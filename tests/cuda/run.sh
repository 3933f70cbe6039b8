#!/bin/bash
# The GPU suite (make check-cuda; needs an NVIDIA GPU and a build with CUDA).
# Usage: tests/cuda/run.sh BUILD_DIR SHARED_DIR [FILTER]
# 1. BUILD_DIR/cuda-tests/harness_kernels: every kernel against its CPU
#    reference over several launch configurations, then timed (TIME lines);
# 2. BUILD_DIR/cuda-tests/test_bert_cuda: GPU parity with lib/bert and the
#    golden states, determinism, loss scaling, resume;
# 3. the cases tests/cuda/cases/<case>/ (cmd, expected_stdout, ...: the
#    conventions of tests/run.sh), bert-train and predict on the GPU.
# Ends with "N passed, N failed"; exits 1 if anything failed.
# CUDA_TESTS_BIN and CUDA_PROGRAMS_BIN point elsewhere (make check-cuda-emu:
# the same suite on the CPU emulation of tests/cuda/cuemu).
set -u
build=$(cd "$1" && pwd)
shared=$(cd "$2" && pwd) || { echo "run.sh: no shared folder $2" >&2; exit 2; }
filter=${3:-}
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pipeclf-cuda-tests.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0

for t in harness_kernels test_bert_cuda; do
    [ -n "$filter" ] && [[ $t != *$filter* ]] && continue
    bin=${CUDA_TESTS_BIN:-$build/cuda-tests}/$t
    [ -x "$bin" ] || { echo "FAIL $t: $bin not built (make cuda-tests)"; failed=$((failed + 1)); continue; }
    (cd "$repo" && SHARED=$shared "$bin") > "$scratch/out" 2>&1
    rc=$?
    grep '^TIME ' "$scratch/out"
    p=$(grep -c '^PASS ' "$scratch/out")
    f=$(grep -c '^FAIL ' "$scratch/out")
    grep -e '^FAIL ' -e '^SKIP ' "$scratch/out" | sed "s|^|$t: |"
    [ "$f" -eq 0 ] && [ "$rc" -ne 0 ] && { tail -5 "$scratch/out"; f=1; }
    passed=$((passed + p))
    failed=$((failed + f))
    cp "$scratch/out" "$(dirname "$bin")/$t.log"
done

export PATH="${CUDA_PROGRAMS_BIN:-$build/bin}:$PATH" SHARED="$shared" REPO="$repo" DATA="$repo/data" LC_ALL=C
for dir in "$repo"/tests/cuda/cases/*/; do
    dir=${dir%/}
    name=${dir#"$repo"/tests/cuda/cases/}
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
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
    if [ -z "$why" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL cases/$name: $why"
        [ -s "$scratch/err" ] && head -3 "$scratch/err" | sed 's/^/    stderr: /'
    fi
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
