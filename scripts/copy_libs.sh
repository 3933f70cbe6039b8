#!/bin/sh
# Copies the shared libraries the given binaries load into DEST, leaving out
# the C/C++ runtime's and CUDA's (the GPU machine has its own): the Debian
# libraries (cJSON, libcsv, libstemmer, PCRE2, OpenBLAS) a bare GPU image
# lacks. Used by tests/cuda/gpu_bundle.sh and scripts/gpu_study.sh.
#
# Usage: scripts/copy_libs.sh DEST BINARY...
set -eu
dest=$1
shift
for b in "$@"; do ldd "$b"; done | awk '$3 ~ /^\// { print $3 }' | sort -u |
    grep -v -e '/libc\.so' -e '/libm\.so' -e '/libstdc++' -e '/libgcc_s' -e '/libpthread' -e '/libdl\.' -e '/librt\.' \
        -e '/ld-linux' -e 'libcublas' -e 'libcudart' |
    while read -r lib; do cp -L "$lib" "$dest/"; done
