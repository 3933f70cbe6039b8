# pipeclf — build, test and study entry points.
#   make            build every program into $(BUILD)/bin (installs missing Debian packages first)
#   make check      build and run the test suite; ends with "N passed, N failed"
#   make check SANITIZE=1   the same under ASan + UBSan (separate build directory)
#   make study      run the tweet study (pipelines/tweets.mk) on ../shared data (FAST=1: 40% train)
#   make baseline   only its TF-IDF + logistic-regression half; make bert: its BERT half
#   make papers     the papers study (pipelines/papers.mk; papers-baseline, papers-bert)
#   make iclr       the weighted-loss study (pipelines/iclr.mk; iclr-baseline, iclr-bert)
#   make ledger     the experiment ledger runs/ledger.csv as a workbook, runs/ledger.xlsx (mk/ledger.mk)
#   make sweep      BERT hyperparameter search, with pruning (STUDY=tweets|papers|iclr; pipelines/sweep.mk)
#   make install    PREFIX=/usr/local DESTDIR= (make uninstall takes it back)
#   make bench      run the benchmarks in bench/ (needs the Python reference tools)
#   make golden     regenerate the committed golden files with the reference tools

SHARED   ?= $(abspath ../shared)
CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra
STD      := -std=gnu11
CJSON_CFLAGS := $(shell pkg-config --cflags libcjson 2>/dev/null || echo -I/usr/include/cjson)
BLAS_CFLAGS  := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS    := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
CPPFLAGS += -Ilib $(CJSON_CFLAGS) $(BLAS_CFLAGS)
LDLIBS   := -lcjson -lcsv -lstemmer -lpcre2-8 $(BLAS_LIBS) -lm -lpthread

ifeq ($(SANITIZE),1)
BUILD    ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    ?= build/release
SANFLAGS :=
endif

ALL_CFLAGS  = $(STD) $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

LIB_SRC    := $(wildcard lib/*/*.c)
FILTER_SRC := $(wildcard filters/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
PROGRAMS   := $(FILTER_SRC:filters/%.c=$(BUILD)/bin/%)
UNIT_TESTS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit/%)

# Each stage adds its benchmark and golden generator to BENCH_TARGETS and
# GOLDEN_TARGETS from its own fragment in mk/ (kept apart so stages do not
# edit one shared list); a fragment may also add objects to LIB_OBJ and
# flags to CPPFLAGS / LDLIBS (the CUDA backend does), so it is read before
# the rules below use them.
BENCH_TARGETS  := bench-csvclean
GOLDEN_TARGETS := golden-data
include $(sort $(wildcard mk/*.mk))

.PHONY: all programs check test install uninstall bench golden deps clean bench-csvclean golden-data
.DEFAULT_GOAL := all
.SECONDARY:

all: deps
	@$(MAKE) --no-print-directory programs

deps:
	@scripts/setup.sh build

programs: $(PROGRAMS) $(UNIT_TESTS) $(PROGRAM_DEPS) $(BUILD)/share/pipeclf/data

# The build tree is laid out as an install is: the programs find the shipped
# data in ../share/pipeclf/data from their own directory (lib/core/datadir.h),
# here a link to data/.
$(BUILD)/share/pipeclf/data:
	@mkdir -p $(@D)
	ln -sfn $$(realpath -m --relative-to=$(@D) data) $@

# made anew each time: ar would keep members no longer in LIB_OBJ
$(BUILD)/lib/libpipeclf.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/bin/%: $(BUILD)/filters/%.o $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit/%: $(BUILD)/tests/unit/%.o $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# The suite: C unit tests, then the data-driven cases in tests/cases/<prog>/<case>/.
check test: deps
	@$(MAKE) --no-print-directory programs
	@SANITIZE=$(SANITIZE) tests/run.sh $(BUILD) $(SHARED)

# The studies (pipelines/study.mk lists the common variables, each study
# file its own): make study (the tweets; make baseline, make bert: one
# half), make papers and make iclr (papers-baseline, iclr-bert, ...). The
# data is looked for first, before anything is built: a missing file stops
# make with the study file's one line (what is missing, the variable that
# moves it, where the data comes from).
# make sweep STUDY=tweets|papers|iclr: the BERT hyperparameter search on a
# study's data (pipelines/sweep.mk).
STUDY ?= tweets
ifneq ($(filter sweep,$(MAKECMDGOALS)),)
$(if $(filter tweets papers iclr,$(STUDY)),,$(error STUDY=$(STUDY): tweets, papers or iclr))
endif
study_file = pipelines/$(if $(filter sweep,$(1)),$(STUDY),$(or $(filter papers iclr,$(firstword $(subst -, ,$(1)))),tweets)).mk
study_goal = $(if $(filter papers iclr,$(1)),study,$(patsubst papers-%,%,$(patsubst iclr-%,%,$(1))))
STUDY_GOALS := study baseline bert papers papers-baseline papers-bert iclr iclr-baseline iclr-bert sweep
.PHONY: $(STUDY_GOALS)
STUDY_FIRST := $(firstword $(filter $(STUDY_GOALS),$(MAKECMDGOALS)))
ifneq ($(STUDY_FIRST),)
STUDY_DATA_ERROR := $(shell $(MAKE) -s --no-print-directory -f $(call study_file,$(STUDY_FIRST)) 'SHARED=$(SHARED)' \
                            $(foreach v,DATA LAUNCHER,$(if $(filter command line,$(origin $(v))),'$(v)=$($(v))')) \
                            data-present 2>&1 >/dev/null \
                            | sed -n 's/^.*\*\*\* \(.*\)\.  Stop\.$$/\1/p')
$(if $(STUDY_DATA_ERROR),$(error $(STUDY_DATA_ERROR)))
endif
$(STUDY_GOALS): all
	@$(MAKE) --no-print-directory -f $(call study_file,$@) BIN=$(abspath $(BUILD)/bin) SHARED=$(SHARED) $(call study_goal,$@)

# make install PREFIX=/usr/local DESTDIR=: the programs, the GPU library when
# built, man pages, shipped data, the studies' make files (scripts/install.sh
# says where); make uninstall removes exactly what install wrote.
PREFIX  ?= /usr/local
DESTDIR ?=
install: programs
	@scripts/install.sh install $(BUILD) $(DESTDIR)$(PREFIX)
uninstall:
	@scripts/install.sh uninstall $(DESTDIR)$(PREFIX)


bench: all
	@scripts/setup.sh reference
	@$(MAKE) --no-print-directory $(BENCH_TARGETS)

golden: all
	@scripts/setup.sh reference
	@$(MAKE) --no-print-directory $(GOLDEN_TARGETS)

bench-csvclean:
	python3 bench/csvclean.py $(BUILD)/bin $(SHARED)

golden-data:
	tests/ref/data_goldens.sh $(BUILD)/bin $(SHARED)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(FILTER_SRC:%.c=$(BUILD)/%.d) $(UNIT_SRC:%.c=$(BUILD)/%.d)
