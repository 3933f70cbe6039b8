#!/usr/bin/env python3
"""Goldens for tfidf from scikit-learn's TfidfVectorizer (the real library).

usage: tests/ref/tfidf_ref.py BIN_DIR SHARED_DIR [OUT_DIR]   (make golden-tfidf)

The documents are not stored: both this script and tests/unit/test_tfidf_golden.c
make them from the shared data with csvclean (BIN_DIR/csvclean):
  clean N    csvclean -q --preset tweet --id textID --label sentiment train.csv | head -n N
  raw N      csvclean -q --id textID --label sentiment train.csv | head -n N
(train.csv of $SHARED/datasets/tweet_sentiment_extraction; N = 3000 for the
study's configuration, fewer for the others to keep the goldens small). For each
configuration below, OUT_DIR/<name>/ (default tests/golden/tfidf) gets
  args      the sample and the tfidf fit options that mean the same parameters
  vocab.jsonl one line per feature in column order: [term, idf, corpus
            frequency of the term (the sum of its counts: what max_features ranks)]
  vectors   one line per document: col:value ... (%.9g), sklearn's row
  cut       with max_features: the corpus frequency at the cut, how many terms
            of that frequency sklearn kept, then every term of that frequency
            that passed min_df/max_df, one a line. numpy's argsort picks among
            them arbitrarily; the test compares everything outside that set.
and OUT_DIR/analyzer.jsonl holds build_analyzer() output for tricky strings.
"""
import json
import os
import subprocess
import sys

import numpy as np
import sklearn
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
bin_dir, shared = sys.argv[1], sys.argv[2]
out_dir = sys.argv[3] if len(sys.argv) > 3 else os.path.join(repo, "tests", "golden", "tfidf")
train = os.path.join(shared, "datasets", "tweet_sentiment_extraction", "train.csv")
stop_english = [w.strip() for w in open(os.path.join(repo, "data", "stopwords", "english.txt"), encoding="utf-8")
                if w.strip() and not w.strip().startswith("#")]

SAMPLES = {
    "clean": ["-q", "--preset", "tweet", "--id", "textID", "--label", "sentiment"],
    "raw": ["-q", "--id", "textID", "--label", "sentiment"],
}


def sample(kind):
    out = subprocess.run([os.path.join(bin_dir, "csvclean")] + SAMPLES[kind] + [train], check=True,
                         stdout=subprocess.PIPE).stdout.decode("utf-8")
    return [json.loads(line)["text"] for line in out.splitlines()]


# name: (sample, documents, sklearn parameters, the same as tfidf fit options)
CONFIGS = {
    # the study's baseline (SPEC): 1-3-grams, 100k features, min_df 2, max_df 0.95, sublinear tf
    "ngram13_max100000": ("clean", 3000,
                          dict(ngram_range=(1, 3), max_features=100000, min_df=2, max_df=0.95, sublinear_tf=True),
                          "--ngram 1,3 --max-features 100000 --min-df 2 --max-df 0.95 --sublinear-tf"),
    # the same cut to 500 features: ties at the cut
    "ngram13_max500": ("clean", 3000,
                       dict(ngram_range=(1, 3), max_features=500, min_df=2, max_df=0.95, sublinear_tf=True),
                       "--ngram 1,3 --max-features 500 --min-df 2 --max-df 0.95 --sublinear-tf"),
    "default": ("clean", 300, dict(), ""),
    # raw text: lowercasing, Unicode tokens, stop words, l1, no smoothing
    "raw_stop_ngram12_l1": ("raw", 200,
                            dict(ngram_range=(1, 2), stop_words=stop_english, norm="l1", smooth_idf=False, min_df=2),
                            "--ngram 1,2 --stopwords english --norm l1 --no-smooth-idf --min-df 2"),
    # scikit-learn's own English list (stop_words='english'), shipped as data/stopwords/sklearn_english.txt
    "raw_sklearn_stop": ("raw", 200, dict(stop_words="english", ngram_range=(1, 2)),
                         "--ngram 1,2 --stopwords sklearn_english"),
    # a token pattern other than the default (the PCRE2 path), fractions for min_df/max_df
    "raw_pattern_fraction": ("raw", 200,
                             dict(token_pattern=r"(?u)\b\w+\b", min_df=0.01, max_df=0.5, lowercase=False),
                             "--token-pattern '(?u)\\b\\w+\\b' --min-df 0.01 --max-df 0.5 --no-lowercase"),
    # one capturing group: the group is the token
    "raw_pattern_group": ("raw", 200,
                          dict(token_pattern=r"[#@]?(\w+)'?", ngram_range=(1, 2), use_idf=False, norm=None, min_df=2),
                          "--token-pattern \"[#@]?(\\w+)'?\" --ngram 1,2 --no-idf --norm none --min-df 2"),
    "raw_char_wb": ("raw", 40,
                    dict(analyzer="char_wb", ngram_range=(2, 4), max_features=300, sublinear_tf=True),
                    "--analyzer char_wb --ngram 2,4 --max-features 300 --sublinear-tf"),
    "raw_char": ("raw", 40,
                 dict(analyzer="char", ngram_range=(1, 3), min_df=3, lowercase=False),
                 "--analyzer char --ngram 1,3 --min-df 3 --no-lowercase"),
}

