#include "baseline.h"
#include "core/common.h"
#include "core/strbuf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int has_file(const char *dir, const char *name)
{
    strbuf p = {0};
    sb_adds(&p, dir);
    sb_addc(&p, '/');
    sb_adds(&p, name);
    struct stat st;
    int ok = stat(p.s, &st) == 0 && S_ISREG(st.st_mode);
    sb_free(&p);
    return ok;
}

int baseline_dir(const char *dir) { return has_file(dir, "logreg.json"); }

baseline_model *baseline_load(const char *dir)
{
    baseline_model *m = xcalloc(1, sizeof *m);
    m->dir = dir;
    m->logreg = logreg_load(dir);
    if (has_file(dir, TFIDF_MODEL_FILE)) {
        m->tfidf = tfidf_load(dir);
        if ((long)tfidf_dim(m->tfidf) != logreg_dim(m->logreg))
            die("%s: tfidf.json has %zu features but logreg.json was trained on %ld: not one model", dir,
                tfidf_dim(m->tfidf), logreg_dim(m->logreg));
    }
    return m;
}

void baseline_free(baseline_model *m)
{
    if (!m) return;
    logreg_free(m->logreg);
    if (m->tfidf) tfidf_free(m->tfidf);
    free(m);
}

void baseline_scratch_init(baseline_scratch *s)
{
    memset(s, 0, sizeof *s);
    tfidf_scratch_init(&s->tfidf);
}

void baseline_scratch_free(baseline_scratch *s)
{
    tfidf_scratch_free(&s->tfidf);
    sparse_free(&s->x);
}

void baseline_proba(const baseline_model *m, baseline_scratch *s, const cJSON *rec, const char *text_field,
                    const char *vector_field, const char *file, long line, double *probs)
{
    if (cJSON_GetObjectItemCaseSensitive(rec, vector_field)) {
        sparse_from_record(rec, vector_field, &s->x, file, line);
    } else {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, text_field);
        if (!t) die_at(file, line, "record has neither \"%s\" nor \"%s\"", vector_field, text_field);
        if (!cJSON_IsString(t)) die_at(file, line, "\"%s\" is not a string", text_field);
        if (!m->tfidf)
            die_at(file, line, "record has no \"%s\" and %s has no %s to vectorise its text", vector_field, m->dir,
                   TFIDF_MODEL_FILE);
        tfidf_vectorize(m->tfidf, &s->tfidf, t->valuestring, strlen(t->valuestring), &s->x);
    }
    logreg_check_vector(m->logreg, &s->x, file, line);
    if (logreg_proba(m->logreg, &s->x, probs) < 0)
        die_at(file, line, "the vector's values are so large that its decision values overflow (inf - inf)");
}
