#include "pytorch_bin.h"
#include "core/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* ------------------------------------------------------------------------
 * Pickle values. Everything is allocated from one arena and freed at the
 * end, so the memo and the stack can share values freely. */

enum { V_MARK, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR };

typedef struct pv {
    int kind;
    int64_t i;                 /* INT, BOOL; TENSOR: storage offset (elements) */
    char *s;                   /* STR bytes; GLOBAL "module.name"; STORAGE key */
    size_t n;                  /* STR length; TUPLE/LIST/DICT item count (DICT: 2 per pair) */
    struct pv **items;
    size_t cap;
    char dtype[8];             /* STORAGE, TENSOR */
    struct pv *storage;        /* TENSOR */
    int ndim;                  /* TENSOR */
    int64_t shape[ST_MAX_DIMS], stride[ST_MAX_DIMS];
} pv;

typedef struct unpickler {
    const unsigned char *p, *end;
    pv **arena;
    size_t narena, carena;
    pv **stack;
    size_t nstack, cstack;
    pv **memo;
    size_t nmemo;
    const char *name;
    char *err;
} unpickler;

static pv *new_value(unpickler *u, int kind)
{
    pv *v = xcalloc(1, sizeof *v);
    v->kind = kind;
    if (u->narena == u->carena) u->arena = xrealloc(u->arena, (u->carena = u->carena * 2 + 64) * sizeof *u->arena);
    u->arena[u->narena++] = v;
    return v;
}

static void add_item(pv *c, pv *item)
{
    if (c->n == c->cap) c->items = xrealloc(c->items, (c->cap = c->cap * 2 + 8) * sizeof *c->items);
    c->items[c->n++] = item;
}

static void push(unpickler *u, pv *v)
{
    if (u->nstack == u->cstack) u->stack = xrealloc(u->stack, (u->cstack = u->cstack * 2 + 32) * sizeof *u->stack);
    u->stack[u->nstack++] = v;
}

static pv *pop(unpickler *u)
{
    return u->nstack ? u->stack[--u->nstack] : NULL;
}

/* Index of the topmost MARK, or -1. */
static long find_mark(const unpickler *u)
{
    for (size_t i = u->nstack; i-- > 0;)
        if (u->stack[i]->kind == V_MARK) return (long)i;
    return -1;
}

static void free_arena(unpickler *u)
{
    for (size_t i = 0; i < u->narena; i++) {
        free(u->arena[i]->s);
        free(u->arena[i]->items);
        free(u->arena[i]);
    }
    free(u->arena);
    free(u->stack);
    free(u->memo);
}

static int need(unpickler *u, size_t n)
{
    if ((size_t)(u->end - u->p) < n) return model_fail(u->err, "%s: the pickle ends early", u->name);
    return 0;
}

static const char *storage_dtype(const char *global)
{
    static const struct { const char *cls, *dtype; } map[] = {
        {"torch.FloatStorage", "F32"}, {"torch.HalfStorage", "F16"}, {"torch.BFloat16Storage", "BF16"},
        {"torch.DoubleStorage", "F64"}, {"torch.LongStorage", "I64"}, {"torch.IntStorage", "I32"},
        {"torch.ShortStorage", "I16"}, {"torch.CharStorage", "I8"}, {"torch.ByteStorage", "U8"},
        {"torch.BoolStorage", "BOOL"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(global, map[i].cls) == 0) return map[i].dtype;
    return NULL;
}

/* The globals a state dict needs; anything else is refused. */
static int allowed_global(const char *g)
{
    return strcmp(g, "collections.OrderedDict") == 0 || strcmp(g, "torch._utils._rebuild_tensor_v2") == 0 ||
           strcmp(g, "torch._utils._rebuild_parameter") == 0 || storage_dtype(g) != NULL;
}

static int int_list(const pv *t, int64_t *out, int *n)
{
    if (!t || (t->kind != V_TUPLE && t->kind != V_LIST) || t->n > ST_MAX_DIMS) return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->kind != V_INT) return -1;
        out[i] = t->items[i]->i;
    }
    *n = (int)t->n;
    return 0;
}

