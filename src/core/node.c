/* node.c — one node as a pure state machine (see node.h). This round it is a cluster of one:
 * reads come straight from the store, writes go to the store and are acknowledged once the
 * sync policy says they are durable. */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "object.h"
#include "skey.h"

/* A write waiting for durability before its acknowledgement. */
typedef struct node_pending {
    uint64_t seq;
    uint64_t client_req;
    rk_reply_kind kind;     /* RK_REPLY_OK or RK_REPLY_INT */
    int64_t integer;
} node_pending;

struct rk_node {
    rk_node_config config;
    const rk_env *env;
    rk_node_stats stats;
    uint64_t stamp_last_us;     /* LWW stamps never go backwards on one node */
    uint64_t durable_seq;
    /* FIFO ring of writes waiting for durability, in seq order. */
    node_pending *pending;
    uint32_t pending_head;
    uint32_t pending_count;
    /* Scratch for encoding objects; grows to the largest value seen. */
    uint8_t *scratch;
    size_t scratch_capacity;
};

_Static_assert((RK_NODE_PENDING_MAX & (RK_NODE_PENDING_MAX - 1)) == 0, "ring index masks");

int rk_sync_policy_parse(const char *text, rk_sync_policy *out)
{
    static const char *const names[] = {"always", "batch", "none"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (rk_sync_policy)i;
            return 0;
        }
    }
    return RK_EINVAL;
}

const char *rk_sync_policy_name(rk_sync_policy p)
{
    switch (p) {
    case RK_SYNC_ALWAYS:
        return "always";
    case RK_SYNC_BATCH:
        return "batch";
    case RK_SYNC_NONE:
        return "none";
    }
    return "unknown";
}

void rk_node_config_default(rk_node_config *c)
{
    memset(c, 0, sizeof(*c));
    c->id = 1;
    c->sync = RK_SYNC_BATCH;
    c->key_bytes_max = RK_KEY_BYTES_MAX;
    c->value_bytes_max = RK_VALUE_BYTES_DEFAULT;
    c->partition_count = 64;
}

static int node_config_check(const rk_node_config *c)
{
    if (c->key_bytes_max == 0 || c->key_bytes_max > RK_KEY_BYTES_MAX) {
        return RK_EINVAL;
    }
    if (c->value_bytes_max > RK_VALUE_BYTES_MAX) {
        return RK_EINVAL;
    }
    uint32_t q = c->partition_count;
    if (q == 0 || q > 65536u || (q & (q - 1)) != 0) {
        return RK_EINVAL;
    }
    if (c->sync != RK_SYNC_ALWAYS && c->sync != RK_SYNC_BATCH && c->sync != RK_SYNC_NONE) {
        return RK_EINVAL;
    }
    return 0;
}

static int node_count_live(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len)
{
    uint64_t *count = ctx;
    rk_object obj;
    (void)key;
    (void)key_len;
    if (rk_object_decode(value, value_len, &obj) == 0 && !obj.tombstone) {
        (*count)++;
    }
    return 0;
}

static int node_recount(rk_node *n)
{
    uint64_t count = 0;
    int rc = rk_store_iterate(n->env->store, RK_DB_DATA, NULL, 0, NULL, 0, node_count_live,
                              &count);
    if (rc == 0) {
        n->stats.keys_live = count;
    }
    return rc;
}

