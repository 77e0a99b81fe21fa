/* omap.c — the skiplist behind omap.h. Searches keep, per level, a pointer to the `next` array
 * of the last node before the key (or the map's head), so insert and remove are straight-line
 * pointer swaps with no special case for the head. */
#include "omap.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "../core/common.h"

int rk_omap_key_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t common_len = a_len < b_len ? a_len : b_len;
    int c = common_len == 0 ? 0 : memcmp(a, b, common_len);
    if (c != 0) {
        return c;
    }
    if (a_len == b_len) {
        return 0;
    }
    return a_len < b_len ? -1 : 1;
}

#define OMAP_BUCKETS_MIN 64u

/* XXH3 (libxxhash, which core's hash.c uses too): one pass over the key; the level bits are
 * the low ones and the buckets the high ones. FNV-1a byte by byte, three times per put, was
 * most of a put's own instructions. */
static uint64_t omap_hash(const uint8_t *key, size_t key_len)
{
    return XXH3_64bits(key, key_len);
}

uint32_t rk_omap_level(const uint8_t *key, size_t key_len)
{
    uint64_t h = omap_hash(key, key_len);
    uint32_t level = 1;
    while (level < RK_OMAP_LEVEL_MAX && (h & 3u) == 0) {
        level++;
        h >>= 2;
    }
    return level;
}

size_t rk_omap_node_bytes(uint32_t level)
{
    size_t align = alignof(max_align_t);
    /* next[] holds `level` forward links, then `level` back links (omap_back). */
    size_t bytes = sizeof(rk_omap_node) + 2u * (size_t)level * sizeof(rk_omap_node *);
    return (bytes + align - 1) / align * align;
}

void *rk_omap_node_payload(rk_omap_node *n)
{
    return (char *)n + rk_omap_node_bytes(n->level);
}

void rk_omap_init(rk_omap *m)
{
    memset(m, 0, sizeof(*m));
}

static int omap_cmp_node(const rk_omap_node *n, const uint8_t *key, size_t key_len)
{
    return rk_omap_key_cmp(n->key, n->key_len, key, key_len);
}

/* Fill prev[level] with the `next` array of the last node whose key is < `key` at each level;
 * return the first node with a key >= `key`. */
static rk_omap_node *omap_search(rk_omap *m, const uint8_t *key, size_t key_len,
                                 rk_omap_node **prev[RK_OMAP_LEVEL_MAX])
{
    rk_omap_node **next = m->head;
    for (uint32_t i = RK_OMAP_LEVEL_MAX; i-- > 0;) {
        while (next[i] != NULL && omap_cmp_node(next[i], key, key_len) < 0) {
            next = next[i]->next;
        }
        prev[i] = next;
    }
    return next[0];
}

rk_omap_node *rk_omap_seek(const rk_omap *m, const uint8_t *key, size_t key_len)
{
    if (key == NULL) {
        return m->head[0];
    }
    rk_omap_node *const *next = m->head;
    for (uint32_t i = RK_OMAP_LEVEL_MAX; i-- > 0;) {
        while (next[i] != NULL && omap_cmp_node(next[i], key, key_len) < 0) {
            next = next[i]->next;
        }
    }
    return next[0];
}

/* The bucket chain a hash falls in; buckets must exist. */
static rk_omap_node **omap_bucket(const rk_omap *m, uint64_t hash)
{
    /* The level bits are the low ones; buckets take the high ones so both stay independent. */
    return &m->buckets[(hash >> 32) & (m->bucket_count - 1)];
}

static void omap_hash_link(rk_omap *m, rk_omap_node *n)
{
    rk_omap_node **bucket = omap_bucket(m, n->hash);
    n->hash_next = *bucket;
    *bucket = n;
}

static void omap_hash_unlink(rk_omap *m, rk_omap_node *n)
{
    rk_omap_node **at = omap_bucket(m, n->hash);
    while (*at != n) {
        RK_ASSERT(*at != NULL);
        at = &(*at)->hash_next;
    }
    *at = n->hash_next;
    n->hash_next = NULL;
}

/* Keep the index at most one node per bucket on average: double it and relink every node from
 * the skiplist's bottom level. On allocation failure keep what there is. */
static void omap_hash_grow(rk_omap *m)
{
    if (m->buckets != NULL && m->count < m->bucket_count) {
        return;
    }
    size_t bucket_count = m->bucket_count == 0 ? OMAP_BUCKETS_MIN : m->bucket_count * 2u;
    rk_omap_node **buckets = calloc(bucket_count, sizeof(*buckets));
    if (buckets == NULL) {
        return;
    }
    free(m->buckets);
    m->buckets = buckets;
    m->bucket_count = bucket_count;
    for (rk_omap_node *n = m->head[0]; n != NULL; n = n->next[0]) {
        omap_hash_link(m, n);
    }
}