static int do_reduce(unpickler *u)
{
    pv *args = pop(u), *fn = pop(u);
    if (!args || !fn || fn->kind != V_GLOBAL || args->kind != V_TUPLE)
        return model_fail(u->err, "%s: unsupported REDUCE in the pickle", u->name);
    if (strcmp(fn->s, "collections.OrderedDict") == 0) {
        push(u, new_value(u, V_DICT));
        return 0;
    }
    if (strcmp(fn->s, "torch._utils._rebuild_parameter") == 0) {
        if (args->n < 1 || args->items[0]->kind != V_TENSOR)
            return model_fail(u->err, "%s: _rebuild_parameter without a tensor", u->name);
        push(u, args->items[0]);
        return 0;
    }
    if (strcmp(fn->s, "torch._utils._rebuild_tensor_v2") == 0) {
        /* (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
        if (args->n < 4 || args->items[0]->kind != V_STORAGE || args->items[1]->kind != V_INT)
            return model_fail(u->err, "%s: malformed _rebuild_tensor_v2", u->name);
        pv *t = new_value(u, V_TENSOR);
        int ns, nt;
        if (int_list(args->items[2], t->shape, &ns) < 0 || int_list(args->items[3], t->stride, &nt) < 0 || ns != nt)
            return model_fail(u->err, "%s: malformed tensor shape or stride", u->name);
        t->ndim = ns;
        t->storage = args->items[0];
        t->i = args->items[1]->i;
        memcpy(t->dtype, t->storage->dtype, sizeof t->dtype);
        push(u, t);
        return 0;
    }
    return model_fail(u->err, "%s: unsupported call %s in the pickle", u->name, fn->s);
}

/* BINPERSID: ('storage', storage_type, key, location, numel[, view]) */
static int do_persid(unpickler *u)
{
    pv *pid = pop(u);
    if (!pid || pid->kind != V_TUPLE || pid->n < 5 || pid->items[0]->kind != V_STR ||
        strcmp(pid->items[0]->s, "storage") != 0 || pid->items[1]->kind != V_GLOBAL ||
        (pid->items[2]->kind != V_STR && pid->items[2]->kind != V_INT))
        return model_fail(u->err, "%s: unsupported persistent id in the pickle", u->name);
    const char *dtype = storage_dtype(pid->items[1]->s);
    if (!dtype) return model_fail(u->err, "%s: unsupported storage type %s", u->name, pid->items[1]->s);
    if (pid->n >= 6 && pid->items[5]->kind != V_NONE)
        return model_fail(u->err, "%s: storage views (legacy format) are not supported", u->name);
    pv *s = new_value(u, V_STORAGE);
    if (pid->items[2]->kind == V_STR) s->s = xstrdup(pid->items[2]->s);
    else {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)pid->items[2]->i);
        s->s = xstrdup(buf);
    }
    snprintf(s->dtype, sizeof s->dtype, "%s", dtype);
    push(u, s);
    return 0;
}

static int memo_put(unpickler *u, size_t idx)
{
    if (!u->nstack) return model_fail(u->err, "%s: PUT on an empty stack", u->name);
    if (idx > (1u << 20)) return model_fail(u->err, "%s: memo index too large", u->name);
    if (idx >= u->nmemo) {
        u->memo = xrealloc(u->memo, (idx + 1) * sizeof *u->memo);
        for (size_t i = u->nmemo; i <= idx; i++) u->memo[i] = NULL;
        u->nmemo = idx + 1;
    }
    u->memo[idx] = u->stack[u->nstack - 1];
    return 0;
}

static int memo_get(unpickler *u, size_t idx)
{
    if (idx >= u->nmemo || !u->memo[idx]) return model_fail(u->err, "%s: GET of an unknown memo entry", u->name);
    push(u, u->memo[idx]);
    return 0;
}

static int push_str(unpickler *u, size_t n)
{
    if (need(u, n) < 0) return -1;
    pv *v = new_value(u, V_STR);
    v->s = xstrndup((const char *)u->p, n);
    v->n = n;
    u->p += n;
    push(u, v);
    return 0;
}

/* Moves the items above the topmost mark into container c. */
static int from_mark(unpickler *u, pv *c)
{
    long mk = find_mark(u);
    if (mk < 0) return model_fail(u->err, "%s: no MARK in the pickle", u->name);
    for (size_t i = (size_t)mk + 1; i < u->nstack; i++) add_item(c, u->stack[i]);
    u->nstack = (size_t)mk;
    return 0;
}