int rk_node_new(const rk_node_config *config, const rk_env *env, rk_node **out)
{
    *out = NULL;
    int rc = node_config_check(config);
    if (rc != 0) {
        return rc;
    }
    rk_node *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        return RK_ENOMEM;
    }
    n->pending = calloc(RK_NODE_PENDING_MAX, sizeof(*n->pending));
    if (n->pending == NULL) {
        free(n);
        return RK_ENOMEM;
    }
    n->config = *config;
    n->env = env;
    n->durable_seq = rk_store_durable_seq(env->store);
    rc = node_recount(n);
    if (rc != 0) {
        rk_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

void rk_node_free(rk_node *n)
{
    if (n == NULL) {
        return;
    }
    free(n->pending);
    free(n->scratch);
    free(n);
}

static void node_reply_error(rk_node *n, uint64_t client_req, int error, const char *message)
{
    rk_reply r = {.kind = RK_REPLY_ERROR, .error = error, .message = message};
    n->env->reply(n->env->ctx, client_req, &r);
}

static void node_reply_int(rk_node *n, uint64_t client_req, int64_t v)
{
    rk_reply r = {.kind = RK_REPLY_INT, .integer = v};
    n->env->reply(n->env->ctx, client_req, &r);
}

static void node_reply_store_error(rk_node *n, uint64_t client_req, int rc)
{
    char message[96];
    n->stats.store_errors++;
    if (rc == RK_ENOSPC) {
        snprintf(message, sizeof(message), "store full: raise map-size");
    } else {
        snprintf(message, sizeof(message), "store error: %s", rk_strerror(rc));
    }
    node_reply_error(n, client_req, rc, message);
}

/* Storage key of a user key; returns its length or RK_ETOOBIG. */
static int node_skey(const rk_node *n, const uint8_t *key, size_t key_len, uint8_t *out)
{
    uint32_t partition = rk_hash_partition(rk_hash_key(key, key_len), n->config.partition_count);
    return rk_skey_encode(partition, key, key_len, out);
}

/* Read the object stored under `skey`: 1 and *obj (borrowing *buf, which the caller frees) when
 * a live value is there, 0 when the key is absent or deleted, or a negative error. */
static int node_read(rk_node *n, const uint8_t *skey, size_t skey_len, rk_buf *buf,
                     rk_object *obj)
{
    memset(buf, 0, sizeof(*buf));
    int rc = rk_store_get(n->env->store, RK_DB_DATA, skey, skey_len, buf);
    if (rc == RK_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    rc = rk_object_decode(buf->data, buf->len, obj);
    if (rc != 0) {
        rk_store_buf_free(buf);
        return rc;
    }
    if (obj->tombstone) {
        rk_store_buf_free(buf);
        return 0;
    }
    return 1;
}

static void node_on_get(rk_node *n, uint64_t client_req, const uint8_t *skey, size_t skey_len,
                        bool exists_only)
{
    rk_buf buf;
    rk_object obj;
    int rc = node_read(n, skey, skey_len, &buf, &obj);
    if (rc < 0) {
        node_reply_store_error(n, client_req, rc);
        return;
    }
    if (exists_only) {
        node_reply_int(n, client_req, rc);
    } else if (rc == 0) {
        rk_reply r = {.kind = RK_REPLY_NIL};
        n->env->reply(n->env->ctx, client_req, &r);
    } else {
        rk_reply r = {.kind = RK_REPLY_VALUE, .value = obj.value, .value_len = obj.value_len};
        n->env->reply(n->env->ctx, client_req, &r);
    }
    if (rc == 1) {
        rk_store_buf_free(&buf);
    }
}

static uint64_t node_stamp(rk_node *n)
{
    uint64_t wall_us = n->env->wall_us(n->env->ctx);
    n->stamp_last_us = wall_us > n->stamp_last_us ? wall_us : n->stamp_last_us + 1;
    return n->stamp_last_us;
}

static int node_scratch_reserve(rk_node *n, size_t bytes)
{
    if (bytes <= n->scratch_capacity) {
        return 0;
    }
    uint8_t *grown = realloc(n->scratch, bytes);
    if (grown == NULL) {
        return RK_ENOMEM;
    }
    n->scratch = grown;
    n->scratch_capacity = bytes;
    return 0;
}

/* Acknowledge a write now (sync none) or once its seq is durable. */
static void node_ack_write(rk_node *n, uint64_t client_req, uint64_t seq, rk_reply_kind kind,
                           int64_t integer)
{
    if (n->config.sync == RK_SYNC_NONE || seq <= n->durable_seq) {
        if (seq > n->durable_seq) {
            n->stats.acks_before_durable++;
        }
        rk_reply r = {.kind = kind, .integer = integer};
        n->env->reply(n->env->ctx, client_req, &r);
    } else {
        RK_ASSERT(n->pending_count < RK_NODE_PENDING_MAX);
        uint32_t tail = (n->pending_head + n->pending_count) & (RK_NODE_PENDING_MAX - 1);
        if (n->pending_count > 0) {
            uint32_t last = (tail - 1) & (RK_NODE_PENDING_MAX - 1);
            RK_ASSERT(n->pending[last].seq < seq);
        }
        n->pending[tail] = (node_pending){
            .seq = seq, .client_req = client_req, .kind = kind, .integer = integer};
        n->pending_count++;
        n->stats.inflight = n->pending_count;
    }
    /* Under `none` the store is still asked to sync, so the unsynced tail stays bounded. */
    n->env->sync(n->env->ctx, seq);
}

/* Write `obj` under `skey` and acknowledge with (kind, integer) when the policy allows.
 * Returns 0, or the error it already answered the client with. */
static int node_write(rk_node *n, uint64_t client_req, const uint8_t *skey, size_t skey_len,
                      const rk_object *obj, rk_reply_kind kind, int64_t integer)
{
    size_t len = rk_object_encoded_len(obj);
    int rc = node_scratch_reserve(n, len);
    if (rc != 0) {
        node_reply_error(n, client_req, rc, "out of memory");
        return rc;
    }
    rk_object_encode(obj, n->scratch);
    uint64_t seq = 0;
    rc = rk_store_put(n->env->store, RK_DB_DATA, skey, skey_len, n->scratch, len, &seq);
    if (rc != 0) {
        node_reply_store_error(n, client_req, rc);
        return rc;
    }
    RK_ASSERT(seq > n->durable_seq);
    node_ack_write(n, client_req, seq, kind, integer);
    return 0;
}

/* 1 when a live value is stored under `skey`, 0 when absent or deleted, or the error it
 * already answered the client with. */
static int node_probe_live(rk_node *n, uint64_t client_req, const uint8_t *skey, size_t skey_len)
{
    rk_buf buf;
    rk_object obj;
    int live = node_read(n, skey, skey_len, &buf, &obj);
    if (live < 0) {
        node_reply_store_error(n, client_req, live);
    } else if (live == 1) {
        rk_store_buf_free(&buf);
    }
    return live;
}

static void node_on_put(rk_node *n, uint64_t client_req, const uint8_t *skey, size_t skey_len,
                        const rk_request *r)
{
    if (r->value_len > n->config.value_bytes_max) {
        char message[128];
        snprintf(message, sizeof(message), "value is %zu bytes; max-value-bytes is %llu",
                 r->value_len, (unsigned long long)n->config.value_bytes_max);
        node_reply_error(n, client_req, RK_ETOOBIG, message);
        return;
    }
    int live = node_probe_live(n, client_req, skey, skey_len);
    if (live < 0) {
        return;
    }
    rk_object obj = {.stamp_us = node_stamp(n), .value = r->value, .value_len = r->value_len};
    if (node_write(n, client_req, skey, skey_len, &obj, RK_REPLY_OK, 0) == 0 && live == 0) {
        n->stats.keys_live++;
    }
}

static void node_on_del(rk_node *n, uint64_t client_req, const uint8_t *skey, size_t skey_len)
{
    int live = node_probe_live(n, client_req, skey, skey_len);
    if (live < 0) {
        return;
    }
    if (live == 0) {
        node_reply_int(n, client_req, 0);
        return;
    }
    rk_object tomb = {.tombstone = true, .stamp_us = node_stamp(n)};
    if (node_write(n, client_req, skey, skey_len, &tomb, RK_REPLY_INT, 1) == 0) {
        RK_ASSERT(n->stats.keys_live > 0);
        n->stats.keys_live--;
    }
}

void rk_node_on_request(rk_node *n, uint64_t client_req, const rk_request *r)
{
    if (r->key_len > n->config.key_bytes_max) {
        char message[128];
        snprintf(message, sizeof(message), "key is %zu bytes; max-key-bytes is %u", r->key_len,
                 n->config.key_bytes_max);
        node_reply_error(n, client_req, RK_ETOOBIG, message);
        return;
    }
    bool is_write = r->kind == RK_REQ_PUT || r->kind == RK_REQ_DEL;
    if (is_write && n->pending_count >= RK_NODE_PENDING_MAX) {
        /* The runtime stops reading clients before this; reaching it is a runtime bug, but a
         * refusal is still better than an unbounded queue. */
        n->stats.refused_busy++;
        node_reply_error(n, client_req, RK_EBUSY, "node busy: too many writes in flight");
        return;
    }
    uint8_t skey[RK_SKEY_BYTES_MAX];
    int skey_len = node_skey(n, r->key, r->key_len, skey);
    RK_ASSERT(skey_len > 0);
    switch (r->kind) {
    case RK_REQ_GET:
        n->stats.gets++;
        node_on_get(n, client_req, skey, (size_t)skey_len, false);
        return;
    case RK_REQ_EXISTS:
        n->stats.gets++;
        node_on_get(n, client_req, skey, (size_t)skey_len, true);
        return;
    case RK_REQ_PUT:
        n->stats.puts++;
        node_on_put(n, client_req, skey, (size_t)skey_len, r);
        return;
    case RK_REQ_DEL:
        n->stats.dels++;
        node_on_del(n, client_req, skey, (size_t)skey_len);
        return;
    }
    node_reply_error(n, client_req, RK_EINVAL, "unknown request");
}

void rk_node_on_message(rk_node *n, rk_node_id from, const rk_msg *m)
{
    /* A cluster of one has no peers; the cluster issue fills this in. */
    (void)n;
    (void)from;
    (void)m;
}

void rk_node_on_timer(rk_node *n, uint64_t timer_id)
{
    (void)n;
    (void)timer_id;
}

/* Pop the pending writes with seq <= `seq`, answering each with `fail` (0: its ack). */
static void node_pending_settle(rk_node *n, uint64_t seq, int fail, const char *message)
{
    while (n->pending_count > 0) {
        node_pending *p = &n->pending[n->pending_head];
        if (p->seq > seq) {
            break;
        }
        node_pending done = *p;
        n->pending_head = (n->pending_head + 1) & (RK_NODE_PENDING_MAX - 1);
        n->pending_count--;
        if (fail != 0) {
            node_reply_error(n, done.client_req, fail, message);
        } else {
            rk_reply r = {.kind = done.kind, .integer = done.integer};
            n->env->reply(n->env->ctx, done.client_req, &r);
        }
    }
    n->stats.inflight = n->pending_count;
}

void rk_node_on_durable(rk_node *n, uint64_t seq)
{
    if (seq > n->durable_seq) {
        n->stats.sync_calls++;
        n->stats.writes_synced += seq - n->durable_seq;
        n->durable_seq = seq;
    }
    node_pending_settle(n, n->durable_seq, 0, NULL);
}

void rk_node_on_sync_failed(rk_node *n, uint64_t seq, int error)
{
    char message[96];
    n->stats.sync_failures++;
    if (error == RK_ENOSPC) {
        snprintf(message, sizeof(message), "store full: raise map-size; write not stored");
    } else {
        snprintf(message, sizeof(message), "sync failed: %s; write not stored",
                 rk_strerror(error));
    }
    node_pending_settle(n, seq, error, message);
    /* The failed writes were rolled back by the store: count live keys afresh. */
    if (node_recount(n) != 0) {
        n->stats.store_errors++;
    }
}

bool rk_node_is_busy(const rk_node *n)
{
    return n->pending_count >= RK_NODE_PENDING_MAX - 1024u;
}

const rk_node_stats *rk_node_stats_get(const rk_node *n)
{
    return &n->stats;
}

const rk_node_config *rk_node_config_get(const rk_node *n)
{
    return &n->config;
}
