# The tweet study (SPEC: Tweets), run through the top-level Makefile:
#   make study            everything built so far (the baseline half)
#   make baseline         the same, by name; FAST=1: the 40% train subsample
# Every input path and knob is a variable:
#   SHARED  the shared folder (default ../shared)   DATA  the CSV folder
#   RUNS    output folder (runs/tweets, or runs/tweets-fast with FAST=1)
#   SEED    split and CV seed (42)                  JOBS  grid-search threads (2)
SHARED ?= ../shared
DATA   ?= $(SHARED)/datasets/tweet_sentiment_extraction
BIN    ?= build/release/bin
SEED   ?= 42
JOBS   ?= 2
FAST   ?= 0
ifeq ($(FAST),1)
RUNS      ?= runs/tweets-fast
SUBSAMPLE := --subsample 0.4
else
RUNS      ?= runs/tweets
SUBSAMPLE :=
endif

# TF-IDF as the original notebook: 1-3-grams, 100k features, min_df 2,
# max_df 0.95, sublinear tf.
TFIDF_OPTS ?= --ngram 1,3 --max-features 100000 --min-df 2 --max-df 0.95 --sublinear-tf
# The notebook's grid; its explicit weights {-1:1.2, 0:0.8, 1:1.2} were on
# the labels -1/0/1, here negative/neutral/positive.
GRID ?= C=0.1,0.5,1,2,4,8;class_weight=none,balanced,{negative:1.2,neutral:0.8,positive:1.2};max_iter=2000,3000;penalty=l1,l2
CV   ?= 5

empty :=
space := $(empty) $(empty)
comma := ,
# Each step's summary (stderr) is kept beside its output for the report:
# $(call logged,LOG) after a command sends stderr to LOG, and shows it.
logged = 2> $(1) || { cat $(1) >&2; exit 1; }; cat $(1) >&2

SPLIT    := $(RUNS)/split
BASE     := $(RUNS)/baseline
SPLITS   := $(SPLIT)/train.jsonl $(SPLIT)/val.jsonl $(SPLIT)/test.jsonl
EVALS    := val test

.PHONY: study data baseline
.DELETE_ON_ERROR:

study: baseline
data: $(SPLITS)
baseline: $(RUNS)/report.md

# Kaggle train + test together, cleaned as the original notebook did.
$(RUNS)/clean.jsonl $(RUNS)/clean.stats.json &: $(DATA)/train.csv $(DATA)/test.csv
	@mkdir -p $(@D)
	$(BIN)/csvclean --preset tweet --id textID --label sentiment \
	    --stats $(RUNS)/clean.stats.json -o $(RUNS)/clean.jsonl $^ $(call logged,$(RUNS)/clean.log)

# 70/15/15 stratified, the assignment saved for reuse.
$(SPLITS) $(RUNS)/split_ids.jsonl $(RUNS)/split.stats.json &: $(RUNS)/clean.jsonl
	$(BIN)/stratsplit --ratios 70/15/15 --seed $(SEED) $(SUBSAMPLE) \
	    --ids-out $(RUNS)/split_ids.jsonl --stats $(RUNS)/split.stats.json -d $(SPLIT) $< $(call logged,$(RUNS)/split.log)

# The baseline model directory: tfidf.json, then logreg.json chosen by
# stratified 5-fold grid search on macro-F1 and refitted on all of train.
$(BASE)/tfidf.json $(BASE)/train.vec.jsonl &: $(SPLIT)/train.jsonl
	@mkdir -p $(BASE)
	$(BIN)/tfidf fit -m $(BASE) $(TFIDF_OPTS) --drop-text -o $(BASE)/train.vec.jsonl $< $(call logged,$(BASE)/tfidf.log)

$(BASE)/logreg.json $(BASE)/cv.csv &: $(BASE)/train.vec.jsonl
	$(BIN)/logreg -m $(BASE) --grid '$(GRID)' --cv $(CV) --seed $(SEED) --jobs $(JOBS) \
	    --cv-out $(BASE)/cv.csv $< $(call logged,$(BASE)/logreg.log)

$(BASE)/%.pred.jsonl: $(SPLIT)/%.jsonl $(BASE)/tfidf.json $(BASE)/logreg.json
	$(BIN)/predict -m $(BASE) -o $@ $<

$(BASE)/%.metrics.json $(BASE)/%.metrics.txt &: $(BASE)/%.pred.jsonl
	$(BIN)/metrics --json $(BASE)/$*.metrics.json -o $(BASE)/$*.metrics.txt $<

$(BASE)/%.cm.svg: $(BASE)/%.metrics.json
	$(BIN)/cmplot confusion --title 'baseline, $*' $< -o $@
$(BASE)/%.roc.svg: $(BASE)/%.pred.jsonl
	$(BIN)/cmplot roc --title 'baseline, $*' $< -o $@
$(BASE)/%.pr.svg: $(BASE)/%.pred.jsonl
	$(BIN)/cmplot pr --title 'baseline, $*' $< -o $@

$(BASE)/compare.md: $(EVALS:%=$(BASE)/%.pred.jsonl)
	$(BIN)/metrics --compare --names $(subst $(space),$(comma),$(EVALS:%=baseline-%)) -o $@ $^
$(BASE)/compare.svg: $(EVALS:%=$(BASE)/%.metrics.json)
	$(BIN)/cmplot bars --names $(subst $(space),$(comma),$(EVALS:%=baseline-%)) --title 'baseline: val vs test' $^ -o $@

PLOTS := $(foreach e,$(EVALS),$(BASE)/$(e).cm.svg $(BASE)/$(e).roc.svg $(BASE)/$(e).pr.svg) $(BASE)/compare.svg
$(RUNS)/report.md: pipelines/report.sh $(RUNS)/clean.stats.json $(RUNS)/split.stats.json $(BASE)/cv.csv \
                   $(BASE)/compare.md $(EVALS:%=$(BASE)/%.metrics.txt) $(PLOTS)
	pipelines/report.sh $(RUNS) > $@.tmp && mv $@.tmp $@
