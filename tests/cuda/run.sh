#!/bin/bash
# The GPU suite (make check-cuda; needs an NVIDIA GPU and a build with CUDA),
# run by the project's test driver, tests/run.sh:
# 1. harness_kernels: every kernel against its CPU reference over several
#    launch configurations, then timed (TIME lines);
# 2. test_bert_cuda: GPU parity with lib/bert and the golden states,
#    determinism, loss scaling, resume;
# 3. the cases tests/cuda/cases/<case>/ (the conventions of tests/run.sh):
#    bert-train and predict on the GPU.
# Usage: tests/cuda/run.sh BUILD_DIR SHARED_DIR [FILTER]
# CUDA_TESTS_BIN and CUDA_PROGRAMS_BIN point elsewhere (make check-cuda-emu:
# the same suite on the CPU emulation of tests/cuda/cuemu).
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
bins=${CUDA_TESTS_BIN:-$build/cuda-tests}
TEST_BINS="$bins/harness_kernels $bins/test_bert_cuda" \
TEST_CASES="$(echo "$repo"/tests/cuda/cases/*/)" \
TEST_PATH=${CUDA_PROGRAMS_BIN:-$build/bin} \
    exec "$repo/tests/run.sh" "$@"
