#!/usr/bin/env python3
"""Goldens for `predict` on a BERT model directory: transformers'
BertForSequenceClassification (eval mode) on tests/golden/bert/tiny_model,
the tiny random model of tests/ref/bert_ref.py, over token records of
varied lengths, single and pair. Writes
  tests/golden/predict/bert_tokens.jsonl   the input records
  tests/golden/predict/bert_probs.jsonl    {"id", "probs": {label: p}} from
                                           softmax(logits) in float64
Run with Debian's python3 (PyTorch 1.13, transformers 4.40.2): make golden."""
import json
import os
import sys

import torch
from transformers import BertForSequenceClassification

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
model_dir = os.path.join(repo, "tests", "golden", "bert", "tiny_model")
out = os.path.join(repo, "tests", "golden", "predict")
os.makedirs(out, exist_ok=True)

model = BertForSequenceClassification.from_pretrained(model_dir)
model.eval()
id2label = model.config.id2label
g = torch.Generator().manual_seed(7)
records = []
for i in range(13):
    n_a = int(torch.randint(1, 20, (1,), generator=g))
    n_b = int(torch.randint(0, 12, (1,), generator=g)) if i % 3 == 0 else 0
    ids = [101] + torch.randint(104, 512, (n_a,), generator=g).tolist() + [102]
    types = [0] * len(ids)
    if n_b:
        ids += torch.randint(104, 512, (n_b,), generator=g).tolist() + [102]
        types += [1] * (n_b + 1)
    records.append({"id": f"r{i}", "label": id2label[i % 3], "input_ids": ids,
                    "token_type_ids": types, "attention_mask": [1] * len(ids)})

with open(os.path.join(out, "bert_tokens.jsonl"), "w") as f:
    for r in records:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
with open(os.path.join(out, "bert_probs.jsonl"), "w") as f, torch.no_grad():
    for r in records:  # one at a time: no padding in the reference
        logits = model(input_ids=torch.tensor([r["input_ids"]]),
                       token_type_ids=torch.tensor([r["token_type_ids"]]),
                       attention_mask=torch.tensor([r["attention_mask"]])).logits[0].double()
        p = torch.softmax(logits, 0).tolist()
        f.write(json.dumps({"id": r["id"], "probs": {id2label[k]: p[k] for k in range(len(p))}}) + "\n")
print("predict goldens written to", out, file=sys.stderr)
