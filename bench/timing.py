"""Timing shared by the bench scripts."""
import time


def best_of(fn, reps):
    """the best wall time of reps calls of fn, and the last call's result"""
    best, out = None, None
    for _ in range(reps):
        start = time.perf_counter()
        out = fn()
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    return best, out
