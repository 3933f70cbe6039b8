#!/usr/bin/env python3
"""Training throughput of bert-train's CUDA backend against PyTorch on the
same GPU, in the same run (make bench-bert-gpu; needs a GPU, PyTorch with
CUDA and transformers: the image of the GPU machines has them).

  bench/bert_gpu.py DRIVER [--batch 32] [--seq 128] [--steps 50] [--warmup 10]
                    [--layers 12] [--hidden 768] [--heads 12] [--intermediate 3072]
                    [--precisions bf16,fp16] [--no-trainer] [--device cuda|cpu]
  bench/bert_gpu.py --dry-run [DRIVER]

DRIVER is build/release/cuda-tests/bert_gpu_bench (bench/bert_gpu.c). For
each precision, on a BertForSequenceClassification of the given size with
random weights and random tokens (3 labels, no padding), a training step
(zero_grad, forward, backward, clip_grad_norm_ to 1 with the norm read on
the host, AdamW) is timed after warm-up steps:

  ours            the C driver: lib/bert/cuda, activations in the precision's type,
                  fp32 master weights (fp16 with dynamic loss scaling)
  torch eager     transformers' model in PyTorch eager mode under
                  torch.autocast (fp16 with GradScaler), torch.optim.AdamW;
                  once with attn_implementation="eager" (matmul + softmax, as
                  ours) and once "sdpa" (fused attention, the default from
                  transformers 4.41 on; 4.40's BERT has no sdpa: row skipped)
  HF Trainer      transformers.Trainer with bf16=/fp16=True on the same data,
                  the library's default attention; the --steps steps after
                  the warm-up ones, timed by a callback (so its data loading
                  and bookkeeping count)

and printed as samples/s, MFU (FLOPs as bench/bert_gpu.c counts them over
the GPU's dense peak for the precision) and the ratio ours / theirs. The
goal of issue 7: >= 1.3x PyTorch eager and >= 40% MFU at bert-base, seq
128, batch 32, bf16 and fp16.

Runs with transformers 4.40 (Debian's, torch 1.13) and 5.x (the GPU image:
torch 2.11, transformers 5.17): APIs are feature-detected, not
version-compared. A measurement that fails (an API break, a missing
accelerate for the Trainer, out of memory) prints one '# ... skipped' line
in the table and the traceback on stderr, and the others go on; the exit
status is 1 only when ours or every torch eager row failed.

--dry-run checks the Python side without a GPU: on the CPU, a 2-layer
hidden-64 model, batch 4 x seq 16, 1 warm-up + 2 timed steps (sizes given
on the command line still win), ours left out (the driver needs a GPU).
"""
import argparse
import contextlib
import dataclasses
import gc
import json
import math
import subprocess
import sys
import tempfile
import time
import traceback

# dense tensor-core peaks (TFLOP/s) by the vendors' datasheets: leads, not readings
PEAKS = {  # name fragment -> {precision: peak}
    "H100 PCIe": {"bf16": 756.0, "fp16": 756.0, "tf32": 378.0, "fp32": 51.0},
    "H100": {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9},
    "H200": {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9},
    "A100": {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5},
}
SIZES = ["batch", "seq", "steps", "warmup", "layers", "hidden", "heads", "intermediate"]
GPU_SIZES = dict(batch=32, seq=128, steps=50, warmup=10, layers=12, hidden=768, heads=12, intermediate=3072)
TINY_SIZES = dict(batch=4, seq=16, steps=2, warmup=1, layers=2, hidden=64, heads=2, intermediate=128)
VOCAB, LABELS = 30522, 3
W = 36  # width of the implementation column


def peak_for(name, precision):
    for frag, peaks in PEAKS.items():
        if frag in name:
            return peaks.get(precision, 0.0)
    return 0.0


def flops_per_step(a):
    L, H, I, T, B = a.layers, a.hidden, a.intermediate, a.seq, a.batch
    weights = L * (4.0 * H * H + 2.0 * H * I)
    return 6.0 * weights * B * T + 12.0 * L * H * T * B * T + 6.0 * H * H * B


def sync(a):
    import torch
    if a.device == "cuda":
        torch.cuda.synchronize()


def free_memory(a):
    gc.collect()
    if a.device == "cuda":
        import torch
        torch.cuda.empty_cache()


