# metrics and cmplot: goldens from scikit-learn, the benchmark against it,
# and the PNG renderings of the example charts for looking at.
GOLDEN_TARGETS += golden-metrics
BENCH_TARGETS  += bench-metrics

.PHONY: golden-metrics bench-metrics plots-metrics

# tests/golden/metrics/*.jsonl and *.sklearn.json (scikit-learn, numpy)
golden-metrics:
	python3 tests/ref/metrics_ref.py tests/golden/metrics

# metrics --json against sklearn on the same generated predictions
bench-metrics: $(BUILD)/bin/metrics
	python3 bench/metrics.py $(BUILD)/bin

# every chart of the test data as SVG and PNG in $(BUILD)/plots, to look at
plots-metrics: $(BUILD)/bin/metrics $(BUILD)/bin/cmplot
	tests/ref/metrics_plots.sh $(BUILD)/bin $(BUILD)/plots
