# bench/bert_precision.py (issue 19, item 5): BERT on the CPU in fp32, int8
# and bf16 -- predict --precision fp32/int8/bf16 (and int8 from a
# --save-quantized directory) and bert-train --precision fp32/bf16 against
# PyTorch fp32, quantize_dynamic int8 and autocast bf16 of the same weights,
# same inputs and threads, in one run: inference samples/s (32 x 128 and the
# tweets' own lengths), test macro-F1 and agreement with fp32, training step
# time (16 x 128). Runs on $(BUILD)/bin as it is (no rebuild) with Debian's
# /usr/bin/python3 (python3-torch 1.13, transformers 4.40.2: scripts/setup.sh
# reference). BENCH_PRECISION_ARGS adds options (bench/bert_precision.py
# --help), e.g. --quick (smoke test), --finetuned DIR (default
# runs/tweets/bert/model when present), --threads 2 --repeats 5,
# --unset-coretype (a second run without OPENBLAS_CORETYPE, side by side).
BENCH_TARGETS += bench-precision
BENCH_PRECISION_PY   ?= /usr/bin/python3
BENCH_PRECISION_ARGS ?=
.PHONY: bench-precision
bench-precision: fetch-model
	$(BENCH_PRECISION_PY) bench/bert_precision.py --bin $(BUILD)/bin --shared $(SHARED) \
	    --model "$$(scripts/fetch_model.sh)" $(BENCH_PRECISION_ARGS)
