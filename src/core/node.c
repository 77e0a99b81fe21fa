/* node.c — one node as a pure state machine (see node.h): dispatch of client requests and peer
 * messages, the FIFO of work that waits for durability, the local object store, the epoch that
 * keeps dots unique across crashes, and cluster-wide bucket properties. Coordinators live in
 * coord.c and coord_get.c, the replica side in replica.c, hints in handoff.c, the view of the
 * other members in members.c. */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "node_internal.h"
#include "skey.h"

_Static_assert((RK_NODE_PENDING_MAX & (RK_NODE_PENDING_MAX - 1)) == 0, "ring index masks");
_Static_assert(RK_MEMBERS_MAX <= 64, "peers_up is a uint64_t mask");
_Static_assert(RK_MEMBERS_MAX <= RK_RING_NODES_MAX, "the ring holds every member");

static const uint8_t node_epoch_key[] = "epoch";
static const uint8_t node_bucket_prefix[] = "bucket:";
#define NODE_BUCKET_PREFIX_LEN (sizeof(node_bucket_prefix) - 1)

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
    c->partition_count = RK_RING_PARTITIONS_DEFAULT;
    c->members[0] = 1;
    c->member_count = 1;
    c->request_timeout_ms = 5000;
    c->default_n = 3;
    c->default_r = 2;
    c->default_w = 2;
    c->default_policy = RK_POLICY_LWW;
    c->default_sloppy = true;
    c->handoff_objects_per_s = 1000;
    c->handoff_interval_ms = 100;
    c->siblings_max = RK_DVVSET_SIBLINGS_DEFAULT;
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
    if (q == 0 || q > RK_RING_PARTITIONS_MAX || (q & (q - 1)) != 0) {
        return RK_EINVAL;
    }
    if (c->sync != RK_SYNC_ALWAYS && c->sync != RK_SYNC_BATCH && c->sync != RK_SYNC_NONE) {
        return RK_EINVAL;
    }
    if (c->member_count == 0 || c->member_count > RK_MEMBERS_MAX) {
        return RK_EINVAL;
    }
    bool self_member = false;
    for (uint32_t i = 0; i < c->member_count; i++) {
        self_member = self_member || c->members[i] == c->id;
        for (uint32_t j = 0; j < i; j++) {
            if (c->members[i] == c->members[j]) {
                return RK_EINVAL;
            }
        }
    }
    if (!self_member || c->request_timeout_ms == 0) {
        return RK_EINVAL;
    }
    if (c->default_n < 1 || c->default_n > RK_N_MAX || c->default_r < 1 ||
        c->default_r > c->default_n || c->default_w < 1 || c->default_w > c->default_n) {
        return RK_EINVAL;
    }
    if (c->siblings_max == 0 || c->siblings_max > RK_DVVSET_SIBLINGS_MAX) {
        return RK_EINVAL;
    }
    if (c->handoff_objects_per_s == 0 || c->handoff_interval_ms == 0) {
        return RK_EINVAL;
    }
    return 0;
}

/* ---- local objects ------------------------------------------------------------------------ */

bool node_set_live(const rk_dvvset *set)
{
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        if (!set->siblings[i].tombstone) {
            return true;
        }
    }
    return false;
}

void node_resolve_lww(rk_dvvset *set)
{
    if (set->sibling_count <= 1) {
        return;
    }
    uint32_t best = 0;
    for (uint32_t i = 1; i < set->sibling_count; i++) {
        const rk_sibling *a = &set->siblings[i];
        const rk_sibling *b = &set->siblings[best];
        /* Ties broken by the dot, never by the value: every replica picks the same winner. */
        if (a->timestamp_us > b->timestamp_us ||
            (a->timestamp_us == b->timestamp_us &&
             (a->dot.node > b->dot.node ||
              (a->dot.node == b->dot.node && a->dot.counter > b->dot.counter)))) {
            best = i;
        }
    }
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        if (i != best) {
            free(set->siblings[i].value);
        }
    }
    set->siblings[0] = set->siblings[best];
    set->sibling_count = 1;
}

