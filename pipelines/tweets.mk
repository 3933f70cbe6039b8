# The tweet study (SPEC: Tweets), run through the top-level Makefile:
#   make study       both halves, the report and the model card
#   make baseline    only the TF-IDF + logistic-regression half
#   make bert        only the BERT half
# FAST=1 trains both on the 40% train subsample, as the original notebook.
# The stages are pipelines/study.mk's (which lists the common variables:
# SHARED, BIN, RUNS, SEED, JOBS, MODEL, DEVICE, PRECISION); this file holds
# what is particular to the tweets:
#   DATA    the CSV folder (default: SHARED/datasets/tweet_sentiment_extraction)
#   EPOCHS, LR, BATCH, MAX_LEN, EVAL_EVERY, PATIENCE   BERT fine-tuning
STUDY     := tweets
PIPELINES := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
include $(PIPELINES)/data.mk

SHARED ?= ../shared
DATA   ?= $(SHARED)/datasets/tweet_sentiment_extraction
KAGGLE := the Kaggle competition "Tweet Sentiment Extraction" (kaggle.com/c/tweet-sentiment-extraction: train.csv and test.csv)
$(call require_data,$(DATA)/train.csv,DATA,$(KAGGLE))
$(call require_data,$(DATA)/test.csv,DATA,$(KAGGLE))

# Kaggle train + test together, cleaned as the original notebook did; the
# text before the token steps (stemming etc.) is kept as text_bert for BERT.
CSV        := $(DATA)/train.csv $(DATA)/test.csv
CLEAN_OPTS := --preset tweet --light-field text_bert --id textID --label sentiment

# 70/15/15 stratified; FAST=1: the 40% train subsample of the notebook
RATIOS := 70/15/15
FAST   ?= 0
SPLIT_OPTS := $(if $(filter 1,$(FAST)),--subsample 0.4)

# TF-IDF as the original notebook: 1-3-grams, 100k features, min_df 2,
# max_df 0.95, sublinear tf.
TFIDF_OPTS ?= --ngram 1,3 --max-features 100000 --min-df 2 --max-df 0.95 --sublinear-tf
# The notebook's grid; its explicit weights {-1:1.2, 0:0.8, 1:1.2} were on
# the labels -1/0/1, here negative/neutral/positive.
GRID ?= C=0.1,0.5,1,2,4,8;class_weight=none,balanced,{negative:1.2,neutral:0.8,positive:1.2};max_iter=2000,3000;penalty=l1,l2
CV   ?= 5

# BERT: AdamW with linear warmup, evaluation on val every EVAL_EVERY steps,
# early stopping, the best checkpoint by validation macro-F1 restored.
EPOCHS     ?= 2
LR         ?= 1e-4
BATCH      ?= 32
MAX_LEN    ?= 128
EVAL_EVERY ?= 200
PATIENCE   ?= 3
WPTOK_OPTS := --text-field text_bert --max-len $(MAX_LEN)
BERT_OPTS  ?= --epochs $(EPOCHS) --lr $(LR) --batch-size $(BATCH) --warmup 0.1 --bucket \
              --eval-every $(EVAL_EVERY) --patience $(PATIENCE) --metric macro_f1 --log-every 10

REPORT_TITLE    := Tweet sentiment study
REPORT_ABOUT    := $(PIPELINES)/tweets.about.md
REPORT_CLEANING := Cleaning (csvclean --preset tweet)
CARD_STUDY      := tweet sentiment (Kaggle Tweet Sentiment Extraction), 3 classes
CARD_SPLIT      := 70/15/15 stratified, seed from split_ids.jsonl
CARD_REFERENCE  := {"baseline": {"val_macro_f1": 0.637, "test_macro_f1": 0.623}, \
                    "bert-base-uncased": {"val_macro_f1": 0.671, "test_macro_f1": 0.668}, \
                    "note": "original notebook, 40% train subsample"}

include $(PIPELINES)/study.mk
