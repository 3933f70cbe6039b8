# BERT core (lib/bert, lib/bertconfig, lib/safetensors, lib/pytorch_bin):
# goldens from transformers + PyTorch, the check that transformers loads a
# directory we saved, the model fetch, and the training-step benchmark.
# The reference runs on Debian's python3-torch, seen by /usr/bin/python3.
GOLDEN_TARGETS += golden-bert
BENCH_TARGETS  += bench-bert
BERT_PY     ?= /usr/bin/python3
BERT_GOLDEN := tests/golden/bert

.PHONY: golden-bert check-bert-hf fetch-model bench-bert

# tests/golden/bert: the tiny model + its debug states, the micro model in
# three file formats, and the MiniLM state + classifier head
golden-bert: fetch-model
	$(BERT_PY) tests/ref/bert_ref.py tiny $(BERT_GOLDEN)
	$(BERT_PY) tests/ref/bert_ref.py micro $(BERT_GOLDEN)
	$(BERT_PY) tests/ref/bert_ref.py minilm "$$(scripts/fetch_model.sh)" $(BERT_GOLDEN)

# a fine-tuned directory written by lib/bert loads in transformers, which
# gives our logits to 1e-5
check-bert-hf: $(BUILD)/unit/test_bert_files
	rm -rf $(BUILD)/bert-export
	PIPECLF_BERT_EXPORT=$(abspath $(BUILD)/bert-export) SHARED=$(SHARED) $(BUILD)/unit/test_bert_files >/dev/null
	$(BERT_PY) tests/ref/bert_ref.py check-saved $(BUILD)/bert-export

# all-MiniLM-L6-v2 into the models cache ($PIPECLF_MODELS or ~/.cache/pipeclf/models)
fetch-model:
	@scripts/fetch_model.sh >/dev/null

# one training step (forward + backward + AdamW) on MiniLM against PyTorch
bench-bert: fetch-model $(BUILD)/bench/bert_step
	$(BERT_PY) bench/bert_step.py $(BUILD)/bench/bert_step "$$(scripts/fetch_model.sh)"

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
