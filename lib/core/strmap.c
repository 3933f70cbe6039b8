#include "strmap.h"
#include "common.h"

#include <stdlib.h>
#include <string.h>

uint64_t strmap_hash(const char *s, size_t n)
{
    /* FNV-1a, then a final mix so low bits are usable as a table index */
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001B3ull;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    return h;
}

static strmap_entry *probe(strmap_entry *slots, size_t cap, const char *key, size_t n, uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    for (;;) {
        strmap_entry *e = &slots[i];
        if (!e->key) return e;
        if (e->hash == h && e->keylen == n && memcmp(e->key, key, n) == 0) return e;
        i = (i + 1) & (cap - 1);
    }
}

strmap_entry *strmap_find(const strmap *m, const char *key, size_t n)
{
    if (!m->cap) return NULL;
    strmap_entry *e = probe(m->slots, m->cap, key, n, strmap_hash(key, n));
    return e->key ? e : NULL;
}

static void grow(strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    strmap_entry *slots = xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < m->cap; i++) {
        strmap_entry *e = &m->slots[i];
        if (e->key) *probe(slots, cap, e->key, e->keylen, e->hash) = *e;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

strmap_entry *strmap_put(strmap *m, const char *key, size_t n, size_t value, int *is_new)
{
    if ((m->count + 1) * 4 > m->cap * 3) grow(m);
    uint64_t h = strmap_hash(key, n);
    strmap_entry *e = probe(m->slots, m->cap, key, n, h);
    if (is_new) *is_new = !e->key;
    if (!e->key) {
        e->key = xstrndup(key, n);
        e->keylen = n;
        e->hash = h;
        e->value = value;
        m->count++;
    }
    return e;
}

void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof *m);
}