/* Runs one pickle to its STOP; *result is the value it returns. */
static int unpickle(unpickler *u, pv **result)
{
    u->nstack = 0;
    u->nmemo = 0;
    for (;;) {
        if (need(u, 1) < 0) return -1;
        unsigned op = *u->p++;
        switch (op) {
        case 0x80: /* PROTO */
            if (need(u, 1) < 0) return -1;
            if (*u->p > 5) return model_fail(u->err, "%s: pickle protocol %d", u->name, *u->p);
            u->p++;
            break;
        case 0x95: /* FRAME (protocol 4) */
            if (need(u, 8) < 0) return -1;
            u->p += 8;
            break;
        case '.': /* STOP */
            *result = pop(u);
            if (!*result) return model_fail(u->err, "%s: empty pickle", u->name);
            return 0;
        case '(': push(u, new_value(u, V_MARK)); break;
        case 'N': push(u, new_value(u, V_NONE)); break;
        case 0x88: case 0x89: { /* NEWTRUE, NEWFALSE */
            pv *v = new_value(u, V_BOOL);
            v->i = op == 0x88;
            push(u, v);
            break;
        }
        case '}': push(u, new_value(u, V_DICT)); break;
        case ']': push(u, new_value(u, V_LIST)); break;
        case ')': push(u, new_value(u, V_TUPLE)); break;
        case 'J': case 'K': case 'M': { /* BININT, BININT1, BININT2 */
            size_t n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
            if (need(u, n) < 0) return -1;
            pv *v = new_value(u, V_INT);
            v->i = op == 'J' ? (int32_t)rd32(u->p) : op == 'K' ? u->p[0] : (int64_t)rd16(u->p);
            u->p += n;
            push(u, v);
            break;
        }
        case 0x8a: { /* LONG1: n little-endian two's complement bytes */
            if (need(u, 1) < 0) return -1;
            size_t n = *u->p++;
            if (need(u, n) < 0) return -1;
            pv *v = new_value(u, V_INT);
            if (n <= 8) {
                uint64_t x = 0;
                for (size_t k = 0; k < n; k++) x |= (uint64_t)u->p[k] << (8 * k);
                if (n && n < 8 && (u->p[n - 1] & 0x80)) x |= ~0ull << (8 * n);
                v->i = (int64_t)x;
            } /* longer: the legacy format's magic number; its value is not needed */
            u->p += n;
            push(u, v);
            break;
        }
        case 'G': { /* BINFLOAT */
            if (need(u, 8) < 0) return -1;
            u->p += 8;
            push(u, new_value(u, V_FLOAT));
            break;
        }
        case 'X': case 'T': /* BINUNICODE, BINSTRING */
            if (need(u, 4) < 0) return -1;
            u->p += 4;
            if (push_str(u, rd32(u->p - 4)) < 0) return -1;
            break;
        case 0x8c: case 'U': /* SHORT_BINUNICODE, SHORT_BINSTRING */
            if (need(u, 1) < 0) return -1;
            u->p++;
            if (push_str(u, u->p[-1]) < 0) return -1;
            break;
        case 'c': { /* GLOBAL module\nname\n */
            const unsigned char *nl1 = memchr(u->p, '\n', (size_t)(u->end - u->p));
            const unsigned char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(u->end - nl1 - 1)) : NULL;
            if (!nl2) return model_fail(u->err, "%s: malformed GLOBAL", u->name);
            pv *v = new_value(u, V_GLOBAL);
            size_t a = (size_t)(nl1 - u->p), b = (size_t)(nl2 - nl1 - 1);
            v->s = xmalloc(a + b + 2);
            memcpy(v->s, u->p, a);
            v->s[a] = '.';
            memcpy(v->s + a + 1, nl1 + 1, b);
            v->s[a + 1 + b] = 0;
            u->p = nl2 + 1;
            if (!allowed_global(v->s)) return model_fail(u->err, "%s: refusing the pickle's global %s", u->name, v->s);
            push(u, v);
            break;
        }
        case 'q': /* BINPUT */
            if (need(u, 1) < 0 || memo_put(u, *u->p++) < 0) return -1;
            break;
        case 'r': /* LONG_BINPUT */
            if (need(u, 4) < 0 || memo_put(u, rd32(u->p)) < 0) return -1;
            u->p += 4;
            break;
        case 0x94: /* MEMOIZE */
            if (memo_put(u, u->nmemo) < 0) return -1;
            break;
        case 'h': /* BINGET */
            if (need(u, 1) < 0 || memo_get(u, *u->p++) < 0) return -1;
            break;
        case 'j': /* LONG_BINGET */
            if (need(u, 4) < 0 || memo_get(u, rd32(u->p)) < 0) return -1;
            u->p += 4;
            break;
        case 't': { /* TUPLE */
            pv *t = new_value(u, V_TUPLE);
            if (from_mark(u, t) < 0) return -1;
            push(u, t);
            break;
        }
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t n = op - 0x84;
            if (u->nstack < n) return model_fail(u->err, "%s: stack underflow", u->name);
            pv *t = new_value(u, V_TUPLE);
            for (size_t k = u->nstack - n; k < u->nstack; k++) add_item(t, u->stack[k]);
            u->nstack -= n;
            push(u, t);
            break;
        }
        case 'a': { /* APPEND */
            pv *v = pop(u);
            if (!v || !u->nstack || u->stack[u->nstack - 1]->kind != V_LIST)
                return model_fail(u->err, "%s: APPEND to a non-list", u->name);
            add_item(u->stack[u->nstack - 1], v);
            break;
        }
        case 'e': case 'u': { /* APPENDS, SETITEMS: items since the mark into the container below it */
            long mk = find_mark(u);
            int want = op == 'e' ? V_LIST : V_DICT;
            if (mk < 1 || u->stack[mk - 1]->kind != want)
                return model_fail(u->err, "%s: %s without a container", u->name, op == 'e' ? "APPENDS" : "SETITEMS");
            if (op == 'u' && (u->nstack - (size_t)mk - 1) % 2)
                return model_fail(u->err, "%s: SETITEMS with an odd count", u->name);
            for (size_t i = (size_t)mk + 1; i < u->nstack; i++) add_item(u->stack[mk - 1], u->stack[i]);
            u->nstack = (size_t)mk;
            break;
        }
        case 's': { /* SETITEM */
            pv *val = pop(u), *key = pop(u);
            if (!val || !key || !u->nstack || u->stack[u->nstack - 1]->kind != V_DICT)
                return model_fail(u->err, "%s: SETITEM on a non-dict", u->name);
            add_item(u->stack[u->nstack - 1], key);
            add_item(u->stack[u->nstack - 1], val);
            break;
        }
        case 'R': /* REDUCE */
            if (do_reduce(u) < 0) return -1;
            break;
        case 'b': /* BUILD: the state of an OrderedDict (its _metadata) is not needed */
            if (!pop(u) || !u->nstack) return model_fail(u->err, "%s: BUILD on an empty stack", u->name);
            break;
        case 'Q': /* BINPERSID */
            if (do_persid(u) < 0) return -1;
            break;
        default:
            return model_fail(u->err, "%s: unsupported pickle opcode 0x%02x", u->name, op);
        }
    }
}

