#!/usr/bin/python3
"""Golden states for lib/bert (tests/unit/test_bert.c), made by the reference:
HuggingFace transformers 4.40.2 BertForSequenceClassification on PyTorch 1.13
(Debian's python3-torch; run with /usr/bin/python3).

  bert_ref.py tiny OUTDIR          a small random-initialised model (seed 1234),
                                   saved as an HF directory (config.json +
                                   model.safetensors), and its debug states
  bert_ref.py micro OUTDIR         a 1-layer model in model.safetensors and both
                                   pytorch_model.bin formats (lib/bert/pytorch_bin)
  bert_ref.py minilm MODELDIR OUTDIR
                                   all-MiniLM-L6-v2 (scripts/fetch_model.sh) with a
                                   seeded classifier head, saved beside the state
  bert_ref.py check-saved DIR      loads a model directory written by our C code
                                   in transformers and checks its logits against
                                   the ones the C code wrote there (DIR/batch.bin)
  bert_ref.py schedules OUTDIR     OUTDIR/schedules.json: the learning rate of every
                                   step under transformers' linear, cosine and constant
                                   schedules with warmup (lib/bert/schedule)
  bert_ref.py check-trained DIR VAL  loads a directory bert-train wrote (with --val
                                   VAL) in transformers and checks the validation
                                   loss and accuracy it gets against the ones
                                   bert-train recorded (trainer_state.json final_eval)
  bert_ref.py train OUTDIR         OUTDIR/train_ref/: a fine-tuning run of the tiny
                                   model (OUTDIR/tiny_model) as transformers' Trainer
                                   steps it, for lib/bert/trainloop (tests/unit/test_train.c)

A debug state (after llm.c's) is little-endian binary:
  int32 header[256]: magic 20261122, version 1, B, T, num_labels, num_tensors,
                     num_steps, summarized, num_samples, has_class_weights
  float32 hyper[16]: lr, beta1, beta2, eps, weight_decay
  int32 input_ids[B*T], token_type_ids[B*T], attention_mask[B*T], labels[B]
  float32 class_weights[num_labels]            (when has_class_weights)
  float32 logits[B*num_labels], float32 loss
  per parameter tensor, in model.named_parameters() order:
     int32 name_len, name bytes (HF name), int32 numel, then
     summarized == 0: float32 grad[numel]
     summarized == 1: float64 sum, abs_sum, l2; int32 n; n x (int32 index, float32 value)
                      (the num_samples/2 largest |grad| and evenly strided elements)
  float32 losses[num_steps]: the loss before each of num_steps AdamW steps
  int32 magic again
Dropout is off (probabilities 0 in the config) in train mode, so the
forward pass is deterministic; AdamW is torch.optim.AdamW with weight decay
on every parameter except biases and LayerNorm weights (transformers'
Trainer grouping).
"""
import json
import math
import os
import struct
import sys
from types import SimpleNamespace

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import (BertConfig, BertForSequenceClassification, BertTokenizer, TrainingArguments,
                          get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,
                          get_linear_schedule_with_warmup)

MAGIC, VERSION = 20261122, 1
LABELS = ["negative", "neutral", "positive"]


