# make sweep: a BERT hyperparameter search on a study's data (SPEC: How the
# studies run), included by the study files after their variables:
#   make sweep STUDY=tweets|papers|iclr   (the top-level Makefile)
# The original tweet notebook searched with Optuna (grid and random over
# learning rate, batch size, epochs, weight decay and warmup; the best by
# validation macro-F1, scored on test once). Here each trial is bert-train
# on SWEEP_TRAIN, evaluated on SWEEP_VAL, and make targets of its own, so
# that make -j and LAUNCHER=slurm run trials side by side.
#
#   trials ----> t00/rung1 ... tNN/rung1 -> cut1 -> t../rung2 -> cut2 -> ... -> trials.jsonl
#   (plan.jsonl)                                                              -> best -> test
#
# Pruning (PRUNE=1, the default) is successive halving: every trial trains
# to 1/ETA^(RUNGS-1) of its own schedule (rung 1); `trials rung` keeps the
# best max(1, n/ETA) by the validation score there, which train on to the
# next rung (ETA times further: bert-train --stop-at pauses, --resume goes
# on); the others stop. Equal scores (early on, many trials predict only
# the largest class) go to the lower validation loss. Only the last rung trains to the end. Every trial
# evaluates at the same shares of its schedule (--eval-every 1/ETA^(RUNGS-1)),
# pruned or not, so PRUNE=0 (the full search, in SW-full) trains the very
# same runs to the end and the two can be compared.
#
# Knobs (command line):
#   SEARCH   grid or random (default: random)
#   SPACE    the search space, `trials --space` syntax (man trials):
#            NAME=V1,V2,... or NAME=LO..HI[:log][:N], ';' between them
#   TRIALS   random: the number of trials (9); grid: at most this many
#   SWEEP_SEED   the draws' seed (default: SEED); training seed SEED for all
#   PRUNE, ETA, RUNGS   pruning on (1) or off (0); reduction factor (3);
#            rungs (3: at 1/9, 1/3 and the whole schedule)
#   SWEEP_METRIC     macro_f1 (default), accuracy or weighted_f1
#   SWEEP_BERT_OPTS  bert-train options every trial shares
# The study file may set SWEEP_TRAIN, SWEEP_VAL, SWEEP_TEST (token records;
# default the study's train, val and test) and the defaults above.
SEARCH       ?= random
SPACE        ?= lr=1e-5..1e-4:log;batch=16,32;epochs=2,3;weight_decay=0,0.01;warmup=0,0.1
TRIALS       ?= $(if $(filter random,$(SEARCH)),9)
SWEEP_SEED   ?= $(SEED)
PRUNE        ?= 1
ETA          ?= 3
RUNGS        ?= 3
SWEEP_METRIC ?= macro_f1
SWEEP_TRAIN  ?= $(TOK)/train.jsonl
SWEEP_VAL    ?= $(TOK)/val.jsonl
SWEEP_TEST   ?= $(TOK)/test.jsonl
SWEEP_BERT_OPTS ?= --log-every 10
SW           ?= $(RUNS)/sweep$(if $(filter 0,$(PRUNE)),-full)

# each trial's row in the experiment ledger (pipelines/ledger.mk), when it ends
SWEEP_LEDGER_ADD = $(BIN)/ledger add -o $(LEDGER) --study $(STUDY) --model $(BERT_NAME) $(if $(COMMIT),--commit $(COMMIT))

PLAN_OPTS := --search $(SEARCH) --space '$(SPACE)' $(if $(TRIALS),--trials $(TRIALS)) --seed $(SWEEP_SEED)
# evaluations per schedule, ETA^(RUNGS-1); rung k of a pruned search ends at
# ETA^(k-1) of them (the last rung: the end)
PARTS := $(shell p=1; i=1; while [ $$i -lt $(RUNGS) ]; do p=$$((p * $(ETA))); i=$$((i + 1)); done; echo $$p)
NRUNGS := $(if $(filter 0,$(PRUNE)),1,$(RUNGS))
RUNG_NUMS := $(shell seq 1 $(NRUNGS))
rung_stop = $(if $(filter $(NRUNGS),$(1)),end,$(shell p=1; i=1; while [ $$i -lt $(1) ]; do p=$$((p * $(ETA))); i=$$((i + 1)); done; echo $$p)/$(PARTS))
rung_prev = $(word $(1),0 $(RUNG_NUMS))

# The trial ids, known when make reads this file (the plan's program says
# them): only for the sweep's goals, so that other goals never run it.
ifneq ($(filter sweep sweep-%,$(MAKECMDGOALS)),)
TRIAL_IDS := $(shell $(BIN)/trials $(PLAN_OPTS) --ids 2>&1)
ifneq ($(.SHELLSTATUS),0)
$(error SPACE, SEARCH or TRIALS: $(TRIAL_IDS))
endif
endif

.PHONY: sweep sweep-plan FORCE
sweep: $(SW)/report.md
sweep-plan: $(SW)/plan.jsonl

