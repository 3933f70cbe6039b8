#!/usr/bin/env python3
"""Python reference of `csvclean --preset tweet --id textID --label sentiment`:
the tweet cleaning as a data scientist would write it with re, html and
snowballstemmer. Used by bench/csvclean.py (speed and identical output) and to
generate golden counts; tests/ref/textclean_diff.py runs its step functions
against lib/text/textclean.c's, one step at a time, on every tweet.

usage: bench/ref_clean.py --stopwords data/stopwords/english.txt
                          [--out FILE.jsonl] [--stats] CSV...

Records {"id", "text", "label"} go to --out, or to stdout unless --stats is
given; --stats prints the counts as one JSON object on stdout.

Per row, in file order: normalise the text (html unescape, tag strip, URLs,
@mentions, #tag -> tag, control characters, whitespace squeeze, repeats capped
at 2) -> drop if empty; drop if (text, label) was seen before; token steps
(lowercase, alphabetic tokens, stopwords, Snowball English stems) -> drop if
nothing is left.

Where this and the C code can differ. The C code classifies characters
beyond Latin-1 with glibc's C.UTF-8 tables, Python with its own (both Unicode
14 here); their definitions differ, not their data:
  - letters: glibc's alpha class is the Unicode Alphabetic property plus
    digits of other scripts; str.isalpha() is the categories L*. So combining
    vowel signs (Devanagari, Arabic, ... Mn/Mc), non-ASCII decimal digits (Nd),
    letter numerals like U+2160 (Nl) and circled letters like U+24B6 (So) are
    letters to C, not to Python: an alphabetic token can run on in C where it
    ends in Python (Hindi words keep their vowel signs in C).
  - word characters (\\w, str.isalnum()): glibc's alnum likewise takes those
    Mn/Mc/So characters and leaves out the numeric symbols (No) such as U+2155;
    the C code follows Python for the Latin-1 ones (superscripts, 1/4 1/2 3/4).
None of these characters occurs in the Kaggle tweets except U+00BD, handled
alike; on train.csv + test.csv the two implementations agree on every step.
Python lowercases U+0130 to "i" + U+0307, glibc to "i"; the C code follows
Python. Lowercasing is per character here (no final-sigma rule), as in C.
"""
import argparse
import csv
import html
import itertools
import json
import re
import signal
import sys

import snowballstemmer

MAX_REPEAT = 2

TAG_RE = re.compile(r'<[A-Za-z/!][^<>]*>')
# ASCII case-insensitive by hand: re.IGNORECASE would also let U+017F (long s)
# match the "s" of https.
URL_RE = re.compile(r'(?:[Hh][Tt][Tt][Pp][Ss]?://|[Ww][Ww][Ww]\.)\S*')
MENTION_RE = re.compile(r'@\w+')
HASHTAG_RE = re.compile(r'#(?=\w)')
CONTROL_RE = re.compile(r'[\x00-\x1f\x7f-\x9f]')
REPEAT_RE = re.compile(r'(\w)\1{%d,}' % MAX_REPEAT)


def html_unescape(s):
    return html.unescape(s)


def strip_tags(s):
    return TAG_RE.sub(' ', s)


def remove_urls(s):
    return URL_RE.sub(' ', s)


def remove_mentions(s):
    return MENTION_RE.sub(' ', s)


def hashtags(s):
    return HASHTAG_RE.sub('', s)


def controls(s):
    return CONTROL_RE.sub(' ', s)


def squeeze(s):
    return ' '.join(s.split())


def cap_repeats(s):
    return REPEAT_RE.sub(lambda m: m.group(1) * MAX_REPEAT, s)


def lower(s):
    # per character: str.lower() on the whole string would apply the
    # final-sigma rule, which the C code does not
    return ''.join(c.lower() for c in s)


def alpha_tokens(s):
    return [''.join(run) for is_alpha, run in itertools.groupby(s, str.isalpha) if is_alpha]


def normalize(s):
    for step in (html_unescape, strip_tags, remove_urls, remove_mentions, hashtags,
                 controls, squeeze, cap_repeats):
        s = step(s)
    return s


def load_stopwords(path):
    with open(path, encoding='utf-8', newline='') as f:
        lines = f.read().split('\n')
    words = (line.strip(' \t\r\n') for line in lines)
    return {w for w in words if w and not w.startswith('#')}


class Tokenizer:
    def __init__(self, stopwords, stemmer='snowballstemmer'):
        self.stopwords = stopwords
        if stemmer == 'pystemmer':
            # PyStemmer wraps the same Snowball C library csvclean links
            import Stemmer
            self.stemmer = Stemmer.Stemmer('english')
        else:
            # the pure-Python stemmer itself: snowballstemmer.stemmer() would hand
            # over to PyStemmer whenever that happens to be installed
            self.stemmer = snowballstemmer.EnglishStemmer()

    def __call__(self, s):
        tokens = [t for t in alpha_tokens(lower(s)) if t not in self.stopwords]
        return ' '.join(self.stemmer.stemWords(tokens))


def clean(paths, tokenize, emit):
    """Cleans the rows of the CSV files, calls emit(record) for each kept
    one, and returns the counts."""
    stats = {'rows_read': 0, 'rows_written': 0, 'labels': {},
             'dropped': {'empty': 0, 'duplicate': 0, 'empty_after_tokens': 0}}
    seen = set()
    for path in paths:
        with open(path, encoding='utf-8-sig', newline='') as f:
            for row in csv.DictReader(f):
                stats['rows_read'] += 1
                label = row['sentiment']
                text = normalize(row['text'] or '')
                if not text:
                    stats['dropped']['empty'] += 1
                    continue
                if (text, label) in seen:
                    stats['dropped']['duplicate'] += 1
                    continue
                seen.add((text, label))
                text = tokenize(text)
                if not text:
                    stats['dropped']['empty_after_tokens'] += 1
                    continue
                stats['rows_written'] += 1
                stats['labels'][label] = stats['labels'].get(label, 0) + 1
                emit({'id': row['textID'], 'text': text, 'label': label})
    return stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--stopwords', required=True, help='stopword file, one word per line')
    ap.add_argument('--out', help='write the records here (JSON lines)')
    ap.add_argument('--stats', action='store_true', help='print the counts as JSON on stdout')
    ap.add_argument('--stemmer', choices=['snowballstemmer', 'pystemmer'], default='snowballstemmer',
                    help='pure-Python Snowball (default) or PyStemmer (libstemmer in C)')
    ap.add_argument('csv', nargs='+')
    args = ap.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    sys.stdout.reconfigure(encoding='utf-8', newline='\n')

    tokenize = Tokenizer(load_stopwords(args.stopwords), args.stemmer)
    out = None
    if args.out:
        out = open(args.out, 'w', encoding='utf-8', newline='\n')
    elif not args.stats:
        out = sys.stdout

    def emit(rec):
        if out:
            # compact, as csvclean writes it, so the outputs compare byte for byte
            out.write(json.dumps(rec, ensure_ascii=False, separators=(',', ':')) + '\n')

    stats = clean(args.csv, tokenize, emit)
    if out and out is not sys.stdout:
        out.close()
    if args.stats:
        print(json.dumps(stats, sort_keys=True, ensure_ascii=False))


if __name__ == '__main__':
    main()
