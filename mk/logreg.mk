# logreg: golden files from scikit-learn (liblinear, lbfgs), the grid-search
# benchmark against GridSearchCV and the multinomial one against
# LogisticRegression (all need the Python reference tools).
GOLDEN_TARGETS += golden-logreg
BENCH_TARGETS  += bench-logreg bench-logreg-multinomial

.PHONY: golden-logreg bench-logreg bench-logreg-multinomial bench-logreg-convergence

golden-logreg:
	python3 tests/ref/logreg_ref.py $(BUILD)/bin $(SHARED)

bench-logreg:
	python3 bench/logreg.py $(BUILD)/bin $(SHARED) --jobs 2 --reps 3

bench-logreg-multinomial:
	python3 bench/logreg_multinomial.py $(BUILD)/bin $(SHARED) --reps 3

# Not in `make bench` (a few minutes): the study's slowest grid candidate,
# fold by fold, on the folds `logreg --cv 5 --seed 42` draws, scikit-learn's
# liblinear against logreg (iterations, time, weights). Needs the vectors of
# `make baseline FAST=1` (or LOGREG_VECTORS=...).
LOGREG_VECTORS ?= runs/tweets-fast/baseline/train.vec.jsonl
bench-logreg-convergence:
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	$(BUILD)/bin/logreg -q -m "$$d/m" --grid C=1 --cv 5 --seed 42 --folds-out "$$d/folds.jsonl" $(LOGREG_VECTORS) && \
	python3 bench/logreg_convergence.py $(BUILD)/bin $(LOGREG_VECTORS) "$$d/folds.jsonl" -C 4 --penalty l1 \
	    --class-weight negative:1.2,neutral:0.8,positive:1.2 --max-iter 2000 --seed 42

# mutation fuzzing of tfidf, logreg and predict on damaged records and
# model files (tests/fuzz/mutate_baseline.py): run it with SANITIZE=1 so
# that sanitizer reports count; FUZZ_N runs (default 500), FUZZ_SEED
.PHONY: fuzz-baseline
fuzz-baseline: programs
	python3 tests/fuzz/mutate_baseline.py $(BUILD)/bin $(SHARED) --runs $(or $(FUZZ_N),500) --seed $(or $(FUZZ_SEED),1)