/* rk_omap_find with the key's hash already known. */
static rk_omap_node *omap_find_hashed(const rk_omap *m, const uint8_t *key, size_t key_len,
                                      uint64_t hash)
{
    if (m->buckets != NULL) {
        for (rk_omap_node *n = *omap_bucket(m, hash); n != NULL; n = n->hash_next) {
            if (n->hash == hash && omap_cmp_node(n, key, key_len) == 0) {
                return n;
            }
        }
        return NULL;
    }
    rk_omap_node *n = rk_omap_seek(m, key, key_len);
    if (n != NULL && omap_cmp_node(n, key, key_len) == 0) {
        return n;
    }
    return NULL;
}

rk_omap_node *rk_omap_find(const rk_omap *m, const uint8_t *key, size_t key_len)
{
    return omap_find_hashed(m, key, key_len, m->buckets != NULL ? omap_hash(key, key_len) : 0);
}

rk_omap_node *rk_omap_next(const rk_omap_node *n)
{
    return n->next[0];
}

rk_omap_node *rk_omap_first(const rk_omap *m)
{
    return m->head[0];
}

/* The node before `n` at level i (NULL: the map's head), kept in next[level + i] so a known
 * node is replaced or unlinked without searching. */
static rk_omap_node **omap_back(rk_omap_node *n)
{
    return &n->next[n->level];
}

/* The link at level i that points past `pred` (NULL: the head). */
static rk_omap_node **omap_slot(rk_omap *m, rk_omap_node *pred, uint32_t i)
{
    return pred != NULL ? &pred->next[i] : &m->head[i];
}

/* The node whose next[] array is `next` (NULL when it is the map's head). */
static rk_omap_node *omap_owner(rk_omap *m, rk_omap_node **next)
{
    if (next == m->head) {
        return NULL;
    }
    return (rk_omap_node *)(void *)((char *)next - offsetof(rk_omap_node, next));
}

/* Link `n` at level i right after `pred`. */
static void omap_link_after(rk_omap *m, rk_omap_node *pred, rk_omap_node *n, uint32_t i)
{
    rk_omap_node **slot = omap_slot(m, pred, i);
    n->next[i] = *slot;
    *slot = n;
    omap_back(n)[i] = pred;
    if (n->next[i] != NULL) {
        omap_back(n->next[i])[i] = n;
    }
}

rk_omap_node *rk_omap_put(rk_omap *m, rk_omap_node *n)
{
    RK_ASSERT(n->level >= 1);
    RK_ASSERT(n->level <= RK_OMAP_LEVEL_MAX);
    RK_ASSERT_SLOW(n->level == rk_omap_level(n->key, n->key_len));
    n->hash = omap_hash(n->key, n->key_len);
    n->hash_next = NULL;
    rk_omap_node *at = omap_find_hashed(m, n->key, n->key_len, n->hash);
    if (at != NULL) {
        /* Same key, same height: `n` takes over the old node's links one for one, found
         * through the back links, so an overwrite costs no search. */
        RK_ASSERT(at->level == n->level);
        for (uint32_t i = 0; i < n->level; i++) {
            rk_omap_node *pred = omap_back(at)[i];
            RK_ASSERT(*omap_slot(m, pred, i) == at);
            *omap_slot(m, pred, i) = n;
            n->next[i] = at->next[i];
            omap_back(n)[i] = pred;
            if (n->next[i] != NULL) {
                omap_back(n->next[i])[i] = n;
            }
        }
        if (m->buckets != NULL) {
            omap_hash_unlink(m, at);
            omap_hash_link(m, n);
        }
        return at;
    }
    rk_omap_node **prev[RK_OMAP_LEVEL_MAX];
    at = omap_search(m, n->key, n->key_len, prev);
    RK_ASSERT(at == NULL || omap_cmp_node(at, n->key, n->key_len) != 0);
    for (uint32_t i = 0; i < n->level; i++) {
        omap_link_after(m, omap_owner(m, prev[i]), n, i);
    }
    m->count++;
    size_t buckets_before = m->bucket_count;
    omap_hash_grow(m);
    /* A grown index relinked every node, `n` included; otherwise link it now. */
    if (m->buckets != NULL && m->bucket_count == buckets_before) {
        omap_hash_link(m, n);
    }
    return NULL;
}

rk_omap_node *rk_omap_remove(rk_omap *m, const uint8_t *key, size_t key_len)
{
    rk_omap_node *at = rk_omap_find(m, key, key_len);
    if (at == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < at->level; i++) {
        rk_omap_node *pred = omap_back(at)[i];
        RK_ASSERT(*omap_slot(m, pred, i) == at);
        *omap_slot(m, pred, i) = at->next[i];
        if (at->next[i] != NULL) {
            omap_back(at->next[i])[i] = pred;
        }
    }
    if (m->buckets != NULL) {
        omap_hash_unlink(m, at);
    }
    RK_ASSERT(m->count > 0);
    m->count--;
    return at;
}

void rk_omap_clear(rk_omap *m, void (*free_fn)(void *ctx, rk_omap_node *n), void *ctx)
{
    rk_omap_node *n = m->head[0];
    while (n != NULL) {
        rk_omap_node *next = n->next[0];
        if (free_fn != NULL) {
            free_fn(ctx, n);
        }
        n = next;
    }
    free(m->buckets);
    rk_omap_init(m);
}
