/* bucket.h — per-bucket properties: how many replicas (n), how many answers a read (r) and a
 * write (w) wait for, and how concurrent versions resolve (policy). A bucket is a key prefix up
 * to the first ':' (skey.h); unconfigured buckets use the defaults (n=3, r=2, w=2, lww: Riak's
 * defaults, with Cassandra's last-write-wins as the plain-Redis behaviour). Owns the table of
 * configured buckets; distributing it is node.c's business.
 *
 * Properties are cluster-wide and versioned: every change gets (version, origin node), and a
 * member keeps the highest (version, origin) it has seen, so pushes and re-pushes on reconnect
 * converge whatever their order. Encoding (store and wire), little-endian:
 *   [u8 format = 2][u64 version][u32 origin][u8 n][u8 r][u8 w][u8 policy]
 *   [u8 sloppy][u8 fallback_w][u8 fallback_r]
 * Format 1 (the first 17 bytes) still decodes: sloppy on, no degraded quorums.
 *
 * Sloppy quorum (issue 6, Dynamo 4.6): with `sloppy` on, a request goes to the first n
 * reachable nodes of the extended preference list, fallbacks keeping hinted copies for the
 * primaries they stand in for; off, only primaries count and a write that cannot reach w of
 * them is refused. `fallback_w` / `fallback_r` (0 or 1, off by default): when w (r) cannot be
 * met even sloppily, accept with that many replicas instead of failing, and say so. */
#ifndef RK_BUCKET_H
#define RK_BUCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "env.h"

#define RK_N_MAX               8u      /* preference lists live on the stack */
#define RK_BUCKETS_MAX         256u    /* configured buckets; the rest use the defaults */
#define RK_BUCKET_NAME_BYTES_MAX 64u
#define RK_BUCKET_PROPS_BYTES  20u
#define RK_BUCKET_PROPS_V1_BYTES 17u
_Static_assert(RK_N_MAX <= 16, "ack masks are uint16_t");

typedef enum rk_bucket_policy {
    RK_POLICY_LWW = 0,       /* one value survives: highest timestamp, ties by dot */
    RK_POLICY_SIBLINGS = 1,  /* concurrent versions kept and returned with RK.GET */
    RK_POLICY_UNION = 2,     /* Dynamo's cart: a set of members, concurrent versions united */
    RK_POLICY_SET = 3,       /* an add-wins observed-remove set (ORSWOT): removes stay removed */
    RK_POLICY_COUNTER = 4,   /* a PN-counter with observed reset (INCR, DECR, GET, DEL) */
    RK_POLICY_MAP = 5,       /* fields, each a counter or an LWW register; observed remove */
} rk_bucket_policy;
#define RK_POLICY_MAX 5
/* Whether a policy's keys hold a merge type (not opaque values): a bucket changes to or from
 * one only while it holds no live key. */
#define RK_POLICY_IS_MERGE_TYPE(p) ((p) >= RK_POLICY_UNION && (p) <= RK_POLICY_MAX)

typedef struct rk_bucket_props {
    uint64_t version;        /* 0: the defaults, never configured */
    rk_node_id origin;
    uint8_t n;
    uint8_t r;
    uint8_t w;
    uint8_t policy;          /* rk_bucket_policy */
    uint8_t sloppy;          /* 1: sloppy quorum over fallbacks (the default); 0: strict */
    uint8_t fallback_w;      /* 0: off; 1: a write w cannot meet succeeds with one replica */
    uint8_t fallback_r;      /* 0: off; 1: a read r cannot meet answers from one replica */
} rk_bucket_props;

typedef struct rk_bucket_entry {
    char name[RK_BUCKET_NAME_BYTES_MAX + 1];
    uint32_t name_len;
    rk_bucket_props props;
} rk_bucket_entry;

typedef struct rk_bucket_table {
    rk_bucket_props defaults;
    uint32_t count;
    rk_bucket_entry entries[RK_BUCKETS_MAX];
} rk_bucket_table;

void rk_bucket_table_init(rk_bucket_table *t);

/* The properties of the bucket of `key` (its prefix up to ':'), or the defaults. */
const rk_bucket_props *rk_bucket_lookup(const rk_bucket_table *t, const uint8_t *key,
                                        size_t key_len);
/* The entry named `name`, or NULL. */
const rk_bucket_entry *rk_bucket_find(const rk_bucket_table *t, const uint8_t *name,
                                      size_t name_len);

/* Set one property from text on a copy of `props` ("n" 1..RK_N_MAX, "r", "w" 1..n, "policy"
 * lww|siblings|union|set, "sloppy" true|false, "fallback_w", "fallback_r" 0|1). Returns 0, or RK_EINVAL with a message naming the property and the value. */
int rk_bucket_props_set(rk_bucket_props *props, const char *prop, const char *value,
                        char *err, size_t err_len);

/* Keep `props` for `name` if it is newer (version, then origin) than what the table holds.
 * Returns 1 when the table changed, 0 when it already held the same or newer, RK_EBUSY when
 * RK_BUCKETS_MAX buckets are configured, RK_ETOOBIG for a name too long. */
int rk_bucket_apply(rk_bucket_table *t, const uint8_t *name, size_t name_len,
                    const rk_bucket_props *props);

void rk_bucket_props_encode(const rk_bucket_props *props, uint8_t out[RK_BUCKET_PROPS_BYTES]);
/* Returns 0 or RK_ECORRUPT (bad format, n/r/w out of range, unknown policy). */
int rk_bucket_props_decode(const uint8_t *bytes, size_t len, rk_bucket_props *out);

const char *rk_bucket_policy_name(uint8_t policy);

#endif
