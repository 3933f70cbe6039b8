#!/usr/bin/env python3
"""Runs every lib/text/textclean step (through tests/ref/textclean_steps.c) and the
matching step of bench/ref_clean.py on the same inputs and reports the
differences. Three input sets:

  tweets      every text of the Kaggle train.csv + test.csv; each step on the
              raw text, the token steps also on the normalised text
  fuzz        random strings built from the pieces that matter to the steps
              (references, tags, URLs, @, #, whitespace, repeats, non-ASCII)
  codepoints  every code point alone and in small contexts: shows where the C
              character classes (glibc) and Python's differ

tweets and fuzz must show no difference, apart from fuzz inputs holding a
character that codepoints found classed differently (counted apart); codepoints
lists those by Unicode category (see the docstring of bench/ref_clean.py).

usage: tests/ref/textclean_diff.py [SHARED_DIR] [--build build/release]
                                   [--only tweets,fuzz,codepoints] [--show N]
Exit status 1 if tweets or fuzz differ."""
import argparse
import collections
import csv
import html.entities
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(repo, 'bench'))
import ref_clean as ref  # noqa: E402

STOPWORDS = os.path.join(repo, 'data', 'stopwords', 'english.txt')
tokenize = ref.Tokenizer(ref.load_stopwords(STOPWORDS))

PY_STEPS = {
    'unescape': ref.html_unescape,
    'tags': ref.strip_tags,
    'urls': ref.remove_urls,
    'mentions': ref.remove_mentions,
    'hashtags': ref.hashtags,
    'controls': ref.controls,
    'squeeze': ref.squeeze,
    'repeats': ref.cap_repeats,
    'lower': ref.lower,
    'alpha': lambda s: ' '.join(ref.alpha_tokens(s)),
    'split': lambda s: ' '.join(s.split()),
    'normalize': ref.normalize,
    'tokens': tokenize,
}


def build_driver(build, tmp):
    lib = os.path.join(repo, build, 'lib', 'libpipeclf.a')
    if not os.path.exists(lib):
        sys.exit(f'textclean_diff: {lib} missing; run make first')
    exe = os.path.join(tmp, 'textclean_steps')
    subprocess.run(['cc', '-std=gnu11', '-O2', '-Wall', '-Wextra', '-I' + os.path.join(repo, 'lib'),
                    '-o', exe, os.path.join(repo, 'tests', 'ref', 'textclean_steps.c'), lib,
                    '-lstemmer', '-lpthread'], check=True)
    return exe


def run_c(exe, step, texts):
    data = bytearray()
    for t in texts:
        b = t.encode('utf-8')
        data += len(b).to_bytes(4, 'little') + b
    out = subprocess.run([exe, step, STOPWORDS], input=bytes(data), stdout=subprocess.PIPE,
                         check=True).stdout
    results, i = [], 0
    while i < len(out):
        n = int.from_bytes(out[i:i + 4], 'little')
        results.append(out[i + 4:i + 4 + n].decode('utf-8'))
        i += 4 + n
    assert len(results) == len(texts), (step, len(results), len(texts))
    return results


def compare(exe, step, texts, label, show, explained=frozenset()):
    """Counts the differences; those whose input holds a character of
    `explained` (where the C and Python classes are known to differ), as it
    is or once HTML-unescaped, are counted apart. Returns the others' count."""
    got = run_c(exe, step, texts)
    want = [PY_STEPS[step](t) for t in texts]
    bad, known = [], 0
    for t, g, w in zip(texts, got, want):
        if g != w:
            if explained and not explained.isdisjoint(t + ref.html_unescape(t)):
                known += 1
            else:
                bad.append((t, g, w))
    note = f'  ({known} more where classes differ)' if known else ''
    print(f'{label:11} {step:10} {len(texts):7} inputs  {len(bad):5} differ{note}')
    for t, g, w in bad[:show]:
        print(f'    input {t!r}\n    C     {g!r}\n    Py    {w!r}')
    return len(bad)


def tweet_texts(shared):
    texts = []
    for name in ('train.csv', 'test.csv'):
        path = os.path.join(shared, 'datasets', 'tweet_sentiment_extraction', name)
        with open(path, encoding='utf-8-sig', newline='') as f:
            texts += [row['text'] or '' for row in csv.DictReader(f)]
    return texts


