# The experiment ledger (SPEC: How the studies run): every training run of
# every study (baseline, BERT, ICLR runs, sweep trials) adds one row to
# LEDGER with `ledger add`, which holds an flock(2) on the file while it
# writes: safe under make -j, and from the nodes of a cluster on a shared
# disk. `make ledger` (top level) writes the workbook, a sheet per study.
# A run's row is the target RUNS/ledger/RUN.row, made once the run's
# scores exist: a run trained again adds a row again (the ledger is a
# history), a make that finds the run done adds none.
#   LEDGER   the ledger file (default: runs/ledger.csv beside the studies'
#            folders, i.e. RUNS/../ledger.csv)
#   COMMIT   the code's version in each row (default: git describe of this
#            folder's repository, "-dirty" with uncommitted changes; empty
#            outside one)
LEDGER ?= $(dir $(RUNS))ledger.csv
COMMIT ?= $(shell git -C $(PIPELINES) describe --always --dirty 2>/dev/null)
LEDGER_DIR := $(RUNS)/ledger
# the model column: the encoder's folder name for BERT
BERT_NAME = $(notdir $(patsubst %/,%,$(MODEL)))

# $(call ledger_add,RUN,MODEL_DIR,MODEL_NAME,VAL_JSON,TEST_JSON,WALL_FILE): a
# recipe line that appends RUN's row (scores from metrics --json files,
# either may be empty; params from the model directory; the wall time
# pipelines/timed.sh wrote, left empty for a model trained before it was
# timed) and stamps $@
ledger_add = @mkdir -p $(@D) && $(BIN)/ledger add -o $(LEDGER) --study $(STUDY) --run '$(1)' --model '$(3)' \
             --params "$$($(PIPELINES)/ledger_params.sh $(2))" $(if $(4),--val $(4)) $(if $(5),--test $(5)) \
             $$(test -f $(6) && echo --wall $$(cat $(6))) $(if $(COMMIT),--commit $(COMMIT)) && touch $@