/* ------------------------------------------------------------------------
 * Zip archive (torch >= 1.6): stored entries only, as torch.save writes. */

typedef struct zentry {
    char *name;
    const unsigned char *data;
    size_t size;
} zentry;

static int zip_entries(const unsigned char *map, size_t size, zentry **out, size_t *nout, const char *name, char *err)
{
    /* the end-of-central-directory record: within the last 64 KiB + 22 bytes */
    if (size < 22) return model_fail(err, "%s: not a zip archive", name);
    size_t lo = size > 65557 ? size - 65557 : 0, eocd = (size_t)-1;
    for (size_t i = size - 22;; i--) {
        if (rd32(map + i) == 0x06054b50) {
            eocd = i;
            break;
        }
        if (i == lo) break;
    }
    if (eocd == (size_t)-1) return model_fail(err, "%s: not a zip archive (no end of central directory)", name);
    uint64_t count = rd16(map + eocd + 10), cd_off = rd32(map + eocd + 16);
    if ((count == 0xffff || cd_off == 0xffffffffu) && eocd >= 20 && rd32(map + eocd - 20) == 0x07064b50) {
        uint64_t z = rd64(map + eocd - 20 + 8);
        if (z + 56 > size || rd32(map + z) != 0x06064b50) return model_fail(err, "%s: bad zip64 directory", name);
        count = rd64(map + z + 32);
        cd_off = rd64(map + z + 48);
    }
    if (cd_off > size || count > size / 46) return model_fail(err, "%s: bad zip central directory", name);
    zentry *e = xcalloc(count ? count : 1, sizeof *e);
    size_t p = cd_off, n = 0;
    for (uint64_t k = 0; k < count; k++) {
        if (p + 46 > size || rd32(map + p) != 0x02014b50) goto bad;
        unsigned method = rd16(map + p + 10);
        uint64_t csize = rd32(map + p + 20), usize = rd32(map + p + 24), loc = rd32(map + p + 42);
        size_t nlen = rd16(map + p + 28), xlen = rd16(map + p + 30), clen = rd16(map + p + 32);
        if (p + 46 + nlen + xlen + clen > size) goto bad;
        /* zip64 extra field: the 64-bit values of the fields saturated above */
        for (size_t x = p + 46 + nlen; x + 4 <= p + 46 + nlen + xlen;) {
            size_t id = rd16(map + x), len = rd16(map + x + 2), q = x + 4;
            if (x + 4 + len > p + 46 + nlen + xlen) break;
            if (id == 1) {
                if (usize == 0xffffffffu && q + 8 <= x + 4 + len) usize = rd64(map + q), q += 8;
                if (csize == 0xffffffffu && q + 8 <= x + 4 + len) csize = rd64(map + q), q += 8;
                if (loc == 0xffffffffu && q + 8 <= x + 4 + len) loc = rd64(map + q), q += 8;
            }
            x += 4 + len;
        }
        e[n].name = xstrndup((const char *)map + p + 46, nlen);
        n++;
        if (method != 0 || csize != usize) {
            model_fail(err, "%s: zip entry %s is compressed (torch.save writes stored entries)", name, e[n - 1].name);
            goto out;
        }
        if (loc + 30 > size || rd32(map + loc) != 0x04034b50) goto bad;
        uint64_t data = loc + 30 + rd16(map + loc + 26) + rd16(map + loc + 28);
        if (data > size || usize > size - data) goto bad;
        e[n - 1].data = map + data;
        e[n - 1].size = (size_t)usize;
        p += 46 + nlen + xlen + clen;
    }
    *out = e;
    *nout = n;
    return 0;
bad:
    model_fail(err, "%s: corrupt zip archive", name);
out:
    for (size_t i = 0; i < n; i++) free(e[i].name);
    free(e);
    return -1;
}

