#!/usr/bin/env python3
"""Benchmark: wptok against HuggingFace tokenizers on the same corpus, in the
same run. Corpora: the Kaggle tweets (train + test, 31,015 texts) repeated
--repeat times, and the ACL 2025 papers as (title, abstract) pairs; both as
csvclean writes them (no cleaning step), vocabulary bert-base-uncased.

  wptok: the whole program, NDJSON file in -> NDJSON out (to a file): JSON
         parsing and writing included; --threads 1, then --threads N.
  HF:    BertWordPieceTokenizer.encode_batch on the texts already in memory
         (file reading not counted), RAYON_NUM_THREADS=1, then N; each in its
         own process, since the thread pool is fixed at import.

Prints the best of --reps wall times, tokens/s, the ratio, and whether the
ids are identical. usage: bench/wptok.py BIN_DIR SHARED_DIR [--reps N]
[--repeat N] [--threads N]"""
import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time


def hf_worker(args):
    """Runs in a child process: times encode_batch, prints JSON."""
    from tokenizers import BertWordPieceTokenizer, __version__
    items = []
    with open(args.hf_worker, encoding='utf-8') as f:
        for line in f:
            r = json.loads(line)
            items.append((r['text'], r['text_b']) if 'text_b' in r else r['text'])
    tok = BertWordPieceTokenizer(os.path.join(args.shared, 'models', 'bert-base-uncased', 'vocab.txt'),
                                 lowercase=True)
    best, encs = None, None
    for _ in range(args.reps):
        start = time.perf_counter()
        encs = tok.encode_batch(items)
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    h = hashlib.sha256()
    for e in encs:
        h.update((','.join(map(str, e.ids)) + '\n').encode())
    print(json.dumps({'seconds': best, 'tokens': sum(len(e.ids) for e in encs), 'sha256': h.hexdigest(),
                      'version': __version__}))


def run_hf(args, path, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM='true')
    out = subprocess.run([sys.executable, os.path.abspath(__file__), args.bin, args.shared, '--reps',
                          str(args.reps), '--hf-worker', path], env=env, capture_output=True, check=True)
    return json.loads(out.stdout)


def run_wptok(args, path, threads, tmp):
    out_path = os.path.join(tmp, 'out.jsonl')
    cmd = [os.path.join(args.bin, 'wptok'), '-q', '-m', os.path.join(args.shared, 'models', 'bert-base-uncased'),
           '--threads', str(threads), '-o', out_path, path]
    best = None
    for _ in range(args.reps):
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    h, tokens = hashlib.sha256(), 0
    with open(out_path, encoding='utf-8') as f:
        for line in f:
            ids = json.loads(line)['input_ids']
            tokens += len(ids)
            h.update((','.join(map(str, ids)) + '\n').encode())
    return {'seconds': best, 'tokens': tokens, 'sha256': h.hexdigest()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('bin')
    ap.add_argument('shared')
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--repeat', type=int, default=4, help='copies of the tweets (default 4)')
    ap.add_argument('--threads', type=int, default=os.cpu_count() or 2)
    ap.add_argument('--hf-worker', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hf_worker:
        return hf_worker(args)

    d = os.path.join(args.shared, 'datasets')
    csvclean = os.path.join(args.bin, 'csvclean')
    with tempfile.TemporaryDirectory() as tmp:
        tweets = subprocess.run([csvclean, '-q', '--id', 'textID', '--label', 'sentiment',
                                 os.path.join(d, 'tweet_sentiment_extraction', 'train.csv'),
                                 os.path.join(d, 'tweet_sentiment_extraction', 'test.csv')],
                                capture_output=True, check=True).stdout
        acl = subprocess.run([csvclean, '-q', '--text', 'Title', '--text-b', 'Abstract', '--label', 'Track Theme',
                              os.path.join(d, 'acl2025_tracks', 'acl25_theme_data.csv')],
                             capture_output=True, check=True).stdout
        corpora = [('tweets x%d' % args.repeat, tweets * args.repeat), ('ACL (title, abstract) pairs', acl)]
        print('wptok vs HF tokenizers, bert-base-uncased, best of %d runs; %s, %d cores, Python %s'
              % (args.reps, platform.processor() or platform.machine(), os.cpu_count(), platform.python_version()))
        for name, data in corpora:
            path = os.path.join(tmp, 'in.jsonl')
            with open(path, 'wb') as f:
                f.write(data)
            records = data.count(b'\n')
            for threads in sorted({1, args.threads}):
                w = run_wptok(args, path, threads, tmp)
                hf = run_hf(args, path, threads)
                same = 'yes' if w['sha256'] == hf['sha256'] and w['tokens'] == hf['tokens'] else 'NO'
                print('  %s: %d records, %d tokens, %d thread%s' % (name, records, w['tokens'], threads,
                                                                    's' if threads > 1 else ''))
                print('    wptok (file in, file out)     %7.3f s  %10.0f tokens/s' % (w['seconds'],
                                                                                       w['tokens'] / w['seconds']))
                print('    HF tokenizers %-7s (batch) %7.3f s  %10.0f tokens/s' % (hf['version'], hf['seconds'],
                                                                                     hf['tokens'] / hf['seconds']))
                print('    wptok / HF: %.1fx faster; ids identical: %s' % (hf['seconds'] / w['seconds'], same))


if __name__ == '__main__':
    main()