def write_state(path, model, batch, steps, hyper, class_weights=None, summarize=False, nsample=32):
    ids, types, mask, labels = batch
    B, T = ids.shape
    C = model.config.num_labels
    weight = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
    params = list(model.named_parameters())
    decay = [p for n, p in params if not ("bias" in n or "LayerNorm" in n)]
    no_decay = [p for n, p in params if "bias" in n or "LayerNorm" in n]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": hyper["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=hyper["lr"], betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"])
    model.train()

    def step_loss():
        logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
        loss = torch.nn.functional.cross_entropy(logits, labels, weight=weight)
        return logits, loss

    opt.zero_grad()
    logits, loss = step_loss()
    loss.backward()
    out = bytearray()
    header = [0] * 256
    header[:10] = [MAGIC, VERSION, B, T, C, len(params), steps, int(summarize), nsample, int(weight is not None)]
    out += struct.pack("<256i", *header)
    hy = [hyper["lr"], hyper["beta1"], hyper["beta2"], hyper["eps"], hyper["weight_decay"]] + [0.0] * 11
    out += struct.pack("<16f", *hy)
    for t in (ids, types, mask, labels):
        out += t.to(torch.int32).numpy().astype("<i4").tobytes()
    if weight is not None:
        out += weight.numpy().astype("<f4").tobytes()
    out += logits.detach().numpy().astype("<f4").tobytes()
    out += struct.pack("<f", loss.item())
    for name, p in params:
        g = p.grad.detach().numpy().astype("<f4").ravel()
        nb = name.encode()
        out += struct.pack("<i", len(nb)) + nb + struct.pack("<i", g.size)
        if not summarize:
            out += g.tobytes()
            continue
        g64 = g.astype(np.float64)
        out += struct.pack("<3d", g64.sum(), np.abs(g64).sum(), np.sqrt((g64 * g64).sum()))
        half = nsample // 2
        top = np.argsort(-np.abs(g), kind="stable")[:half]
        stride = max(1, g.size // half)
        strided = np.arange(0, g.size, stride)[:half]
        idx = sorted(set(top.tolist()) | set(strided.tolist()))
        out += struct.pack("<i", len(idx))
        for i in idx:
            out += struct.pack("<if", i, float(g[i]))
    losses = [loss.item()]
    for s in range(steps):
        opt.step()
        if s == steps - 1:
            break
        opt.zero_grad()
        _, loss = step_loss()
        loss.backward()
        losses.append(loss.item())
    out += struct.pack("<%df" % steps, *losses[:steps])
    out += struct.pack("<i", MAGIC)
    with open(path, "wb") as f:
        f.write(out)
    print("%s: loss %.7f, logits[0] %s, losses %s" % (path, losses[0], logits[0].tolist(), losses))


HYPER = {"lr": 3e-4, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}


def tiny(outdir):
    torch.manual_seed(1234)
    cfg = BertConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=64, type_vocab_size=2,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, hidden_act="gelu",
                     initializer_range=0.2,  # larger than the default 0.02: attention far from uniform
                     id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)})
    model = BertForSequenceClassification(cfg)
    # HF initialises LayerNorm to 1/0 and biases to 0; perturb them so that
    # their gradients and their use in the forward pass are really tested
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "LayerNorm" in n or n.endswith("bias"):
                p.add_(0.05 * torch.randn_like(p))
    model_dir = os.path.join(outdir, "tiny_model")
    model.save_pretrained(model_dir, safe_serialization=True)
    # B=4, T=16: sequence 0 full length, 1 and 2 padded, 3 a pair (token types 1)
    B, T = 4, 16
    g = torch.Generator().manual_seed(99)
    ids = torch.randint(3, 512, (B, T), generator=g)
    ids[:, 0] = 2  # a [CLS]-like first token
    mask = torch.ones(B, T, dtype=torch.long)
    for b, n in ((1, 9), (2, 5)):
        mask[b, n:] = 0
        ids[b, n:] = 0  # pad_token_id
    types = torch.zeros(B, T, dtype=torch.long)
    types[3, 7:] = 1
    labels = torch.tensor([2, 0, 1, 2])
    batch = (ids, types, mask, labels)
    write_state(os.path.join(outdir, "tiny.state"), model, batch, 10, HYPER)
    model = BertForSequenceClassification.from_pretrained(model_dir)
    write_state(os.path.join(outdir, "tiny_weighted.state"), model, batch, 0, HYPER,
                class_weights=[0.5, 2.0, 1.25], summarize=True)
    # the other activations lib/bert implements, on the same weights
    for act in ("gelu_new", "relu"):
        model = BertForSequenceClassification.from_pretrained(model_dir, hidden_act=act)
        write_state(os.path.join(outdir, "tiny_%s.state" % act), model, batch, 0, HYPER, summarize=True)