/* ------------------------------------------------------------------------ */

/* Storage bytes for a key: zip entries <prefix>data/<key>, or the legacy
 * format's list after the pickles. */
typedef struct storage_ref {
    char *key;
    const unsigned char *data;
    size_t size;
} storage_ref;

static int add_tensors(st_file *f, const pv *dict, const storage_ref *st, size_t nst, const char *name, char *err)
{
    if (!dict || dict->kind != V_DICT) return model_fail(err, "%s: the checkpoint is not a state dict", name);
    f->tensors = xcalloc(dict->n / 2 + 1, sizeof *f->tensors);
    for (size_t i = 0; i + 1 < dict->n; i += 2) {
        const pv *k = dict->items[i], *t = dict->items[i + 1];
        if (k->kind != V_STR || t->kind != V_TENSOR) continue; /* not a tensor entry */
        const storage_ref *s = NULL;
        for (size_t j = 0; j < nst && !s; j++)
            if (strcmp(st[j].key, t->storage->s) == 0) s = &st[j];
        if (!s) return model_fail(err, "%s: tensor %s: storage %s is missing", name, k->s, t->storage->s);
        st_tensor *o = &f->tensors[f->n];
        size_t esize = st_dtype_size(t->dtype);
        o->ndim = t->ndim;
        o->numel = 1;
        int64_t expect = 1;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (t->shape[d] < 0) return model_fail(err, "%s: tensor %s: negative size", name, k->s);
            if (t->shape[d] != 1 && t->stride[d] != expect)
                return model_fail(err, "%s: tensor %s is not contiguous", name, k->s);
            expect *= t->shape[d];
        }
        for (int d = 0; d < t->ndim; d++) {
            o->shape[d] = t->shape[d];
            o->numel *= (size_t)t->shape[d];
        }
        if (t->i < 0 || (size_t)t->i > s->size / esize || o->numel > s->size / esize - (size_t)t->i)
            return model_fail(err, "%s: tensor %s lies outside its storage", name, k->s);
        snprintf(o->dtype, sizeof o->dtype, "%s", t->dtype);
        o->nbytes = o->numel * esize;
        o->data = s->data + (size_t)t->i * esize;
        o->name = xstrdup(k->s);
        f->n++;
    }
    if (!f->n) return model_fail(err, "%s: the state dict holds no tensors", name);
    return 0;
}

