/* node.h — one ringkv node as a pure state machine (DESIGN.md): it receives client requests,
 * peer messages, timers and durability events, and answers through rk_env. Owns the request
 * bookkeeping and the node's counters; storage belongs to the store behind env->store.
 *
 * This round the node is a cluster of one: it coordinates and stores every key itself. Writes
 * are acknowledged only once durable under the sync policy (`always`: one sync per write,
 * `batch`: writes arriving together share one sync, `none`: acknowledged at once, durable when
 * the engine gets round to it). */
#ifndef RK_NODE_H
#define RK_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"

typedef enum rk_sync_policy {
    RK_SYNC_ALWAYS = 0,
    RK_SYNC_BATCH = 1,
    RK_SYNC_NONE = 2,
} rk_sync_policy;

/* Parse "always" | "batch" | "none"; returns 0 or RK_EINVAL. */
int rk_sync_policy_parse(const char *text, rk_sync_policy *out);
const char *rk_sync_policy_name(rk_sync_policy p);

typedef enum rk_request_kind {
    RK_REQ_GET = 1,     /* reply: RK_REPLY_VALUE or RK_REPLY_NIL */
    RK_REQ_PUT = 2,     /* reply: RK_REPLY_OK */
    RK_REQ_DEL = 3,     /* reply: RK_REPLY_INT, 1 if a live value was deleted, else 0 */
    RK_REQ_EXISTS = 4,  /* reply: RK_REPLY_INT, 1 or 0 */
} rk_request_kind;

/* A client request; key and value are borrowed for the call only. */
typedef struct rk_request {
    rk_request_kind kind;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} rk_request;

typedef enum rk_reply_kind {
    RK_REPLY_OK = 1,
    RK_REPLY_NIL = 2,
    RK_REPLY_VALUE = 3,
    RK_REPLY_INT = 4,
    RK_REPLY_ERROR = 5,
} rk_reply_kind;

struct rk_reply {
    rk_reply_kind kind;
    const uint8_t *value;   /* RK_REPLY_VALUE */
    size_t value_len;
    int64_t integer;        /* RK_REPLY_INT */
    int error;              /* RK_REPLY_ERROR: an RK_E* code */
    const char *message;    /* RK_REPLY_ERROR: text naming the thing, value and limit */
};

typedef struct rk_node_config {
    rk_node_id id;
    rk_sync_policy sync;
    uint32_t key_bytes_max;     /* <= RK_KEY_BYTES_MAX */
    uint64_t value_bytes_max;   /* <= RK_VALUE_BYTES_MAX */
    uint32_t partition_count;   /* Q, a power of two */
} rk_node_config;

void rk_node_config_default(rk_node_config *c);

/* Counters the node keeps; INFO shows them. */
typedef struct rk_node_stats {
    uint64_t gets;
    uint64_t puts;
    uint64_t dels;
    uint64_t keys_live;             /* values not deleted */
    uint64_t sync_calls;            /* env->sync calls made */
    uint64_t writes_synced;         /* writes covered by completed syncs */
    uint64_t acks_before_durable;   /* writes acknowledged before durable: 0 unless sync=none */
    uint64_t sync_failures;
    uint64_t store_errors;
    uint64_t inflight;              /* writes waiting for durability */
    uint64_t refused_busy;
} rk_node_stats;

/* Writes that may wait for durability at once; when full the runtime stops reading clients. */
#define RK_NODE_PENDING_MAX 65536u

typedef struct rk_node rk_node;

/* Create a node. Keeps `env` (the caller keeps it alive until rk_node_free); copies `config`.
 * Scans env->store once to count live keys. Returns 0, RK_EINVAL (bad config), RK_ENOMEM or a
 * store error. */
int rk_node_new(const rk_node_config *config, const rk_env *env, rk_node **out);
void rk_node_free(rk_node *n);

/* Handle a client request. Exactly one env->reply follows for `client_req`, now or later
 * (after durability). Requests on one key are answered in the order they arrived. */
void rk_node_on_request(rk_node *n, uint64_t client_req, const rk_request *r);
void rk_node_on_message(rk_node *n, rk_node_id from, const rk_msg *m);
void rk_node_on_timer(rk_node *n, uint64_t timer_id);
/* Store writes up to `seq` are durable: acknowledge what waited for them. */
void rk_node_on_durable(rk_node *n, uint64_t seq);
/* A sync failed (disk full, I/O error): the writes up to `seq` are rolled back; fail every
 * request that waited for them with `error`. */
void rk_node_on_sync_failed(rk_node *n, uint64_t seq, int error);

/* True when the node takes no more requests for now (RK_NODE_PENDING_MAX writes waiting):
 * the runtime stops reading client sockets until it turns false (back-pressure). */
bool rk_node_is_busy(const rk_node *n);
const rk_node_stats *rk_node_stats_get(const rk_node *n);
const rk_node_config *rk_node_config_get(const rk_node *n);

#endif
