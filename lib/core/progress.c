#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 24

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_start_unit(progress *p, int mode, long total, long done, const char *unit, double scale)
{
    memset(p, 0, sizeof *p);
    p->on = mode < 0 ? isatty(2) : mode;
    p->total = total;
    p->first = p->done = done;
    p->t0 = progress_now();
    p->last_draw = -1;
    p->unit = unit;
    p->scale = scale > 0 ? scale : 1;
}

void progress_start_reading(progress *p, int mode, FILE *f, const char *what)
{
    struct stat st;
    int bytes = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (bytes) progress_start_unit(p, mode, (long)st.st_size, 0, "MB", 1e6);
    else progress_start_unit(p, mode, 0, 0, what, 1);
    p->bytes = bytes;
}

void progress_reading(progress *p, FILE *f, long count)
{
    if (!p->on) return;
    long at = p->bytes ? (long)ftello(f) : count;
    progress_update(p, at < 0 ? 0 : at, NULL);
}

void progress_start(progress *p, int mode, long total, long done)
{
    progress_start_unit(p, mode, total > 0 ? total : 1, done, "step", 1);
}

static void clock_text(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 359999) {
        snprintf(buf, n, "--:--");
        return;
    }
    int t = (int)(s + 0.5); /* below 100 hours */
    if (t >= 3600) snprintf(buf, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%d:%02d", t / 60, t % 60);
}

/* a count in the progress's unit: whole steps, or to 0.1 when scaled */
static void count_text(const progress *p, char *buf, size_t n, double v)
{
    if (p->scale == 1) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, "%.1f", v / p->scale);
}

/* a line was drawn: it stays open (no newline) until the next draw */
static void drawn(progress *p, double now)
{
    fflush(stderr);
    p->drawn = 1;
    p->last_draw = now;
    stderr_mid_line = 1;
}

static void draw(progress *p, double now)
{
    if (p->total <= 0) {
        /* unknown total: the count, the rate and the time spent */
        double elapsed = now - p->t0, rate = elapsed > 0 ? (double)(p->done - p->first) / elapsed : 0;
        char done[32], per_s[32], spent[32];
        count_text(p, done, sizeof done, (double)p->done);
        count_text(p, per_s, sizeof per_s, rate);
        clock_text(spent, sizeof spent, elapsed);
        fprintf(stderr, "\r%s %s %s, %s %s/s, %s%s%s\033[K", prog_name, done, p->unit, per_s, p->unit, spent,
                p->text[0] ? " | " : "", p->text);
        drawn(p, now);
        return;
    }
    int fill = (int)((double)p->done * BAR_WIDTH / (double)p->total);
    if (fill > BAR_WIDTH) fill = BAR_WIDTH;
    char bar[BAR_WIDTH + 1];
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
    bar[BAR_WIDTH] = '\0';
    double elapsed = now - p->t0, rate = elapsed > 0 ? (double)(p->done - p->first) / elapsed : 0;
    char left[32], spent[32];
    clock_text(left, sizeof left, rate > 0 ? (double)(p->total - p->done) / rate : -1);
    clock_text(spent, sizeof spent, elapsed);
    /* \033[K clears what a longer earlier line left behind */
    char done[32], total[32], per_s[32];
    count_text(p, done, sizeof done, (double)p->done);
    count_text(p, total, sizeof total, (double)p->total);
    if (p->scale == 1) snprintf(per_s, sizeof per_s, "%.2f", rate);
    else count_text(p, per_s, sizeof per_s, rate);
    fprintf(stderr, "\r%s [%s] %s/%s%s%s %3d%% %s %s/s %s ETA %s%s%s\033[K", prog_name, bar, done, total,
            p->scale == 1 ? "" : " ", p->scale == 1 ? "" : p->unit, (int)(100.0 * (double)p->done / (double)p->total),
            per_s, p->unit, spent, left, p->text[0] ? " | " : "", p->text);
    drawn(p, now);
}

void progress_update(progress *p, long done, const char *text)
{
    p->done = done;
    if (text) snprintf(p->text, sizeof p->text, "%s", text);
    if (!p->on) return;
    double now = progress_now();
    if (p->last_draw < 0 || now - p->last_draw >= 0.1 || (p->total > 0 && done >= p->total)) draw(p, now);
}

void progress_note(progress *p, const char *fmt, ...)
{
    if (p->on && p->drawn) fputs("\r\033[K", stderr);
    stderr_mid_line = 0;
    fprintf(stderr, "%s: ", prog_name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (p->on && p->drawn) draw(p, progress_now());
    fflush(stderr);
}

void progress_end(progress *p)
{
    if (!p->on) return;
    draw(p, progress_now());
    fputc('\n', stderr);
    fflush(stderr);
    p->drawn = 0;
    stderr_mid_line = 0;
}
