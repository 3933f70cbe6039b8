/* prior: moving a classifier's probabilities from the class priors it was
 * trained on to other ones (predict --prior). Bayes' rule with the
 * likelihoods held fixed: p'(c) = p(c) pi'(c)/pi(c) / sum_k p(k) pi'(k)/pi(k),
 * with pi the training distribution and pi' the target; for two classes,
 * log(target odds / training odds) added to the logit. Neither model file
 * records its class counts, so pi comes from the training records' labels
 * (prior_counts_read) or is given (prior_targets against equal shares). */
#ifndef PIPECLF_PRIOR_H
#define PIPECLF_PRIOR_H

#include <stddef.h>

/* The number of records of each of the k labels in the label_field of the
 * NDJSON records at path ("-": stdin). Dies (FILE:LINE) on a record without
 * a string label or with a label not among labels, and on a label with no
 * record (its training prior would be 0). */
void prior_counts_read(size_t *counts, char *const *labels, size_t k, const char *path, const char *label_field);

/* The target distribution of k classes from the named ones: given[c] in
 * (0, 1) for a named class, < 0 for an unnamed one. The unnamed share
 * 1 - (sum of the named) in proportion to their training priors train[c]
 * (so one unnamed class of two gets exactly the rest). Returns 0, or -1
 * with *why set when the named sum to more than 1, to 1 or more with
 * classes left unnamed, or not to 1 with every class named (within 1e-9). */
int prior_targets(double *target, const double *given, const double *train, size_t k, const char **why);

/* ratio[c] = target[c] / train[c], the factors of prior_shift */
void prior_ratios(double *ratio, const double *target, const double *train, size_t k);

/* Multiplies a probability row by the ratios and renormalises it, in place;
 * returns the most probable class afterwards (the first on a tie). */
size_t prior_shift(double *probs, const double *ratio, size_t k);

#endif
