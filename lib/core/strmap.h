/* strmap: an open-addressing hash map from byte strings to size_t, keys
 * copied. Used for duplicate detection, id lookups and label counts. */
#ifndef PIPECLF_STRMAP_H
#define PIPECLF_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap_entry {
    char *key;
    size_t keylen;
    uint64_t hash;
    size_t value;
} strmap_entry;

typedef struct strmap {
    strmap_entry *slots;
    size_t cap, count;
} strmap;

uint64_t strmap_hash(const char *s, size_t n);
/* The entry for key, or NULL. */
strmap_entry *strmap_find(const strmap *m, const char *key, size_t n);
/* The entry for key, inserted with value `value` if new; *is_new says which. */
strmap_entry *strmap_put(strmap *m, const char *key, size_t n, size_t value, int *is_new);
void strmap_free(strmap *m);

#endif
