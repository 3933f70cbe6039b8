# logreg: golden files from scikit-learn's liblinear and the grid-search
# benchmark against GridSearchCV (both need the Python reference tools).
GOLDEN_TARGETS += golden-logreg
BENCH_TARGETS  += bench-logreg

.PHONY: golden-logreg bench-logreg

golden-logreg:
	python3 tests/ref/logreg_ref.py $(BUILD)/bin $(SHARED)

bench-logreg:
	python3 bench/logreg.py $(BUILD)/bin $(SHARED) --jobs 2