static int open_zip(st_file *f, unpickler *u, const char *path, char *err)
{
    zentry *e = NULL;
    size_t n = 0;
    if (zip_entries(f->map, f->size, &e, &n, path, err) < 0) return -1;
    int rc = -1;
    const zentry *pkl = NULL;
    for (size_t i = 0; i < n && !pkl; i++) {
        size_t l = strlen(e[i].name);
        if (l >= 8 && strcmp(e[i].name + l - 8, "data.pkl") == 0) pkl = &e[i];
    }
    storage_ref *st = xcalloc(n + 1, sizeof *st);
    size_t nst = 0;
    if (!pkl) {
        model_fail(err, "%s: a zip archive without data.pkl (not a torch.save checkpoint)", path);
    } else {
        size_t prefix = strlen(pkl->name) - 8; /* "archive/" */
        for (size_t i = 0; i < n; i++) {
            if (strncmp(e[i].name, pkl->name, prefix) == 0 && strncmp(e[i].name + prefix, "data/", 5) == 0) {
                st[nst].key = e[i].name + prefix + 5;
                st[nst].data = e[i].data;
                st[nst].size = e[i].size;
                nst++;
            }
        }
        u->p = pkl->data;
        u->end = pkl->data + pkl->size;
        pv *root;
        if (unpickle(u, &root) == 0) rc = add_tensors(f, root, st, nst, path, err);
    }
    free(st);
    for (size_t i = 0; i < n; i++) free(e[i].name);
    free(e);
    return rc;
}

/* The legacy stream: magic, protocol version, system info, the state dict,
 * the list of storage keys (all pickles), then per key an int64 element
 * count and the raw data. */
static int open_legacy(st_file *f, unpickler *u, const char *path, char *err)
{
    u->p = f->map;
    u->end = f->map + f->size;
    pv *v, *root, *keys;
    for (int i = 0; i < 3; i++)
        if (unpickle(u, &v) < 0) return -1;
    if (v->kind != V_DICT) return model_fail(err, "%s: not a PyTorch checkpoint", path);
    if (unpickle(u, &root) < 0 || unpickle(u, &keys) < 0) return -1;
    if (keys->kind != V_LIST) return model_fail(err, "%s: no storage list after the state dict", path);
    storage_ref *st = xcalloc(keys->n + 1, sizeof *st);
    int rc = 0;
    for (size_t i = 0; i < keys->n && rc == 0; i++) {
        if (keys->items[i]->kind != V_STR) rc = model_fail(err, "%s: a storage key is not a string", path);
        else if ((size_t)(u->end - u->p) < 8) rc = model_fail(err, "%s: truncated storage %s", path, keys->items[i]->s);
        else {
            uint64_t numel = rd64(u->p);
            u->p += 8;
            /* the element size comes from the storage's type: find a tensor using it */
            size_t esize = 0;
            for (size_t k = 0; k + 1 < root->n && root->kind == V_DICT; k += 2) {
                const pv *t = root->items[k + 1];
                if (t->kind == V_TENSOR && strcmp(t->storage->s, keys->items[i]->s) == 0) esize = st_dtype_size(t->dtype);
            }
            if (!esize) esize = 4; /* a storage no tensor uses; skipped below */
            if (numel > (uint64_t)(u->end - u->p) / esize) {
                rc = model_fail(err, "%s: truncated storage %s", path, keys->items[i]->s);
                break;
            }
            st[i].key = keys->items[i]->s;
            st[i].data = u->p;
            st[i].size = (size_t)numel * esize;
            u->p += st[i].size;
        }
    }
    if (rc == 0) rc = add_tensors(f, root, st, keys->n, path, err);
    free(st);
    return rc;
}

int pytorch_bin_open(st_file *f, const char *path, char *err)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return model_fail(err, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size < 4) {
        close(fd);
        return model_fail(err, "%s: not a PyTorch checkpoint", path);
    }
    f->size = (size_t)sb.st_size;
    f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return model_fail(err, "cannot map %s: %s", path, strerror(errno));
    }
    f->path = xstrdup(path);
    unpickler u = {.name = path, .err = err};
    int rc;
    if (rd32(f->map) == 0x04034b50) rc = open_zip(f, &u, path, err);
    else if (f->map[0] == 0x80) rc = open_legacy(f, &u, path, err);
    else rc = model_fail(err, "%s: not a PyTorch checkpoint (neither a zip archive nor a pickle)", path);
    free_arena(&u);
    if (rc < 0) st_close(f);
    return rc;
}
