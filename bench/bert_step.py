#!/usr/bin/python3
"""BERT on the CPU: lib/bert (bench/bert_step.c) against PyTorch + transformers
on the same model, classifier head, batch and thread count, in the same run.

Usage: bert_step.py [options] BERT_STEP_BINARY MODEL_DIR
  --threads 1,2        thread counts to compare at (default 1,2)
  --steps N            timed steps per run, after 1 warm-up (default 5)
  --rounds R           runs of ours per figure (default 2; see below)
  --padding F          every other sequence's last F of T is padding (default
                       0.25; 0: none)
  --configs LIST       default train:8x128,train:32x32,infer:32x128,infer:32x32
  --base BERT_DIR      also (or, with MODEL_DIR "-", only) a bert-base-sized
                       model: BERT_DIR's config.json, random weights (seed 0)
(make bench-bert runs it on all-MiniLM-L6-v2 with the defaults.)

train:BxT is one training step: zero_grad + forward + cross-entropy + backward
+ AdamW (lr 5e-5, weight decay 0.01 except biases/LayerNorm), dropout as the
model's config (0.1) in train mode; a run's figure is its median step time.
infer:BxT is one forward pass in eval mode (torch.inference_mode), as
sequences per second at the median time. Every other sequence of a batch is
padded (to 3/4 of T by default), as batches of texts of several lengths are:
transformers computes the padding rows and masks them out of attention;
lib/bert skips them (the results are the same). ratio = PyTorch's time /
ours (above 1: ours is faster).

Threads: N cores for both sides. Ours: bert_step --threads N (what
bert-train's and predict's --threads do), OPENBLAS_NUM_THREADS=N. PyTorch:
fresh processes with OMP_NUM_THREADS = MKL_NUM_THREADS and
torch.set_num_threads for its own (intra-op) threads, and the thread count
of OpenBLAS, which Debian's torch calls for its matrix products
(libblas.so.3) and which does not follow torch.set_num_threads: left alone
it takes every core, whatever torch.get_num_threads() says. At N > 1 two
threads pools share N cores, so PyTorch runs in three setups: intra-op N +
BLAS N, the same with OMP_WAIT_POLICY=PASSIVE (OpenMP threads sleep instead
of spinning), intra-op 1 + BLAS N; at N = 1 in one setup, R times. Each
side's figure is its best run (ours: R runs); every run is listed, with the
thread counts the PyTorch process reports. "cpu" is CPU time over wall time
in the timed steps: about N when N threads really ran. The machine may be
shared: the 1-minute load average over the runs is printed with each figure.
Runs with /usr/bin/python3 (Debian's python3-torch 1.13, transformers 4.40.2).
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def make_batch(B, T, padding, seed=42):
    import numpy as np
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, 30000, size=(B, T)).astype(np.int32)
    ids[:, 0] = 101
    mask = np.ones((B, T), dtype=np.int32)
    keep = T - int(round(padding * T))
    for b in range(1, B, 2):  # every other sequence padded
        mask[b, keep:] = 0
        ids[b, keep:] = 0
    labels = rng.integers(0, 3, size=B).astype(np.int32)
    return ids, mask, labels


def write_batch(path, ids, mask, labels):
    import numpy as np
    B, T = ids.shape
    with open(path, "wb") as f:
        f.write(np.array([B, T], dtype="<i4").tobytes())
        f.write(ids.astype("<i4").tobytes() + mask.astype("<i4").tobytes() + labels.astype("<i4").tobytes())


def read_batch(path):
    import numpy as np
    raw = np.fromfile(path, dtype="<i4")
    B, T = int(raw[0]), int(raw[1])
    ids = raw[2:2 + B * T].reshape(B, T)
    mask = raw[2 + B * T:2 + 2 * B * T].reshape(B, T)
    labels = raw[2 + 2 * B * T:2 + 2 * B * T + B]
    return ids, mask, labels


def quiet_transformers():
    """No 'Some weights ... newly initialized' notes: the head is set on purpose."""
    import transformers
    transformers.logging.set_verbosity_error()


def torch_worker(model_dir, head, batch, mode, steps, threads, blas_threads):
    """Runs in its own process, started with the thread variables set."""
    import torch
    from safetensors.torch import load_file
    from transformers import BertForSequenceClassification
    quiet_transformers()
    torch.set_num_threads(threads)
    blas = ctypes.CDLL("libopenblas.so.0")  # the library libblas.so.3 forwards to
    blas.openblas_set_num_threads(blas_threads)
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(model_dir, num_labels=3)
    with torch.no_grad():
        for n, t in load_file(head).items():
            dict(model.named_parameters())[n].copy_(t)
    ids, mask, labels = (torch.tensor(a, dtype=torch.long) for a in read_batch(batch))
    times, loss0, logits = [], 0.0, None
    cpu = 0.0
    if mode == "train":
        params = list(model.named_parameters())
        opt = torch.optim.AdamW(
            [{"params": [p for n, p in params if not ("bias" in n or "LayerNorm" in n)], "weight_decay": 0.01},
             {"params": [p for n, p in params if "bias" in n or "LayerNorm" in n], "weight_decay": 0.0}],
            lr=5e-5)
        model.train()
        for s in range(steps + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(input_ids=ids, attention_mask=mask).logits, labels)
            loss.backward()
            opt.step()
            t1, c1 = time.perf_counter(), time.process_time()
            if s == 0:
                loss0 = loss.item()
            else:
                times.append((t1 - t0) * 1e3)
                cpu += (c1 - c0) * 1e3
    else:
        model.eval()
        with torch.inference_mode():
            for s in range(steps + 1):
                t0, c0 = time.perf_counter(), time.process_time()
                out = model(input_ids=ids, attention_mask=mask).logits
                t1, c1 = time.perf_counter(), time.process_time()
                if s > 0:
                    times.append((t1 - t0) * 1e3)
                    cpu += (c1 - c0) * 1e3
            logits = out.flatten().tolist()
    print(json.dumps({"step_ms": times, "cpu_ms": cpu, "loss0": loss0, "logits": logits,
                      "torch_threads": torch.get_num_threads(), "blas_threads": blas.openblas_get_num_threads(),
                      "version": torch.__version__}))


def torch_setups(n):
    """(label, intra-op threads, BLAS threads, extra environment) tried for PyTorch at n threads"""
    if n == 1:
        return [("1 thread", 1, 1, {})]
    return [("intra-op %d, BLAS %d" % (n, n), n, n, {}),
            ("intra-op %d, BLAS %d, OMP_WAIT_POLICY=PASSIVE" % (n, n), n, n, {"OMP_WAIT_POLICY": "PASSIVE"}),
            ("intra-op 1, BLAS %d" % n, 1, n, {})]


def thread_env(intra, blas, extra=None):
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(intra), MKL_NUM_THREADS=str(intra), OPENBLAS_NUM_THREADS=str(blas))
    env.update(extra or {})
    return env


def summarize(run):
    run["median"] = statistics.median(run["step_ms"])
    run["cpu"] = run["cpu_ms"] / sum(run["step_ms"])
    return run


def measure(args, model_dir, head, batch, mode, threads):
    """Ours --rounds times and PyTorch in each setup (at 1 thread, --rounds
    times), interleaved; returns both sides' runs and the load range."""
    ours_cmd = [args.binary, "--threads", str(threads)] + (["--infer"] if mode == "infer" else [])
    ours_cmd += [model_dir, head, batch, str(args.steps)]
    setups = torch_setups(threads)
    setups = setups * args.rounds if len(setups) == 1 else setups
    ours, ref, loads = [], [], [load1()]
    for k in range(max(args.rounds, len(setups))):
        if k < args.rounds:
            out = subprocess.run(ours_cmd, check=True, capture_output=True, text=True, env=thread_env(threads, threads))
            ours.append(summarize(json.loads(out.stdout)))
            loads.append(load1())
        if k < len(setups):
            label, intra, blas, extra = setups[k]
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-worker", model_dir, head, batch,
                                  mode, str(args.steps), str(intra), str(blas)],
                                 check=True, capture_output=True, text=True, env=thread_env(intra, blas, extra))
            run = summarize(json.loads(out.stdout.strip().splitlines()[-1]))
            run["setup"] = label
            ref.append(run)
            loads.append(load1())
    return ours, ref, (min(loads), max(loads))


