#!/bin/sh
# The tweet study's BERT half (pipelines/tweets.mk: bert-train, then predict
# on val and test) on a GPU machine of this workplace, the rest on the CPU.
# That machine reaches no network (scripts/fetch_model.sh cannot run there),
# ../shared does not travel, and a device call carries at most 64 MiB with
# the working tree and brings back at most 64 MiB (files of 16 MiB at most);
# the encoder alone (all-MiniLM-L6-v2, model.safetensors 87 MiB) is over that.
# So the inputs go in parts, a call each, and the fine-tuned model comes back
# in pieces:
#
#   here:   make programs        (nvcc present: bert-train and predict with CUDA)
#           scripts/gpu_study.sh stage      tokens as the study makes them, the
#                                           binaries, their libraries and the
#                                           encoder into build/gpu-study/partK;
#                                           prints the device calls below
#   there:  run(command="sh scripts/gpu_study.sh put 1", carry=["build/gpu-study/part1"])
#           ... one call per part, the last one ending in "&& sh scripts/gpu_study.sh train"
#           run(command="sh scripts/gpu_study.sh get 5")   while results pieces are left
#   here:   scripts/gpu_study.sh unstage DIR...   (the calls' files_at folders)
#           make study                      metrics, plots, report, model card
#
# Make the device calls back to back: a machine left idle 30 s is given back
# with what the earlier calls put there (then start again from part 1).
# Variables (here, at stage): RUNS (runs/tweets), FAST, MODEL (an HF BERT
# directory; default scripts/fetch_model.sh's), BIN (build/release/bin),
# BERT_OPTS and SEED as pipelines/tweets.mk takes them; (there, at train):
# PRECISION (bf16, bert-train's --precision), PREDICT_PRECISION (fp32),
# DEVICE (cuda). The bert-train and predict commands are tweets.mk's with
# --device, --precision and the machine's cores added.
set -eu
STAGE=build/gpu-study        # here: the parts to carry
THERE=build/gpu-study-there  # there: the parts gathered, the payload, the results
PIECE_MIB=15                 # a results piece (the tool returns files of 16 MiB at most)
PIECES_PER_CALL=4            # and 64 MiB a call

