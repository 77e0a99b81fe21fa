/* omap.h — an intrusive ordered map from byte keys to caller-owned nodes: a skiplist (Pugh,
 * "Skip Lists: A Probabilistic Alternative to Balanced Trees", CACM 1990) with O(log n) expected
 * find, insert and remove and in-order walks. Shared by the mem engine (its tables) and the lmdb
 * engine (its overlay of writes not yet committed). Owns only the links between nodes: callers
 * allocate nodes (rk_omap_node_bytes + their payload), keep the key bytes alive while the node is
 * linked, and free nodes after unlinking them; so linking never allocates and never fails.
 *
 * A node's height comes from a hash of its key, not from rand(): the same keys give the same
 * shape in every run (the simulator replays byte for byte), and a node replacing another with
 * the same key has the same height. Keys sort bytewise (memcmp, shorter first on a common
 * prefix), like LMDB's default order. Not thread-safe: callers lock.
 *
 * Point lookups (rk_omap_find) go through a hash index of the same nodes, chained through the
 * node, so a read costs one bucket instead of ~4 log4(n) cache-missing skiplist steps (perf had
 * the skiplist at 40-67% of a node's CPU with 100k keys). The index grows by doubling when the
 * map outgrows it; if that allocation fails the map keeps working on a fuller index (or on the
 * skiplist alone), so linking still never fails. rk_omap_clear frees it. */
#ifndef RK_OMAP_H
#define RK_OMAP_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

/* p = 1/4 per level: 16 levels index 4^15 (about 10^9) keys before searches slow down. */
#define RK_OMAP_LEVEL_MAX 16u

typedef struct rk_omap_node {
    const uint8_t *key;     /* borrowed from the caller, alive while linked */
    size_t key_len;
    uint32_t level;         /* 1..RK_OMAP_LEVEL_MAX; next[] has this many slots */
    uint64_t hash;          /* of the key, set by rk_omap_put */
    struct rk_omap_node *hash_next;     /* the next node in its hash bucket */
    struct rk_omap_node *next[];        /* `level` forward links, then `level` back links */
} rk_omap_node;

typedef struct rk_omap {
    rk_omap_node *head[RK_OMAP_LEVEL_MAX];
    size_t count;
    rk_omap_node **buckets;     /* hash index (owned), NULL until the first put */
    size_t bucket_count;        /* a power of two */
} rk_omap;

/* Compare two keys bytewise, shorter first on a common prefix: <0, 0 or >0. */
int rk_omap_key_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/* The height of a node for `key` (deterministic). */
uint32_t rk_omap_level(const uint8_t *key, size_t key_len);

/* Bytes a node of height `level` takes before its payload; a multiple of max_align_t's
 * alignment, so the payload may hold anything. Allocate this plus the payload size. */
size_t rk_omap_node_bytes(uint32_t level);
/* The payload that follows node `n` (allocated with rk_omap_node_bytes(n->level) + size). */
void *rk_omap_node_payload(rk_omap_node *n);

void rk_omap_init(rk_omap *m);

/* The node holding `key`, or NULL. */
rk_omap_node *rk_omap_find(const rk_omap *m, const uint8_t *key, size_t key_len);
/* The first node with a key >= `key` (key NULL: the first node), or NULL. */
rk_omap_node *rk_omap_seek(const rk_omap *m, const uint8_t *key, size_t key_len);
/* The next node in key order, or NULL. */
rk_omap_node *rk_omap_next(const rk_omap_node *n);
/* The first node in key order, or NULL. */
rk_omap_node *rk_omap_first(const rk_omap *m);

/* Link `n` (key, key_len and level set; level == rk_omap_level(key)). If a node with the same
 * key was linked, `n` takes its place and the old node is returned (unlinked, the caller's to
 * free); otherwise returns NULL. Takes `n` until it is unlinked. */
rk_omap_node *rk_omap_put(rk_omap *m, rk_omap_node *n);
/* Unlink the node holding `key` and return it (the caller's to free), or NULL. */
rk_omap_node *rk_omap_remove(rk_omap *m, const uint8_t *key, size_t key_len);
/* Unlink every node, handing each to `free_fn` (may be NULL), and free the hash index; the map
 * is empty after (and may be used again). Every map that was put to must be cleared. */
void rk_omap_clear(rk_omap *m, void (*free_fn)(void *ctx, rk_omap_node *n), void *ctx);

#endif
