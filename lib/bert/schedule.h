/* schedule: the learning rate of each optimizer step, as transformers'
 * schedules compute it (get_linear_schedule_with_warmup,
 * get_cosine_schedule_with_warmup, get_constant_schedule_with_warmup), and
 * the warmup length as TrainingArguments.get_warmup_steps derives it from a
 * ratio. The rate of step t (0-based: the first step is t = 0) is
 * peak * lambda(t), with lambda in double precision as in Python, so that
 * bert-train's rates equal the reference's (tests/unit/test_train.c checks
 * them against tests/golden/bert/schedules.json, made by transformers). */
#ifndef PIPECLF_SCHEDULE_H
#define PIPECLF_SCHEDULE_H

typedef enum sched_kind {
    SCHED_LINEAR,   /* warmup from 0, then linear decay to 0 at the last step */
    SCHED_COSINE,   /* warmup, then half a cosine wave down to 0 */
    SCHED_CONSTANT, /* warmup, then the peak rate */
} sched_kind;

/* "linear", "cosine", "constant" -> 0 and *k; -1 for another name. */
int sched_parse(const char *s, sched_kind *k);
const char *sched_name(sched_kind k);

/* Warmup steps: warmup_steps when >= 0, otherwise ceil(total * ratio)
 * (transformers' rule). */
long sched_warmup_steps(long warmup_steps, double ratio, long total);

/* The multiplier lambda(step) of the peak rate, for a run of total steps. */
double sched_lambda(sched_kind k, long step, long warmup, long total);

#endif
