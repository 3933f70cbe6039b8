#!/bin/bash
# Seeds a libFuzzer corpus from the files of tests/ (mk/fuzz.mk runs it once
# per target, before the target's first run). Usage: tests/fuzz/seeds.sh TARGET DIR
# Model files that tests/ does not hold as files (tfidf.json, logreg.json) are
# made by the programs of $BUILD/bin (default build/release/bin) from the test
# records, when built; a checkpoint by fuzz_checkpoint itself (FUZZ_WRITE_SEEDS).
set -eu
target=$1 dir=$2
bin=${BUILD:-build/release}/bin
rm -rf "$dir"
mkdir -p "$dir"
n=0
add() { cp "$1" "$dir/seed-$((n += 1))"; }
# add a file with bytes (given in printf's \x form) before it
addp() { { printf "$1"; cat "$2"; } > "$dir/seed-$((n += 1))"; }
small() { find tests/cases tests/golden -type f -name "$1" -size -"${2:-8}"k | sort | head -"${3:-60}"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# a few records for the model seeds, from the tests' own
records() {
    printf '%s\n' '{"id":"1","label":"pos","text":"good fun, really good"}' \
        '{"id":"2","label":"neg","text":"bad and sad"}' '{"id":"3","label":"neu","text":"just a day"}' \
        '{"id":"4","label":"pos","text":"fun fun day"}' '{"id":"5","label":"neg","text":"a bad day, really"}' \
        '{"id":"6","label":"neu","text":"day of good and bad"}'
}

case $target in
csv)
    i=0
    for f in $(small '*.csv' 4); do
        for p in '\x00\x00' '\xff\x15' '\x41\xb5' '\x7e\x39' '\x81\x00'; do
            i=$((i + 1)); [ $((i % 2)) = 0 ] && addp "$p" "$f"
        done
    done
    printf '\x00\x01text,label\nhello,a\n"quoted, ""x""",b\n' > "$dir/seed-basic" ;;
ndjson)
    for f in $(small '*.jsonl' 2 40); do addp '\x00' "$f"; addp '\x01' "$f"; done
    printf '\x00{"x":{"dim":5,"idx":[0,3],"val":[1.5,-2]},"label":"a"}\n{"x":{"idx":[],"val":[]}}\n' > "$dir/seed-sparse"
    printf '\x02{"input_ids":[2,5,7,3],"token_type_ids":[0,0,0,0],"attention_mask":[1,1,1,1],"label":"a"}\n{"input_ids":[2,3,0],"attention_mask":[1,1,0],"label":"b"}\n' > "$dir/seed-tok"
    printf '\x06{"input_ids":[2,9,3]}\n' > "$dir/seed-tok-nolabel"
    [ -f tests/golden/predict/bert_tokens.jsonl ] && head -c 3000 tests/golden/predict/bert_tokens.jsonl | { printf '\x06'; cat; } > "$dir/seed-golden-tok" ;;
tfidf | logreg)
    [ -x "$bin/tfidf" ] || { echo "seeds.sh: $bin/tfidf not built (make first); seeding without models" >&2; exit 0; }
    records > "$tmp/train.jsonl"
    k=0
    for opts in "" "--ngram 1,2 --min-df 1" "--analyzer char_wb --ngram 2,3 --max-features 20" "--stopwords sklearn_english --norm l1" \
        "--no-idf --sublinear-tf --max-df 0.9" "--analyzer char --ngram 1,1 --no-lowercase" "--token-pattern (?u)\\b\\w+\\b"; do
        k=$((k + 1))
        # shellcheck disable=SC2086
        "$bin/tfidf" fit -q $opts -m "$tmp/m$k" -o "$tmp/v$k.jsonl" "$tmp/train.jsonl" 2>/dev/null || continue
        if [ "$target" = tfidf ]; then add "$tmp/m$k/tfidf.json"; continue; fi
        j=0
        for lopts in "" "--penalty l1 -C 3" "--multi-class multinomial" "--class-weight balanced --no-intercept"; do
            j=$((j + 1))
            # shellcheck disable=SC2086
            "$bin/logreg" -q -m "$tmp/l$k$j" $lopts "$tmp/v$k.jsonl" 2>/dev/null && add "$tmp/l$k$j/logreg.json"
            grep -v '"neu"' "$tmp/v$k.jsonl" > "$tmp/b$k.jsonl"
            "$bin/logreg" -q -m "$tmp/lb$k$j" $lopts "$tmp/b$k.jsonl" 2>/dev/null && add "$tmp/lb$k$j/logreg.json"
        done
    done
    ls "$dir" | grep -q . || echo "seeds.sh: no model made; check the options above" >&2 ;;
config)
    # mode byte 0: config.json; 1: tokenizer_config.json
    for f in tests/golden/bert/*/config.json; do addp '\x00' "$f"; done
    printf '\x01{"do_lower_case": true, "strip_accents": null, "tokenize_chinese_chars": true}' > "$dir/seed-tc1"
    printf '\x01{"do_lower_case": false, "cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]", "pad_token": "[PAD]", "mask_token": "[MASK]", "model_max_length": 512}' > "$dir/seed-tc2"
    printf '\x01{"strip_accents": true, "do_lower_case": false}' > "$dir/seed-tc3" ;;
safetensors)
    for f in tests/golden/bert/micro_safetensors/model.safetensors; do add "$f"; done
    for f in tests/golden/bert/*.safetensors; do [ "$(stat -c %s "$f")" -lt 65536 ] && add "$f"; done
    true ;;
pytorch)
    for f in tests/golden/bert/micro_*/pytorch_model.bin; do add "$f"; done ;;
checkpoint)
    FUZZ_WRITE_SEEDS=$dir build/fuzz/fuzz_checkpoint -runs=0 "$tmp" >/dev/null 2>&1 ;;
vocab)
    printf '\x00[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\nhello\nworld\n##ing\n,\n' > "$dir/seed-v1"
    printf '\x01[UNK]\n[CLS]\n[SEP]\na\nb\n##b\na\n' > "$dir/seed-dup"
    printf '\x00[UNK]\r\n[CLS]\r\n[SEP]\r\n\xc3\xa9t\xc3\xa9\r\n\xe4\xb8\xad\r\n' > "$dir/seed-crlf"
    for f in $(find tests/cases/wptok -name '*.txt' -size -4k | sort); do addp '\x00' "$f"; done ;;
*) echo "seeds.sh: unknown target $target" >&2; exit 2 ;;
esac
echo "seeds.sh: $target: $(ls "$dir" | wc -l) seeds in $dir" >&2
