#include "prior.h"
#include "core/common.h"
#include "core/ndjson.h"

#include <math.h>
#include <string.h>

void prior_counts_read(size_t *counts, char *const *labels, size_t k, const char *path, const char *label_field)
{
    memset(counts, 0, k * sizeof *counts);
    ndjson_reader r;
    ndjson_open(&r, path);
    cJSON *rec;
    while ((rec = ndjson_next(&r))) {
        const char *label = rec_require_string(&r, rec, label_field);
        size_t c = 0;
        while (c < k && strcmp(labels[c], label) != 0) c++;
        if (c == k) die_at(r.name, r.line, "label '%s' is not one of the model's classes", label);
        counts[c]++;
        cJSON_Delete(rec);
    }
    for (size_t c = 0; c < k; c++)
        if (!counts[c]) die_at(r.name, 0, "no record of class '%s': its training prior would be 0", labels[c]);
    ndjson_close(&r);
}

int prior_targets(double *target, const double *given, const double *train, size_t k, const char **why)
{
    double named = 0, unnamed_train = 0;
    size_t unnamed = 0;
    for (size_t c = 0; c < k; c++) {
        if (given[c] >= 0) named += given[c];
        else {
            unnamed++;
            unnamed_train += train[c];
        }
    }
    if (named > 1 + 1e-9) return *why = "the priors given sum to more than 1", -1;
    if (unnamed && named >= 1 - 1e-9) return *why = "the priors given sum to 1, which leaves the other classes none", -1;
    if (!unnamed && fabs(named - 1) > 1e-9) return *why = "the priors of all the classes must sum to 1", -1;
    for (size_t c = 0; c < k; c++) target[c] = given[c] >= 0 ? given[c] : (1 - named) * train[c] / unnamed_train;
    return 0;
}

void prior_ratios(double *ratio, const double *target, const double *train, size_t k)
{
    for (size_t c = 0; c < k; c++) ratio[c] = target[c] / train[c];
}

size_t prior_shift(double *probs, const double *ratio, size_t k)
{
    double sum = 0;
    for (size_t c = 0; c < k; c++) sum += probs[c] *= ratio[c];
    size_t best = 0;
    for (size_t c = 0; c < k; c++) {
        probs[c] /= sum;
        if (probs[c] > probs[best]) best = c;
    }
    return best;
}