die() { echo "gpu_study: $*" >&2; exit 1; }
mk() { make -s --no-print-directory -f pipelines/tweets.mk "$@"; }
# mkvar NAME: the value tweets.mk gives NAME (with the environment's overrides)
# shellcheck disable=SC2016
mkvar() { mk --eval 'print-%: ; @echo $($*)' "print-$1"; }
# count GLOB...: how many files the glob matches
count() { [ -e "$1" ] && echo $# || echo 0; }

stage() {
    bin=${BIN:-build/release/bin}
    model=${MODEL:-$(scripts/fetch_model.sh)}
    runs=$(mkvar RUNS)
    cuda_so=$bin/../lib/libpipeclf_cuda.so # the GPU code, loaded on demand (lib/bert/cuda/loader.c)
    [ -f "$cuda_so" ] || die "$cuda_so missing: a build without CUDA (make programs where nvcc is, see mk/cuda.mk)"
    [ -f "$model/config.json" ] || die "$model: no config.json (MODEL is an HF BERT directory)"
    # the tokens exactly as the study makes them (the make rules, this MODEL)
    mk BIN="$bin" MODEL="$model" "$runs/tokens/train.jsonl" "$runs/tokens/val.jsonl" "$runs/tokens/test.jsonl"
    p=$STAGE/payload
    rm -rf "$STAGE"
    mkdir -p "$p/bin" "$p/lib" "$p/model" "$p/tokens"
    cp "$bin/bert-train" "$bin/predict" "$p/bin/"
    cp "$cuda_so" "$p/lib/"
    strip --strip-debug "$p"/bin/* "$p"/lib/libpipeclf_cuda.so
    # the libraries they load that are neither the C library's nor CUDA's
    scripts/copy_libs.sh "$p/lib" "$p"/bin/* "$p"/lib/libpipeclf_cuda.so
    for f in config.json vocab.txt model.safetensors pytorch_model.bin tokenizer_config.json \
             tokenizer.json special_tokens_map.json; do
        [ -f "$model/$f" ] && cp "$model/$f" "$p/model/"
    done
    cp "$runs/tokens/train.jsonl" "$runs/tokens/val.jsonl" "$runs/tokens/test.jsonl" "$p/tokens/"
    {
        echo "BERT_OPTS='$(mkvar BERT_OPTS)'"
        echo "SEED='$(mkvar SEED)'"
        echo "RUNS='$runs'"
        echo "MODEL='$model'"
    } > "$p/study.env"
    (cd "$p" && find . -type f | sort | xargs sha256sum > ../SHA256SUMS && mv ../SHA256SUMS .)
    # a part and the working tree (tracked and untracked files that travel)
    # under 62 MiB
    tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
    part=$(( 62 * 1048576 - tree ))
    [ "$part" -gt 8388608 ] || die "the working tree ($tree bytes) leaves no room under the 64 MiB a call carries"
    tar czf "$STAGE/payload.tgz" -C "$p" .
    rm -rf "$p"
    size=$(stat -c %s "$STAGE/payload.tgz")
    n=$(( (size + part - 1) / part ))
    split -b "$part" -d -a 2 "$STAGE/payload.tgz" "$STAGE/piece."
    rm "$STAGE/payload.tgz"
    k=1
    for f in "$STAGE"/piece.*; do
        mkdir -p "$STAGE/part$k"
        mv "$f" "$STAGE/part$k/payload.tgz.${k}of$n"
        k=$((k + 1))
    done
    echo "gpu_study: $runs/tokens and $model in $n parts of at most $part bytes ($size in all) under $STAGE" >&2
    echo "the device calls, back to back:"
    k=1
    while [ "$k" -le "$n" ]; do
        last=""
        [ "$k" -eq "$n" ] && last=" && sh scripts/gpu_study.sh train"
        echo "  run(command=\"sh scripts/gpu_study.sh put $k$last\", carry=[\"$STAGE/part$k\"], timeout_s=600)"
        k=$((k + 1))
    done
    echo "  then, while the train call says results pieces are left: run(command=\"sh scripts/gpu_study.sh get N\")"
    echo "here: scripts/gpu_study.sh unstage FILES_AT_FOLDER...; then make study"
}

put() {
    [ -d "$STAGE/part$1" ] || die "no $STAGE/part$1 here: carry it in this call"
    mkdir -p "$THERE"
    cp "$STAGE/part$1"/payload.tgz.* "$THERE/"
    ls "$THERE"/payload.tgz.*
}

# out FIRST: results pieces FIRST.. (PIECES_PER_CALL of them) into $OUT
out() {
    o=${OUT:-/tmp/out}
    mkdir -p "$o"
    n=$(count "$THERE"/results/results.tgz.*)
    i=$1
    while [ "$i" -le "$n" ] && [ "$i" -lt $(( $1 + PIECES_PER_CALL )) ]; do
        cp "$THERE/results/results.tgz.${i}of$n" "$o/"
        i=$((i + 1))
    done
    if [ "$i" -le "$n" ]; then
        echo "gpu_study: results pieces $1..$((i - 1)) of $n in \$OUT; next: sh scripts/gpu_study.sh get $i"
    else
        echo "gpu_study: results pieces $1..$n of $n in \$OUT: all of them"
    fi
}

train() {
    first=$(find "$THERE" -maxdepth 1 -name 'payload.tgz.1of*' 2>/dev/null | head -1)
    [ -n "$first" ] || die "no part 1 there: the machine was given back? start again with put 1"
    n=${first##*of}
    k=1
    while [ "$k" -le "$n" ]; do
        [ -f "$THERE/payload.tgz.${k}of$n" ] || die "part $k of $n missing there: start again with put 1"
        k=$((k + 1))
    done
    p=$THERE/payload
    rm -rf "$p" "$THERE/results" "$THERE/out" "$THERE/checkpoint"
    mkdir -p "$p" "$THERE/results" "$THERE/out"
    k=1
    while [ "$k" -le "$n" ]; do cat "$THERE/payload.tgz.${k}of$n"; k=$((k + 1)); done | tar xzf - -C "$p"
    (cd "$p" && sha256sum --quiet -c SHA256SUMS) || die "the payload does not match its SHA256SUMS"
    # shellcheck disable=SC1091
    . "$p/study.env"
    device=${DEVICE:-cuda}
    cuda=$(dirname "$(find / -name 'libcublas.so.1[0-9]' -path '*cuda*' \( -type f -o -type l \) 2>/dev/null | head -1)")
    export LD_LIBRARY_PATH="$p/lib:$cuda:${LD_LIBRARY_PATH:-}"
    r=$THERE/out
    { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"; } \
        > "$r/gpu.txt"
    threads=$(nproc)
    # shellcheck disable=SC2153 # RUNS, MODEL, BERT_OPTS, SEED: from study.env
    echo "gpu_study: $(cat "$r/gpu.txt"); $RUNS, encoder $MODEL; bert-train $BERT_OPTS --seed $SEED --device $device --precision ${PRECISION:-bf16}"
    # shellcheck disable=SC2086
    "$p/bin/bert-train" -m "$p/model" --val "$p/tokens/val.jsonl" $BERT_OPTS --seed "$SEED" --threads "$threads" \
        --device "$device" --precision "${PRECISION:-bf16}" --checkpoint-dir "$THERE/checkpoint" \
        --log "$r/train_log.jsonl" -o "$r/model" "$p/tokens/train.jsonl" 2> "$r/train.log" ||
        { tail -20 "$r/train.log"; die "bert-train failed"; }
    tail -4 "$r/train.log"
    for e in val test; do
        "$p/bin/predict" -m "$r/model" --threads "$threads" --device "$device" --precision "${PREDICT_PRECISION:-fp32}" \
            -o "$r/$e.pred.jsonl" "$p/tokens/$e.jsonl" 2>> "$r/predict.log" ||
            { cat "$r/predict.log"; die "predict failed on $e"; }
    done
    cat "$r/predict.log"
    cp "$p/study.env" "$r/"
    tar czf "$THERE/results.tgz" -C "$r" .
    split -b $((PIECE_MIB * 1048576)) -d -a 2 "$THERE/results.tgz" "$THERE/results/piece."
    n=$(count "$THERE"/results/piece.*)
    k=1
    for f in "$THERE"/results/piece.*; do mv "$f" "$THERE/results/results.tgz.${k}of$n"; k=$((k + 1)); done
    rm "$THERE/results.tgz"
    out 1
}

unstage() {
    [ $# -gt 0 ] || die "usage: scripts/gpu_study.sh unstage FOLDER... (where the device calls' files are)"
    first=$(find "$@" -name 'results.tgz.1of*' | head -1)
    [ -n "$first" ] || die "no results.tgz.1of* in $*"
    n=${first##*of}
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT INT TERM
    k=1
    while [ "$k" -le "$n" ]; do
        f=$(find "$@" -name "results.tgz.${k}of$n" | head -1)
        [ -n "$f" ] || die "results piece $k of $n is not in $*: fetch it (sh scripts/gpu_study.sh get $k)"
        cat "$f"
        k=$((k + 1))
    done | tar xzf - -C "$tmp"
    # shellcheck disable=SC1091
    . "$tmp/study.env"
    b=$RUNS/bert
    [ -f "$RUNS/tokens/train.jsonl" ] || die "$RUNS/tokens/train.jsonl is missing: unstage where stage ran"
    mkdir -p "$b"
    rm -rf "$b/model" "$b/checkpoint"
    mv "$tmp/model" "$b/model"
    for f in train_log.jsonl train.log predict.log gpu.txt; do mv "$tmp/$f" "$b/$f"; done
    mv "$tmp/val.pred.jsonl" "$tmp/test.pred.jsonl" "$b/"
    # newer than the tokens, and the predictions newer than the model, so
    # that make takes them as made
    touch "$b/model/model.safetensors"
    sleep 1
    touch "$b/val.pred.jsonl" "$b/test.pred.jsonl"
    echo "gpu_study: the GPU's model and predictions in $b ($(cat "$b/gpu.txt")); now: make study" \
         "(with the same RUNS/FAST/MODEL as at stage)" >&2
}

case ${1:-} in
stage) stage ;;
put) [ $# -eq 2 ] || die "usage: put K"; put "$2" ;;
train) train ;;
get) [ $# -eq 2 ] || die "usage: get FIRST"; out "$2" ;;
unstage) shift; unstage "$@" ;;
*) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
