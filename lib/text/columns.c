#include "columns.h"
#include "core/common.h"
#include "core/strbuf.h"

#include <string.h>

long column_find(const csv_row *header, const char *file, const char *name)
{
    long found = -1;
    for (size_t i = 0; i < header->n; i++) {
        if (strcmp(header->field[i].s, name) != 0) continue;
        if (found >= 0) die_at(file, header->line, "column '%s' appears twice in the header", name);
        found = (long)i;
    }
    return found;
}

size_t column_require(const csv_row *header, const char *file, const char *name)
{
    long i = column_find(header, file, name);
    if (i >= 0) return (size_t)i;
    strbuf have = {0};
    for (size_t k = 0; k < header->n && have.len < 200; k++) {
        if (k) sb_adds(&have, ", ");
        sb_adds(&have, header->field[k].s);
    }
    die_at(file, header->line, "no column '%s' (the header has: %s)", name, sb_str(&have));
}
