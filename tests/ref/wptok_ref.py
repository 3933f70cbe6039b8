#!/usr/bin/env python3
"""Writes the goldens of wptok (tests/golden/wptok/) with the real HuggingFace
`tokenizers` package (pinned in scripts/setup.sh; the version goes into every
file's header):

  <corpus>.fnv      every record of a corpus: FNV-1a 64 of its ids and type
                    ids (see ids_line), one hex line per record, plus the
                    sha256 of all those lines; read by
                    tests/unit/test_wordpiece_parity.c (per record) and by
                    tests/cases/wptok/parity_* (sha256 of the CLI's output).
                    bert-base-uncased runs through its own tokenizer.json
                    (checked equal to BertWordPieceTokenizer), SciBERT through
                    BertWordPieceTokenizer(vocab.txt): uncased, no truncation.
  samples.jsonl     full ids of some records of each corpus (the most
                    non-ASCII ones, the longest, random ones).
  edge.jsonl        random and hand-picked hostile strings (special tokens in
                    the text, combining marks, CJK, controls, long words, ...),
                    single and pair, lowercase on and off, both vocabularies:
                    ids, type ids and tokens.
  truncation_input.jsonl, truncation.txt
                    a sample of pairs and single texts encoded with
                    truncation longest_first / only_first / only_second at
                    several max lengths, padding none / max_length / longest
                    (batches of 7), or HF's error.
  unicode.txt       what HF's BertNormalizer steps and BertPreTokenizer do with
                    every code point, run-length coded, and the canonical
                    ordering of every mark with a non-zero combining class;
                    read by tests/unit/test_wordpiece_unicode.c.

The corpora are read with Python's csv module; with BIN_DIR, the texts are
first checked equal to what csvclean (no cleaning step) gives the tests.

Usage: tests/ref/wptok_ref.py [--bin BIN_DIR] SHARED_DIR [OUT_DIR]
"""
import argparse
import csv
import hashlib
import json
import os
import random
import subprocess
import sys
import unicodedata

import tokenizers
from tokenizers import BertWordPieceTokenizer, Tokenizer, normalizers, pre_tokenizers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name, model, csv files, csvclean arguments, (text column, text_b column), id column
CORPORA = [
    ('bert_tweets', 'bert-base-uncased',
     ['tweet_sentiment_extraction/train.csv', 'tweet_sentiment_extraction/test.csv'],
     ['--id', 'textID', '--label', 'sentiment'], ('text', None), 'textID'),
    ('bert_acl', 'bert-base-uncased', ['acl2025_tracks/acl25_theme_data.csv'],
     ['--text', 'Title', '--text-b', 'Abstract', '--label', 'Track Theme'], ('Title', 'Abstract'), None),
    ('bert_iclr', 'bert-base-uncased', ['iclr_openreview_2017_2018/iclr_2017_2018.csv'],
     ['--text', 'abstract', '--label', 'accepted'], ('abstract', None), 'id'),
    ('scibert_acl', 'scibert_scivocab_uncased', ['acl2025_tracks/acl25_theme_data.csv'],
     ['--text', 'Title', '--text-b', 'Abstract', '--label', 'Track Theme'], ('Title', 'Abstract'), None),
    ('scibert_iclr', 'scibert_scivocab_uncased', ['iclr_openreview_2017_2018/iclr_2017_2018.csv'],
     ['--text', 'abstract', '--label', 'accepted'], ('abstract', None), 'id'),
]

FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


