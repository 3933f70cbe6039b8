#include "schedule.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"linear", "cosine", "constant"};

int sched_parse(const char *s, sched_kind *k)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *k = (sched_kind)i;
            return 0;
        }
    return -1;
}

const char *sched_name(sched_kind k)
{
    return names[k];
}

long sched_warmup_steps(long warmup_steps, double ratio, long total)
{
    return warmup_steps >= 0 ? warmup_steps : (long)ceil((double)total * ratio);
}

static double maxd(double a, double b)
{
    return a > b ? a : b;
}

/* The expressions follow transformers/optimization.py (4.40) term for term,
 * max(1, ...) guards included, so that the doubles agree bit for bit. */
double sched_lambda(sched_kind k, long step, long warmup, long total)
{
    if (step < warmup) return (double)step / maxd(1.0, (double)warmup);
    switch (k) {
    case SCHED_LINEAR:
        return maxd(0.0, (double)(total - step) / maxd(1.0, (double)(total - warmup)));
    case SCHED_COSINE: {
        double progress = (double)(step - warmup) / maxd(1.0, (double)(total - warmup));
        return maxd(0.0, 0.5 * (1.0 + cos(M_PI * 0.5 * 2.0 * progress)));
    }
    case SCHED_CONSTANT:
        break;
    }
    return 1.0;
}
