#include "csvread.h"
#include "core/common.h"
#include "core/utf8.h"

#include <csv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

size_t csv_max_row_bytes = (size_t)256 << 20;

typedef struct pending_row {
    strbuf *field;
    size_t n, cap;
    long line;
} pending_row;

struct csv_reader {
    FILE *f;
    const char *name;
    int owns_file, flags, at_eof;
    struct csv_parser parser;
    char *line_buf;
    size_t line_cap;
    strbuf repaired;
    long line;          /* physical lines read */
    long row_line;      /* start line of the row being built */
    size_t row_bytes;   /* bytes fed since that row started */
    size_t replaced;
    pending_row building;
    /* rows completed but not yet returned; a CR-only file can complete
     * several per physical line */
    pending_row *queue;
    size_t q_head, q_len, q_cap;
    pending_row out;    /* the row handed to the caller */
};

static int never_space(unsigned char c)
{
    (void)c;
    return 0;
}

static void row_reset(pending_row *pr)
{
    for (size_t i = 0; i < pr->n; i++) sb_clear(&pr->field[i]);
    pr->n = 0;
}

static void row_free(pending_row *pr)
{
    for (size_t i = 0; i < pr->cap; i++) sb_free(&pr->field[i]);
    free(pr->field);
    memset(pr, 0, sizeof *pr);
}

static void on_field(void *s, size_t len, void *data)
{
    csv_reader *r = data;
    pending_row *pr = &r->building;
    if (pr->n == pr->cap) {
        size_t cap = pr->cap ? pr->cap * 2 : 16;
        pr->field = xrealloc(pr->field, cap * sizeof *pr->field);
        memset(pr->field + pr->cap, 0, (cap - pr->cap) * sizeof *pr->field);
        pr->cap = cap;
    }
    strbuf *f = &pr->field[pr->n++];
    sb_clear(f);
    sb_addn(f, s ? s : "", s ? len : 0);
}

static void on_row_end(int c, void *data)
{
    (void)c;
    csv_reader *r = data;
    if (r->q_len == r->q_cap) {
        size_t cap = r->q_cap ? r->q_cap * 2 : 4;
        pending_row *q = xcalloc(cap, sizeof *q);
        for (size_t i = 0; i < r->q_len; i++) q[i] = r->queue[(r->q_head + i) % r->q_cap];
        free(r->queue);
        r->queue = q;
        r->q_head = 0;
        r->q_cap = cap;
    }
    pending_row *slot = &r->queue[(r->q_head + r->q_len) % r->q_cap];
    /* swap buffers so both keep their allocations */
    pending_row tmp = *slot;
    *slot = r->building;
    slot->line = r->row_line;
    r->building = tmp;
    row_reset(&r->building);
    r->q_len++;
    r->row_bytes = 0;
    r->row_line = r->line + 1;
}

csv_reader *csv_open(const char *path, int flags)
{
    csv_reader *r = xcalloc(1, sizeof *r);
    r->f = open_input(path);
    r->owns_file = r->f != stdin;
    r->name = input_name(path);
    r->flags = flags;
    r->row_line = 1;
    if (csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        die("out of memory");
    csv_set_space_func(&r->parser, never_space);
    return r;
}

static void parse_error(csv_reader *r, long line)
{
    int err = csv_error(&r->parser);
    if (err == CSV_EPARSE)
        die_at(r->name, line, "malformed quoting (a quote inside an unquoted field, or text after a closing quote)");
    die_at(r->name, line, "%s", csv_strerror(err));
}

/* Feeds one more physical line; returns 0 at end of input. */
static int feed_line(csv_reader *r)
{
    errno = 0;
    ssize_t n = getline(&r->line_buf, &r->line_cap, r->f);
    if (n < 0) {
        if (ferror(r->f)) die_at(r->name, r->line + 1, "read error: %s", strerror(errno));
        if (csv_fini(&r->parser, on_field, on_row_end, r) != 0) {
            if (csv_error(&r->parser) == CSV_EPARSE)
                die_at(r->name, r->row_line, "unterminated quoted field (the row starting here never closes its quote)");
            parse_error(r, r->line);
        }
        if (r->line == 0) die_at(r->name, 0, "empty file");
        return 0;
    }
    r->line++;
    const char *s = r->line_buf;
    size_t len = (size_t)n;
    if (r->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, len -= 3;
    if (memchr(s, '\0', len)) die_at(r->name, r->line, "NUL byte in input");
    size_t bad = utf8_invalid_offset(s, len);
    if (bad < len) {
        if (!(r->flags & CSV_REPLACE_INVALID))
            die_at(r->name, r->line, "invalid UTF-8 at byte %zu of the line%s", bad + 1,
                   r->flags & CSV_NO_REPLACE_HINT ? "" : " (use --replace-invalid to replace it with U+FFFD)");
        sb_clear(&r->repaired);
        r->replaced += utf8_repair(&r->repaired, s, len);
        s = r->repaired.s;
        len = r->repaired.len;
    }
    if (r->parser.pstate == 0 && r->building.n == 0) r->row_line = r->line;
    r->row_bytes += len;
    if (r->row_bytes > csv_max_row_bytes)
        die_at(r->name, r->row_line, "row larger than %zu bytes (an unterminated quote?)", csv_max_row_bytes);
    if (csv_parse(&r->parser, s, len, on_field, on_row_end, r) != len) parse_error(r, r->line);
    return 1;
}

int csv_next(csv_reader *r, csv_row *row)
{
    while (r->q_len == 0) {
        if (r->at_eof) return 0;
        if (!feed_line(r)) r->at_eof = 1;
    }
    pending_row tmp = r->out;
    r->out = r->queue[r->q_head];
    r->queue[r->q_head] = tmp;
    row_reset(&r->queue[r->q_head]);
    r->q_head = (r->q_head + 1) % r->q_cap;
    r->q_len--;
    row->n = r->out.n;
    row->field = r->out.field;
    row->line = r->out.line;
    return 1;
}

const char *csv_name(const csv_reader *r) { return r->name; }
FILE *csv_file(const csv_reader *r) { return r->f; }
size_t csv_replaced(const csv_reader *r) { return r->replaced; }

void csv_close(csv_reader *r)
{
    if (!r) return;
    if (r->owns_file) fclose(r->f);
    csv_free(&r->parser);
    free(r->line_buf);
    sb_free(&r->repaired);
    row_free(&r->building);
    row_free(&r->out);
    for (size_t i = 0; i < r->q_cap; i++) row_free(&r->queue[i]);
    free(r->queue);
    free(r);
}
