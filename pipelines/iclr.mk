# The weighted-loss study (SPEC: Weighted loss): ICLR 2017-2018 submissions,
# accept or reject from title + abstract. How do loss weighting (gamma on one
# class) and the class proportions of the training set move the predicted
# acceptance rate? The original plan: 19 fine-tuning runs. Run through the
# top-level Makefile:
#   make iclr            every run, BERT and baseline, and the report
#   make iclr-baseline   the baseline runs alone (seconds)
#   make iclr FAST=1     1 epoch at 128 tokens (runs/iclr-fast)
# Every run is a target of its own (make -j runs them side by side):
#   RUNS/bert/RUN/sSEED/test.pred.jsonl, RUNS/baseline/RUN/test.pred.jsonl
# with RUN = pP-g1 (plain cross-entropy on the 1/P set) or pP-CLASS-gG (the
# loss of CLASS, accept or reject, weighted by G).
# The data stages are pipelines/study_data.mk's (common variables there and
# in pipelines/study.mk); this file holds what is particular to the study:
#   DATA     the folder of iclr_2017_2018.csv
#   TEST_PER_CLASS   the balanced test set: this many of each class (150)
#   SEEDS    training seeds, comma-separated (default: SEED); with several,
#            the report gives mean +- standard deviation per run
#   EPOCHS, LR, BATCH, MAX_LEN   BERT fine-tuning (fixed epochs, no early stopping)
#   C_GRID   the baseline's C values, chosen once by CV on the 1/2 set
STUDY     := iclr
PIPELINES := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
include $(PIPELINES)/data.mk

