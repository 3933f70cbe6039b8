#!/usr/bin/python3
"""One BERT fine-tuning step on the CPU: lib/bert (bench/bert_step.c) against
PyTorch + transformers on the same model, head and batch, in the same run.

Usage: bert_step.py BERT_STEP_BINARY MODEL_DIR [B T STEPS]
  (make bench-bert runs it on all-MiniLM-L6-v2, B=8, T=128, 5 steps)
A step is zero_grad + forward + cross-entropy + backward + AdamW (lr 5e-5,
weight decay 0.01 except biases/LayerNorm), dropout as the model's config
(0.1) in train mode. One warm-up step each, then the median of STEPS.
Both sides use the threads they get by default; the report names them.
Runs with /usr/bin/python3 (Debian's python3-torch 1.13, transformers 4.40.2).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import BertForSequenceClassification


def main(argv):
    if len(argv) not in (3, 6):
        print(__doc__, file=sys.stderr)
        return 2
    binary, model_dir = argv[1], argv[2]
    B, T, steps = (int(a) for a in argv[3:6]) if len(argv) == 6 else (8, 128, 5)
    rng = np.random.default_rng(42)
    ids = rng.integers(1000, 30000, size=(B, T)).astype(np.int32)
    ids[:, 0] = 101
    mask = np.ones((B, T), dtype=np.int32)
    for b in range(1, B, 2):  # every other sequence padded to 3/4
        mask[b, 3 * T // 4:] = 0
        ids[b, 3 * T // 4:] = 0
    labels = rng.integers(0, 3, size=B).astype(np.int32)

    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(model_dir, num_labels=3)
    with tempfile.TemporaryDirectory() as tmp:
        head = os.path.join(tmp, "head.safetensors")
        save_file({n: p.detach().contiguous() for n, p in model.named_parameters() if n.startswith("classifier.")},
                  head)
        batch = os.path.join(tmp, "batch.bin")
        with open(batch, "wb") as f:
            f.write(np.array([B, T], dtype="<i4").tobytes())
            f.write(ids.astype("<i4").tobytes() + mask.astype("<i4").tobytes() + labels.astype("<i4").tobytes())
        out = subprocess.run([binary, model_dir, head, batch, str(steps)], check=True, capture_output=True, text=True)
        ours = json.loads(out.stdout)

    params = list(model.named_parameters())
    opt = torch.optim.AdamW(
        [{"params": [p for n, p in params if not ("bias" in n or "LayerNorm" in n)], "weight_decay": 0.01},
         {"params": [p for n, p in params if "bias" in n or "LayerNorm" in n], "weight_decay": 0.0}],
        lr=5e-5)
    model.train()
    t_ids, t_mask, t_labels = (torch.tensor(a, dtype=torch.long) for a in (ids, mask, labels))
    times = []
    for s in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(input_ids=t_ids, attention_mask=t_mask).logits, t_labels)
        loss.backward()
        opt.step()
        t1 = time.perf_counter()
        if s == 0:
            loss0 = loss.item()
        else:
            times.append((t1 - t0) * 1e3)
    ref_ms, our_ms = statistics.median(times), statistics.median(ours["step_ms"])
    print("BERT training step, %s (%d parameters), batch %d x %d, median of %d steps after 1 warm-up"
          % (os.path.basename(model_dir.rstrip("/")), ours["params"], B, T, steps))
    print("  pipeclf lib/bert: %8.1f ms  (OpenBLAS threads %d; first loss %.5f, dropout differs)"
          % (our_ms, ours["threads"], ours["loss0"]))
    print("  PyTorch %s:   %8.1f ms  (torch threads %d; first loss %.5f)"
          % (torch.__version__, ref_ms, torch.get_num_threads(), loss0))
    print("  speed-up: %.2fx" % (ref_ms / our_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