def micro(outdir):
    """One tiny model in the three file formats lib/bert reads: model.safetensors,
    pytorch_model.bin as torch >= 1.6 writes it (zip) and in the legacy stream
    format, the latter with old LayerNorm.gamma/beta names, no "bert." prefix
    and an extra pre-training tensor, as old BERT checkpoints have."""
    torch.manual_seed(7)
    cfg = BertConfig(vocab_size=40, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=16, max_position_embeddings=12, initializer_range=0.5,
                     id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 1})
    model = BertForSequenceClassification(cfg)
    for name, kw in (("micro_safetensors", dict(safe_serialization=True)),
                     ("micro_zip", dict(safe_serialization=False))):
        model.save_pretrained(os.path.join(outdir, name), **kw)
    d = os.path.join(outdir, "micro_legacy")
    os.makedirs(d, exist_ok=True)
    cfg.to_json_file(os.path.join(d, "config.json"))
    old = {}
    for n, p in model.state_dict().items():
        n = n.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        old[n[5:] if n.startswith("bert.") else n] = p
    old["cls.predictions.bias"] = torch.zeros(40)
    torch.save(old, os.path.join(d, "pytorch_model.bin"), _use_new_zipfile_serialization=False)
    print("%s: micro model in 3 formats" % outdir)


