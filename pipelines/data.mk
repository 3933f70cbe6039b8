# Included by every study file: what the studies share about their inputs.
#
# $(call require_data,FILE,VARIABLE,SOURCE) stops make with one line when
# FILE is missing: the path looked for, the variable that moves it, and where
# the data comes from (as the dataset's SOURCE.md says) — instead of make's
# "No rule to make target". VARIABLE is the study's own (DATA) when it was
# set, else SHARED, from which the default comes.
require_data = $(if $(wildcard $(1)),,$(error no $(1): set $(if $(filter command line environment,$(origin $(2))),$(2),SHARED)= to the folder that holds it (pipeclf's data comes from $(3), staged in ../shared/datasets; see its SOURCE.md)))
