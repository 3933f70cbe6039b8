# The tweet study (SPEC: Tweets), as far as it exists: the data stage.
# Run through the top-level Makefile: `make study` (add FAST=1 for the 40%
# training subsample). Every input path is a variable:
#   SHARED  the shared folder (default ../shared)      DATA  the CSV folder
#   RUNS    output folder (runs/tweets or runs/tweets-fast)   SEED  split seed (42)
SHARED ?= ../shared
DATA   ?= $(SHARED)/datasets/tweet_sentiment_extraction
BIN    ?= build/release/bin
SEED   ?= 42
FAST   ?= 0
ifeq ($(FAST),1)
RUNS      ?= runs/tweets-fast
SUBSAMPLE := --subsample 0.4
else
RUNS      ?= runs/tweets
SUBSAMPLE :=
endif

SPLITS := $(RUNS)/split/train.jsonl $(RUNS)/split/val.jsonl $(RUNS)/split/test.jsonl \
          $(RUNS)/split_ids.jsonl $(RUNS)/split.stats.json

.PHONY: study data
.DELETE_ON_ERROR:

study: data
data: $(SPLITS)

# Kaggle train + test together, cleaned as the original notebook did.
$(RUNS)/clean.jsonl $(RUNS)/clean.stats.json &: $(DATA)/train.csv $(DATA)/test.csv
	@mkdir -p $(@D)
	$(BIN)/csvclean --preset tweet --id textID --label sentiment \
	    --stats $(RUNS)/clean.stats.json -o $@ $^

# 70/15/15 stratified, seed 42, the assignment saved for reuse.
$(SPLITS) &: $(RUNS)/clean.jsonl
	$(BIN)/stratsplit --ratios 70/15/15 --seed $(SEED) $(SUBSAMPLE) \
	    --ids-out $(RUNS)/split_ids.jsonl --stats $(RUNS)/split.stats.json -d $(RUNS)/split $<