# strings for the analyzer golden: case, Unicode classes, whitespace, empties
TRICKY = [
    "Hello, World! It's a test_case: under_score, 123 numbers, 4u & x.",
    "Ünïcödé ÇAFÉ naïve façade STRASSE Straße ẞ İstanbul",
    "cafe\u0301 x\u0301y combining marks",
    "٣٤٥ arabic digits, ²³ superscripts, ½ fraction, Ⅻ roman, ① circled",
    "中文字符 日本語テキスト 한국어",
    "emoji 😀😀 ok👍🏽 zero\u200dwidth joiner",
    "\t tabs\n\nnewlines\u00a0nbsp\u2003em\u3000space  two  spaces ",
    "a b c d e f g single letters a b",
    "repeat repeat repeat repeat",
    "",
    "   ",
    "x",
    "ab",
    "ï¿½ mojibake itï¿½s",
]

ANALYZERS = [
    dict(),
    dict(ngram_range=(1, 3)),
    dict(ngram_range=(2, 2), lowercase=False),
    dict(stop_words=stop_english, ngram_range=(1, 2)),
    dict(token_pattern=r"(?u)\b\w+\b"),
    dict(token_pattern=r"\S+"),
    dict(token_pattern=r"\w*"),
    dict(token_pattern=r"(\w)\w"),
    dict(token_pattern=r"(?i)[a-z]+"),
    dict(token_pattern=r"(?a)\b\w\w+\b"),
    dict(analyzer="char", ngram_range=(1, 3)),
    dict(analyzer="char", ngram_range=(3, 5), lowercase=False),
    dict(analyzer="char_wb", ngram_range=(1, 3)),
    dict(analyzer="char_wb", ngram_range=(2, 5)),
]


def write_config(name, sample_name, n_docs, params, args, docs):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    vec = TfidfVectorizer(**params)
    X = vec.fit_transform(docs).tocsr()
    X.sort_indices()
    terms = vec.get_feature_names_out()
    # corpus frequency of each feature, as _limit_features ranks them
    # (unpruned: every term the analyzer makes)
    counts = CountVectorizer(**{k: v for k, v in params.items()
                                if k not in ("norm", "use_idf", "smooth_idf", "sublinear_tf",
                                             "min_df", "max_df", "max_features")})
    C = counts.fit_transform(docs)
    tf_all = np.asarray(C.sum(axis=0)).ravel()
    col_of = counts.vocabulary_
    with open(os.path.join(d, "args"), "w", encoding="utf-8") as f:
        f.write(f"# tests/ref/tfidf_ref.py, scikit-learn {sklearn.__version__}: TfidfVectorizer({params_text(params)})\n")
        f.write(f"sample {sample_name} {n_docs}\n")
        f.write(f"args {args}\n")
    with open(os.path.join(d, "vocab.jsonl"), "w", encoding="utf-8") as f:
        idf = vec.idf_ if vec.use_idf else np.ones(len(terms))
        for t, v in zip(terms, idf):
            f.write(json.dumps([str(t), float(v), int(tf_all[col_of[t]])], ensure_ascii=False) + "\n")
    with open(os.path.join(d, "vectors"), "w", encoding="utf-8") as f:
        for i in range(X.shape[0]):
            row = X[i]
            f.write(" ".join(f"{j}:{v:.9g}" for j, v in zip(row.indices, row.data)) + "\n")
    if params.get("max_features"):
        # the df-passing terms, ranked as _limit_features ranks them
        n = len(docs)
        dfs = np.asarray((C > 0).sum(axis=0)).ravel()
        hi, lo = params.get("max_df", 1.0), params.get("min_df", 1)
        hi = hi if isinstance(hi, int) else hi * n
        lo = lo if isinstance(lo, int) else lo * n
        names = counts.get_feature_names_out()
        ok = [(names[j], tf_all[j]) for j in range(len(names)) if lo <= dfs[j] <= hi]
        limit = params["max_features"]
        path = os.path.join(d, "cut")
        if len(ok) > limit:
            cut = sorted((t for _, t in ok), reverse=True)[limit - 1]
            tied = sorted(term for term, t in ok if t == cut)
            kept = sum(1 for term in terms if tf_all[col_of[term]] == cut)
            with open(path, "w", encoding="utf-8") as f:
                f.write(f"{int(cut)} {kept}\n")
                f.writelines(json.dumps(str(t), ensure_ascii=False) + "\n" for t in tied)
        elif os.path.exists(path):
            os.remove(path)


def params_text(params):
    return ", ".join(f"{k}={'<data/stopwords/english.txt>' if k == 'stop_words' and v is stop_english else repr(v)}"
                     for k, v in params.items())


def main():
    os.makedirs(out_dir, exist_ok=True)
    samples = {kind: sample(kind) for kind in SAMPLES}
    for name, (kind, n_docs, params, args) in CONFIGS.items():
        write_config(name, kind, n_docs, params, args, samples[kind][:n_docs])
    with open(os.path.join(out_dir, "analyzer.jsonl"), "w", encoding="utf-8") as f:
        for params in ANALYZERS:
            analyze = TfidfVectorizer(**params).build_analyzer()
            opts = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items() if k != "stop_words"}
            if "stop_words" in params:
                opts["stopwords"] = "english"
            for text in TRICKY:
                f.write(json.dumps({"opts": opts, "text": text, "terms": analyze(text)}, ensure_ascii=False) + "\n")
    print(f"tfidf goldens written to {out_dir} (scikit-learn {sklearn.__version__})")


main()
