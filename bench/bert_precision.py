#!/usr/bin/python3
"""BERT on the CPU in fp32, int8 and bf16: our predict and bert-train against
PyTorch on the same model, the same inputs and the same thread count, in one
run (issue #19, item 5; make bench-precision).

Usage: bench/bert_precision.py [options]
  --bin DIR          our programs (default build/release/bin)
  --shared DIR       the shared data folder (default ../shared)
  --model DIR        the BERT directory for the speed figures (default
                     all-MiniLM-L6-v2 from scripts/fetch_model.sh); without a
                     classifier head one is added (3 labels, seed 0) and
                     saved with the model in a temporary directory, which
                     both sides then load
  --finetuned DIR    the fine-tuned directory for the accuracy figures
                     (default runs/tweets/bert/model when present; without
                     one, the model of --model with its fresh head, whose
                     agreement figures say little)
  --threads N        predict/bert-train --threads N and PyTorch's
                     torch.set_num_threads(N) + OpenBLAS N (default 2)
  --repeats K        each timing is the best of K whole passes (default 3)
  --records N        tweets timed for speed (default 2048; 0: the whole
                     test split)
  --fixed-batches N  batches of 32 x 128 timed (default 8)
  --train-steps S    timed training steps (default 5)
  --sections LIST    any of speed,accuracy,train (default all three)
  --quick            tiny sizes for a smoke test: repeats 1, 64 tweets,
                     1 fixed batch, 2 training steps at 16 x 32, accuracy
                     on 256 test tweets
  --unset-coretype   after the run, run again with OPENBLAS_CORETYPE removed
                     from the environment, and print the two side by side
  --json FILE        also write the figures as JSON
  --torch-env VAR=VALUE  set in PyTorch's processes only (repeatable), e.g.
                     OMP_WAIT_POLICY=PASSIVE (bench/bert_step.py found it or
                     intra-op 1 sometimes faster at 2 threads on 2 cores)

What is timed:
(a) inference, samples/s over whole passes over the same records (best of
    K): ours is `predict -m DIR --precision P --threads N --batch-size 32`
    on token records (stdout to a file), the process end to end; its load
    (the same command on no records) is timed apart and taken off, and both
    figures are printed. int8 also from a --save-quantized directory.
    PyTorch (a fresh process; OMP/MKL/OPENBLAS_NUM_THREADS=N,
    torch.set_num_threads(N), openblas_set_num_threads(N): Debian's torch
    calls OpenBLAS for fp32 products, which does not follow
    set_num_threads) is transformers' BertForSequenceClassification loaded
    from the same directory, in eval mode under torch.inference_mode, on
    the same batches of 32 (each padded to its longest sequence) as tensors
    already built, after one whole warm-up pass (ours starts afresh each
    time: what it sets up per shape counts); model loading and
    quantization timed apart. int8 is
    torch.quantization.quantize_dynamic({nn.Linear}, qint8), with its
    default qconfig (per-tensor weights) and with per-channel weights (as
    ours); bf16 is torch.autocast('cpu', dtype=torch.bfloat16).
    Two inputs: "fixed" is 32 x 128 per batch, every token real (random
    ids, attention mask all 1: the shape of a batch padded to 128, with no
    padding left for either side to skip); "tweets" is the tweet test split
    tokenized by wptok (--text-field text_bert --max-len 128, after
    csvclean --preset tweet --light-field text_bert and stratsplit 70/15/15
    seed 42, as pipelines/tweets.mk), in file order: lib/bert skips the
    padding rows of a batch, PyTorch computes them.
(b) accuracy on the test split of that same data, tokenized with the
    fine-tuned model's vocabulary: macro-F1 and accuracy of each, and the
    share of predictions equal to the same side's fp32 ones and to ours in
    fp32.
(c) training: one step (forward, cross-entropy, backward, clipping to 1,
    AdamW lr 5e-5) at batch 16 x 128 tokens (all real), dropout as the
    config. Ours: bert-train --max-steps S+1 minus --max-steps 1, over S
    (so loading, the first step and the writing of the model are taken
    off); each best of K. PyTorch: 1 warm-up step, then the mean of S
    steps, best of K; fp32 and autocast bf16. bert-train --precision bf16
    --device cpu is skipped, with its message, when bert-train refuses it.

Ratios are speeds (samples/s, or steps/s for training) over speeds: above 1
the first named is faster. The machine may be shared: the load is printed
before each section.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOK_OPTS = ["--text-field", "text_bert", "--max-len", "128"]
CLEAN_OPTS = ["--preset", "tweet", "--light-field", "text_bert", "--id", "textID", "--label", "sentiment"]
BATCH = 32


def load1():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + " ".join(open("/proc/loadavg").read().split()[:3])


def machine():
    name, flags = "?", set()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                name = line.split(":", 1)[1].strip()
    except OSError:
        pass
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    want = ["avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"]
    return name, " ".join("%s=%s" % (f, "yes" if f in flags else "no") for f in want)


def thread_env(n, env=None):
    env = dict(os.environ if env is None else env)
    env.update(OMP_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n), OPENBLAS_NUM_THREADS=str(n))
    return env


# ---------------------------------------------------------------- PyTorch side

def torch_setup(threads):
    import ctypes
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(threads)
    blas = None
    try:
        blas = ctypes.CDLL("libopenblas.so.0")  # what Debian's libblas.so.3 forwards to
        blas.openblas_set_num_threads(threads)
    except OSError:
        pass
    return torch, blas


def read_tokens(path, limit=0):
    recs = []
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                recs.append((r["input_ids"], r.get("token_type_ids") or [0] * len(r["input_ids"]),
                             r.get("attention_mask") or [1] * len(r["input_ids"]), r.get("label")))
                if limit and len(recs) >= limit:
                    break
    return recs


def make_batches(torch, recs, bs):
    """batches of bs in order, each padded to its longest sequence (as predict)"""
    out = []
    for i in range(0, len(recs), bs):
        chunk = recs[i:i + bs]
        T = max(len(r[0]) for r in chunk)
        ids = torch.zeros(len(chunk), T, dtype=torch.long)
        tt = torch.zeros(len(chunk), T, dtype=torch.long)
        mask = torch.zeros(len(chunk), T, dtype=torch.long)
        for b, (a, t, m, _) in enumerate(chunk):
            ids[b, :len(a)] = torch.tensor(a)
            tt[b, :len(t)] = torch.tensor(t)
            mask[b, :len(m)] = torch.tensor(m)
        out.append((ids, tt, mask))
    return out


def torch_variant(torch, model, variant):
    """the model for a variant, and the time it took to make it"""
    t0 = time.perf_counter()
    if variant.startswith("int8"):
        from torch.ao.quantization import per_channel_dynamic_qconfig, default_dynamic_qconfig
        qc = per_channel_dynamic_qconfig if variant == "int8-per-channel" else default_dynamic_qconfig
        model = torch.quantization.quantize_dynamic(model, {torch.nn.Linear: qc}, dtype=torch.qint8)
    return model, time.perf_counter() - t0


def torch_infer(job):
    torch, blas = torch_setup(job["threads"])
    from transformers import BertForSequenceClassification
    res = {"torch": torch.__version__, "engine": torch.backends.quantized.engine,
           "torch_threads": torch.get_num_threads(),
           "blas_threads": blas.openblas_get_num_threads() if blas else None, "runs": {}}
    import transformers
    res["transformers"] = transformers.__version__
    inputs = {name: make_batches(torch, read_tokens(path, job.get("limit", 0)), BATCH)
              for name, path in job["inputs"].items()}
    for variant in job["variants"]:
        t0 = time.perf_counter()
        model = BertForSequenceClassification.from_pretrained(job["model"]).eval()
        load = time.perf_counter() - t0
        model, prep = torch_variant(torch, model, variant)
        ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if variant == "bf16" else None
        for name, batches in inputs.items():
            n = sum(b[0].shape[0] for b in batches)
            best, preds = None, None
            with torch.inference_mode():
                for rep in range(job["repeats"] + 1):  # the first pass warms up (shapes seen once)
                    t0 = time.perf_counter()
                    out = []
                    for ids, tt, mask in batches:
                        if ctx:
                            with ctx():
                                logits = model(input_ids=ids, token_type_ids=tt, attention_mask=mask).logits
                        else:
                            logits = model(input_ids=ids, token_type_ids=tt, attention_mask=mask).logits
                        out.append(logits.float().argmax(-1))
                    took = time.perf_counter() - t0
                    if rep > 0:
                        best = took if best is None else min(best, took)
                        preds = torch.cat(out).tolist()
            res["runs"]["%s/%s" % (variant, name)] = {"n": n, "wall": best, "load": load, "prep": prep,
                                                      "preds": preds if job.get("preds") else None}
        del model
    return res


def torch_train(job):
    torch, blas = torch_setup(job["threads"])
    from transformers import BertForSequenceClassification
    recs = read_tokens(job["data"], job["batch"])
    ids = torch.tensor([r[0] for r in recs])
    mask = torch.tensor([r[2] for r in recs])
    labels = torch.tensor([job["label2id"][r[3]] for r in recs])
    res = {"runs": {}}
    for variant in job["variants"]:
        torch.manual_seed(0)
        model = BertForSequenceClassification.from_pretrained(job["model"])
        model.train()
        params = list(model.named_parameters())
        nd = lambda n: "bias" in n or "LayerNorm" in n
        opt = torch.optim.AdamW([{"params": [p for n, p in params if not nd(n)], "weight_decay": 0.01},
                                 {"params": [p for n, p in params if nd(n)], "weight_decay": 0.0}], lr=5e-5)

        def step():
            opt.zero_grad()
            if variant == "bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    logits = model(input_ids=ids, attention_mask=mask).logits
            else:
                logits = model(input_ids=ids, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return loss.item()

        best = None
        for rep in range(job["repeats"]):
            step()  # warm-up
            t0 = time.perf_counter()
            for _ in range(job["steps"]):
                step()
            took = (time.perf_counter() - t0) / job["steps"]
            best = took if best is None else min(best, took)
        res["runs"][variant] = {"step": best}
        model = opt = None  # free them before the next variant
    return res


TORCH_ENV = {}


def run_torch(kind, job, threads, tmp):
    path = os.path.join(tmp, "job_%s.json" % kind)
    with open(path, "w") as f:
        json.dump(job, f)
    env = thread_env(threads)
    env.update(TORCH_ENV)
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-worker", kind, path],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise RuntimeError("the PyTorch worker (%s) failed, exit %d" % (kind, p.returncode))
    return json.loads(p.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------- our side

def run_ours(cmd, threads, stdin_path, stdout_path):
    with open(stdin_path) as fi, open(stdout_path, "w") as fo:
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdin=fi, stdout=fo, stderr=subprocess.PIPE, text=True, env=thread_env(threads))
        took = time.perf_counter() - t0
    return p, took


def ours_predict(a, model, precision, inp, out, reps):
    cmd = [os.path.join(a.bin, "predict"), "-q", "-m", model, "--threads", str(a.threads),
           "--batch-size", str(BATCH), "--device", "cpu"]
    if precision:
        cmd += ["--precision", precision]
    best = bestload = None
    for _ in range(reps):
        p, took = run_ours(cmd, a.threads, inp, out)
        if p.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
        best = took if best is None else min(best, took)
        p, took = run_ours(cmd, a.threads, "/dev/null", os.devnull)
        bestload = took if bestload is None else min(bestload, took)
    return best, bestload


def read_preds(path):
    with open(path) as f:
        return [json.loads(l)["pred"] for l in f if l.strip()]


def macro_f1(gold, pred):
    labels = sorted(set(gold) | set(pred))
    f1s = []
    for c in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred) if g == c and p != c)
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s)


def agree(x, y):
    return sum(1 for a, b in zip(x, y) if a == b) / len(x)


# ---------------------------------------------------------------- preparation

def has_head(model):
    from safetensors import safe_open
    path = os.path.join(model, "model.safetensors")
    if not os.path.exists(path):
        return False
    with safe_open(path, "pt") as f:
        keys = set(f.keys())
    with open(os.path.join(model, "config.json")) as f:
        cfg = json.load(f)
    return "classifier.weight" in keys and "id2label" in cfg


def with_head(model, dest, labels):
    """model + a fresh 3-label head (seed 0), saved in HF's layout"""
    import torch
    import transformers
    from transformers import BertForSequenceClassification
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    m = BertForSequenceClassification.from_pretrained(
        model, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={l: i for i, l in enumerate(labels)})
    m.save_pretrained(dest, safe_serialization=True)
    for f in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"):
        if os.path.exists(os.path.join(model, f)):
            shutil.copy(os.path.join(model, f), dest)
    return dest


