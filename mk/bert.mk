# BERT core (lib/bert, lib/bert/bertconfig, lib/bert/safetensors, lib/bert/pytorch_bin):
# goldens from transformers + PyTorch, the check that transformers loads a
# directory we saved, the model fetch, and the CPU benchmarks against PyTorch.
# The reference runs on Debian's python3-torch, seen by /usr/bin/python3.
GOLDEN_TARGETS += golden-bert
BENCH_TARGETS  += bench-bert
BERT_PY     ?= /usr/bin/python3
BERT_GOLDEN := tests/golden/bert

.PHONY: golden-bert check-bert-hf fetch-model bench-bert

# tests/golden/bert: the tiny model + its debug states, the micro model in
# three file formats, the MiniLM state + classifier head, the learning-rate
# schedules and a reference fine-tuning run of the tiny model (train_ref/)
golden-bert: fetch-model
	$(BERT_PY) tests/ref/bert_ref.py tiny $(BERT_GOLDEN)
	$(BERT_PY) tests/ref/bert_ref.py micro $(BERT_GOLDEN)
	$(BERT_PY) tests/ref/bert_ref.py minilm "$$(scripts/fetch_model.sh)" $(BERT_GOLDEN)
	$(BERT_PY) tests/ref/bert_ref.py schedules $(BERT_GOLDEN)
	$(BERT_PY) tests/ref/bert_ref.py train $(BERT_GOLDEN)

# a fine-tuned directory written by lib/bert loads in transformers, which
# gives our logits to 1e-5
check-bert-hf: $(BUILD)/unit/test_bert_files
	rm -rf $(BUILD)/bert-export
	PIPECLF_BERT_EXPORT=$(abspath $(BUILD)/bert-export) SHARED=$(SHARED) $(BUILD)/unit/test_bert_files >/dev/null
	$(BERT_PY) tests/ref/bert_ref.py check-saved $(BUILD)/bert-export

# a directory bert-train wrote loads in transformers, which gets the
# validation loss and accuracy bert-train recorded for it
.PHONY: check-bert-train-hf
check-bert-train-hf: $(BUILD)/bin/bert-train
	rm -rf $(BUILD)/bert-train-hf
	$(BUILD)/bin/bert-train -q -m $(BERT_GOLDEN)/tiny_model --val $(BERT_GOLDEN)/train_ref/val.jsonl \
	    --eval-every 2 -b 4 --epochs 2 --lr 1e-3 -o $(BUILD)/bert-train-hf $(BERT_GOLDEN)/train_ref/train.jsonl
	$(BERT_PY) tests/ref/bert_ref.py check-trained $(BUILD)/bert-train-hf $(BERT_GOLDEN)/train_ref/val.jsonl

# all-MiniLM-L6-v2 into the models cache ($PIPECLF_MODELS or ~/.cache/pipeclf/models)
fetch-model:
	@scripts/fetch_model.sh >/dev/null

# lib/bert against PyTorch on MiniLM, at 1 and 2 threads each side: a
# training step (forward + backward + AdamW) at 8 x 128 and 32 x 32, and
# inference throughput at 32 x 128 and 32 x 32 (bench/bert_step.py --help;
# BERT_BENCH_ARGS adds options, e.g. --threads 2 --steps 10)
BERT_BENCH_ARGS ?=
bench-bert: fetch-model $(BUILD)/bench/bert_step
	$(BERT_PY) bench/bert_step.py $(BERT_BENCH_ARGS) $(BUILD)/bench/bert_step "$$(scripts/fetch_model.sh)"

# By hand (about 15 minutes on 2 cores; 6 with BERT_BENCH_ARGS='--steps 3
# --rounds 1'): the same at bert-base's size (a random model from
# $(SHARED)/models/bert-base-uncased/config.json), the shape the GPU figures use
.PHONY: bench-bert-base
bench-bert-base: $(BUILD)/bench/bert_step
	$(BERT_PY) bench/bert_step.py --configs train:8x128,infer:32x128 --base $(SHARED)/models/bert-base-uncased \
	    $(BERT_BENCH_ARGS) $(BUILD)/bench/bert_step -

$(BUILD)/bench/bert_step: bench/bert_step.c $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/lib/libpipeclf.a $(LDLIBS)

# mutation fuzzing of the model-file readers (best with SANITIZE=1)
.PHONY: fuzz-bert
fuzz-bert: $(BUILD)/fuzz/bert_files
	$(BUILD)/fuzz/bert_files $(FUZZ_N)

$(BUILD)/fuzz/bert_files: tests/fuzz/bert_files.c $(BUILD)/lib/libpipeclf.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/lib/libpipeclf.a $(LDLIBS)

# By hand, not in `make check`: fine-tune all-MiniLM-L6-v2 on the tweets
# (raw text, 70/15/15 split, seed 42; tokens by wptok, 64 at most) for
# SMOKE_STEPS steps, evaluating on the first 1000 validation records every
# 100 steps; prints the evaluation records and the time the training took.
SMOKE_DIR   ?= $(BUILD)/smoke-bert-train
SMOKE_STEPS ?= 300
.PHONY: smoke-bert-train
smoke-bert-train: fetch-model $(BUILD)/bin/bert-train $(BUILD)/bin/wptok $(BUILD)/bin/csvclean $(BUILD)/bin/stratsplit
	mkdir -p $(SMOKE_DIR)
	$(BUILD)/bin/csvclean --id textID --label sentiment --text text \
	    $(SHARED)/datasets/tweet_sentiment_extraction/train.csv > $(SMOKE_DIR)/clean.jsonl
	$(BUILD)/bin/stratsplit --ratios 70/15/15 --seed 42 -d $(SMOKE_DIR)/split/ < $(SMOKE_DIR)/clean.jsonl
	$(BUILD)/bin/wptok -m "$$(scripts/fetch_model.sh)" --max-len 64 $(SMOKE_DIR)/split/train.jsonl > $(SMOKE_DIR)/train.tok
	$(BUILD)/bin/wptok -m "$$(scripts/fetch_model.sh)" --max-len 64 $(SMOKE_DIR)/split/val.jsonl \
	    | head -1000 > $(SMOKE_DIR)/val.tok
	time $(BUILD)/bin/bert-train -m "$$(scripts/fetch_model.sh)" -b 16 --max-steps $(SMOKE_STEPS) --lr 1e-4 \
	    --warmup 0.1 --bucket --val $(SMOKE_DIR)/val.tok --eval-every 100 --eval-batch-size 32 \
	    --checkpoint-dir $(SMOKE_DIR)/ck --log $(SMOKE_DIR)/log.jsonl -o $(SMOKE_DIR)/model $(SMOKE_DIR)/train.tok
	grep val_ $(SMOKE_DIR)/log.jsonl
