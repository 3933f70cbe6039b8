# The data half of the study recipe, included by pipelines/study.mk (the
# studies with one train/val/test split: tweets, papers) and by studies that
# lay out their own runs on the same data (iclr.mk): the common knobs, the
# cleaned records (csvclean CLEAN_OPTS on CSV), the stratified split
# (stratsplit --ratios RATIOS SPLIT_OPTS into SPLIT_NAMES, the assignment
# saved), and the token records of any split (wptok WPTOK_OPTS).
# pipelines/study.mk lists the variables.

# This file's folder: the scripts are found from here (pipelines/, scripts/),
# in the source tree and under PREFIX/share/pipeclf alike. (A study file that
# checks its data first has set it, and included data.mk, already.)
PIPELINES ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ifndef require_data
include $(PIPELINES)/data.mk
endif

# the programs: the build's, else an install's (PREFIX/bin beside PREFIX/share/pipeclf)
BIN    ?= $(firstword $(wildcard $(PIPELINES)/../build/release/bin) $(abspath $(PIPELINES)/../../../bin))
SEED   ?= 42
JOBS   ?= 2
FAST   ?= 0
ifeq ($(FAST),1)
RUNS   ?= runs/$(STUDY)-fast
else
RUNS   ?= runs/$(STUDY)
endif
SPLIT_NAMES  ?= train val test
MODEL        ?= $(shell $(PIPELINES)/../scripts/fetch_model.sh)
DEVICE       ?= cpu
PRECISION    ?= fp32
DEVICE_OPTS   = --device $(DEVICE) --precision $(PRECISION)
# LAUNCHER (local or slurm) and each kind of step's resources: RUN_TRAIN, ...
include $(PIPELINES)/resources.mk

empty :=
space := $(empty) $(empty)
comma := ,
# Each step's summary (stderr) is kept beside its output for the report:
# $(call logged,LOG) after a command sends stderr to LOG, and shows it.
logged = 2> $(1) || { cat $(1) >&2; exit 1; }; cat $(1) >&2

SPLIT    := $(RUNS)/split
TOK      := $(RUNS)/tokens
SPLITS   := $(SPLIT_NAMES:%=$(SPLIT)/%.jsonl)

.PHONY: study data data-present
.DELETE_ON_ERROR:
# intermediate files (token records) are kept: a later run reuses them
.SECONDARY:

data: $(SPLITS)
# nothing to do: reading the study file has checked that the data is there
data-present:

# ---- data: cleaned records, then the stratified split, its assignment
# saved for reuse (stratsplit --ids-in)
$(RUNS)/clean.jsonl $(RUNS)/clean.stats.json &: $(CSV)
	@mkdir -p $(@D)
	$(BIN)/csvclean $(CLEAN_OPTS) \
	    --stats $(RUNS)/clean.stats.json -o $(RUNS)/clean.jsonl $^ $(call logged,$(RUNS)/clean.log)

$(SPLITS) $(RUNS)/split_ids.jsonl $(RUNS)/split.stats.json &: $(RUNS)/clean.jsonl
	$(BIN)/stratsplit --names $(subst $(space),$(comma),$(SPLIT_NAMES)) --ratios $(RATIOS) --seed $(SEED) $(SPLIT_OPTS) \
	    --ids-out $(RUNS)/split_ids.jsonl --stats $(RUNS)/split.stats.json -d $(SPLIT) $< $(call logged,$(RUNS)/split.log)

# ---- token records of a split for BERT
$(TOK)/%.jsonl: $(SPLIT)/%.jsonl
	@mkdir -p $(@D)
	$(RUN_TOKENIZE) $(BIN)/wptok -m $(MODEL) $(WPTOK_OPTS) -o $@ $<