def run_ours(a, precision, peak):
    cmd = [a.driver, "--precision", precision, "--batch", str(a.batch), "--seq", str(a.seq), "--steps", str(a.steps),
           "--warmup", str(a.warmup), "--layers", str(a.layers), "--hidden", str(a.hidden), "--heads", str(a.heads),
           "--intermediate", str(a.intermediate), "--peak-tflops", str(peak)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"{a.driver} exited {p.returncode}: {err}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def bert_config(a):
    from transformers import BertConfig
    return BertConfig(vocab_size=VOCAB, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                      intermediate_size=a.intermediate, max_position_embeddings=max(512, a.seq), num_labels=LABELS)


def make_model(a, attn):
    """A BertForSequenceClassification with random fp32 weights and the
    attention implementation attn (None: the library's default); returns it
    and the implementation its config reports. The public
    AutoModel...from_config(attn_implementation=) is in 4.36+ and 5.x;
    before that the config attribute chose. An implementation this
    transformers lacks (sdpa for 4.40's BERT) raises, as it should."""
    import transformers
    cfg = bert_config(a)
    if attn is None:
        model = transformers.BertForSequenceClassification(cfg)
    else:
        try:
            model = transformers.AutoModelForSequenceClassification.from_config(cfg, attn_implementation=attn)
        except TypeError:
            cfg._attn_implementation = attn
            model = transformers.BertForSequenceClassification(cfg)
    got = getattr(model.config, "_attn_implementation", None) or attn or "eager"
    if attn is not None and got != attn:
        raise RuntimeError(f"asked for {attn} attention, the model reports {got}")
    # fp32 master weights under autocast, as ours; a no-op unless some version builds in another dtype
    return model.float(), got


def batch(a, torch):
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(1, VOCAB, (a.batch, a.seq), generator=g)
    labels = torch.randint(0, LABELS, (a.batch,), generator=g)
    return ids, labels


def grad_scaler(a, torch, enabled):
    """torch.amp.GradScaler(device) from torch 2.3 (torch.cuda.amp's is
    deprecated there); torch.cuda.amp.GradScaler before. Off on the CPU:
    1.13 has no CPU scaler, and loss scaling only matters for fp16 on a GPU."""
    enabled = enabled and a.device == "cuda"
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler(a.device, enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


def autocast_for(a, torch, dtype):
    """A maker of the autocast context for dtype on a.device. On the CPU,
    torch before 2.x autocasts bf16 only (fp16 raises RuntimeError): the
    dry run then goes on in fp32, and says so; on a GPU both must work."""
    try:
        with torch.autocast(a.device, dtype=dtype):
            pass
        return lambda: torch.autocast(a.device, dtype=dtype), ""
    except RuntimeError as e:
        if a.device == "cuda":
            raise
        print(f"# no {dtype} autocast on the CPU in torch {torch.__version__} ({e}): fp32", file=sys.stderr)
        return lambda: torch.autocast(a.device, enabled=False), ", fp32"


def run_torch(a, precision, attn):
    import torch
    torch.manual_seed(1)
    model, got = make_model(a, attn)
    model = model.to(a.device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    autocast, note = autocast_for(a, torch, dtype)
    scaler = grad_scaler(a, torch, precision == "fp16")
    ids, labels = batch(a, torch)
    ids, labels = ids.to(a.device), labels.to(a.device)
    mask = torch.ones_like(ids)

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        norm.item()  # the norm on the host, as bert-train logs it (and ours reads it)
        scaler.step(opt)
        scaler.update()
        return loss

    for _ in range(a.warmup):
        step()
    sync(a)
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    sync(a)
    dt = (time.perf_counter() - t0) / a.steps
    if not math.isfinite(loss.item()):
        raise RuntimeError(f"loss {loss.item()} after {a.warmup + a.steps} steps")
    return {"impl": f"torch eager ({got} attention{note})", "step_ms": dt * 1e3, "samples_per_s": a.batch / dt}


def training_arguments(a, precision, out_dir):
    """TrainingArguments for the run, keeping only the fields this
    transformers has (4.40 and 5.x both have all of these; use_cpu came in
    4.34, no_cuda before it and was removed in 5.0). report_to='none': 4.x
    defaults to 'all', which would start tensorboard where installed."""
    from transformers import TrainingArguments
    have = {f.name for f in dataclasses.fields(TrainingArguments)}
    kw = dict(output_dir=out_dir, per_device_train_batch_size=a.batch, max_steps=a.steps + a.warmup,
              learning_rate=1e-5, weight_decay=0.01, max_grad_norm=1.0, bf16=precision == "bf16",
              fp16=precision == "fp16", report_to="none", save_strategy="no", logging_steps=10 ** 9,
              dataloader_num_workers=0, optim="adamw_torch", disable_tqdm=True)
    if a.device == "cpu":
        kw["use_cpu" if "use_cpu" in have else "no_cuda"] = True
    for k in sorted(set(kw) - have):
        print(f"# HF Trainer: TrainingArguments has no {k} here: left out", file=sys.stderr)
        del kw[k]
    return TrainingArguments(**kw)


def run_trainer(a, precision):
    import torch
    from transformers import Trainer, TrainerCallback
    torch.manual_seed(1)
    model, got = make_model(a, None)
    ids, labels = batch(a, torch)
    n = a.batch * (a.steps + a.warmup)

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return {"input_ids": ids[i % a.batch], "attention_mask": torch.ones(a.seq, dtype=torch.long),
                    "labels": labels[i % a.batch]}

    class Clock(TrainerCallback):
        """Times the steps after the warm-up, as run_torch does; the
        Trainer's own train_samples_per_second counts the warm-up too."""
        t0 = t1 = None

        def on_train_begin(self, args, state, control, **kwargs):
            if a.warmup == 0:
                sync(a)
                self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == a.warmup:
                sync(a)
                self.t0 = time.perf_counter()
            elif state.global_step == a.warmup + a.steps:
                sync(a)
                self.t1 = time.perf_counter()

    clock = Clock()
    with tempfile.TemporaryDirectory() as d:
        trainer = Trainer(model=model, args=training_arguments(a, precision, d), train_dataset=Data(),
                          callbacks=[clock])
        with contextlib.redirect_stdout(sys.stderr):  # its log lines; stdout keeps the table
            out = trainer.train()
        del trainer
    del model
    if clock.t0 is not None and clock.t1 is not None:
        dt = (clock.t1 - clock.t0) / a.steps
        return {"impl": f"HF Trainer ({got} attention)", "step_ms": dt * 1e3, "samples_per_s": a.batch / dt}
    sps = (getattr(out, "metrics", None) or {}).get("train_samples_per_second")
    if not sps:
        raise RuntimeError(f"no step times from the callback and no train_samples_per_second in {out!r}")
    return {"impl": f"HF Trainer ({got}, whole run)", "step_ms": a.batch / sps * 1e3, "samples_per_s": sps}


def attempt(a, what, fn, *args):
    """fn(*args), or a row saying why not: one API break or OOM must not
    lose the rest of a GPU run."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 -- any failure of one measurement
        msg = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}"
        print(f"# {what}: skipped: {msg}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return {"impl": what, "error": msg}
    finally:
        free_memory(a)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("driver", nargs="?", help="bert_gpu_bench (bench/bert_gpu.c); not needed with --dry-run")
    for k in SIZES:
        p.add_argument("--" + k, type=int, default=None, help=f"default {GPU_SIZES[k]} ({TINY_SIZES[k]} with --dry-run)")
    p.add_argument("--precisions", default="bf16,fp16")
    p.add_argument("--no-trainer", action="store_true")
    p.add_argument("--device", choices=["cuda", "cpu"], default=None, help="default cuda (cpu with --dry-run)")
    p.add_argument("--dry-run", action="store_true", help="tiny model on the CPU, ours left out: checks the Python side")
    a = p.parse_args(argv)
    defaults = TINY_SIZES if a.dry_run else GPU_SIZES
    for k in SIZES:
        if getattr(a, k) is None:
            setattr(a, k, defaults[k])
        if getattr(a, k) < (0 if k == "warmup" else 1):
            p.error(f"--{k} {getattr(a, k)}: out of range")
    a.device = a.device or ("cpu" if a.dry_run else "cuda")
    a.precisions = [x for x in a.precisions.split(",") if x]
    for x in a.precisions:
        if x not in ("bf16", "fp16"):
            p.error(f"--precisions: '{x}' is not bf16 or fp16")
    if a.device == "cuda" and not a.driver:
        p.error("DRIVER (bert_gpu_bench) is needed on the GPU; --dry-run runs the PyTorch side alone on the CPU")
    return a


def fmt_row(precision, r, ours, fl, peak):
    if "error" in r:
        return f"# {precision:7} {r['impl']:{W}} skipped: {r['error']}"
    mfu = fl / (r["step_ms"] * 1e-3) / 1e12 / peak if peak else float("nan")
    ratio = f"{ours['samples_per_s'] / r['samples_per_s']:8.2f}x" if "error" not in ours else f"{'-':>9}"
    return f"{precision:9} {r['impl']:{W}} {r['samples_per_s']:10.1f} {r['step_ms']:9.2f} {mfu * 100:5.1f}% {ratio}"


def main(argv=None):
    a = parse_args(argv)
    import torch
    import transformers
    if a.device == "cuda" and not torch.cuda.is_available():
        print(f"bert_gpu.py: torch {torch.__version__} sees no CUDA GPU (--dry-run runs on the CPU)", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name(0) if a.device == "cuda" else "CPU"
    print(f"# {name}; torch {torch.__version__}, transformers {transformers.__version__}; "
          f"BERT L={a.layers} H={a.hidden} heads={a.heads} I={a.intermediate}; batch {a.batch} x seq {a.seq}; "
          f"{a.warmup} warm-up + {a.steps} timed steps" + ("; dry run" if a.dry_run else ""), flush=True)
    fl = flops_per_step(a)
    lines, failed = [], False
    for precision in a.precisions:
        peak = peak_for(name, precision)
        if a.device == "cuda":
            ours = attempt(a, "ours", run_ours, a, precision, peak)
            failed |= "error" in ours
        else:
            ours = {"impl": "ours", "error": "the driver needs a GPU"}
        theirs = [attempt(a, f"torch eager ({attn} attention)", run_torch, a, precision, attn)
                  for attn in ("eager", "sdpa")]
        failed |= all("error" in r for r in theirs)
        if not a.no_trainer:
            theirs.append(attempt(a, "HF Trainer", run_trainer, a, precision))
        lines += [fmt_row(precision, r, ours, fl, peak) for r in [ours] + theirs]
        if "error" not in ours:
            print(json.dumps(ours), file=sys.stderr)
    print(f"{'precision':9} {'implementation':{W}} {'samples/s':>10} {'ms/step':>9} {'MFU':>6} {'ours/this':>9}")
    for line in lines:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