def sh(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p


def tweet_split(a, tmp):
    data = os.path.join(a.shared, "datasets", "tweet_sentiment_extraction")
    clean = os.path.join(tmp, "clean.jsonl")
    sh([os.path.join(a.bin, "csvclean")] + CLEAN_OPTS + ["-o", clean,
       os.path.join(data, "train.csv"), os.path.join(data, "test.csv")])
    sh([os.path.join(a.bin, "stratsplit"), "--ratios", "70/15/15", "--seed", "42", "-d",
        os.path.join(tmp, "split"), clean])
    return os.path.join(tmp, "split", "test.jsonl")


def tokenize(a, model, src, dest, limit=0):
    sh([os.path.join(a.bin, "wptok"), "-m", model] + TOK_OPTS + ["--drop-text", "-o", dest, src])
    if limit:
        with open(dest) as f:
            lines = [l for l in f if l.strip()][:limit]
        with open(dest, "w") as f:
            f.writelines(lines)
    with open(dest) as f:
        return sum(1 for l in f if l.strip())


def fixed_records(path, n, T, labels, vocab, seed=42):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            ids = [101] + [rng.randrange(1000, min(vocab, 30000)) for _ in range(T - 2)] + [102]
            f.write(json.dumps({"id": str(i), "label": labels[i % len(labels)], "input_ids": ids,
                                "token_type_ids": [0] * T, "attention_mask": [1] * T}) + "\n")


def labels_of(model):
    with open(os.path.join(model, "config.json")) as f:
        cfg = json.load(f)
    return [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))]