def fnv1a64(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def ids_line(enc):
    """The ids and type ids as the tests write them: "101,7592,102;0,0,0"."""
    return ','.join(map(str, enc.ids)) + ';' + ','.join(map(str, enc.type_ids))


def header(f, what):
    f.write('# wptok golden, made by tests/ref/wptok_ref.py with HF tokenizers %s: %s\n'
            % (tokenizers.__version__, what))


def read_corpus(shared, files, cols, id_col):
    rows = []
    for path in files:
        with open(os.path.join(shared, 'datasets', path), encoding='utf-8', newline='') as f:
            rows.extend(csv.DictReader(f))
    items = [(r[cols[0]], r[cols[1]]) if cols[1] else r[cols[0]] for r in rows]
    ids = [r[id_col] if id_col else str(i + 1) for i, r in enumerate(rows)]
    return items, ids


def check_against_csvclean(bin_dir, shared, files, args, items):
    out = subprocess.run([os.path.join(bin_dir, 'csvclean'), '-q'] + args
                         + [os.path.join(shared, 'datasets', p) for p in files],
                         capture_output=True, check=True).stdout.decode('utf-8').splitlines()
    recs = [json.loads(line) for line in out]
    got = [(r['text'], r['text_b']) if 'text_b' in r else r['text'] for r in recs]
    if got != items:
        sys.exit('wptok_ref: csvclean does not give the texts Python csv reads (%s)' % files)


def hf_tokenizer(shared, model, lowercase=True):
    d = os.path.join(shared, 'models', model)
    return BertWordPieceTokenizer(os.path.join(d, 'vocab.txt'), lowercase=lowercase)


def write_corpora(a, out):
    samples = []
    rnd = random.Random(5)
    for name, model, files, args, cols, id_col in CORPORA:
        items, ids = read_corpus(a.shared, files, cols, id_col)
        if a.bin:
            check_against_csvclean(a.bin, a.shared, files, args, items)
        tok = hf_tokenizer(a.shared, model)
        encs = tok.encode_batch(items)
        official = os.path.join(a.shared, 'models', model, 'tokenizer.json')
        how = 'BertWordPieceTokenizer(%s/vocab.txt, lowercase=True)' % model
        if os.path.exists(official):
            encs_official = Tokenizer.from_file(official).encode_batch(items)
            if [ids_line(e) for e in encs_official] != [ids_line(e) for e in encs]:
                sys.exit('wptok_ref: %s: tokenizer.json and BertWordPieceTokenizer differ' % name)
            encs, how = encs_official, 'Tokenizer.from_file(%s/tokenizer.json)' % model
        lines = [ids_line(e) for e in encs]
        digest = hashlib.sha256(''.join(l + '\n' for l in lines).encode()).hexdigest()
        with open(os.path.join(out, name + '.fnv'), 'w') as f:
            header(f, '%s, encode_batch, no truncation, on %s read by csvclean -q %s'
                   % (how, ' '.join(files), ' '.join("'%s'" % x if ' ' in x else x for x in args)))
            f.write('# records %d, tokens %d; a line per record: FNV-1a 64 of "ids;type_ids"\n'
                    % (len(lines), sum(len(e.ids) for e in encs)))
            f.write('# sha256 %s\n' % digest)
            for l in lines:
                f.write('%016x\n' % fnv1a64(l.encode()))
        # samples: the most non-ASCII records, the longest, random ones
        def non_ascii(i):
            x = items[i] if isinstance(items[i], str) else items[i][0] + items[i][1]
            return sum(ord(ch) > 127 for ch in x)
        order = sorted(range(len(items)), key=lambda i: (-non_ascii(i), i))
        pick = [i for i in order[:6] if non_ascii(i) > 0]
        pick += sorted(range(len(items)), key=lambda i: (-len(encs[i].ids), i))[:1]
        pick += rnd.sample(range(len(items)), 3)
        for i in sorted(set(pick)):
            samples.append({'corpus': name, 'index': i, 'id': ids[i], 'input_ids': encs[i].ids,
                            'token_type_ids': encs[i].type_ids})
        print('wptok_ref: %s: %d records' % (name, len(lines)), file=sys.stderr)
    with open(os.path.join(out, 'samples.jsonl'), 'w') as f:
        for s in samples:
            f.write(json.dumps(s) + '\n')


# ---- edge cases ----

HAND_PICKED = [
    '', ' ', '   \t\n', 'Hello, World!', "don't stop-believing...", 'abc[SEP]def [CLS] x[MASK][PAD]y [UNK]',
    '[sep] [SEP [SEP]] [[CLS]]', '##ing ## #hash', 'İstanbul ǅ Ⅻ ﬁ ß ẞ', 'Ελληνικά ΣΑΣ σας', 'naïve café résumé',
    'Zürich Ångström Øresund', '中文字符测试', '日本語のテキスト', '한국어 텍스트', 'emoji 😀🥰👍🏽 ok',
    'zero\u200bwidth\u200djoiner\ufeffbom\u00adsoft', 'tab\tnew\nline\rcr\x0bvt\x0cff\x85nel',
    'ctrl\x01\x02\x7f\x9f', 'nul\x00inside', 'replace\ufffdchar', 'private\ue000use', 'a' * 99, 'b' * 100,
    'c' * 101, 'é' * 100, 'é' * 101, 'x' * 250 + ' short', 'unbelievably unaffable antidisestablishmentarianism',
    'e\u0301 e\u0327\u0301 e\u0301\u0327 a\u0316\u0301\u0300', '\U0001D165\U0001D16D \U0001D16D\U0001D165',
    'q\u0301\U0001D16D\u0316\U0001D165', '\u1fef\u037e\u0387 \u1fed\u1fee', '\uf900\uf901 \U0002F800',
    '\U0002B820\U0002B920 \U0002A700', 'ﬃ ﬄ Ǆ ǆ ǅ', '\u0958\u09cb\u0f73\u0f75\u0f81', '\u0344 \u0345 \u05b0\u0591',
    '3.14 1,000,000 $5 50% #1 @user http://x.y/z?q=1&r=2', '“quotes” ‘single’ «guillemets» — dash – en',
    '¿Qué? ¡Sí! 【括弧】 『引用』', '\u1734\u1885\u1886\ua9bd\U000111c9\u166d', '\u0890\u0891\u061d\u08ca',
    '\u0e01\u0e31\u0e49\u0e32', 'किताब हिन्दी', 'العربية مرحبا', 'עברית שלום',
    # long runs of marks (the canonical ordering of more than 32 at once)
    'q' + '\u0316\U0001D16D\u0301\U0001D165' * 20 + 'r', 'Z' + '\u0301\u0302\u0303\u0304\u0316\u0317' * 30,
]


def random_strings(rnd, n):
    pool = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ  \t\n\r.,!?'\"#-_[]()0123456789")
    pool += ['[CLS]', '[SEP]', '[UNK]', '[PAD]', '[MASK]', '[SEP', '[cls]', '##', 'ing', 'the', 'é', 'É',
             'ñ', 'ü', 'İ', 'ß', 'ǅ', 'Ⅻ', 'ﬁ', '中', '国', '日本', '한국어', '가', 'ア', '😀', '👍🏽', 'a' * 120]
    pool += [chr(c) for c in list(range(0x300, 0x370)) + list(range(0x1ab0, 0x1ac0))
             + list(range(0x1dc0, 0x1e00)) + list(range(0x20d0, 0x20f0))]
    pool += ['\x00', '\x7f', '\x85', '\xa0', '\u2003', '\u3000', '\ufffd', '\ue000', '\u200d', '\u1fef',
             '\U0001D165', '\U0001D16D', '\uf900', '\U0002B820', '\u0130', 'Σ']
    low = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                                     lowercase=True)
    while len(pool) < 600:
        c = rnd.randrange(0x80, 0x30000) if rnd.random() < 0.9 else rnd.randrange(0x30000, 0x110000)
        ch = chr(c)
        if 0xD800 <= c <= 0xDFFF:
            continue
        # code points unassigned in Unicode 15.0 that HF (Rust std, Unicode
        # 16+) lowercases: a known difference, kept out (see
        # tools/gen_unicode_tables.py)
        if unicodedata.category(ch) == 'Cn' and low.normalize_str(ch) != ch:
            continue
        pool.append(ch)
    return [''.join(rnd.choice(pool) for _ in range(rnd.randrange(0, 30))) for _ in range(n)]