SHARED ?= ../shared
DATA   ?= $(SHARED)/datasets/iclr_openreview_2017_2018
$(call require_data,$(DATA)/iclr_2017_2018.csv,DATA,OpenReview's ICLR 2017 and 2018 submissions as github.com/DylanJoo/OpenReview has them (ICLR/ICLR17_submissions.csv and ICLR18_submissions.csv), flattened into iclr_2017_2018.csv)

# Title and abstract as a pair (BERT), joined (TF-IDF); accepted = oral or
# poster, a workshop invitation counts as a reject.
CSV        := $(DATA)/iclr_2017_2018.csv
CLEAN_OPTS := --id id --text title --text-b abstract --drop-empty-b --joined-field title_abstract --keep year \
              --label accepted --rename-label 1=accept --rename-label 0=reject --controls --squeeze

# A balanced test set held out first and never resampled; the rest is the
# pool the training sets are drawn from.
TEST_PER_CLASS ?= 150
SPLIT_NAMES    := test pool
RATIOS         := 100
SPLIT_OPTS      = --per-class test=$(TEST_PER_CLASS)

FAST    ?= 0
EPOCHS  ?= $(if $(filter 1,$(FAST)),1,3)
MAX_LEN ?= $(if $(filter 1,$(FAST)),128,256)
LR      ?= 5e-5
BATCH   ?= 16
SEEDS   ?= $(SEED)
WPTOK_OPTS := --max-len $(MAX_LEN) --truncation longest_first
BERT_OPTS  ?= --epochs $(EPOCHS) --lr $(LR) --batch-size $(BATCH) --warmup 0.1 --log-every 10
TFIDF_OPTS ?= --ngram 1,2 --min-df 2 --sublinear-tf
C_GRID     ?= 0.25,0.5,1,2,4,8,16

include $(PIPELINES)/study_data.mk
include $(PIPELINES)/ledger.mk

# ---- the runs: proportion:class:gamma (class "-" for gamma 1)
PROPORTIONS := 2 3 4 8
GRID_RUNS := 2:-:1 2:accept:2 2:accept:4 2:accept:8 2:reject:2 2:reject:4 2:reject:8 \
             $(foreach p,3 4 8,$(p):accept:2 $(p):accept:4 $(p):reject:2 $(p):reject:4)
# beyond the 19 of the original: gamma 1 on the other proportions, whose
# scores predict --prior shifts instead of retraining
EXTRA_RUNS := 3:-:1 4:-:1 8:-:1
run_name = p$(word 1,$(subst :, ,$(1)))-$(if $(filter -,$(word 2,$(subst :, ,$(1)))),g1,$(word 2,$(subst :, ,$(1)))-g$(word 3,$(subst :, ,$(1))))
ALL_RUNS := $(foreach r,$(GRID_RUNS) $(EXTRA_RUNS),$(call run_name,$(r)))
SEED_LIST := $(subst $(comma),$(space),$(SEEDS))
BASE := $(RUNS)/baseline
BERT := $(RUNS)/bert

.PHONY: study baseline bert
.DEFAULT_GOAL := study

# N: the largest training size every proportion can draw without
# replacement from the pool (accept rows >= N/P, reject rows >= N(P-1)/P)
$(RUNS)/train_size: $(SPLIT)/pool.jsonl $(RUNS)/split.stats.json
	set -- $$(jq -r '.splits.pool | "\(.accept) \(.reject)"' $(RUNS)/split.stats.json); n=; \
	for p in $(PROPORTIONS); do \
	    m=$$(( $$1 * p )); r=$$(( $$2 * p / (p - 1) )); [ $$r -lt $$m ] && m=$$r; \
	    { [ -z "$$n" ] || [ $$m -lt $$n ]; } && n=$$m; \
	done; echo $$n > $@.tmp && mv $@.tmp $@

# one training set per proportion: N rows, 1/P of them accepted
$(SPLIT)/train-p%.jsonl: $(SPLIT)/pool.jsonl $(RUNS)/train_size
	$(BIN)/stratsplit --names train --ratios 100 --resample accept=1/$* --total $$(cat $(RUNS)/train_size) \
	    --seed $(SEED) -d $(SPLIT)/p$*.tmp $< $(call logged,$(SPLIT)/train-p$*.log)
	mv $(SPLIT)/p$*.tmp/train.jsonl $@ && rmdir $(SPLIT)/p$*.tmp

# ---- baseline: TF-IDF per training set, C chosen once by 5-fold CV on the
# 1/2 set, gamma as the class's weight
$(BASE)/p%/tfidf.json $(BASE)/p%/train.vec.jsonl &: $(SPLIT)/train-p%.jsonl
	@mkdir -p $(BASE)/p$*
	$(RUN_BASELINE) $(BIN)/tfidf fit -q -m $(BASE)/p$* --field title_abstract $(TFIDF_OPTS) --drop-text -o $(BASE)/p$*/train.vec.jsonl $<

$(BASE)/C: $(BASE)/p2/train.vec.jsonl
	$(RUN_BASELINE) $(BIN)/logreg -m $(BASE)/cv --grid 'C=$(C_GRID)' --cv 5 --seed $(SEED) --cv-out $(BASE)/cv.csv $< \
	    $(call logged,$(BASE)/cv.log)
	jq -r '.cv.best_params.C' $(BASE)/cv/logreg.json > $@.tmp && mv $@.tmp $@

# $(call baseline_run,RUN,P,CLASS,GAMMA)
define baseline_run
$(BASE)/$(1)/logreg.json: $(BASE)/p$(2)/train.vec.jsonl $(BASE)/C
	@mkdir -p $$(@D)
	cp $(BASE)/p$(2)/tfidf.json $$(@D)/tfidf.json
	$$(PIPELINES)/timed.sh $$(@D)/train.wall $$(RUN_BASELINE) $$(BIN)/logreg -q -m $$(@D) -C $$$$(cat $(BASE)/C) \
	    $(if $(filter -,$(3)),,--class-weight $(3):$(4)) $$<
$(BASE)/$(1)/test.pred.jsonl: $(SPLIT)/test.jsonl $(BASE)/$(1)/logreg.json
	$$(RUN_BASELINE) $$(BIN)/predict -q -m $$(@D) --text-field title_abstract -o $$@ $$<
endef
$(foreach r,$(GRID_RUNS) $(EXTRA_RUNS),$(eval $(call baseline_run,$(call run_name,$(r)),$(word 1,$(subst :, ,$(r))),$(word 2,$(subst :, ,$(r))),$(word 3,$(subst :, ,$(r))))))

# ---- BERT: the same seed, schedule and epochs in every run; no validation
# (the original trained a fixed number of epochs); a checkpoint to resume
# $(call bert_run,RUN,P,CLASS,GAMMA,SEED)
define bert_run
$(BERT)/$(1)/s$(5)/model/model.safetensors: $(TOK)/train-p$(2).jsonl
	@mkdir -p $(BERT)/$(1)/s$(5)
	$$(PIPELINES)/timed.sh $(BERT)/$(1)/s$(5)/train.wall $$(RUN_TRAIN) $$(BIN)/bert-train -m $$(MODEL) $$(BERT_OPTS) $(if $(filter -,$(3)),,--gamma $(3)=$(4)) $$(DEVICE_OPTS) \
	    --seed $(5) --threads $$(JOBS) --checkpoint-dir $(BERT)/$(1)/s$(5)/checkpoint --resume \
	    --log $(BERT)/$(1)/s$(5)/train_log.jsonl -o $(BERT)/$(1)/s$(5)/model $$< \
	    $$(call logged,$(BERT)/$(1)/s$(5)/train.log)
$(BERT)/$(1)/s$(5)/test.pred.jsonl: $(TOK)/test.jsonl $(BERT)/$(1)/s$(5)/model/model.safetensors
	$$(RUN_PREDICT) $$(BIN)/predict -q -m $(BERT)/$(1)/s$(5)/model $$(DEVICE_OPTS) --threads $$(JOBS) -o $$@ $$<
endef
$(foreach s,$(SEED_LIST),$(foreach r,$(GRID_RUNS) $(EXTRA_RUNS),$(eval $(call bert_run,$(call run_name,$(r)),$(word 1,$(subst :, ,$(r))),$(word 2,$(subst :, ,$(r))),$(word 3,$(subst :, ,$(r))),$(s)))))

# ---- the same control without retraining: the gamma-1 model of each
# proportion, its scores shifted to the test set's prior (predict --prior)
PRIOR_RUNS := $(foreach p,$(PROPORTIONS),p$(p)-g1)
$(BASE)/%/test.prior.pred.jsonl: $(SPLIT)/test.jsonl $(BASE)/%/logreg.json $(RUNS)/train_size
	$(RUN_BASELINE) $(BIN)/predict -q -m $(BASE)/$* --text-field title_abstract --prior accept=0.5 \
	    --train-prior accept=$$(echo $* | sed 's/^p\([0-9]*\)-.*/1\/\1/') -o $@ $<
$(BERT)/%/test.prior.pred.jsonl: $(TOK)/test.jsonl $(BERT)/%/model/model.safetensors
	$(RUN_PREDICT) $(BIN)/predict -q -m $(BERT)/$*/model $(DEVICE_OPTS) --threads $(JOBS) --prior accept=0.5 \
	    --train-prior accept=$$(echo $* | sed 's/^p\([0-9]*\)-.*/1\/\1/') -o $@ $<

# ---- every run's scores, a row each (run, proportion, class, gamma, seed,
# then metrics --compare's columns with accept as the positive class)
# the table's order: by proportion, gamma 1 first
TABLE_RUNS := $(foreach p,$(PROPORTIONS),$(filter p$(p)-g1,$(ALL_RUNS)) $(filter-out p$(p)-g1,$(filter p$(p)-%,$(ALL_RUNS))))
BASE_PREDS := $(TABLE_RUNS:%=$(BASE)/%/test.pred.jsonl) $(PRIOR_RUNS:%=$(BASE)/%/test.prior.pred.jsonl)
BERT_PREDS := $(foreach s,$(SEED_LIST),$(TABLE_RUNS:%=$(BERT)/%/s$(s)/test.pred.jsonl) \
                                        $(PRIOR_RUNS:%=$(BERT)/%/s$(s)/test.prior.pred.jsonl))
$(RUNS)/baseline.csv: $(BASE_PREDS)
	$(PIPELINES)/iclr_table.sh $(BIN) $(BASE) $^ > $@.tmp && mv $@.tmp $@
$(RUNS)/bert.csv: $(BERT_PREDS)
	$(PIPELINES)/iclr_table.sh $(BIN) $(BERT) $^ > $@.tmp && mv $@.tmp $@

# ---- make sweep (pipelines/sweep.mk): the BERT hyperparameter search on the
# 1/2 training set, 80/20 into the search's own train and validation records
# (the grid's runs have no validation set); the test set is the study's
$(SPLIT)/sweep-train.jsonl $(SPLIT)/sweep-val.jsonl &: $(SPLIT)/train-p2.jsonl
	$(BIN)/stratsplit -q --names sweep-train,sweep-val --ratios 80/20 --seed $(SEED) -d $(SPLIT) $<
SWEEP_TRAIN := $(TOK)/sweep-train.jsonl
SWEEP_VAL   := $(TOK)/sweep-val.jsonl
SWEEP_TEST  := $(TOK)/test.jsonl
SPACE       ?= lr=1e-5..1e-4:log;batch=16,32;epochs=2,3;weight_decay=0,0.01;warmup=0,0.1
include $(PIPELINES)/sweep.mk

# ---- a row per training run in the experiment ledger (pipelines/ledger.mk)
BASE_ROWS := $(TABLE_RUNS:%=$(LEDGER_DIR)/baseline/%.row)
BERT_ROWS := $(foreach s,$(SEED_LIST),$(TABLE_RUNS:%=$(LEDGER_DIR)/bert/%/s$(s).row))
$(BASE)/%/test.metrics.json: $(BASE)/%/test.pred.jsonl
	$(BIN)/metrics --json $@ $< > /dev/null
$(BERT)/%/test.metrics.json: $(BERT)/%/test.pred.jsonl
	$(BIN)/metrics --json $@ $< > /dev/null
$(LEDGER_DIR)/baseline/%.row: $(BASE)/%/test.metrics.json
	$(call ledger_add,baseline/$*,$(BASE)/$*,tfidf+logreg,,$(BASE)/$*/test.metrics.json,$(BASE)/$*/train.wall)
$(LEDGER_DIR)/bert/%.row: $(BERT)/%/test.metrics.json
	$(call ledger_add,bert/$*,$(BERT)/$*/model,$(BERT_NAME),,$(BERT)/$*/test.metrics.json,$(BERT)/$*/train.wall)

study: $(RUNS)/report.md $(BASE_ROWS) $(BERT_ROWS)
baseline: $(RUNS)/baseline.csv $(BASE_ROWS)
bert: $(RUNS)/bert.csv $(BERT_ROWS)

# ---- plots and the report
define plots
$(RUNS)/$(1).lines.csv: $(RUNS)/$(1).csv
	$(PIPELINES)/iclr_table.sh --lines < $$< > $$@.tmp && mv $$@.tmp $$@
$(RUNS)/$(1).rate.svg: $(RUNS)/$(1).lines.csv
	$$(BIN)/cmplot lines $$< --x gamma --y pos_predicted_rate --group series --x-log --hline 0.5:'true test rate' \
	    --title '$(2): predicted acceptance rate against gamma' -o $$@
$(RUNS)/$(1).accuracy.svg: $(RUNS)/$(1).csv
	$$(BIN)/cmplot scatter $$< --x pos_predicted_rate --y accuracy --group control --label proportion --vline 0.5 \
	    --title '$(2): accuracy against predicted acceptance rate' -o $$@
endef
$(eval $(call plots,baseline,Baseline))
$(eval $(call plots,bert,BERT))

$(RUNS)/report.md: $(PIPELINES)/iclr_report.sh $(RUNS)/baseline.csv $(RUNS)/bert.csv \
                   $(foreach m,baseline bert,$(RUNS)/$(m).rate.svg $(RUNS)/$(m).accuracy.svg) $(RUNS)/train_size \
                   $(wildcard $(RUNS)/sweep/report.md)
	$(PIPELINES)/iclr_report.sh $(RUNS) > $@.tmp && mv $@.tmp $@
