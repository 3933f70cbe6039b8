# The papers study (SPEC: Papers): ACL 2025 main and Findings papers into
# their research tracks from title + abstract, baseline vs BERT; then the
# ACL 2025 papers that have no track here (Industry, Demo, TACL, CL: titles
# only) classified by both. Run through the top-level Makefile:
#   make papers          the whole study (runs/papers/report.md)
#   make papers FAST=1   a quick run: 1 epoch, at most 256 tokens (runs/papers-fast)
# The stages are pipelines/study.mk's (which lists the common variables:
# SHARED, BIN, RUNS, SEED, JOBS, MODEL, DEVICE, PRECISION); this file holds
# what is particular to the papers:
#   DATA       the folder of acl25_theme_data.csv and acl25_accepted_track_info.csv
#   MIN_CLASS  classes with fewer rows are dropped (10)
#   EPOCHS, LR, BATCH, GRAD_ACCUM, MAX_LEN, EVAL_EVERY, PATIENCE   BERT fine-tuning
#   (the original script's: 4, 3e-5, 4, 8, 512, 200, 3; any HF BERT
#   directory as MODEL, SciBERT's pytorch_model.bin included)
STUDY     := papers
PIPELINES := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
include $(PIPELINES)/data.mk

SHARED ?= ../shared
DATA   ?= $(SHARED)/datasets/acl2025_tracks
ATIP   := the ACL 2025 paper list of github.com/Chenbot001/ATIP (data/ACL25_ThemeData.csv and data/ACL25 Accepted Paper with Track Info.csv)
$(call require_data,$(DATA)/acl25_theme_data.csv,DATA,$(ATIP))
$(call require_data,$(DATA)/acl25_accepted_track_info.csv,DATA,$(ATIP))

# Title as the text, the abstract as the second segment (a paper without
# one: its title alone); light cleaning only, which BERT wants; the
# baseline's TF-IDF reads title + abstract joined.
CSV        := $(DATA)/acl25_theme_data.csv
MIN_CLASS  ?= 10
PAPER_COLS := --keep 'Accepted To=venue' --text Title --controls --squeeze
CLEAN_OPTS := --id 'Paper ID' $(PAPER_COLS) --text-b Abstract --drop-empty-b --joined-field title_abstract \
              --label 'Track Theme' --min-class-count $(MIN_CLASS)
BASE_FIELD := title_abstract

RATIOS     := 80/10/10

# TF-IDF on 1-2-grams, min_df 2, sublinear tf; logistic regression over C,
# l1/l2 and class weights one-vs-rest, and multinomial; 5-fold CV on macro-F1.
TFIDF_OPTS ?= --ngram 1,2 --min-df 2 --sublinear-tf
GRID ?= C=0.25,0.5,1,2,4,16;penalty=l1,l2;class_weight=none,balanced | C=0.25,0.5,1,2,4,16;class_weight=none,balanced;multi_class=multinomial
CV   ?= 5

# BERT with the original script's settings: pairs truncated longest first,
# batch 4 x 8 accumulated, evaluation on val every 200 steps, patience 3,
# the best by macro-F1 restored.
FAST       ?= 0
EPOCHS     ?= $(if $(filter 1,$(FAST)),1,4)
MAX_LEN    ?= $(if $(filter 1,$(FAST)),256,512)
LR         ?= 3e-5
BATCH      ?= 4
GRAD_ACCUM ?= 8
EVAL_EVERY ?= 200
PATIENCE   ?= 3
WPTOK_OPTS := --max-len $(MAX_LEN) --truncation longest_first
BERT_OPTS  ?= --epochs $(EPOCHS) --lr $(LR) --batch-size $(BATCH) --grad-accum $(GRAD_ACCUM) --warmup 0.1 \
              --eval-every $(EVAL_EVERY) --patience $(PATIENCE) --metric macro_f1 --log-every 10