# ---- the plan: rewritten (and the trials of another plan cleared away)
# only when the knobs change
$(SW)/plan.knobs: FORCE
	@mkdir -p $(@D)
	@echo "$(PLAN_OPTS)" > $@.new; if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi
$(SW)/plan.jsonl: $(SW)/plan.knobs
	rm -rf $(SW)/t[0-9]* $(SW)/cut*.jsonl
	$(BIN)/trials $(PLAN_OPTS) -o $@

# ---- a rung of a trial: sweep_rung.sh trains it on (or carries a trial
# the last cut did not promote forward as pruned) and writes its record
# $(call sweep_rung,K)
define sweep_rung
$(SW)/%/rung$(1).json: $(if $(filter 1,$(1)),$(SW)/plan.jsonl $(SWEEP_TRAIN) $(SWEEP_VAL),$(SW)/%/rung$(call rung_prev,$(1)).json $(SW)/cut$(call rung_prev,$(1)).jsonl)
	@mkdir -p $$(@D)
	LEDGER_ADD="$$(SWEEP_LEDGER_ADD)" $(PIPELINES)/sweep_rung.sh $(SW) $$* $(1) $(call rung_stop,$(1)) $(if $(filter 1,$(1)),-,$(SW)/cut$(call rung_prev,$(1)).jsonl) \
	    $(SWEEP_METRIC) -- $$(RUN_TRAIN) $$(BIN)/bert-train -m $$(MODEL) --val $(SWEEP_VAL) $$(SWEEP_BERT_OPTS) \
	    --eval-every 1/$(PARTS) $$(DEVICE_OPTS) --seed $$(SEED) --threads $$(JOBS) $(SWEEP_TRAIN) > $$@.tmp && mv $$@.tmp $$@
$(SW)/cut$(1).jsonl: $(foreach t,$(TRIAL_IDS),$(SW)/$(t)/rung$(1).json)
	jq -c 'select(.status == "running") | {trial, score, tiebreak: .loss}' $$^ | $$(BIN)/trials rung --eta $(ETA) > $$@.tmp && mv $$@.tmp $$@
endef
$(foreach k,$(RUNG_NUMS),$(eval $(call sweep_rung,$(k))))

# ---- every trial, a record each (and a CSV): parameters, the score at each
# evaluation, the final score, steps, wall time, pruned or not
FINALS := $(foreach t,$(TRIAL_IDS),$(SW)/$(t)/rung$(NRUNGS).json)
$(SW)/trials.jsonl: $(SW)/plan.jsonl $(FINALS)
	$(PIPELINES)/sweep_table.sh jsonl $(SW) $(NRUNGS) $(SWEEP_METRIC) $(PARTS) > $@.tmp && mv $@.tmp $@
$(SW)/trials.csv: $(SW)/trials.jsonl
	$(PIPELINES)/sweep_table.sh csv < $< > $@.tmp && mv $@.tmp $@
$(SW)/curves.csv: $(SW)/trials.jsonl
	$(PIPELINES)/sweep_table.sh curves < $< > $@.tmp && mv $@.tmp $@

# ---- the best trial (by its final validation score; ties: the first),
# its model scored on test once
$(SW)/best.json: $(SW)/trials.jsonl
	jq -s -c '[.[] | select(.status == "done")] | sort_by(-.final_score) | first' $< > $@.tmp && mv $@.tmp $@
$(SW)/test.pred.jsonl: $(SW)/best.json $(SWEEP_TEST)
	$(RUN_PREDICT) $(BIN)/predict -q -m $(SW)/$$(jq -r .trial $<)/model $(DEVICE_OPTS) --threads $(JOBS) -o $@ $(SWEEP_TEST)
$(SW)/test.metrics.json: $(SW)/test.pred.jsonl
	$(BIN)/metrics --json $@ $< > /dev/null

# ---- plots: the validation score of every trial at each evaluation (the
# rungs, where pruned trials stop), and each numeric parameter against the
# final score
SWEEP_PARAMS := $(foreach p,$(subst ;, ,$(SPACE)),$(firstword $(subst =, ,$(p))))
PLOT_PARAMS  := $(filter-out schedule,$(SWEEP_PARAMS))
$(SW)/curves.svg: $(SW)/curves.csv
	$(BIN)/cmplot lines $< --x share --y score --group trial --title 'Validation $(SWEEP_METRIC) by trial' -o $@
$(SW)/param-%.svg: $(SW)/trials.csv
	$(BIN)/cmplot scatter $< --x $* --y final_score --group status $(if $(filter lr,$*),--x-log) \
	    --title 'Final validation $(SWEEP_METRIC) against $*' -o $@

$(SW)/report.md: $(PIPELINES)/sweep_report.sh $(SW)/trials.csv $(SW)/best.json $(SW)/test.metrics.json \
                 $(SW)/curves.svg $(PLOT_PARAMS:%=$(SW)/param-%.svg)
	$(PIPELINES)/sweep_report.sh $(SW) '$(SEARCH)' '$(SPACE)' $(SWEEP_METRIC) $(PRUNE) $(ETA) $(RUNGS) > $@.tmp && mv $@.tmp $@
