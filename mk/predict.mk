# predict: goldens of BERT-directory predictions from transformers
GOLDEN_TARGETS += golden-predict
.PHONY: golden-predict
golden-predict:
	/usr/bin/python3 tests/ref/predict_ref.py