def describe_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    return "%d layers, hidden %d, %d heads, intermediate %d" % (
        c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"], c["intermediate_size"])


def run_model(args, name, model_dir, tmp):
    import torch
    from safetensors.torch import save_file
    from transformers import BertForSequenceClassification
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(model_dir, num_labels=3)
    head = os.path.join(tmp, "head.safetensors")
    save_file({n: p.detach().contiguous() for n, p in model.named_parameters() if n.startswith("classifier.")}, head)
    nparams = sum(p.numel() for p in model.parameters())
    del model
    print("%s (%s; %d parameters)" % (name, describe_model(model_dir), nparams))
    if args.padding > 0:
        print("every other sequence of a batch has its last %g%% padding: PyTorch computes those rows, lib/bert "
              "skips them" % (args.padding * 100))
    print("  %-13s %3s  %-27s %-27s %s" % ("config", "thr", "pipeclf lib/bert", "PyTorch (best setup)", "ratio"))
    version = None
    for spec in args.configs.split(","):
        mode, shape = spec.split(":")
        B, T = (int(v) for v in shape.split("x"))
        batch = os.path.join(tmp, "batch_%dx%d.bin" % (B, T))
        write_batch(batch, *make_batch(B, T, args.padding))
        for threads in args.threads:
            ours, ref, (l0, l1) = measure(args, model_dir, head, batch, mode, threads)
            best_ours = min(ours, key=lambda r: r["median"])
            best_ref = min(ref, key=lambda r: r["median"])
            version = best_ref["version"]
            if mode == "train":
                fig = lambda ms: "%7.1f ms/step" % ms
                check = "first loss %.4f / %.4f (dropout masks differ)" % (ours[0]["loss0"], ref[0]["loss0"])
            else:
                fig = lambda ms: "%7.1f seq/s  " % (B * 1e3 / ms)
                diff = max(abs(a - b) for r in ref for a, b in zip(ours[0]["logits"], r["logits"]))
                check = "logits differ by <= %.1e" % diff
            print("  %-13s %3d  %s cpu %.2f   %s cpu %.2f   %.2fx"
                  % (spec, threads, fig(best_ours["median"]), best_ours["cpu"], fig(best_ref["median"]),
                     best_ref["cpu"], best_ref["median"] / best_ours["median"]))
            print("  %19s runs, median ms: ours %s; PyTorch %s" % (
                "", " / ".join("%.1f" % r["median"] for r in ours),
                " / ".join("%.1f [%s; reports torch %d, BLAS %d]"
                           % (r["median"], r["setup"], r["torch_threads"], r["blas_threads"]) for r in ref)))
            print("  %19s load %.2f-%.2f; %s" % ("", l0, l1, check))
            sys.stdout.flush()
    return version


def main(argv):
    if len(argv) > 1 and argv[1] == "--torch-worker":
        model_dir, head, batch, mode, steps, threads, blas_threads = argv[2:9]
        torch_worker(model_dir, head, batch, mode, int(steps), int(threads), int(blas_threads))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("model_dir")
    ap.add_argument("--threads", default="1,2", type=lambda s: [int(v) for v in s.split(",")])
    ap.add_argument("--steps", default=5, type=int)
    ap.add_argument("--rounds", default=2, type=int)
    ap.add_argument("--padding", default=0.25, type=float)
    ap.add_argument("--configs", default="train:8x128,train:32x32,infer:32x128,infer:32x32")
    ap.add_argument("--base", metavar="BERT_DIR")
    args = ap.parse_args(argv[1:])
    quiet_transformers()
    print("ratio = PyTorch time / pipeclf time (above 1: pipeclf is faster); %d CPUs; load %.2f at the start"
          % (os.cpu_count(), load1()))
    with tempfile.TemporaryDirectory() as tmp:
        version = None
        if args.model_dir != "-":
            version = run_model(args, os.path.basename(args.model_dir.rstrip("/")), args.model_dir, tmp)
        if args.base:
            import torch
            from transformers import BertConfig, BertForSequenceClassification
            cfg = BertConfig.from_pretrained(args.base, num_labels=3)
            torch.manual_seed(0)
            base_dir = os.path.join(tmp, "base")
            BertForSequenceClassification(cfg).save_pretrained(base_dir, safe_serialization=True)
            version = run_model(args, "random bert-base config of " + os.path.basename(args.base.rstrip("/")),
                                base_dir, tmp)
    print("PyTorch %s (Debian python3-torch), transformers; pipeclf OpenBLAS threads as --threads" % version)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
