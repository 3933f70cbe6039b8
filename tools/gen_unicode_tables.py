#!/usr/bin/env python3
"""Writes lib/text/unicode_tables.h: the Unicode data lib/text/bert_normalize.c needs to
reproduce HuggingFace tokenizers' BERT normalizer and pre-tokenizer, read
from the Unicode Character Database (Debian's unicode-data package,
/usr/share/unicode/):

  - UnicodeData.txt: general categories (control = Cc/Cf/Co/Cs, nonspacing
    mark = Mn, punctuation = P*), canonical decompositions (applied
    recursively: full NFD), canonical combining classes, simple lowercase;
  - SpecialCasing.txt: the unconditional lowercase mappings (U+0130 -> i +
    U+0307), as Rust's char::to_lowercase applies them;
  - PropList.txt: White_Space, as Rust's char::is_whitespace;
  - DerivedAge.txt: the Unicode version that assigned each code point.

Versions. HF tokenizers (0.23.3; its SBOM lists these crates) takes general
categories from the Rust crate unicode_categories 0.1.1, whose tables are
Unicode 8.0, and NFD from unicode-normalization-alignments 0.1.12, Unicode
9.0 (both found by probing HF, code point by code point); only
whitespace and lowercasing come from Rust's std (recent Unicode). To give
the same tokens as HF, category-derived flags take the category a code point
had in Unicode 8.0, and decompositions and combining classes exist only for
code points of Unicode 9.0 or earlier. Code points assigned later count as
unassigned (Cn: not control, not punctuation, not a mark), found through
DerivedAge.txt; the few code points whose category itself changed after 8.0
are listed in CATEGORY_8_0 below. tests/ref/wptok_ref.py records what HF
does with every code point (tests/golden/wptok/unicode.txt), and
tests/unit/test_wordpiece_unicode.c checks these tables against that record.
One difference remains: HF lowercases with Rust's std, whose Unicode is
later than 15.0; 55 code points that Unicode 16 and 17 added as cased
letters are lowercased there and not here (this data has no mapping for
them). Neither bert-base-uncased's nor SciBERT's vocabulary holds them.

How HF's BertNormalizer and BertPreTokenizer use these properties is in
lib/text/bert_normalize.h and .c; this script
only turns the database into lookup tables:

  - a two-stage property table, one byte of WP_U_* flags per code point
    (blocks of 256 code points shared when equal);
  - sorted (code point, ...) arrays for decompositions, lowercase
    mappings and non-zero combining classes, binary-searched only for
    code points whose flags say they have an entry.

Usage: python3 tools/gen_unicode_tables.py [--ucd DIR] [OUT]
         (defaults /usr/share/unicode and lib/text/unicode_tables.h)
       python3 tools/gen_unicode_tables.py --ucd DIR --dump FILE
         writes one line per code point in the format of
         tests/ref/wptok_unicode_probe.py, to compare with what HF does.
"""
import argparse
import os
import re
import sys

MAX_CP = 0x110000

# the flag bits (keep in step with the WP_U_* names written below)
F_CONTROL = 1    # removed by text cleaning (Cc, Cf, Co, Cs; not \t \n \r)
F_SPACE = 2      # White_Space, plus \t \n \r
F_PUNCT = 4      # P* or ASCII punctuation
F_MN = 8         # Mn: dropped after NFD when stripping accents
F_DECOMP = 16    # has a canonical decomposition (table wp_decomp)
F_LOWER = 32     # lowercases to something else (table wp_lower)
F_CCC = 64       # canonical combining class > 0 (table wp_ccc)
F_CJK = 128      # one of BERT's "Chinese character" ranges

HANGUL_S0, HANGUL_SN = 0xAC00, 11172


def read_ranges(path, want):
    """Code points of the lines of a PropList-style file whose property is want."""
    out = set()
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            rng, prop = [x.strip() for x in line.split(';')[:2]]
            if prop != want:
                continue
            a, _, b = rng.partition('..')
            for cp in range(int(a, 16), int(b or a, 16) + 1):
                out.add(cp)
    return out