def fuzz_texts(count=40000, seed=42):
    rng = random.Random(seed)
    names = list(html.entities.html5)
    pieces = ['&', '&', '#', '#x', '#X', ';', ';', 'x', '0', '1', '9', '12', '128', '0000039',
              '99999999999', 'a', 'F', 'D800', '110000', 'amp', 'ampx', 'not', 'noti', 'lt', 'gt',
              '<', '>', '/', '!', '<b>', '</a>', '<3', '<!-- c -->', ' ', ' ', '  ', '\t', '\n', '\r',
              '\f', '\v', '\x1c', '\x85', '\xa0', '\u2003', '\u3000', '\u200b', '\x00', '\x01', '\x7f',
              '\x9f', 'http://', 'https://', 'HTTP://', 'hTtPs://', 'www.', 'WWW.', 'wwww.', 'http:/',
              'ftp://', '@', '@', '_', 'user', 'é', 'É', 'ß', 'ø', 'ñ', 'Ñ', '½', '²', '¼', 'ª', 'µ',
              'İ', 'Σ', 'ς', 'Ω', 'ж', 'Ж', 'ä', 'ooo', 'OOO', 'ééé', '!!!', '___', '😀', '😀😀😀',
              'ſ', 'K', 'ﬁ', '\u0301', 'running', 'The', 'generously', "don't", '中文', 'ｗｗｗ']
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.15:
                name = rng.choice(names)
                parts.append('&' + (name[:rng.randint(1, len(name))] if rng.random() < 0.3 else name))
            else:
                parts.append(rng.choice(pieces))
        texts.append(''.join(parts))
    return texts


def codepoint_report(exe, quiet=False):
    """Where a C character class differs from Python's, by category; returns
    the set of those characters."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    probes = {  # what the probe shows: step, the input made from one character
        'word (mentions)': ('mentions', lambda ch: '@' + ch),
        'letter (alpha)': ('alpha', lambda ch: ch),
        'space (squeeze)': ('squeeze', lambda ch: 'a' + ch + 'b'),
        'lower': ('lower', lambda ch: ch),
        'repeats': ('repeats', lambda ch: ch * 3),
        'control': ('controls', lambda ch: ch),
        'hashtag': ('hashtags', lambda ch: '#' + ch),
    }
    differ = set()
    for what, (step, make) in probes.items():
        texts = [make(ch) for ch in chars]
        got = run_c(exe, step, texts)
        by_cat = collections.defaultdict(list)
        for ch, t, g in zip(chars, texts, got):
            if g != PY_STEPS[step](t):
                by_cat[unicodedata.category(ch)].append(ord(ch))
                differ.add(ch)
        total = sum(len(v) for v in by_cat.values())
        if not quiet:
            print(f'codepoints  {what:16} {total:5} differ' + ''.join(
                f'\n    {cat}: {len(v):4}  e.g. ' + ' '.join(f'U+{c:04X}' for c in v[:6])
                for cat, v in sorted(by_cat.items())))
    return frozenset(differ)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('shared', nargs='?', default=os.path.join(repo, '..', 'shared'))
    ap.add_argument('--build', default='build/release')
    ap.add_argument('--only', default='tweets,fuzz,codepoints')
    ap.add_argument('--show', type=int, default=3)
    args = ap.parse_args()
    only = args.only.split(',')
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_driver(args.build, tmp)
        steps = [s for s in PY_STEPS if s != 'tokens']
        if 'tweets' in only:
            texts = tweet_texts(args.shared)
            for step in steps + ['tokens']:
                bad += compare(exe, step, texts, 'tweets', args.show)
            normalized = [ref.normalize(t) for t in texts]
            bad += compare(exe, 'tokens', normalized, 'tweets/norm', args.show)
        class_diffs = frozenset()
        if 'codepoints' in only or 'fuzz' in only:
            class_diffs = codepoint_report(exe, quiet='codepoints' not in only)
        if 'fuzz' in only:
            texts = fuzz_texts()
            for step in steps + ['tokens']:
                bad += compare(exe, step, texts, 'fuzz', args.show, class_diffs)
    print('no differences' if bad == 0 else f'{bad} differences')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
