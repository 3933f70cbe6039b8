# Where the heavy steps run, and what each kind of step asks for: included
# by pipelines/study_data.mk, so every study has it (docs/cluster.md).
#   LAUNCHER=local   (default) every recipe runs here, as it always has
#   LAUNCHER=slurm   every tokenizing, training and prediction recipe runs as
#                    a SLURM job: a blocking srun from make's own parallel job
#                    (make -j N: at most N jobs submitted at once), through
#                    pipelines/slurm_run.sh, with the resources of its kind
#                    from the table below; job logs in RUNS/slurm/. The light
#                    steps (cleaning, split, metrics, plots, reports) stay
#                    where make runs.
# The recipes call their program through a prefix per kind of step, empty
# with LAUNCHER=local:
#   $(RUN_TOKENIZE)  wptok            $(RUN_TRAIN)    bert-train
#   $(RUN_PREDICT)   predict (BERT)   $(RUN_BASELINE) tfidf, logreg, predict (baseline)
# Cluster variables (command line or environment):
#   PARTITION, ACCOUNT   srun --partition, --account (default: the cluster's)
#   SLURM_OPTS           more srun options for every job (--qos=..., --constraint=...)
#   GRES_GPU             what a GPU step asks for with DEVICE=cuda (gpu:1)
#   SLURM_CHECK=0        skip the check that a slurmctld answers (scontrol ping)
LAUNCHER  ?= local
PARTITION ?=
ACCOUNT   ?=
SLURM_OPTS ?=
GRES_GPU  ?= gpu:1

# ---- the table: one block per kind of step. Memory as srun --mem (M, G),
# time as srun --time (minutes, H:MM:SS, D-HH:MM:SS); GPU_<KIND>=1: the
# step asks for GRES_GPU when DEVICE=cuda. Any of them on the command line
# (make iclr LAUNCHER=slurm MEM_TRAIN=16G TIME_TRAIN=2:00:00).
CPUS_TOKENIZE ?= 1
MEM_TOKENIZE  ?= 2G
TIME_TOKENIZE ?= 30
GPU_TOKENIZE  ?= 0

CPUS_TRAIN    ?= $(JOBS)
MEM_TRAIN     ?= 8G
TIME_TRAIN    ?= 12:00:00
GPU_TRAIN     ?= 1

CPUS_PREDICT  ?= $(JOBS)
MEM_PREDICT   ?= 4G
TIME_PREDICT  ?= 1:00:00
GPU_PREDICT   ?= 1

CPUS_BASELINE ?= $(JOBS)
MEM_BASELINE  ?= 4G
TIME_BASELINE ?= 1:00:00
GPU_BASELINE  ?= 0

# $(call slurm_resources,KIND): srun's options for a kind of step
slurm_resources = --cpus-per-task=$(CPUS_$(1)) --mem=$(MEM_$(1)) --time=$(TIME_$(1)) \
                  $(if $(filter cuda,$(DEVICE)),$(if $(filter 1,$(GPU_$(1))),--gres=$(GRES_GPU))) \
                  $(if $(PARTITION),--partition=$(PARTITION)) $(if $(ACCOUNT),--account=$(ACCOUNT)) $(SLURM_OPTS)
# $(call slurm_run,KIND): the prefix; $@ is the recipe's target when it is expanded
slurm_run = $(PIPELINES)/slurm_run.sh $(1) $(RUNS) $@ $(call slurm_resources,$(1)) --

ifeq ($(LAUNCHER),slurm)
# Before anything is submitted (or made): the client is there and a
# controller answers, else one line saying so.
ifneq ($(SLURM_CHECK),0)
# (scontrol retries a missing SLURM_CONF for a minute: looked at first)
SLURM_PING := $(shell command -v srun >/dev/null 2>&1 || { echo 'no srun on PATH (install the SLURM client)'; exit; }; \
                      [ -z "$$SLURM_CONF" ] || [ -r "$$SLURM_CONF" ] || { echo "no file SLURM_CONF=$$SLURM_CONF"; exit; }; \
                      out=$$(timeout 20 scontrol ping 2>&1); echo "$$out" | grep -q ' is UP' || \
                      echo "no slurmctld answers (scontrol ping: $$(echo "$$out" | grep -v '^ *$$' | head -1)), SLURM_CONF=$${SLURM_CONF:-/etc/slurm/slurm.conf}")
ifneq ($(SLURM_PING),)
$(error LAUNCHER=slurm: $(SLURM_PING); nothing was submitted)
endif
endif
RUN_TOKENIZE = $(call slurm_run,TOKENIZE)
RUN_TRAIN    = $(call slurm_run,TRAIN)
RUN_PREDICT  = $(call slurm_run,PREDICT)
RUN_BASELINE = $(call slurm_run,BASELINE)
else ifeq ($(LAUNCHER),local)
RUN_TOKENIZE :=
RUN_TRAIN    :=
RUN_PREDICT  :=
RUN_BASELINE :=
else
$(error LAUNCHER=$(LAUNCHER): local (the default) or slurm)
endif
