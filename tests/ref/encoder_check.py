#!/usr/bin/env python3
"""Checks that our C programs handle a pretrained encoder directory (an HF
BERT model: config.json, vocab.txt, model.safetensors or pytorch_model.bin)
as the reference tools do, on real tweets. For a new encoder before a study.

  encoder_check.py tokens --bin BIN MODEL_DIR CSV
      (python3 with HF tokenizers) the first --n texts of CSV (column
      --column) through BIN/wptok -m MODEL_DIR --max-len L and through HF
      tokenizers: Tokenizer.from_file(MODEL_DIR/tokenizer.json) with padding
      off and truncation at L, and BertWordPieceTokenizer(vocab.txt) with the
      lowercasing of tokenizer_config.json; ids, type ids and masks must be
      equal record for record. When tokenizer.json pads to a fixed length,
      also that padding as shipped against wptok --padding max_length.
      Writes the wptok records to --tokens-out for `forward`.
  encoder_check.py forward --bin BIN MODEL_DIR TOKENS
      (/usr/bin/python3 with torch + transformers) a fresh 3-label
      classification head on the encoder (torch seed --seed, weights drawn
      with std --head-std), saved by transformers with save_pretrained; then
      BIN/predict on the first --n records of TOKENS against transformers'
      forward pass on the same records, one at a time (no padding). predict
      prints its probabilities with 17 digits, so log(probs) gives its
      logits less their logsumexp: the check is the max |difference| of
      those centred logits, and of the probabilities (tolerance --tol).
  encoder_check.py all --bin BIN MODEL_DIR CSV
      both, tokens with this python3 and forward with /usr/bin/python3.

Exit status 0 when every check passes, 1 otherwise. Example (the tweets):
  python3 tests/ref/encoder_check.py all --bin build/release/bin \\
      "$(scripts/fetch_model.sh)" ../shared/datasets/tweet_sentiment_extraction/train.csv
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

TORCH_PY = os.environ.get('BERT_PY', '/usr/bin/python3')


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        sys.exit('encoder_check: %s failed (%d): %s' % (' '.join(cmd), r.returncode, r.stderr.decode()[-2000:]))
    return r


def read_texts(path, column, n):
    with open(path, encoding='utf-8', newline='') as f:
        rows = list(csv.DictReader(f))[:n]
    if rows and column not in rows[0]:
        sys.exit('encoder_check: %s has no column %s' % (path, column))
    return [r[column] for r in rows]


def wptok(bin_dir, model, texts, extra):
    inp = ''.join(json.dumps({'id': str(i), 'text': t}, ensure_ascii=False) + '\n' for i, t in enumerate(texts))
    out = run([os.path.join(bin_dir, 'wptok'), '-q', '-m', model] + extra, input=inp.encode()).stdout
    return [json.loads(line) for line in out.decode().splitlines()]


def compare(name, ours, encs):
    bad = [i for i, (r, e) in enumerate(zip(ours, encs))
           if (r['input_ids'], r['token_type_ids'], r['attention_mask']) != (e.ids, e.type_ids, e.attention_mask)]
    if len(ours) != len(encs):
        bad.append(-1)
    print('tokens: %-58s %d records, %d tokens, %d differ%s'
          % (name, len(encs), sum(len(e.ids) for e in encs), len(bad),
             '' if not bad else ' (first: record %d)' % bad[0]))
    return not bad


def tokens(a):
    import tokenizers
    from tokenizers import BertWordPieceTokenizer, Tokenizer
    texts = read_texts(a.csv, a.column, a.n)
    ours = wptok(a.bin, a.model, texts, ['--max-len', str(a.max_len)])
    print('tokens: HF tokenizers %s, wptok -m %s --max-len %d, first %d texts of %s'
          % (tokenizers.__version__, a.model, a.max_len, len(texts), a.csv))
    ok = True
    cfg_path = os.path.join(a.model, 'tokenizer_config.json')
    cfg = json.load(open(cfg_path)) if os.path.exists(cfg_path) else {}
    lower = cfg.get('do_lower_case', True)
    wp = BertWordPieceTokenizer(os.path.join(a.model, 'vocab.txt'), lowercase=lower,
                                strip_accents=cfg.get('strip_accents'))
    wp.enable_truncation(a.max_len)
    ok &= compare('BertWordPieceTokenizer(vocab.txt, lowercase=%s)' % lower, ours, wp.encode_batch(texts))
    tj = os.path.join(a.model, 'tokenizer.json')
    if os.path.exists(tj):
        shipped = Tokenizer.from_file(tj)
        t = Tokenizer.from_file(tj)
        t.no_padding()
        t.enable_truncation(a.max_len)
        ok &= compare('tokenizer.json, padding off, truncation %d' % a.max_len, ours, t.encode_batch(texts))
        pad = shipped.padding
        if pad and isinstance(pad.get('length'), int):
            n = pad['length']
            if shipped.truncation is None:
                shipped.enable_truncation(n)
            padded = wptok(a.bin, a.model, texts, ['--max-len', str(n), '--padding', 'max_length'])
            ok &= compare('tokenizer.json as shipped (pads to %d)' % n, padded, shipped.encode_batch(texts))
    if a.tokens_out:
        with open(a.tokens_out, 'w', encoding='utf-8') as f:
            for r in ours:
                f.write(json.dumps(r, ensure_ascii=False) + '\n')
    return ok


def forward(a):
    import numpy as np
    import torch
    from transformers import BertForSequenceClassification
    labels = ['negative', 'neutral', 'positive']
    recs = [json.loads(line) for line in open(a.tokens, encoding='utf-8') if line.strip()][:a.n]
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(a.seed)
        model = BertForSequenceClassification.from_pretrained(
            a.model, num_labels=3, id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
            initializer_range=a.head_std)
        model.eval()
        d = os.path.join(tmp, 'model')
        model.save_pretrained(d, safe_serialization=True)
        for f in ('vocab.txt', 'tokenizer_config.json'):
            if os.path.exists(os.path.join(a.model, f)):
                with open(os.path.join(a.model, f), 'rb') as src, open(os.path.join(d, f), 'wb') as dst:
                    dst.write(src.read())
        inp = os.path.join(tmp, 'in.jsonl')
        with open(inp, 'w', encoding='utf-8') as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + '\n')
        cmd = [os.path.join(a.bin, 'predict'), '-q', '-m', d, '--device', a.device, '--batch-size', '32']
        if a.precision:
            cmd += ['--precision', a.precision]
        out = run(cmd + [inp]).stdout.decode().splitlines()
    ours = np.array([[json.loads(line)['probs'][l] for l in labels] for line in out], dtype=np.float64)
    ref = []
    with torch.no_grad():
        for r in recs:
            logits = model(input_ids=torch.tensor([r['input_ids']]),
                           token_type_ids=torch.tensor([r['token_type_ids']]),
                           attention_mask=torch.tensor([r['attention_mask']])).logits
            ref.append(torch.log_softmax(logits.double(), dim=1)[0].numpy())
    ref = np.array(ref)
    ours_log = np.log(ours)
    dlog = float(np.abs(ours_log - ref).max())
    dprob = float(np.abs(ours - np.exp(ref)).max())
    agree = int((ours.argmax(1) == ref.argmax(1)).sum())
    spread = float(np.abs(ref - ref.mean(1, keepdims=True)).max())
    ok = len(ours) == len(recs) and dlog <= a.tol and dprob <= a.tol
    print('forward: predict --device %s%s vs transformers %s (torch %s), head seed %d std %g, %d records: '
          'max |centred logit diff| %.3g (logits up to %.3g), max |prob diff| %.3g, argmax agrees on %d: %s'
          % (a.device, ' --precision ' + a.precision if a.precision else '', __import__('transformers').__version__,
             torch.__version__, a.seed, a.head_std, len(recs), dlog, spread, dprob, agree, 'PASS' if ok else 'FAIL'))
    return ok


def everything(a):
    with tempfile.TemporaryDirectory() as tmp:
        a.tokens_out = os.path.join(tmp, 'tokens.jsonl')
        ok = tokens(a)
        cmd = [TORCH_PY, os.path.abspath(__file__), 'forward', '--bin', a.bin, '--n', str(a.forward_n),
               '--seed', str(a.seed), '--head-std', str(a.head_std), '--tol', str(a.tol), '--device', a.device]
        if a.precision:
            cmd += ['--precision', a.precision]
        r = subprocess.run(cmd + [a.model, a.tokens_out])
        return ok and r.returncode == 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)

    def common(s):
        s.add_argument('--bin', required=True, help='the folder of wptok and predict')
        s.add_argument('model', help='the encoder: an HF BERT directory')
    for name in ('tokens', 'all'):
        s = sub.add_parser(name)
        common(s)
        s.add_argument('csv')
        s.add_argument('--column', default='text')
        s.add_argument('--n', type=int, default=2000, help='texts to tokenize (default 2000)')
        s.add_argument('--max-len', type=int, default=128)
        s.add_argument('--tokens-out', help='write the wptok records here')
    for name in ('forward', 'all'):
        s = sub.choices[name] if name in sub.choices else sub.add_parser(name)
        if name == 'forward':
            common(s)
            s.add_argument('tokens', help='token records as wptok writes them')
            s.add_argument('--n', type=int, default=256, help='records to run (default 256)')
        else:
            s.add_argument('--forward-n', type=int, default=256, help='records for the forward check')
        s.add_argument('--seed', type=int, default=1)
        s.add_argument('--head-std', type=float, default=0.02,
                       help="the head's initializer_range (transformers' default 0.02)")
        s.add_argument('--tol', type=float, default=1e-4)
        s.add_argument('--device', default='cpu', help="predict's --device")
        s.add_argument('--precision', help="predict's --precision (on the GPU)")
    a = p.parse_args()
    ok = {'tokens': tokens, 'forward': forward, 'all': everything}[a.cmd](a)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