def write_edge(a, out):
    rnd = random.Random(11)
    texts = HAND_PICKED + random_strings(rnd, 300)
    inputs = [(t, None) for t in texts]
    inputs += [(texts[rnd.randrange(len(texts))], texts[rnd.randrange(len(texts))]) for _ in range(120)]
    with open(os.path.join(out, 'edge.jsonl'), 'w') as f:
        for model, lower in (('bert-base-uncased', True), ('bert-base-uncased', False),
                             ('scibert_scivocab_uncased', True)):
            tok = hf_tokenizer(a.shared, model, lower)
            for text, text_b in inputs:
                e = tok.encode(text, text_b) if text_b is not None else tok.encode(text)
                rec = {'model': model, 'lower': lower, 'text': text}
                if text_b is not None:
                    rec['text_b'] = text_b
                rec.update({'input_ids': e.ids, 'token_type_ids': e.type_ids})
                if model == 'bert-base-uncased' and lower:
                    rec['tokens'] = e.tokens
                f.write(json.dumps(rec, ensure_ascii=False) + '\n')


# ---- truncation and padding ----

TRUNC_MAX_LENS = [3, 4, 5, 8, 16, 33, 64]
STRATEGIES = ['longest_first', 'only_first', 'only_second']


def write_truncation(a, out):
    rnd = random.Random(3)
    acl, _ = read_corpus(a.shared, CORPORA[1][2], CORPORA[1][4], None)
    tweets, _ = read_corpus(a.shared, CORPORA[0][2], CORPORA[0][4], None)
    with_abstract = [p for p in acl if p[1]]
    without = [p for p in acl if not p[1]]
    sample = rnd.sample(with_abstract, 12) + rnd.sample(without, 3)
    # short pairs, where both sides get cut at small lengths
    sample += [(t, u) for t, u in zip(rnd.sample(tweets, 8), rnd.sample(tweets, 8))]
    sample += [(t, None) for t in rnd.sample(tweets, 6)] + [(p[1], None) for p in rnd.sample(with_abstract, 3)]
    with open(os.path.join(out, 'truncation_input.jsonl'), 'w') as f:
        for i, (t, u) in enumerate(sample):
            rec = {'id': str(i), 'text': t}
            if u is not None:
                rec['text_b'] = u
            f.write(json.dumps(rec, ensure_ascii=False) + '\n')

    model = os.path.join(a.shared, 'models', 'bert-base-uncased', 'vocab.txt')

    def run(setting, tok, batch=None, special=True):
        lines = []
        groups = [list(range(len(sample)))] if batch is None else \
            [list(range(i, min(i + batch, len(sample)))) for i in range(0, len(sample), batch)]
        for g in groups:
            if batch is not None:
                # HF pads a batch to its longest member
                encs = tok.encode_batch([(sample[i][0], sample[i][1]) if sample[i][1] is not None
                                         else sample[i][0] for i in g])
            else:
                encs = []
                for i in g:
                    t, u = sample[i]
                    try:
                        encs.append(tok.encode(t, u, add_special_tokens=special) if u is not None
                                    else tok.encode(t, add_special_tokens=special))
                    except Exception as ex:  # HF's truncation errors
                        kind = 'no_second' if 'Second sequence' in str(ex) else 'too_short'
                        encs.append(kind)
            for i, e in zip(g, encs):
                if isinstance(e, str):
                    lines.append('%s %d ERR %s' % (setting, i, e))
                else:
                    lines.append('%s %d %s;%s' % (setting, i, ids_line(e),
                                                   ','.join(map(str, e.attention_mask))))
        return lines

    lines = []
    for ml in TRUNC_MAX_LENS:
        for strategy in STRATEGIES:
            for padding in ('none', 'max_length'):
                if padding == 'max_length' and ml > 33:
                    continue
                tok = BertWordPieceTokenizer(model, lowercase=True)
                tok.enable_truncation(ml, strategy=strategy)
                if padding == 'max_length':
                    tok.enable_padding(length=ml, pad_id=0, pad_token='[PAD]')
                lines += run('%s:%d:%s' % (strategy, ml, padding), tok)
    # add_special_tokens=False: max_length counts the text tokens only
    for strategy, ml, padding in (('longest_first', 5, 'none'), ('longest_first', 16, 'none'),
                                  ('only_first', 8, 'max_length'), ('only_second', 3, 'none')):
        tok = BertWordPieceTokenizer(model, lowercase=True)
        tok.enable_truncation(ml, strategy=strategy)
        if padding == 'max_length':
            tok.enable_padding(length=ml, pad_id=0, pad_token='[PAD]')
        lines += run('%s:%d:%s:nospecial' % (strategy, ml, padding), tok, special=False)
    tok = BertWordPieceTokenizer(model, lowercase=True)
    tok.enable_padding(pad_id=0, pad_token='[PAD]')
    lines += run('none:0:longest7', tok, batch=7)
    tok.enable_truncation(16, strategy='longest_first')
    lines += run('longest_first:16:longest7', tok, batch=7)
    with open(os.path.join(out, 'truncation.txt'), 'w') as f:
        header(f, 'BertWordPieceTokenizer(bert-base-uncased/vocab.txt) on truncation_input.jsonl')
        f.write('# STRATEGY:MAX_LEN:PADDING[:nospecial] RECORD ids;type_ids;attention_mask, or ERR '
                'no_second|too_short;\n'
                '# padding longest7 = encode_batch with padding to the longest, batches of 7 records;\n'
                '# nospecial = add_special_tokens=False\n')
        for l in lines:
            f.write(l + '\n')


