# libFuzzer targets for every reader of untrusted files (tests/fuzz/, FUZZING.md).
#   make fuzz                 build and run every target in turn, each for FUZZ_SECONDS (default 600),
#                             then fuzz-wptok (mk/wptok.mk); not part of make check
#   make fuzz-build           only build them (build/fuzz/fuzz_*)
#   make fuzz-csv ...         one target: csv ndjson tfidf logreg config safetensors pytorch checkpoint vocab
# Each target's corpus is build/fuzz/<target>-corpus, seeded on its first run from
# the files of tests/ (tests/fuzz/seeds.sh); crashes land in build/fuzz/ as
# crash-<target>-*. FUZZ_ARGS adds libFuzzer options. Needs clang (Debian package clang).
# The library is compiled apart, with coverage and ASan + UBSan, into build/fuzz/obj.
FUZZ_SECONDS ?= 600
FUZZ_CC      ?= clang
FUZZ_ARGS    ?=
FUZZ_TARGETS := csv ndjson tfidf logreg config safetensors pytorch checkpoint vocab
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -Wall -Wextra $(FUZZ_SAN)
# die, die_at, die_usage and warn, and the streams, go through tests/fuzz/fuzz_common.c
FUZZ_WRAP    := -Wl,--wrap=die,--wrap=die_at,--wrap=die_usage,--wrap=warn,--wrap=fopen,--wrap=fmemopen,--wrap=fclose
FUZZ_LIB_SRC := $(wildcard lib/*/*.c) lib/bert/cuda/stub.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

.PHONY: fuzz fuzz-build $(FUZZ_TARGETS:%=fuzz-%)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory fuzz-$$t FUZZ_SECONDS=$(FUZZ_SECONDS); done
	@$(MAKE) --no-print-directory fuzz-wptok FUZZ_SECONDS=$(FUZZ_SECONDS)

$(FUZZ_DIR)/obj/%.o: %.c
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs clang: apt-get install clang" >&2; exit 1; }
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libpipeclf-fuzz.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_DIR)/obj/tests/fuzz/fuzz_common.o $(FUZZ_DIR)/libpipeclf-fuzz.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(FUZZ_WRAP) -o $@ $^ $(LDLIBS)

# one rule per target: seed the corpus once, then fuzz for FUZZ_SECONDS
$(FUZZ_TARGETS:%=fuzz-%): fuzz-%: $(FUZZ_DIR)/fuzz_%
	@if [ ! -d $(FUZZ_DIR)/$*-corpus ]; then tests/fuzz/seeds.sh $* $(FUZZ_DIR)/$*-corpus.tmp \
	    && mv $(FUZZ_DIR)/$*-corpus.tmp $(FUZZ_DIR)/$*-corpus; fi
	$(FUZZ_DIR)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/crash-$*- $(FUZZ_ARGS) $(FUZZ_DIR)/$*-corpus

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.d)
