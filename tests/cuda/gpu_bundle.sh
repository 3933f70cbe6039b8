#!/bin/sh
# Packs what a GPU machine of this workplace needs to run the GPU suite and
# the benchmark into build/gpu (one `carry` path of the device tool): the
# programs and GPU tests built here (make programs cuda-tests), the shared
# libraries they load that the GPU machine's image may lack (cJSON,
# OpenBLAS, ...: not the CUDA ones, which its toolkit has), and build/gpu/run.sh,
# the command to run there:
#
#   here:   make programs cuda-tests && tests/cuda/gpu_bundle.sh
#   there:  run(command="sh build/gpu/run.sh", carry=["build/gpu"])
#
# run.sh runs tests/cuda/run.sh (harness, parity tests, GPU cases), then
# bench/bert_gpu.py (bf16 and fp16 vs PyTorch eager and HF Trainer), with the
# logs under $OUT. Usage: tests/cuda/gpu_bundle.sh [BUILD_DIR]
set -eu
build=${1:-build/release}
out=build/gpu
rm -rf "$out"
mkdir -p "$out/bin" "$out/cuda-tests" "$out/lib"
for p in bert-train predict wptok; do cp "$build/bin/$p" "$out/bin/"; done
for t in harness_kernels test_bert_cuda bert_gpu_bench; do cp "$build/cuda-tests/$t" "$out/cuda-tests/"; done
# the programs' GPU code, which they load from ../lib when a device is asked for
cp "$build/lib/libpipeclf_cuda.so" "$out/lib/"
strip --strip-debug "$out"/bin/* "$out"/cuda-tests/* "$out"/lib/libpipeclf_cuda.so # the carry limit is 64 MiB with the tree
# the non-system, non-CUDA libraries the binaries load
scripts/copy_libs.sh "$out/lib" "$out"/bin/* "$out"/cuda-tests/* "$out"/lib/libpipeclf_cuda.so
cat > "$out/run.sh" <<'RUN'
#!/bin/sh
# On the GPU machine, from the repository root (see tests/cuda/gpu_bundle.sh).
here=$(cd "$(dirname "$0")" && pwd)
cuda=$(dirname "$(find / -name 'libcublas.so.1[0-9]' -path '*cuda*' \( -type f -o -type l \) 2>/dev/null | head -1)")
export LD_LIBRARY_PATH="$here/lib:$cuda:${LD_LIBRARY_PATH:-}"
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
CUDA_TESTS_BIN="$here/cuda-tests" CUDA_PROGRAMS_BIN="$here/bin" tests/cuda/run.sh "$here" "${SHARED:-.}" \
    > "$OUT/check-cuda.log" 2>&1
tail -3 "$OUT/check-cuda.log"
grep '^FAIL' "$OUT/check-cuda.log" | head -20
cp "$here"/cuda-tests/*.log "$OUT/" 2>/dev/null
python3 bench/bert_gpu.py "$here/cuda-tests/bert_gpu_bench" > "$OUT/bench.txt" 2> "$OUT/bench.err" ||
    echo "bench/bert_gpu.py exit $?"
cat "$OUT/bench.txt"
grep -c skipped "$OUT/bench.txt" | sed 's/$/ benchmark rows skipped (reasons in bench.txt, tracebacks in bench.err)/'
tail -3 "$OUT/bench.err"
RUN
du -sh "$out"