# ---- every code point ----

def cps_hex(s):
    return '.'.join('%X' % ord(ch) for ch in s) if s else '_'


def write_unicode(out):
    def norm(**k):
        base = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False)
        base.update(k)
        return normalizers.BertNormalizer(**base)

    clean, cjk = norm(clean_text=True), norm(handle_chinese_chars=True)
    strip, low = norm(strip_accents=True), norm(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    rows = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        s = 'a' + ch + 'b'
        r = clean.normalize_str(s)
        cl = 'X' if r == 'ab' else 'W' if r == 'a b' else '-' if r == s else None
        r = cjk.normalize_str(s)
        cj = 'C' if r == 'a ' + ch + ' b' else '-' if r == s else None
        words = [w for w, _ in pre.pre_tokenize_str(s)]
        pc = '-' if words == [s] else 'W' if words == ['a', 'b'] else 'P' if words == ['a', ch, 'b'] else None
        if None in (cl, cj, pc):
            sys.exit('wptok_ref: U+%04X: unexpected HF behaviour' % cp)
        st, lo = strip.normalize_str(ch), low.normalize_str(ch)
        st = '-' if st == ch else cps_hex(st)
        if 0xAC00 <= cp <= 0xD7A3:
            # Hangul syllables: one line for all 11,172, once HF is seen to
            # give the arithmetic decomposition of Unicode's chapter 3.12
            k = cp - 0xAC00
            jamo = chr(0x1100 + k // 588) + chr(0x1161 + k % 588 // 28) + (chr(0x11A7 + k % 28) if k % 28 else '')
            if st != cps_hex(jamo):
                sys.exit('wptok_ref: U+%04X: HF does not decompose it as Unicode says' % cp)
            st = 'H'
        rows.append((cp, cl, cj, pc, st, '-' if lo == ch else cps_hex(lo)))
    with open(os.path.join(out, 'unicode.txt'), 'w') as f:
        header(f, 'BertNormalizer and BertPreTokenizer on every code point')
        f.write('# R FIRST LAST CLEAN CJK PRETOK STRIP LOWER (hex; a run of code points alike)\n'
                '#   CLEAN  clean_text on "a"+c+"b": X removed, W -> " ", - kept\n'
                '#   CJK    handle_chinese_chars on "a"+c+"b": C spaced, - kept\n'
                '#   PRETOK BertPreTokenizer on "a"+c+"b": W split there, P a word of its own, - inside\n'
                '#   STRIP  strip_accents on c, LOWER lowercase on c: - unchanged, _ empty, else code points;\n'
                '#          H: a Hangul syllable, decomposed into its jamo by arithmetic (checked)\n'
                '# O INPUT OUTPUT: strip_accents on a sequence (canonical ordering of marks)\n')
        i = 0
        while i < len(rows):
            j = i
            while (j + 1 < len(rows) and rows[j + 1][0] == rows[j][0] + 1 and rows[j + 1][1:] == rows[i][1:]
                   and rows[i][4] in '-H' and rows[i][5] == '-'):
                j += 1
            f.write('R %X %X %s\n' % (rows[i][0], rows[j][0], ' '.join(rows[i][1:])))
            i = j + 1
        # every mark with a combining class: after a stem (U+1D165, class
        # 216, not stripped) or before an augmentation dot (U+1D16D, 226):
        # the pair is swapped when the classes say so
        marks = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and unicodedata.combining(chr(cp))]
        for cp in marks:
            for s in ('a' + chr(cp) + '\U0001D165', 'a\U0001D16D' + chr(cp)):
                f.write('O %s %s\n' % (cps_hex(s), cps_hex(strip.normalize_str(s))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--bin', help='the programs (csvclean), to check the corpus texts')
    ap.add_argument('shared')
    ap.add_argument('out', nargs='?', default=os.path.join(REPO, 'tests', 'golden', 'wptok'))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    write_corpora(a, a.out)
    write_edge(a, a.out)
    write_truncation(a, a.out)
    write_unicode(a.out)
    print('wptok_ref: goldens written to %s' % a.out, file=sys.stderr)


if __name__ == '__main__':
    main()
