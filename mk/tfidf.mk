# tfidf: the scikit-learn goldens and the benchmark against TfidfVectorizer.
GOLDEN_TARGETS += golden-tfidf
BENCH_TARGETS  += bench-tfidf
.PHONY: golden-tfidf bench-tfidf

# rewrites tests/golden/tfidf/ (csvclean makes the samples from $(SHARED))
golden-tfidf:
	python3 tests/ref/tfidf_ref.py $(BUILD)/bin $(SHARED)

bench-tfidf:
	python3 bench/tfidf.py $(BUILD)/bin $(SHARED)