def minilm(model_dir, outdir):
    torch.manual_seed(4321)
    model = BertForSequenceClassification.from_pretrained(
        model_dir, num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    head = {n: p.detach().clone().contiguous() for n, p in model.named_parameters() if n.startswith("classifier.")}
    save_file(head, os.path.join(outdir, "minilm_head.safetensors"), metadata={"format": "pt"})
    tok = BertTokenizer(os.path.join(model_dir, "vocab.txt"), do_lower_case=True)
    enc = tok(["The movie was great, I loved every minute of it!",
               "worst service ever",
               "Neutral statement about the weather today."],
              padding="longest", return_tensors="pt")
    pair = tok("Is this paper about parsing?", "No, it studies machine translation.", return_tensors="pt")
    T = max(enc["input_ids"].shape[1], pair["input_ids"].shape[1])

    def pad(t, n):
        return torch.nn.functional.pad(t, (0, n - t.shape[1]))
    ids = torch.cat([pad(enc["input_ids"][:3], T), pad(pair["input_ids"], T)])
    types = torch.cat([pad(enc["token_type_ids"][:3], T), pad(pair["token_type_ids"], T)])
    mask = torch.cat([pad(enc["attention_mask"][:3], T), pad(pair["attention_mask"], T)])
    labels = torch.tensor([2, 0, 1, 1])
    hyper = dict(HYPER, lr=5e-5)
    write_state(os.path.join(outdir, "minilm.state"), model, (ids, types, mask, labels), 10, hyper,
                summarize=True)


def check_saved(d):
    """DIR/batch.bin: int32 B, T, C, ids, types, mask [B*T], float32 logits [B*C] (from C)."""
    raw = open(os.path.join(d, "batch.bin"), "rb").read()
    B, T, C = struct.unpack_from("<3i", raw, 0)
    o = 12
    arrs = []
    for _ in range(3):
        arrs.append(torch.tensor(np.frombuffer(raw, "<i4", B * T, o).reshape(B, T).astype(np.int64)))
        o += 4 * B * T
    ours = np.frombuffer(raw, "<f4", B * C, o).reshape(B, C)
    model = BertForSequenceClassification.from_pretrained(d)
    model.eval()
    with torch.no_grad():
        ref = model(input_ids=arrs[0], token_type_ids=arrs[1], attention_mask=arrs[2]).logits.numpy()
    cfg = json.load(open(os.path.join(d, "config.json")))
    diff = float(np.abs(ref - ours).max())
    ok = diff <= 1e-5 and model.config.num_labels == C and cfg["id2label"]["0"] == model.config.id2label[0]
    print("check-saved %s: transformers loads it, id2label %s, max |logit diff| %.3g: %s"
          % (d, model.config.id2label, diff, "PASS" if ok else "FAIL"))
    return 0 if ok else 1


def schedules(outdir):
    """The rate of every step, read from the optimizer that transformers'
    schedule drives (LambdaLR), stepped as Trainer steps it: the rate of step t
    is the one in place when the optimizer takes that step. Warmup given as a
    ratio becomes steps through TrainingArguments.get_warmup_steps (called on
    a plain namespace: constructing TrainingArguments needs accelerate)."""
    makers = {"linear": get_linear_schedule_with_warmup, "cosine": get_cosine_schedule_with_warmup,
              "constant": lambda opt, w, total: get_constant_schedule_with_warmup(opt, w)}
    cases = [("linear", 1e-3, 10, 0, None), ("linear", 3e-5, 37, None, 0.1), ("linear", 5e-5, 7, 3, None),
             ("cosine", 1e-3, 10, 0, None), ("cosine", 2e-5, 41, None, 0.06), ("cosine", 1e-4, 9, 9, None),
             ("constant", 1e-3, 8, 0, None), ("constant", 3e-5, 12, None, 0.25),
             ("linear", 3e-5, 1, None, 0.5)]
    out = []
    for kind, peak, total, wsteps, wratio in cases:
        warmup = wsteps if wratio is None else TrainingArguments.get_warmup_steps(
            SimpleNamespace(warmup_steps=0, warmup_ratio=wratio), total)
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.AdamW([p], lr=peak)
        sched = makers[kind](opt, warmup, total)
        lrs = []
        for _ in range(total):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        out.append({"schedule": kind, "lr": peak, "total": total, "warmup_steps": wsteps if wratio is None else -1,
                    "warmup_ratio": 0.0 if wratio is None else wratio, "warmup": warmup, "lrs": lrs})
    with open(os.path.join(outdir, "schedules.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("%s/schedules.json: %d schedules" % (outdir, len(out)))


TRAIN_LABELS = ["negative", "neutral", "positive"]


def token_records(g, n, pair_every):
    """n token records: [CLS]-like 2, random ids in [3, 512), lengths 3..16,
    every pair_every-th one a pair (token type 1 on its second half)."""
    recs = []
    for i in range(n):
        T = int(torch.randint(3, 17, (1,), generator=g))
        ids = torch.randint(3, 512, (T,), generator=g).tolist()
        ids[0] = 2
        types = [0] * T
        if i % pair_every == pair_every - 1:
            types[T // 2:] = [1] * (T - T // 2)
        label = TRAIN_LABELS[int(torch.randint(0, 3, (1,), generator=g))]
        recs.append({"id": str(i), "label": label, "input_ids": ids, "token_type_ids": types, "attention_mask": [1] * T})
    return recs


def padded(recs):
    T = max(len(r["input_ids"]) for r in recs)

    def pad(key):
        return torch.tensor([r[key] + [0] * (T - len(r[key])) for r in recs])
    labels = torch.tensor([TRAIN_LABELS.index(r["label"]) for r in recs])
    return pad("input_ids"), pad("token_type_ids"), pad("attention_mask"), labels


def summary(t, t0, nsample=24):
    """A tensor's sums and 24 elements: the 12 that moved most in training
    and 12 evenly strided."""
    v = t.detach().numpy().astype(np.float64).ravel()
    moved = np.abs(v - t0.detach().numpy().astype(np.float64).ravel())
    top = np.argsort(-moved, kind="stable")[:nsample // 2]
    stride = max(1, v.size // (nsample // 2))
    idx = sorted(set(top.tolist()) | set(range(0, v.size, stride)[:nsample // 2]))
    return {"sum": float(v.sum()), "abs_sum": float(np.abs(v).sum()), "l2": float(np.sqrt((v * v).sum())),
            "idx": idx, "val": [float(t.detach().numpy().ravel()[i]) for i in idx]}


def train(outdir):
    """Two epochs of the tiny model (dropout 0) on 20 records in file order:
    steps of 8 examples (8, 8, 4 per epoch), each padded to its longest
    sequence, class-weighted mean cross-entropy, clip_grad_norm_ to 0.5,
    AdamW (weight decay 0.1, none on biases and LayerNorm, as Trainer
    groups them) under the linear schedule with 2 warmup steps. Then the
    validation set's mean loss (no class weights) and predictions. The C
    side runs the same steps as micro-batches of 4 (--grad-accum 2), each
    padded to its own longest: equal to float rounding."""
    d = os.path.join(outdir, "train_ref")
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(2024)
    tr, va = token_records(g, 20, 5), token_records(g, 12, 4)
    for name, recs in (("train.jsonl", tr), ("val.jsonl", va)):
        with open(os.path.join(d, name), "w") as f:
            for r in recs:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
    hyper = {"lr": 2e-3, "weight_decay": 0.1, "max_grad_norm": 0.5, "warmup_steps": 2, "epochs": 2,
             "step_batch": 8, "class_weights": [1.5, 0.5, 1.0], "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    model = BertForSequenceClassification.from_pretrained(os.path.join(outdir, "tiny_model"))
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    params = list(model.named_parameters())
    decay = [p for n, p in params if not ("bias" in n or "LayerNorm" in n)]
    no_decay = [p for n, p in params if "bias" in n or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hyper["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=hyper["lr"], betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"])
    per_epoch = math.ceil(len(tr) / hyper["step_batch"])
    total = per_epoch * hyper["epochs"]
    sched = get_linear_schedule_with_warmup(opt, hyper["warmup_steps"], total)
    weight = torch.tensor(hyper["class_weights"])
    steps = []
    model.train()
    for epoch in range(hyper["epochs"]):
        for s in range(0, len(tr), hyper["step_batch"]):
            ids, types, mask, labels = padded(tr[s:s + hyper["step_batch"]])
            opt.zero_grad()
            logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits, labels, weight=weight)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), hyper["max_grad_norm"])
            steps.append({"lr": opt.param_groups[0]["lr"], "loss": loss.item(), "grad_norm": norm.item()})
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        ids, types, mask, labels = padded(va)
        logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
        val_loss = torch.nn.functional.cross_entropy(logits, labels).item()
        pred = logits.argmax(dim=1).tolist()
    out = {"hyper": hyper, "total_steps": total, "steps": steps, "val_loss": val_loss, "val_pred": pred,
           "params": {n: summary(p, start[n]) for n, p in model.named_parameters()}}
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("%s: %d steps, losses %s, val loss %.6f" % (d, total, [round(x["loss"], 5) for x in steps], val_loss))


def check_trained(d, val_path):
    model = BertForSequenceClassification.from_pretrained(d)
    model.eval()
    recs = [json.loads(line) for line in open(val_path) if line.strip()]
    label2id = model.config.label2id
    total, correct = 0.0, 0
    with torch.no_grad():
        for r in recs:
            ids = torch.tensor([r["input_ids"]])
            types = torch.tensor([r.get("token_type_ids", [0] * len(r["input_ids"]))])
            mask = torch.tensor([r.get("attention_mask", [1] * len(r["input_ids"]))])
            logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
            y = torch.tensor([label2id[r["label"]]])
            total += torch.nn.functional.cross_entropy(logits, y).item()
            correct += int(logits.argmax(dim=1).item() == y.item())
    state = json.load(open(os.path.join(d, "trainer_state.json")))
    ours = state["final_eval"]
    loss, acc = total / len(recs), correct / len(recs)
    ok = abs(loss - ours["val_loss"]) <= 1e-5 and acc == ours["val_accuracy"]
    print("check-trained %s: transformers' val loss %.7f accuracy %.4f, bert-train's %.7f %.4f: %s"
          % (d, loss, acc, ours["val_loss"], ours["val_accuracy"], "PASS" if ok else "FAIL"))
    return 0 if ok else 1


def main(argv):
    if len(argv) == 3 and argv[1] == "tiny":
        os.makedirs(argv[2], exist_ok=True)
        tiny(argv[2])
    elif len(argv) == 3 and argv[1] == "micro":
        os.makedirs(argv[2], exist_ok=True)
        micro(argv[2])
    elif len(argv) == 4 and argv[1] == "minilm":
        os.makedirs(argv[3], exist_ok=True)
        minilm(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "schedules":
        os.makedirs(argv[2], exist_ok=True)
        schedules(argv[2])
    elif len(argv) == 3 and argv[1] == "train":
        train(argv[2])
    elif len(argv) == 4 and argv[1] == "check-trained":
        return check_trained(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "check-saved":
        return check_saved(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main(sys.argv))