# ------------------------------------------------------------------ sections

def sps(n, t):
    return n / t if t and t > 0 else float("nan")


def speed(a, tmp, model, tweets_tok, n_tweets, fig):
    labels = labels_of(model)
    with open(os.path.join(model, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    fixed = os.path.join(tmp, "fixed.jsonl")
    fixed_records(fixed, BATCH * a.fixed_batches, 128, labels, vocab)
    inputs = {"fixed": fixed, "tweets": tweets_tok}
    counts = {"fixed": BATCH * a.fixed_batches, "tweets": n_tweets}
    print("\n(a) inference, samples/s: batch 32; fixed = %d x 128 tokens (%d batches), tweets = %d test tweets "
          "(real lengths); %d threads; best of %d; load %s" % (counts["fixed"], a.fixed_batches, n_tweets,
                                                            a.threads, a.repeats, load1()))
    qdir = os.path.join(tmp, "int8-saved")
    t0 = time.perf_counter()
    sh([os.path.join(a.bin, "predict"), "-q", "-m", model, "--precision", "int8", "--save-quantized", qdir],
       stdin=subprocess.DEVNULL)
    conv = time.perf_counter() - t0
    ours = {}
    for name, (mdir, prec) in [("ours fp32", (model, "fp32")), ("ours int8", (model, "int8")),
                               ("ours int8 (saved dir)", (qdir, None)), ("ours bf16", (model, "bf16"))]:
        for inp in inputs:
            wall, ld = ours_predict(a, mdir, prec, inputs[inp], os.path.join(tmp, "out.jsonl"), a.repeats)
            ours[(name, inp)] = (sps(counts[inp], wall - ld), sps(counts[inp], wall), ld)
    variants = ["fp32", "int8", "int8-per-channel", "bf16"]
    tr = run_torch("infer", {"model": model, "inputs": inputs, "variants": variants, "repeats": a.repeats,
                             "threads": a.threads}, a.threads, tmp)
    names = {"fp32": "PyTorch fp32", "int8": "PyTorch int8 quantize_dynamic", "int8-per-channel":
             "PyTorch int8 (per-channel)", "bf16": "PyTorch bf16 autocast"}
    theirs = {}
    for v in variants:
        for inp in inputs:
            r = tr["runs"]["%s/%s" % (v, inp)]
            theirs[(names[v], inp)] = (sps(r["n"], r["wall"]), r["load"] + r["prep"])
    print("  PyTorch %s, transformers %s, quantized engine %s, reports torch %s / OpenBLAS %s threads"
          % (tr["torch"], tr["transformers"], tr["engine"], tr["torch_threads"], tr["blas_threads"]))
    print("  %-32s %21s %21s   %s" % ("", "fixed 32x128", "tweets", "load (s)"))
    for name in ["ours fp32", "ours int8", "ours int8 (saved dir)", "ours bf16"]:
        f, t = ours[(name, "fixed")], ours[(name, "tweets")]
        print("  %-32s %8.1f (e2e %7.1f) %8.1f (e2e %7.1f)   %.3f" % (name, f[0], f[1], t[0], t[1], min(f[2], t[2])))
    for v in variants:
        f, t = theirs[(names[v], "fixed")], theirs[(names[v], "tweets")]
        print("  %-32s %8.1f %12s %8.1f %12s   %.3f" % (names[v], f[0], "", t[0], "", f[1]))
    print("  ours: samples/s with predict's load (the same command on no records) taken off; e2e: the whole")
    print("  process. PyTorch: forward passes over tensors already built; load = from_pretrained (+ quantize).")
    print("  --save-quantized conversion took %.3f s (process, end to end)." % conv)
    print("\n  ratios of samples/s (ours load taken off)      fixed   tweets")
    rows = [("ours int8 / ours fp32", ours, "ours int8", ours, "ours fp32"),
            ("ours int8 saved / ours fp32", ours, "ours int8 (saved dir)", ours, "ours fp32"),
            ("ours bf16 / ours fp32", ours, "ours bf16", ours, "ours fp32"),
            ("ours fp32 / PyTorch fp32", ours, "ours fp32", theirs, "PyTorch fp32"),
            ("ours int8 / PyTorch int8", ours, "ours int8", theirs, "PyTorch int8 quantize_dynamic"),
            ("ours int8 / PyTorch int8 per-channel", ours, "ours int8", theirs, "PyTorch int8 (per-channel)"),
            ("ours bf16 / PyTorch bf16", ours, "ours bf16", theirs, "PyTorch bf16 autocast"),
            ("PyTorch int8 / PyTorch fp32", theirs, "PyTorch int8 quantize_dynamic", theirs, "PyTorch fp32"),
            ("PyTorch bf16 / PyTorch fp32", theirs, "PyTorch bf16 autocast", theirs, "PyTorch fp32")]
    for label, d1, k1, d2, k2 in rows:
        r = [d1[(k1, i)][0] / d2[(k2, i)][0] for i in ("fixed", "tweets")]
        print("  %-44s %6.2fx %7.2fx" % (label, r[0], r[1]))
        fig["ratio " + label] = r
    for (name, inp), v in list(ours.items()) + list(theirs.items()):
        fig["samples/s %s %s" % (name, inp)] = v[0]
    sys.stdout.flush()


def accuracy(a, tmp, model, test_split, fresh, fig):
    print("\n(b) accuracy on the tweet test split: %s; %d threads; load %s"
          % ("--model with its fresh head (no --finetuned DIR, no runs/tweets/bert/model): the scores and "
             "agreement say little" if fresh else model, a.threads, load1()))
    tok = os.path.join(tmp, "acc.tok.jsonl")
    n = tokenize(a, model, test_split, tok, a.acc_records)
    gold = [json.loads(l).get("label") for l in open(tok) if l.strip()]
    preds = {}
    qdir = os.path.join(tmp, "acc-int8")
    sh([os.path.join(a.bin, "predict"), "-q", "-m", model, "--precision", "int8", "--save-quantized", qdir],
       stdin=subprocess.DEVNULL)
    for name, mdir, prec in [("ours fp32", model, "fp32"), ("ours int8", model, "int8"),
                             ("ours int8 (saved dir)", qdir, None), ("ours bf16", model, "bf16")]:
        out = os.path.join(tmp, "acc.%s.jsonl" % name.replace(" ", "_").replace("(", "").replace(")", ""))
        ours_predict(a, mdir, prec, tok, out, 1)
        preds[name] = read_preds(out)
    labels = labels_of(model)
    variants = [("fp32", "PyTorch fp32"), ("int8", "PyTorch int8 quantize_dynamic"),
                ("int8-per-channel", "PyTorch int8 (per-channel)"), ("bf16", "PyTorch bf16 autocast")]
    tr = run_torch("acc", {"model": model, "inputs": {"test": tok}, "variants": [v for v, _ in variants],
                           "repeats": 1, "threads": a.threads, "preds": True}, a.threads, tmp)
    for v, name in variants:
        preds[name] = [labels[i] for i in tr["runs"]["%s/test" % v]["preds"]]
    print("  %d records; gold labels: %s" % (n, ", ".join("%s %d" % (l, gold.count(l)) for l in sorted(set(gold)))))
    print("  %-32s %9s %9s %16s %16s" % ("", "macro-F1", "accuracy", "= own fp32 pred", "= ours fp32 pred"))
    for name in preds:
        own = preds["ours fp32"] if name.startswith("ours") else preds["PyTorch fp32"]
        mf = macro_f1(gold, preds[name])
        acc = agree(gold, preds[name])
        print("  %-32s %9.4f %9.4f %16.4f %16.4f" % (name, mf, acc, agree(own, preds[name]),
                                                     agree(preds["ours fp32"], preds[name])))
        fig["macro-F1 " + name] = mf
        fig["= own fp32 " + name] = agree(own, preds[name])
    sys.stdout.flush()


def train(a, tmp, model, fig):
    B, T, S = 16, a.train_len, a.train_steps
    labels = labels_of(model)
    with open(os.path.join(model, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    data = os.path.join(tmp, "train.jsonl")
    fixed_records(data, B * (S + 1), T, labels, vocab, seed=7)
    print("\n(c) training step, batch %d x %d tokens, %d timed steps, %d threads, best of %d; load %s"
          % (B, T, S, a.threads, a.repeats, load1()))
    ours = {}

    def bt(prec, steps, out):
        cmd = [os.path.join(a.bin, "bert-train"), "-q", "-m", model, "-b", str(B), "--max-steps", str(steps),
               "--lr", "5e-5", "--threads", str(a.threads), "--device", "cpu", "--precision", prec,
               "-o", out, data]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=thread_env(a.threads))
        took = time.perf_counter() - t0
        shutil.rmtree(out, ignore_errors=True)
        return p, took

    for prec in ("fp32", "bf16"):
        p, _ = bt(prec, 1, os.path.join(tmp, "bt-probe"))
        if p.returncode != 0:
            msg = ([l for l in p.stderr.strip().splitlines() if not l.startswith("Try ")] or ["(no message)"])[0]
            print("  ours %s: skipped: bert-train --precision %s --device cpu exits %d: %s"
                  % (prec, prec, p.returncode, msg))
            continue
        one = many = None
        for _ in range(a.repeats):
            _, t1 = bt(prec, 1, os.path.join(tmp, "bt"))
            _, tn = bt(prec, S + 1, os.path.join(tmp, "bt"))
            one = t1 if one is None else min(one, t1)
            many = tn if many is None else min(many, tn)
        ours[prec] = (many - one) / S
    label2id = {l: i for i, l in enumerate(labels)}
    tr = run_torch("train", {"model": model, "data": data, "batch": B, "steps": S, "repeats": a.repeats,
                             "threads": a.threads, "variants": ["fp32", "bf16"], "label2id": label2id},
                   a.threads, tmp)
    theirs = {v: r["step"] for v, r in tr["runs"].items()}
    for prec, t in ours.items():
        print("  %-32s %9.1f ms/step" % ("ours bert-train " + prec, t * 1e3))
    print("  %-32s %9.1f ms/step" % ("PyTorch fp32", theirs["fp32"] * 1e3))
    print("  %-32s %9.1f ms/step" % ("PyTorch autocast bf16", theirs["bf16"] * 1e3))
    print("  ratios of steps/s:")
    rows = [("ours bf16 / ours fp32", ours.get("bf16"), ours.get("fp32")),
            ("ours fp32 / PyTorch fp32", ours.get("fp32"), theirs["fp32"]),
            ("ours bf16 / PyTorch bf16", ours.get("bf16"), theirs["bf16"]),
            ("ours bf16 / PyTorch fp32", ours.get("bf16"), theirs["fp32"]),
            ("PyTorch bf16 / PyTorch fp32", theirs["bf16"], theirs["fp32"])]
    for label, x, y in rows:
        if x is None or y is None:
            print("  %-44s %s" % (label, "-- (skipped)"))
            continue
        print("  %-44s %6.2fx" % (label, y / x))
        fig["ratio train " + label] = [y / x]
    for k, v in ours.items():
        fig["ms/step ours " + k] = v * 1e3
    for k, v in theirs.items():
        fig["ms/step PyTorch " + k] = v * 1e3
    sys.stdout.flush()


# ----------------------------------------------------------------------- main

def default_model():
    p = subprocess.run([os.path.join(ROOT, "scripts", "fetch_model.sh")], capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else os.path.expanduser("~/.cache/pipeclf/models/all-MiniLM-L6-v2")


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "bin"))
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    ap.add_argument("--model")
    ap.add_argument("--finetuned")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--records", type=int, default=2048)
    ap.add_argument("--fixed-batches", type=int, default=8)
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--sections", default="speed,accuracy,train")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--unset-coretype", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--torch-env", action="append", default=[], metavar="VAR=VALUE")
    a = ap.parse_args(argv)
    for kv in a.torch_env:
        if "=" not in kv:
            ap.error("--torch-env wants VAR=VALUE, not %r" % kv)
        TORCH_ENV[kv.split("=", 1)[0]] = kv.split("=", 1)[1]
    a.train_len, a.acc_records = 128, 0
    if a.quick:
        a.repeats, a.records, a.fixed_batches, a.train_steps, a.train_len, a.acc_records = 1, 64, 1, 2, 32, 256
    return a


def run(a):
    if a.model is None:
        a.model = default_model()
    if a.finetuned is None:
        cand = os.path.join(ROOT, "runs", "tweets", "bert", "model")
        a.finetuned = cand if os.path.exists(os.path.join(cand, "config.json")) else None
    name, flags = machine()
    print("bench/bert_precision.py: %s" % time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    print("machine: %s; %d CPUs; %s" % (name, os.cpu_count(), flags))
    print("uptime: %s" % uptime())
    print("OPENBLAS_CORETYPE=%s (as set for both sides); threads %d; %s%s"
          % (os.environ.get("OPENBLAS_CORETYPE", "(unset)"), a.threads, "--quick" if a.quick else "full sizes",
             "".join("; PyTorch with %s=%s" % kv for kv in sorted(TORCH_ENV.items()))))
    sys.stdout.flush()
    fig = {"OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)")}
    sections = a.sections.split(",")
    with tempfile.TemporaryDirectory(prefix="bert_precision.") as tmp:
        labels_default = ["negative", "neutral", "positive"]
        fresh = not has_head(a.model)
        model = with_head(a.model, os.path.join(tmp, "model"), labels_default) if fresh else a.model
        print("model: %s%s" % (a.model, " + a fresh 3-label head (seed 0), saved in a temporary directory"
                                        if fresh else ""))
        test_split = tweet_split(a, tmp)
        if "speed" in sections:
            tok = os.path.join(tmp, "tweets.tok.jsonl")
            n = tokenize(a, model, test_split, tok, a.records)
            speed(a, tmp, model, tok, n, fig)
        if "accuracy" in sections:
            if a.finetuned:
                accuracy(a, tmp, a.finetuned, test_split, False, fig)
            else:
                accuracy(a, tmp, model, test_split, True, fig)
        if "train" in sections:
            train(a, tmp, model, fig)
    print("\nuptime at the end: %s" % uptime())
    if a.json:
        with open(a.json, "w") as f:
            json.dump(fig, f, indent=1)
    return fig


def main(argv):
    if len(argv) > 2 and argv[1] == "--torch-worker":
        with open(argv[3]) as f:
            job = json.load(f)
        res = torch_train(job) if argv[2] == "train" else torch_infer(job)
        print(json.dumps(res))
        return 0
    a = parse(argv[1:])
    if not a.unset_coretype:
        run(a)
        return 0
    first = run(a)
    if "OPENBLAS_CORETYPE" not in os.environ:
        print("\n--unset-coretype: OPENBLAS_CORETYPE is not set here, so the second run would be the same: skipped")
        return 0
    print("\n==== again with OPENBLAS_CORETYPE removed from the environment ====\n")
    sys.stdout.flush()
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    with tempfile.TemporaryDirectory(prefix="bert_precision.") as tmp:
        out = os.path.join(tmp, "second.json")
        args = [x for x in argv[1:] if x != "--unset-coretype"]
        if "--json" in args:
            i = args.index("--json")
            del args[i:i + 2]
        subprocess.run([sys.executable, os.path.abspath(__file__)] + args + ["--json", out], env=env, check=True)
        with open(out) as f:
            second = json.load(f)
    print("\n==== both runs: OPENBLAS_CORETYPE=%s vs (unset) ====" % first["OPENBLAS_CORETYPE"])
    print("  %-64s %18s %18s" % ("(inference ratios: fixed / tweets)", "=" + first["OPENBLAS_CORETYPE"], "unset"))
    for k in first:
        if k == "OPENBLAS_CORETYPE" or k not in second:
            continue
        x, y = first[k], second[k]
        fmt = lambda v: " / ".join("%.3f" % e for e in v) if isinstance(v, list) else "%.3f" % v
        print("  %-64s %18s %18s" % (k, fmt(x), fmt(y)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"set": first, "unset": second}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
