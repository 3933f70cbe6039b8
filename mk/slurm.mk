# make check-slurm: the studies' LAUNCHER=slurm (pipelines/resources.mk,
# pipelines/slurm_run.sh) tested on a real one-node SLURM cluster that
# tests/slurm/cluster.sh starts on this machine (slurm-wlm and munge
# installed by apt-get when missing; as root) and takes down after:
# a reduced ICLR grid made here and through SLURM, byte-identical, and the
# faults (a cancelled job resumed, memory and time limits, SIGTERM/SIGINT to
# make, no controller). Refuses a machine that already runs SLURM daemons.
# About 2.5 minutes on 2 cores. See docs/cluster.md.
.PHONY: check-slurm
check-slurm: deps
	@$(MAKE) --no-print-directory programs
	@tests/slurm/check.sh $(BUILD)/bin $(SHARED)