def read_unicode_data(path):
    """gc, ccc, canonical decomposition and simple lowercase per code point."""
    gc, ccc, decomp, lower = {}, {}, {}, {}
    first = None
    with open(path, encoding='utf-8') as f:
        for line in f:
            fld = line.rstrip('\n').split(';')
            cp = int(fld[0], 16)
            name = fld[1]
            if name.endswith(', First>'):
                first = cp
                continue
            cps = range(first, cp + 1) if name.endswith(', Last>') else [cp]
            first = None
            for c in cps:
                gc[c] = fld[2]
                if int(fld[3]):
                    ccc[c] = int(fld[3])
            if fld[5] and not fld[5].startswith('<'):
                decomp[cp] = [int(x, 16) for x in fld[5].split()]
            if fld[13]:
                lower[cp] = [int(fld[13], 16)]
    return gc, ccc, decomp, lower


def read_special_lower(path):
    """Unconditional lowercase mappings of SpecialCasing.txt (no condition list)."""
    out = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            fld = [x.strip() for x in line.split(';')]
            if len(fld) > 4 and fld[4]:
                continue  # conditional (final sigma, locale-specific)
            cp = int(fld[0], 16)
            out[cp] = [int(x, 16) for x in fld[1].split()]
    return out


def full_decomp(cp, decomp):
    if HANGUL_S0 <= cp < HANGUL_S0 + HANGUL_SN:
        s = cp - HANGUL_S0
        out = [0x1100 + s // 588, 0x1161 + (s % 588) // 28]
        if s % 28:
            out.append(0x11A7 + s % 28)
        return out
    if cp not in decomp:
        return [cp]
    out = []
    for c in decomp[cp]:
        out.extend(full_decomp(c, decomp))
    return out


# Code points assigned by Unicode 8.0 whose general category changed in a
# later version, with their 8.0 category (from the UCD 8.0.0 UnicodeData.txt;
# each one is confirmed against HF by the per-code-point probe).
CATEGORY_8_0 = {
    0x166D: 'Po',   # CANADIAN SYLLABICS CHI SIGN, So since 12.0
    0x1734: 'Mn',   # HANUNOO SIGN PAMUDPOD, Mc since 14.0
    0x1885: 'Lo',   # MONGOLIAN LETTER ALI GALI BALUDA, Mn since 9.0
    0x1886: 'Lo',   # MONGOLIAN LETTER ALI GALI THREE BALUDA, Mn since 9.0
    0xA9BD: 'Mc',   # JAVANESE CONSONANT SIGN KERET, Mn since 12.0
    0x111C9: 'Po',  # SHARADA SANDHI MARK, Mn since 9.0
}


def version_key(v):
    return tuple(int(x) for x in v.split('.'))


def read_ages(path):
    ages = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            rng, v = [x.strip() for x in line.split(';')]
            a, _, b = rng.partition('..')
            for cp in range(int(a, 16), int(b or a, 16) + 1):
                ages[cp] = version_key(v)
    return ages


class Ucd:
    def __init__(self, ucd, categories_age='8.0', normalization_age='9.0'):
        gc, ccc, decomp, lower = read_unicode_data(os.path.join(ucd, 'UnicodeData.txt'))
        ages = read_ages(os.path.join(ucd, 'DerivedAge.txt'))
        cat_max, norm_max = version_key(categories_age), version_key(normalization_age)
        self.gc = {cp: g for cp, g in gc.items() if ages.get(cp, (99,)) <= cat_max}
        self.gc.update(CATEGORY_8_0 if categories_age == '8.0' else {})
        self.ccc = {cp: c for cp, c in ccc.items() if ages.get(cp, (99,)) <= norm_max}
        decomp = {cp: d for cp, d in decomp.items() if ages.get(cp, (99,)) <= norm_max}
        # Hangul syllables decompose by arithmetic in the C code, not by table
        self.decomp = {cp: full_decomp(cp, decomp) for cp in decomp}
        lower.update(read_special_lower(os.path.join(ucd, 'SpecialCasing.txt')))
        self.lower = {cp: m for cp, m in lower.items() if m != [cp]}
        self.white = read_ranges(os.path.join(ucd, 'PropList.txt'), 'White_Space')
        self.version = self.read_version(ucd)
        self.categories_age, self.normalization_age = categories_age, normalization_age

    @staticmethod
    def read_version(ucd):
        with open(os.path.join(ucd, 'DerivedAge.txt'), encoding='utf-8') as f:
            m = re.match(r'# DerivedAge-([0-9.]+)\.txt', f.readline())
        return m.group(1) if m else 'unknown'

    def flags(self, cp):
        gc = self.gc.get(cp, 'Cn')
        f = 0
        if cp in (9, 10, 13) or cp in self.white:
            f |= F_SPACE
        if gc in ('Cc', 'Cf', 'Co', 'Cs') and cp not in (9, 10, 13):
            f |= F_CONTROL
        if gc.startswith('P') or (cp < 128 and chr(cp) in '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'):
            f |= F_PUNCT
        if gc == 'Mn':
            f |= F_MN
        if cp in self.decomp or HANGUL_S0 <= cp < HANGUL_S0 + HANGUL_SN:
            f |= F_DECOMP
        if cp in self.lower:
            f |= F_LOWER
        if cp in self.ccc:
            f |= F_CCC
        return f


# BERT's "Chinese character" ranges as HF tokenizers defines them
# (normalizers/bert.rs is_chinese_char; note 0x2B920, where Google's BERT has
# 0x2B820). Not Unicode data: the C code holds the same list.
CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def nfd_strip(u, cps):
    """NFD (full decomposition + canonical ordering), then Mn removed."""
    out = []
    for cp in cps:
        out.extend(u.decomp.get(cp, [cp]) if not (HANGUL_S0 <= cp < HANGUL_S0 + HANGUL_SN)
                   else full_decomp(cp, u.decomp))
    # canonical ordering: stable sort of each run of non-starters by ccc
    i = 0
    while i < len(out):
        if u.ccc.get(out[i], 0) == 0:
            i += 1
            continue
        j = i
        while j < len(out) and u.ccc.get(out[j], 0) != 0:
            j += 1
        out[i:j] = sorted(out[i:j], key=lambda c: u.ccc[c])
        i = j
    return [c for c in out if u.gc.get(c, 'Cn') != 'Mn']


def dump(u, path):
    def esc(cps):
        return ''.join(map(chr, cps)).encode('unicode_escape').decode()

    with open(path, 'w', encoding='utf-8') as out:
        for cp in range(MAX_CP):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            f = u.flags(cp)
            cl = 'X' if cp in (0, 0xFFFD) or f & F_CONTROL else 'W' if f & F_SPACE else '-'
            cj = 'C' if any(a <= cp <= b for a, b in CJK_RANGES) else '-'
            pc = 'W' if f & F_SPACE else 'P' if f & F_PUNCT else '-'
            st = nfd_strip(u, [cp])
            lo = u.lower.get(cp, [cp])
            out.write('%X %s %s %s %s %s\n' % (cp, cl, cj, pc, '-' if st == [cp] else esc(st),
                                               '-' if lo == [cp] else esc(lo)))


def c_array(decl, values, per_line, fmt):
    lines = ['%s = {' % decl]
    for i in range(0, len(values), per_line):
        lines.append('    ' + ', '.join(fmt(v) for v in values[i:i + per_line]) + ',')
    lines.append('};')
    return lines


def write_header(u, path):
    flags = [u.flags(cp) for cp in range(MAX_CP)]
    for a, b in CJK_RANGES:
        for cp in range(a, b + 1):
            flags[cp] |= F_CJK
    blocks, stage1, index = [], [], {}
    for start in range(0, MAX_CP, 256):
        blk = tuple(flags[start:start + 256])
        if blk not in index:
            index[blk] = len(blocks)
            blocks.append(blk)
        stage1.append(index[blk])
    stage2 = [f for blk in blocks for f in blk]

    pool, decomp, lower = [], [], []
    for cp in sorted(u.decomp):
        decomp.append((cp, len(pool), len(u.decomp[cp])))
        pool.extend(u.decomp[cp])
    for cp in sorted(u.lower):
        lower.append((cp, len(pool), len(u.lower[cp])))
        pool.extend(u.lower[cp])
    assert len(pool) < 65536
    map_max = max(n for _, _, n in decomp + lower)
    ccc = sorted(u.ccc.items())

    out = [
        '/* unicode_tables.h: GENERATED by tools/gen_unicode_tables.py from the Unicode',
        ' * Character Database %s (Debian unicode-data), with general categories as'
        % u.version,
        ' * of Unicode %s and normalization data as of %s, as HF tokenizers has them'
        % (u.categories_age, u.normalization_age),
        ' * (the script says why). Do not edit; rerun the script. Included only by',
        ' * lib/text/wordpiece.c. */',
        '#ifndef PIPECLF_UNICODE_TABLES_H',
        '#define PIPECLF_UNICODE_TABLES_H',
        '',
        '#include <stdint.h>',
        '',
        '/* Flags of a code point: wp_u_stage2[wp_u_stage1[cp >> 8] * 256 + (cp & 255)] */',
        '#define WP_U_CONTROL %d  /* Cc Cf Co Cs but \\t \\n \\r: removed by cleaning */' % F_CONTROL,
        '#define WP_U_SPACE %d    /* White_Space (Rust char::is_whitespace) */' % F_SPACE,
        '#define WP_U_PUNCT %d    /* P* or ASCII punctuation: a token of its own */' % F_PUNCT,
        '#define WP_U_MN %d       /* Mn: removed after NFD when stripping accents */' % F_MN,
        '#define WP_U_DECOMP %d  /* canonical decomposition in wp_u_decomp (or Hangul) */' % F_DECOMP,
        '#define WP_U_LOWER %d   /* lowercase mapping in wp_u_lower */' % F_LOWER,
        '#define WP_U_CCC %d     /* canonical combining class > 0, in wp_u_ccc */' % F_CCC,
        '#define WP_U_CJK %d    /* a "Chinese character" of BERT (HF\'s ranges) */' % F_CJK,
        '',
        '/* The longest decomposition or lowercase mapping, in code points. */',
        '#define WP_U_MAP_MAX %d' % map_max,
        '',
        '/* A mapping: cp -> wp_u_pool[off .. off + len) */',
        'typedef struct wp_u_map {',
        '    uint32_t cp;',
        '    uint16_t off;',
        '    uint16_t len;',
        '} wp_u_map;',
        '',
        'typedef struct wp_u_class {',
        '    uint32_t cp;',
        '    uint32_t ccc;',
        '} wp_u_class;',
        '',
    ]
    out += c_array('static const uint16_t wp_u_stage1[%d]' % len(stage1), stage1, 16, str)
    out.append('')
    out += c_array('static const uint8_t wp_u_stage2[%d]' % len(stage2), stage2, 24, str)
    out.append('')
    out += c_array('static const uint32_t wp_u_pool[%d]' % len(pool), pool, 10, lambda v: '0x%X' % v)
    out.append('')
    out.append('/* Full canonical decompositions (NFD), sorted by cp; Hangul syllables are')
    out.append(' * decomposed by arithmetic instead. */')
    out += c_array('static const wp_u_map wp_u_decomp[%d]' % len(decomp), decomp, 4,
                   lambda v: '{0x%X, %d, %d}' % v)
    out.append('')
    out.append('/* Lowercase mappings (UnicodeData.txt simple ones, SpecialCasing.txt')
    out.append(' * unconditional ones), sorted by cp. */')
    out += c_array('static const wp_u_map wp_u_lower[%d]' % len(lower), lower, 4,
                   lambda v: '{0x%X, %d, %d}' % v)
    out.append('')
    out.append('/* Non-zero canonical combining classes, sorted by cp. */')
    out += c_array('static const wp_u_class wp_u_ccc[%d]' % len(ccc), ccc, 6, lambda v: '{0x%X, %d}' % v)
    out += ['', '#endif', '']
    with open(path, 'w', encoding='ascii') as f:
        f.write('\n'.join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--ucd', default='/usr/share/unicode')
    ap.add_argument('--dump')
    ap.add_argument('out', nargs='?',
                    default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib',
                                         'text', 'unicode_tables.h'))
    a = ap.parse_args()
    u = Ucd(a.ucd)
    if a.dump:
        dump(u, a.dump)
        return
    write_header(u, a.out)


if __name__ == '__main__':
    main()
