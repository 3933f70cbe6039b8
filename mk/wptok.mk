# wptok: its goldens (HF tokenizers), its benchmark, and its fuzzer.
#   make golden-wptok   tests/ref/wptok_ref.py -> tests/golden/wptok/ (needs tokenizers)
#   make bench-wptok    bench/wptok.py: wptok against HF tokenizers, same corpus, same run
#   make fuzz-wptok     libFuzzer on lib/text/wordpiece for FUZZ_SECONDS (default 600);
#                       needs clang (Debian package clang); not part of make check
GOLDEN_TARGETS += golden-wptok
BENCH_TARGETS += bench-wptok
.PHONY: golden-wptok bench-wptok fuzz-wptok

golden-wptok:
	python3 tests/ref/wptok_ref.py --bin $(BUILD)/bin $(SHARED)

bench-wptok:
	python3 bench/wptok.py $(BUILD)/bin $(SHARED)

FUZZ_SECONDS ?= 600
FUZZ_CC ?= clang
WPTOK_FUZZ_SRC := tests/fuzz/fuzz_wptok.c lib/text/wordpiece.c lib/text/bert_normalize.c lib/core/utf8.c lib/core/common.c \
                  lib/core/strbuf.c lib/core/outfile.c

build/fuzz/fuzz_wptok: $(WPTOK_FUZZ_SRC) lib/text/wordpiece.h lib/text/bert_normalize.h lib/text/unicode_tables.h
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz-wptok needs clang: apt-get install clang" >&2; exit 1; }
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    $(CPPFLAGS) -o $@ $(WPTOK_FUZZ_SRC) -lcjson -lpthread

fuzz-wptok: build/fuzz/fuzz_wptok
	@mkdir -p build/fuzz/wptok-corpus
	WPTOK_FUZZ_MODEL=$(SHARED)/models/bert-base-uncased build/fuzz/fuzz_wptok \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/ build/fuzz/wptok-corpus