int node_skey(const rk_node *n, const uint8_t *key, size_t key_len, uint8_t *out)
{
    uint32_t partition = rk_ring_partition_of(&n->ring, rk_hash_key(key, key_len));
    return rk_skey_encode(partition, key, key_len, out);
}

int node_local_read(rk_node *n, const uint8_t *key, size_t key_len, rk_dvvset *out)
{
    rk_dvvset_init(out);
    uint8_t skey[RK_SKEY_BYTES_MAX];
    int skey_len = node_skey(n, key, key_len, skey);
    if (skey_len < 0) {
        return skey_len;
    }
    rk_buf buf = {0};
    int rc = rk_store_get(n->env->store, RK_DB_DATA, skey, (size_t)skey_len, &buf);
    if (rc == RK_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        n->stats.store_errors++;
        return rc;
    }
    rc = rk_dvvset_decode(buf.data, buf.len, out);
    rk_store_buf_free(&buf);
    if (rc != 0) {
        n->stats.store_errors++;
    }
    return rc;
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

int node_encode(rk_node *n, const rk_dvvset *set, const uint8_t **bytes_out, size_t *len_out)
{
    size_t len = rk_dvvset_encoded_len(set);
    int rc = node_scratch_reserve(n, len);
    if (rc != 0) {
        return rc;
    }
    size_t written = rk_dvvset_encode(set, n->scratch);
    RK_ASSERT(written == len);
    *bytes_out = n->scratch;
    *len_out = len;
    return 0;
}

int node_local_write(rk_node *n, const uint8_t *key, size_t key_len, const rk_dvvset *set,
                     bool was_live, rk_node_id hint_owner, uint64_t *seq_out,
                     const uint8_t **bytes_out, size_t *len_out)
{
    uint8_t skey[RK_SKEY_BYTES_MAX];
    int skey_len = node_skey(n, key, key_len, skey);
    if (skey_len < 0) {
        return skey_len;
    }
    const uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = node_encode(n, set, &bytes, &len);
    if (rc != 0) {
        return rc;
    }
    uint8_t hint_key[RK_HINT_KEY_BYTES];
    uint8_t hint_value[1 + RK_SKEY_BYTES_MAX];
    rk_batch_op ops[2] = {{.kind = RK_BATCH_PUT,
                           .db = RK_DB_DATA,
                           .key = skey,
                           .key_len = (size_t)skey_len,
                           .value = bytes,
                           .value_len = len}};
    int new_hint = 0;
    if (hint_owner != 0) {
        new_hint = rk_hint_prepare(n, hint_owner, skey, (size_t)skey_len, hint_key, hint_value,
                                   &ops[1]);
        if (new_hint < 0) {
            return new_hint;
        }
    }
    rc = rk_store_write(n->env->store, ops, new_hint == 1 ? 2 : 1, seq_out);
    if (rc != 0) {
        n->stats.store_errors++;
        return rc;
    }
    if (new_hint == 1) {
        rk_hint_added(n);
    }
    RK_ASSERT(*seq_out > n->written_seq);
    n->written_seq = *seq_out;
    if (bytes_out != NULL) {
        *bytes_out = bytes;
        *len_out = len;
    }
    bool live = node_set_live(set);
    if (live && !was_live) {
        n->stats.keys_live++;
    } else if (!live && was_live) {
        RK_ASSERT(n->stats.keys_live > 0);
        n->stats.keys_live--;
    }
    return 0;
}

uint64_t node_stamp_above(rk_node *n, uint64_t floor_us)
{
    uint64_t wall_us = n->env->wall_us(n->env->ctx);
    uint64_t last_us = n->stamp_last_us > floor_us ? n->stamp_last_us : floor_us;
    n->stamp_last_us = wall_us > last_us ? wall_us : last_us + 1;
    return n->stamp_last_us;
}

uint32_t node_effective_n(const rk_node *n, const rk_bucket_props *props)
{
    return props->n < n->config.member_count ? props->n : n->config.member_count;
}

bool node_is_primary(const rk_node *n, const uint8_t *key, size_t key_len)
{
    rk_node_id list[RK_N_MAX];
    uint32_t primaries = 0;
    uint32_t count = rk_node_preflist(n, key, key_len, list, RK_N_MAX, &primaries);
    for (uint32_t i = 0; i < count && i < primaries; i++) {
        if (list[i] == n->config.id) {
            return true;
        }
    }
    return false;
}

/* ---- replies, messages and durability -------------------------------------------------- */

void node_send(rk_node *n, rk_node_id to, const rk_msg *m)
{
    RK_ASSERT(to != n->config.id);
    n->env->send(n->env->ctx, to, m);
}

void node_reply(rk_node *n, bool from_peer, rk_node_id origin, uint64_t req, const rk_reply *r)
{
    if (!from_peer) {
        n->env->reply(n->env->ctx, req, r);
        return;
    }
    rk_msg m = {.kind = RK_MSG_FWD_RESP,
                .req_id = req,
                .req_kind = r->kind,
                .integer = r->integer,
                .status = r->kind == RK_REPLY_ERROR ? r->error : 0};
    if (r->kind == RK_REPLY_ERROR && r->message != NULL) {
        m.message = (const uint8_t *)r->message;
        m.message_len = strlen(r->message);
    }
    if (r->kind == RK_REPLY_WRITTEN && r->context != NULL) {
        m.context = (const uint8_t *)r->context;
        m.context_len = strlen(r->context);
    }
    node_send(n, origin, &m);
}

void node_reply_error(rk_node *n, uint64_t client_req, int error, const char *message)
{
    rk_reply r = {.kind = RK_REPLY_ERROR, .error = error, .message = message};
    n->env->reply(n->env->ctx, client_req, &r);
}

void node_pending_peer_reply(rk_node *n, const node_pending *p)
{
    rk_msg m = {.kind = (rk_msg_kind)p->reply_kind, .req_id = p->id, .integer = p->integer};
    node_send(n, p->peer, &m);
}

static void node_pending_run(rk_node *n, const node_pending *p, int status, const char *message)
{
    switch ((node_pending_kind)p->kind) {
    case NODE_PENDING_CLIENT:
        if (status != 0) {
            node_reply_error(n, p->id, status, message);
        } else {
            rk_reply r = {.kind = (rk_reply_kind)p->reply_kind, .integer = p->integer};
            n->env->reply(n->env->ctx, p->id, &r);
        }
        return;
    case NODE_PENDING_PEER:
        if (status == 0) {
            node_pending_peer_reply(n, p);
        } else {
            rk_msg m = {.kind = (rk_msg_kind)p->reply_kind, .req_id = p->id, .status = status};
            node_send(n, p->peer, &m);
        }
        return;
    case NODE_PENDING_COORD:
        rk_coord_on_local_durable(n, p->id, status);
        return;
    }
    RK_ASSERT(!"unknown pending kind");
}

void node_after_durable(rk_node *n, const node_pending *p)
{
    if (p->seq <= n->durable_seq) {
        node_pending_run(n, p, 0, NULL);
        return;
    }
    if (n->config.sync == RK_SYNC_NONE) {
        n->stats.acks_before_durable++;
        node_pending_run(n, p, 0, NULL);
        n->env->sync(n->env->ctx, p->seq);
        return;
    }
    RK_ASSERT(n->pending_count < RK_NODE_PENDING_MAX);
    uint32_t tail = (n->pending_head + n->pending_count) & (RK_NODE_PENDING_MAX - 1);
    if (n->pending_count > 0) {
        uint32_t last = (tail - 1) & (RK_NODE_PENDING_MAX - 1);
        RK_ASSERT(n->pending[last].seq <= p->seq);
    }
    n->pending[tail] = *p;
    n->pending_count++;
    n->stats.inflight = n->pending_count;
    n->env->sync(n->env->ctx, p->seq);
}

/* Run the pending work with seq <= `seq`; `status` 0 for durable, an error for a failed sync. */
static void node_pending_settle(rk_node *n, uint64_t seq, int status, const char *message)
{
    while (n->pending_count > 0) {
        node_pending *head = &n->pending[n->pending_head];
        if (head->seq > seq) {
            break;
        }
        node_pending done = *head;
        n->pending_head = (n->pending_head + 1) & (RK_NODE_PENDING_MAX - 1);
        n->pending_count--;
        node_pending_run(n, &done, status, message);
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

static int node_count_live(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len)
{
    uint64_t *count = ctx;
    (void)key;
    (void)key_len;
    rk_dvvset set;
    if (rk_dvvset_decode(value, value_len, &set) == 0) {
        *count += node_set_live(&set) ? 1 : 0;
        rk_dvvset_deinit(&set);
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
    if (seq > n->durable_seq) {
        n->durable_seq = seq;   /* the store rolled those writes back: nothing waits on them */
    }
    node_pending_settle(n, seq, error, message);
    if (node_recount(n) != 0) {
        n->stats.store_errors++;
    }
}

/* ---- start-up ----------------------------------------------------------------------------- */

/* The epoch: read, bump, write. Dots are minted only once this write is durable, so a crash
 * before it cannot make a later run reuse the epoch (kv679). */
static int node_start_epoch(rk_node *n)
{
    rk_buf buf = {0};
    uint64_t epoch = 0;
    int rc = rk_store_get(n->env->store, RK_DB_META, node_epoch_key, sizeof(node_epoch_key) - 1,
                          &buf);
    if (rc == 0) {
        if (buf.len != 8) {
            rk_store_buf_free(&buf);
            return RK_ECORRUPT;
        }
        for (int i = 0; i < 8; i++) {
            epoch |= (uint64_t)buf.data[i] << (8 * i);
        }
        rk_store_buf_free(&buf);
    } else if (rc != RK_ENOTFOUND) {
        return rc;
    }
    if (epoch + 1 >= (1ull << (64 - RK_EPOCH_SHIFT))) {
        return RK_ETOOBIG;
    }
    n->epoch = epoch + 1;
    n->stats.epoch = n->epoch;
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++) {
        bytes[i] = (uint8_t)(n->epoch >> (8 * i));
    }
    rc = rk_store_put(n->env->store, RK_DB_META, node_epoch_key, sizeof(node_epoch_key) - 1,
                      bytes, sizeof(bytes), &n->epoch_seq);
    if (rc != 0) {
        return rc;
    }
    n->written_seq = n->epoch_seq;
    n->env->sync(n->env->ctx, n->epoch_seq);
    return 0;
}

static int node_load_bucket(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                            size_t value_len)
{
    rk_node *n = ctx;
    if (key_len <= NODE_BUCKET_PREFIX_LEN ||
        memcmp(key, node_bucket_prefix, NODE_BUCKET_PREFIX_LEN) != 0) {
        return 1;   /* past the bucket keys */
    }
    rk_bucket_props props;
    if (rk_bucket_props_decode(value, value_len, &props) != 0) {
        return RK_ECORRUPT;
    }
    int rc = rk_bucket_apply(&n->buckets, key + NODE_BUCKET_PREFIX_LEN,
                             key_len - NODE_BUCKET_PREFIX_LEN, &props);
    return rc < 0 ? rc : 0;
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
    /* Every member counts up from the start (issue 4 item 8): a request made while the
     * runtime is still connecting waits for that connection instead of giving up on the peer;
     * the runtime says rk_node_on_peer(false) once an attempt fails or a link breaks. */
    n->peers_up = config->member_count >= 64u ? UINT64_MAX : (1ull << config->member_count) - 1u;
    rk_bucket_table_init(&n->buckets);
    n->buckets.defaults = (rk_bucket_props){.n = config->default_n,
                                            .r = config->default_r,
                                            .w = config->default_w,
                                            .policy = config->default_policy,
                                            .sloppy = config->default_sloppy ? 1 : 0};
    /* Every member claims from the same member list, so all agree on the ring. */
    rc = rk_ring_init(&n->ring, config->partition_count);
    if (rc == 0) {
        rc = rk_ring_claim(&n->ring, config->members, config->member_count,
                           config->default_n < config->member_count ? config->default_n
                                                                    : config->member_count);
    }
    if (rc == 0) {
        rc = rk_store_iterate(env->store, RK_DB_META, node_bucket_prefix, NODE_BUCKET_PREFIX_LEN,
                              NULL, 0, node_load_bucket, n);
    }
    if (rc == 0) {
        rc = node_recount(n);
    }
    if (rc == 0) {
        rc = node_start_epoch(n);
    }
    if (rc == 0) {
        rc = rk_handoff_start(n);
    }
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
    for (uint32_t i = 0; i < RK_COORD_INFLIGHT_MAX; i++) {
        if (n->coords[i] != NULL) {
            rk_coord_free(n, n->coords[i]);
        }
    }
    free(n->pending);
    free(n->scratch);
    free(n);
}

/* ---- events --------------------------------------------------------------------------------- */

void rk_node_on_request(rk_node *n, uint64_t client_req, const rk_request *r)
{
    if (r->key_len > n->config.key_bytes_max) {
        char message[128];
        snprintf(message, sizeof(message), "key is %zu bytes; max-key-bytes is %u", r->key_len,
                 n->config.key_bytes_max);
        node_reply_error(n, client_req, RK_ETOOBIG, message);
        return;
    }
    if (r->value_len > n->config.value_bytes_max) {
        char message[128];
        snprintf(message, sizeof(message), "value is %zu bytes; max-value-bytes is %llu",
                 r->value_len, (unsigned long long)n->config.value_bytes_max);
        node_reply_error(n, client_req, RK_ETOOBIG, message);
        return;
    }
    if (r->kind < RK_REQ_GET || r->kind > RK_REQ_KIND_MAX) {
        node_reply_error(n, client_req, RK_EINVAL, "unknown request");
        return;
    }
    if (n->pending_count >= RK_NODE_PENDING_MAX - 1024u) {
        /* The runtime stops reading clients before this (rk_node_is_busy); a refusal is still
         * better than an unbounded queue. */
        n->stats.refused_busy++;
        node_reply_error(n, client_req, RK_EBUSY, "node busy: too many writes in flight");
        return;
    }
    rk_coord_start(n, false, n->config.id, client_req, r);
}

int node_bucket_store(rk_node *n, const uint8_t *name, size_t name_len,
                      const rk_bucket_props *props, uint64_t *seq_out)
{
    int changed = rk_bucket_apply(&n->buckets, name, name_len, props);
    *seq_out = n->written_seq;
    if (changed != 1) {
        return changed;
    }
    uint8_t key[NODE_BUCKET_PREFIX_LEN + RK_BUCKET_NAME_BYTES_MAX];
    uint8_t bytes[RK_BUCKET_PROPS_BYTES];
    memcpy(key, node_bucket_prefix, NODE_BUCKET_PREFIX_LEN);
    memcpy(key + NODE_BUCKET_PREFIX_LEN, name, name_len);
    rk_bucket_props_encode(props, bytes);
    int rc = rk_store_put(n->env->store, RK_DB_META, key, NODE_BUCKET_PREFIX_LEN + name_len,
                          bytes, sizeof(bytes), seq_out);
    if (rc != 0) {
        n->stats.store_errors++;
        return rc;
    }
    n->written_seq = *seq_out;
    return 1;
}

static void node_on_bucket_set(rk_node *n, rk_node_id from, const rk_msg *m)
{
    rk_bucket_props props;
    if (rk_bucket_props_decode(m->object, m->object_len, &props) != 0) {
        return;     /* a peer speaking garbage: drop it, keep serving */
    }
    uint64_t seq = 0;
    if (node_bucket_store(n, m->key, m->key_len, &props, &seq) < 0) {
        return;
    }
    if (m->req_id != 0) {
        node_pending ack = {.kind = NODE_PENDING_PEER,
                            .reply_kind = RK_MSG_BUCKET_ACK,
                            .peer = from,
                            .id = m->req_id,
                            .integer = (int64_t)props.version,
                            .seq = seq};
        node_after_durable(n, &ack);
    }
}

/* True when this forwarded write was taken already; else remember it. */
static bool node_fwd_duplicate(rk_node *n, rk_node_id origin, uint64_t req_id)
{
    for (uint32_t i = 0; i < RK_FWD_SEEN_MAX; i++) {
        if (n->fwd_seen[i].req_id == req_id && n->fwd_seen[i].origin == origin) {
            return true;
        }
    }
    n->fwd_seen[n->fwd_seen_next] = (node_fwd_seen){.origin = origin, .req_id = req_id};
    n->fwd_seen_next = (n->fwd_seen_next + 1) % RK_FWD_SEEN_MAX;
    return false;
}

void rk_node_on_message(rk_node *n, rk_node_id from, const rk_msg *m)
{
    int from_index = node_member_index(n, from);
    if (from_index < 0 || from == n->config.id) {
        return;     /* not one of ours: the runtime's handshake should have refused it */
    }
    node_peer_heard(n, from_index);
    switch (m->kind) {
    case RK_MSG_GET_REQ:
        rk_replica_on_get(n, from, m);
        return;
    case RK_MSG_PUT_REQ:
        rk_replica_on_put(n, from, m);
        return;
    case RK_MSG_FWD_REQ: {
        rk_request r = {.kind = (rk_request_kind)m->req_kind,
                        .key = m->key,
                        .key_len = m->key_len,
                        .value = m->value,
                        .value_len = m->value_len,
                        .context = (const char *)m->context,
                        .context_len = m->context_len,
                        .r = m->r,
                        .w = m->w,
                        .sloppy = (uint8_t)m->sloppy};
        if (r.kind < RK_REQ_GET || r.kind > RK_REQ_KIND_MAX || r.key_len > RK_KEY_BYTES_MAX ||
            m->sloppy > RK_SLOPPY_OFF) {
            return;
        }
        if (node_fwd_duplicate(n, from, m->req_id)) {
            return;     /* the first copy is being (or was) coordinated and answered */
        }
        rk_coord_start(n, true, from, m->req_id, &r);
        return;
    }
    case RK_MSG_GET_RESP:
    case RK_MSG_PUT_RESP:
    case RK_MSG_FWD_RESP:
        rk_coord_on_message(n, from, m);
        return;
    case RK_MSG_BUCKET_SET:
        node_on_bucket_set(n, from, m);
        return;
    case RK_MSG_BUCKET_ACK:
        rk_coord_bucket_on_ack(n, from, m);
        return;
    }
}

void rk_node_on_timer(rk_node *n, uint64_t timer_id)
{
    if (timer_id == RK_TIMER_HANDOFF) {
        rk_handoff_on_timer(n);
        return;
    }
    rk_coord_on_timer(n, timer_id);
}

bool rk_node_is_busy(const rk_node *n)
{
    return n->pending_count >= RK_NODE_PENDING_MAX - 2048u ||
           n->coord_count >= RK_COORD_INFLIGHT_MAX - 256u;
}

const rk_node_stats *rk_node_stats_get(const rk_node *n)
{
    return &n->stats;
}

const rk_node_config *rk_node_config_get(const rk_node *n)
{
    return &n->config;
}

const rk_ring *rk_node_ring(const rk_node *n)
{
    return &n->ring;
}

const rk_bucket_table *rk_node_buckets(const rk_node *n)
{
    return &n->buckets;
}

int rk_node_local_get(rk_node *n, const uint8_t *key, size_t key_len, rk_buf *out)
{
    memset(out, 0, sizeof(*out));
    uint8_t skey[RK_SKEY_BYTES_MAX];
    int skey_len = node_skey(n, key, key_len, skey);
    if (skey_len < 0) {
        return skey_len;
    }
    int rc = rk_store_get(n->env->store, RK_DB_DATA, skey, (size_t)skey_len, out);
    return rc == RK_ENOTFOUND ? 0 : rc;
}

uint32_t rk_node_preflist(const rk_node *n, const uint8_t *key, size_t key_len, rk_node_id *out,
                          uint32_t out_count_max, uint32_t *primary_count_out)
{
    const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, key, key_len);
    uint32_t partition = rk_ring_partition_of(&n->ring, rk_hash_key(key, key_len));
    int count = rk_ring_preflist(&n->ring, partition, node_effective_n(n, props), out,
                                 out_count_max, primary_count_out);
    return count < 0 ? 0 : (uint32_t)count;
}
