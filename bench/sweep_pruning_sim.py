#!/usr/bin/env python3
"""Successive halving replayed on a full search (issue 18).

A full search (make sweep PRUNE=0) evaluates every trial at the same shares
of its schedule as the rungs of a pruned search (--eval-every 1/ETA^(RUNGS-1)),
and a trial that pruning keeps trains byte-identically to its full-search
twin (test pipeline/sweep_slice). So what pruning would have picked from any
set of those trials can be replayed from the full search's logs alone, with
no training: at rung k the scores at share ETA^(k-1)/ETA^(RUNGS-1) go
through `trials rung` (the product's own cut, validation loss as the
tiebreak, as make sweep does), the survivors of the last cut finish, and
the pick is the best final score among them (ties: the first, as
best.json). One search of many trials thus measures pruning on many small
spaces: how often it finds the best trial of the space, and the regret
(best final score minus the pick's) when it does not.

  bench/sweep_pruning_sim.py FULL_SW [--subset N] [--draws D] [--seed S]
      [--eta 3] [--rungs 3] [--metric macro_f1] [--bin build/release/bin]
      [--check PRUNED_SW]

FULL_SW is a full search's folder (trials.jsonl and each trial's
train_log.jsonl). --subset N draws D sets of N of its trials (seeded; in
plan order); without it, one set: every trial. --check PRUNED_SW replays
every trial of FULL_SW and requires the cuts (cutK.jsonl: which trials
each promoted) and the pick (best.json) of the real pruned search PRUNED_SW
of the same plan: the replay's proof.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys


def load(sw, metric):
    trials = []
    with open(os.path.join(sw, "trials.jsonl")) as f:
        for line in f:
            t = json.loads(line)
            if t["status"] != "done":
                sys.exit("%s: trial %s is %s: replay needs a full search (PRUNE=0)" % (sw, t["trial"], t["status"]))
            losses = {}
            with open(os.path.join(sw, t["trial"], "train_log.jsonl")) as g:
                for rec in map(json.loads, g):
                    if rec.get("val_" + metric) is not None:
                        losses[rec["step"]] = rec["val_loss"]
            t["loss_at"] = losses
            trials.append(t)
    return trials


def at_share(t, share):
    for e in t["evals"]:
        if abs(e["share"] - share) < 1e-9:
            return e
    sys.exit("trial %s has no evaluation at share %g of its schedule: not a search with these rungs" % (t["trial"], share))


def cut(trials_bin, eta, records):
    """trials rung on records [{trial, score, tiebreak}]: the promoted ids, and its output"""
    text = "".join(json.dumps(r) + "\n" for r in records)
    out = subprocess.run([trials_bin, "rung", "--eta", str(eta)], input=text, capture_output=True, text=True,
                         check=True).stdout
    return [r["trial"] for r in map(json.loads, out.splitlines()) if r["promoted"]], out


def replay(trials, eta, rungs, trials_bin):
    """{pick, best, steps, full_steps, cuts}"""
    alive = list(trials)
    steps = 0
    cuts = []
    for k in range(1, rungs):
        share = eta ** (k - 1) / eta ** (rungs - 1)
        recs = []
        for t in alive:
            e = at_share(t, share)
            recs.append({"trial": t["trial"], "score": e["score"], "tiebreak": t["loss_at"][e["step"]]})
        promoted, out = cut(trials_bin, eta, recs)
        cuts.append(out)
        for t in alive:
            if t["trial"] not in promoted:
                steps += at_share(t, share)["step"]
        alive = [t for t in alive if t["trial"] in promoted]
    steps += sum(t["total_steps"] for t in alive)
    first_best = lambda ts: sorted(ts, key=lambda t: -t["final_score"])[0]  # stable: ties to the first
    return {"pick": first_best(alive), "best": first_best(trials), "steps": steps,
            "full_steps": sum(t["total_steps"] for t in trials), "cuts": cuts}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("full_sw")
    ap.add_argument("--subset", type=int, default=0)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--rungs", type=int, default=3)
    ap.add_argument("--metric", default="macro_f1")
    ap.add_argument("--bin", default="build/release/bin")
    ap.add_argument("--check", metavar="PRUNED_SW")
    a = ap.parse_args()
    trials_bin = os.path.join(a.bin, "trials")
    trials = load(a.full_sw, a.metric)

    if a.check:
        r = replay(trials, a.eta, a.rungs, trials_bin)
        ok = True
        for k, out in enumerate(r["cuts"], 1):
            with open(os.path.join(a.check, "cut%d.jsonl" % k)) as f:
                real = f.read()
            ranked = lambda text: [(r["trial"], r["promoted"]) for r in map(json.loads, text.splitlines())]
            same = ranked(out) == ranked(real)
            ok &= same
            print("cut %d: replay %s the pruned search's" % (k, "equals" if same else "DIFFERS FROM"))
        with open(os.path.join(a.check, "best.json")) as f:
            real_pick = json.load(f)["trial"]
        same = r["pick"]["trial"] == real_pick
        ok &= same
        print("pick: replay %s, pruned search %s" % (r["pick"]["trial"], real_pick))
        sys.exit(0 if ok else 1)

    if a.subset:
        if a.subset > len(trials):
            sys.exit("--subset %d: the search has %d trials" % (a.subset, len(trials)))
        rng = random.Random(a.seed)
        sets = [sorted(rng.sample(range(len(trials)), a.subset)) for _ in range(a.draws)]
        sets = [[trials[i] for i in s] for s in sets]
    else:
        sets = [trials]
    found, regrets, ranks, saved = 0, [], [], []
    for s in sets:
        r = replay(s, a.eta, a.rungs, trials_bin)
        ranking = sorted(s, key=lambda t: -t["final_score"])
        rank = 1 + ranking.index(r["pick"])
        regret = r["best"]["final_score"] - r["pick"]["final_score"]
        found += r["pick"] is r["best"] or regret == 0
        regrets.append(regret)
        ranks.append(rank)
        saved.append(1 - r["steps"] / r["full_steps"])
        if len(sets) == 1:
            print("trials: %s" % " ".join(t["trial"] for t in s))
            print("best: %s %.4f; pruning's pick: %s %.4f (rank %d); steps %d of %d (%.0f%% saved)"
                  % (r["best"]["trial"], r["best"]["final_score"], r["pick"]["trial"], r["pick"]["final_score"],
                     rank, r["steps"], r["full_steps"], 100 * saved[-1]))
    n = len(sets)
    print("%s: %d set(s) of %d trials, eta %d, %d rungs, val %s" % (a.full_sw, n, len(sets[0]), a.eta, a.rungs, a.metric))
    print("  found the best trial (or one tied with it): %d of %d (%.0f%%)" % (found, n, 100 * found / n))
    print("  pick's rank: mean %.2f, worst %d; regret: mean %.4f, median %.4f, worst %.4f"
          % (statistics.mean(ranks), max(ranks), statistics.mean(regrets), statistics.median(regrets), max(regrets)))
    print("  training steps saved: mean %.0f%%" % (100 * statistics.mean(saved)))


if __name__ == "__main__":
    main()