# top-3 accuracy; accuracy and macro-F1 by class size (training rows).
# (= : RUNS and the rest are set by study.mk, included below)
METRICS_OPTS  = --top-k 3 --train $(SPLIT)/train.jsonl
METRICS_DEPS  = $(SPLIT)/train.jsonl
COMPARE_OPTS := --top-k 3

# the application and the titles-only scores (rules below)
STUDY_EXTRA        = $(RUNS)/unlabeled.pred.jsonl $(RUNS)/titles.md
REPORT_EXTRA      := $(PIPELINES)/papers_report.sh
REPORT_EXTRA_DEPS  = $(STUDY_EXTRA)
REPORT_TITLE      := ACL 2025 papers into tracks
REPORT_MAKE       := papers
REPORT_MAKE_BASELINE := papers-baseline
REPORT_ABOUT      := $(PIPELINES)/papers.about.md
REPORT_CLEANING   := Cleaning (csvclean: control characters, whitespace; classes under MIN_CLASS=$(MIN_CLASS) rows dropped)
CARD_STUDY        := ACL 2025 main + Findings papers (github.com/Chenbot001/ATIP) into research tracks from title + abstract
CARD_SPLIT        := 80/10/10 stratified, seed from split_ids.jsonl; classes under $(MIN_CLASS) rows dropped
CARD_REFERENCE    := null

include $(PIPELINES)/study.mk

# ---- the target application: the papers without a track here, titles only,
# classified by both models (one record each: both predictions, top 3).
# Their ids are row numbers: a Paper ID is unique only with its venue.
UNLABELED_CSV := $(DATA)/acl25_accepted_track_info.csv
UNLABELED_OPTS := $(PAPER_COLS) --keep 'Paper ID=paper_id' --keep Title=title_abstract --no-label --dedupe \
                  --where 'Accepted To=IND' --where 'Accepted To=DEMO' --where 'Accepted To=TACL' --where 'Accepted To=CL'

$(RUNS)/unlabeled.jsonl: $(UNLABELED_CSV)
	@mkdir -p $(@D)
	$(BIN)/csvclean $(UNLABELED_OPTS) -o $@ $< $(call logged,$(RUNS)/unlabeled.log)

$(RUNS)/unlabeled.pred.jsonl: $(BASE)/unlabeled.pred.jsonl $(BERT)/unlabeled.pred.jsonl
	$(PIPELINES)/papers_join.sh $^ > $@.tmp && mv $@.tmp $@

# ---- titles alone: the test papers without their abstracts, both models
$(SPLIT)/test_titles.jsonl: $(SPLIT)/test.jsonl
	jq -c 'del(.text_b) | .title_abstract = .text' $< > $@.tmp && mv $@.tmp $@

# every input of the baseline and of BERT's tokens besides the split's
$(BASE)/unlabeled.pred.jsonl: $(RUNS)/unlabeled.jsonl $(BASE)/tfidf.json $(BASE)/logreg.json
	$(RUN_BASELINE) $(BIN)/predict -m $(BASE) --text-field $(BASE_FIELD) --top-k 3 -o $@ $<
$(TOK)/unlabeled.jsonl: $(RUNS)/unlabeled.jsonl
	@mkdir -p $(@D)
	$(RUN_TOKENIZE) $(BIN)/wptok -m $(MODEL) $(WPTOK_OPTS) -o $@ $<
$(BERT)/unlabeled.pred.jsonl: $(TOK)/unlabeled.jsonl $(BERT)/model/model.safetensors
	$(RUN_PREDICT) $(BIN)/predict -m $(BERT)/model $(DEVICE_OPTS) --threads $(JOBS) --top-k 3 -o $@ $<

TITLES_PREDS := $(foreach d,$(BASE) $(BERT),$(d)/test.pred.jsonl $(d)/test_titles.pred.jsonl)
$(RUNS)/titles.md: $(TITLES_PREDS)
	$(BIN)/metrics --compare $(COMPARE_OPTS) \
	    --names baseline-title+abstract,baseline-title,bert-title+abstract,bert-title -o $@ $^
