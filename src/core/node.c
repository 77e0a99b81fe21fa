/* node.c — one node as a pure state machine (node.h): it builds the parts at start and
 * dispatches every event to the part that owns it. It owns the configuration, the counters'
 * struct and the node-wide helpers of parts.h (sending, replying, reachability). The parts:
 * members.c, local.c, clock.c, epochs.c, durable.c, coord_table.c, coord.c (+ coord_get.c,
 * coord_put.c), replica.c, handoff.c, node_bucket.c, fwd_seen.c; the policies in policy*.c. */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "parts.h"
#include "replica.h"

_Static_assert(RK_MEMBERS_MAX <= RK_RING_NODES_MAX, "the ring holds every member");

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
    c->members[0].id = 1;
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
    c->collection_members_max = RK_COLLECTION_MEMBERS_DEFAULT;
    c->aae_on = true;
    c->aae_interval_ms = 1000;
    c->aae_rebuild_ms = RK_AAE_REBUILD_MS_DEFAULT;
    c->read_repair = true;
    c->tombstone_grace_ms = 3600u * 1000u;
    c->epoch_learn_ms_max = RK_EPOCH_LEARN_MS_DEFAULT;
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
        self_member = self_member || c->members[i].id == c->id;
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
    if (c->collection_members_max == 0 || c->collection_members_max > RK_DVVSET_ELEMENTS_MAX) {
        return RK_EINVAL;
    }
    if (c->handoff_objects_per_s == 0 || c->handoff_interval_ms == 0 ||
        c->epoch_learn_ms_max == 0) {
        return RK_EINVAL;
    }
    if (c->aae_interval_ms == 0 || c->aae_rebuild_ms == 0) {
        return RK_EINVAL;
    }
    return 0;
}

/* ---- helpers for every part (parts.h) ------------------------------------------------------- */

uint64_t node_now_ms(const rk_node *n)
{
    return n->env->now_ms(n->env->ctx);
}

bool node_member_up(const rk_node *n, rk_node_id id)
{
    return rk_members_up(&n->members, id, node_now_ms(n));
}

uint32_t node_effective_n(const rk_node *n, const rk_bucket_props *props)
{
    /* Members of the serving ring: a joiner owns nothing until its plan's flip. */
    uint32_t count = n->ring.member_count > 0 ? n->ring.member_count : n->members.count;
    return props->n < count ? props->n : count;
}

uint32_t node_primaries(const rk_node *n, const rk_local_key *k, rk_node_id out[RK_N_MAX])
{
    const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, k->key, k->key_len);
    uint32_t primaries = 0;
    int count = rk_ring_preflist(&n->ring, k->partition, node_effective_n(n, props), out,
                                 RK_N_MAX, &primaries);
    return count < 0 ? 0 : ((uint32_t)count < primaries ? (uint32_t)count : primaries);
}

bool node_key_primary(const rk_node *n, const rk_local_key *k, rk_node_id id)
{
    rk_node_id list[RK_N_MAX];
    uint32_t primaries = node_primaries(n, k, list);
    for (uint32_t i = 0; i < primaries; i++) {
        if (list[i] == id) {
            return true;
        }
    }
    return false;
}

bool node_is_primary(const rk_node *n, const rk_local_key *k)
{
    return node_key_primary(n, k, n->config.id);
}

void node_send(rk_node *n, rk_node_id to, const rk_msg *m)
{
    RK_ASSERT(to != n->config.id);
    n->env->send(n->env->ctx, to, m);
}

void node_send_many(rk_node *n, const rk_node_id *to, uint32_t count, const rk_msg *m)
{
    for (uint32_t i = 0; i < count; i++) {
        RK_ASSERT(to[i] != n->config.id);
    }
    if (n->env->send_many != NULL && count > 1) {
        n->env->send_many(n->env->ctx, to, count, m);
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        n->env->send(n->env->ctx, to[i], m);
    }
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
    /* Any reply travels back whole: a value, or the strings of an array, map or set. */
    rk_msg_bytes one;
    rk_msg_bytes *many = NULL;
    if (r->kind == RK_REPLY_VALUE) {
        one = (rk_msg_bytes){.len = r->value_len, .data = r->value};
        m.values = &one;
        m.value_count = 1;
    } else if (r->kind == RK_REPLY_ARRAY || r->kind == RK_REPLY_MAP || r->kind == RK_REPLY_SET) {
        many = r->value_count > 0 ? calloc(r->value_count, sizeof(*many)) : NULL;
        if (many == NULL && r->value_count > 0) {
            m = (rk_msg){.kind = RK_MSG_FWD_RESP, .req_id = req, .req_kind = RK_REPLY_ERROR,
                         .status = RK_ENOMEM};
        }
        for (uint32_t i = 0; many != NULL && i < r->value_count; i++) {
            many[i] = (rk_msg_bytes){.len = r->value_lens[i], .data = r->values[i]};
        }
        m.values = many;
        m.value_count = many != NULL ? r->value_count : 0;
    }
    node_send(n, origin, &m);
    free(many);
}

void node_reply_error(rk_node *n, uint64_t client_req, int error, const char *message)
{
    rk_reply r = {.kind = RK_REPLY_ERROR, .error = error, .message = message};
    n->env->reply(n->env->ctx, client_req, &r);
}

/* ---- durability ----------------------------------------------------------------------------- */

/* What waited for durability (durable.h) runs here. */
static void node_pending_run(void *ctx, const rk_pending *p, int status, const char *message)
{
    rk_node *n = ctx;
    switch ((rk_pending_kind)p->kind) {
    case RK_PENDING_CLIENT:
        if (status != 0) {
            node_reply_error(n, p->id, status, message);
        } else {
            rk_reply r = {.kind = (rk_reply_kind)p->reply_kind, .integer = p->integer};
            n->env->reply(n->env->ctx, p->id, &r);
        }
        return;
    case RK_PENDING_PEER: {
        rk_msg m = {.kind = (rk_msg_kind)p->reply_kind, .req_id = p->id};
        if (status == 0) {
            m.integer = p->integer;
        } else {
            m.status = status;
        }
        node_send(n, p->peer, &m);
        return;
    }
    case RK_PENDING_TRANSFER:
        rk_transfer_on_pending(n, p, status);
        return;
    case RK_PENDING_COORD:
        rk_coord_on_local_durable(n, p->id, status);
        return;
    }
    RK_ASSERT(!"unknown pending kind");
}

void rk_node_on_durable(rk_node *n, uint64_t seq)
{
    rk_durable_on_synced(&n->durable, seq);
}

void rk_node_on_sync_failed(rk_node *n, uint64_t seq, int error)
{
    rk_clock_on_sync_failed(&n->clock, rk_durable_seq(&n->durable));
    char message[96];
    if (error == RK_ENOSPC) {
        snprintf(message, sizeof(message), "store full: the disk, or a set map-size, is full; write not stored");
    } else {
        snprintf(message, sizeof(message), "sync failed: %s; write not stored",
                 rk_strerror(error));
    }
    rk_durable_on_failed(&n->durable, seq, error, message);
    rk_local_recount(&n->local);
}

int rk_node_stop_clean(rk_node *n)
{
    int rc = rk_clock_stop(&n->clock, &n->local, n->env, rk_durable_seq(&n->durable));
    if (rc == 0) {
        /* Every write was durable before the mark, so nothing can still wait for a sync. */
        RK_ASSERT(rk_durable_room(&n->durable) == RK_DURABLE_PENDING_MAX);
    }
    return rc;
}

int rk_node_stop_clean_status(const rk_node *n)
{
    return rk_clock_stop_status(&n->clock, rk_durable_seq(&n->durable));
}

/* ---- start-up ------------------------------------------------------------------------------- */

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
    n->config = *config;
    n->env = env;
    rk_fwd_seen_init(&n->fwd_seen);
    rc = rk_durable_init(&n->durable, env, &n->stats, config->sync == RK_SYNC_NONE,
                         node_pending_run, n);
    if (rc == 0) {
        rk_transfer_init(&n->transfer, RK_TRANSFER_OBJECTS_PER_S_DEFAULT);
        rc = rk_membership_start(n);
    }
    if (rc == 0) {
        rc = node_bucket_load(n);
    }
    if (rc == 0) {
        rc = rk_local_init(&n->local, env, &n->ring, &n->stats);
    }
    if (rc == 0) {
        /* Alone, a node has nobody who could hold its old store's dots. */
        rc = config->member_count > 1 ? rk_clock_start_learning(&n->clock, &n->local, env)
                                      : rk_clock_start(&n->clock, &n->local, env);
        n->stats.epoch = n->clock.epoch;
        n->stats.epoch_kept = n->clock.epoch_kept ? 1 : 0;
    }
    if (rc == 0) {
        rc = rk_epochs_start(n);
    }
    if (rc == 0) {
        rk_coord_table_init(&n->coords, env, config->request_timeout_ms, n->clock.run);
        rc = rk_handoff_start(n);
    }
    if (rc == 0) {
        rc = rk_aae_start(n);
    }
    if (rc == 0) {
        rk_membership_ready(n);
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
    if (n->coords.env != NULL) {
        rk_coord_table_deinit(&n->coords, rk_coord_deinit);
    }
    rk_aae_deinit(&n->aae);
    rk_durable_deinit(&n->durable);
    rk_local_deinit(&n->local);
    rk_transfer_deinit(&n->transfer);
    rk_cluster_meta_deinit(&n->cluster);
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
    if (r->kind < RK_REQ_GET || r->kind > RK_REQ_KIND_MAX ||
        (r->kind == RK_REQ_WRITE && (r->op < RK_OP_PUT || r->op > RK_OP_KIND_MAX)) ||
        (r->kind == RK_REQ_READ && (r->op < RK_READ_SMEMBERS || r->op > RK_READ_KIND_MAX))) {
        node_reply_error(n, client_req, RK_EINVAL, "unknown request");
        return;
    }
    if (rk_durable_room(&n->durable) <= 1024u) {
        /* The runtime stops reading clients before this (rk_node_is_busy); a refusal is still
         * better than an unbounded queue. */
        n->stats.refused_busy++;
        node_reply_error(n, client_req, RK_EBUSY, "node busy: too many writes in flight");
        return;
    }
    rk_coord_start(n, false, n->config.id, client_req, r);
}

static void node_on_fwd_req(rk_node *n, rk_node_id from, const rk_msg *m)
{
    rk_request r = {.kind = (rk_request_kind)m->req_kind,
                    .key = m->key,
                    .key_len = m->key_len,
                    .value = m->value,
                    .value_len = m->value_len,
                    .context = (const char *)m->context,
                    .context_len = m->context_len,
                    .r = m->r,
                    .w = m->w,
                    .sloppy = (uint8_t)m->sloppy,
                    .op = (uint8_t)m->op};
    if (r.kind < RK_REQ_GET || r.kind > RK_REQ_KIND_MAX || r.key_len > RK_KEY_BYTES_MAX ||
        m->sloppy > RK_SLOPPY_OFF || m->op > RK_OP_KIND_MAX ||
        (r.kind == RK_REQ_WRITE && m->op < RK_OP_PUT) || r.kind == RK_REQ_READ) {
        return;     /* reads are coordinated where they arrive, never forwarded */
    }
    if (rk_fwd_seen_check(&n->fwd_seen, from, m->req_id)) {
        return;     /* the first copy is being (or was) coordinated and answered */
    }
    rk_coord_start(n, true, from, m->req_id, &r);
}

void rk_node_on_message(rk_node *n, rk_node_id from, const rk_msg *m)
{
    if (from == n->config.id || !rk_members_heard(&n->members, from)) {
        return;     /* not one of ours: the runtime's handshake should have refused it */
    }
    switch (m->kind) {
    case RK_MSG_GET_REQ:
        rk_replica_on_get(n, from, m);
        return;
    case RK_MSG_PUT_REQ:
        rk_replica_on_put(n, from, m);
        return;
    case RK_MSG_FWD_REQ:
        node_on_fwd_req(n, from, m);
        return;
    case RK_MSG_GET_RESP:
    case RK_MSG_PUT_RESP:
    case RK_MSG_FWD_RESP:
    case RK_MSG_BUCKET_ACK:
        rk_coord_on_message(n, from, m);
        return;
    case RK_MSG_BUCKET_SET:
        node_bucket_on_set(n, from, m);
        return;
    case RK_MSG_AAE_REQ:
    case RK_MSG_AAE_RESP:
        if (m->level == RK_AAE_RANGE) {
            if (m->kind == RK_MSG_AAE_REQ) {
                rk_transfer_on_req(n, from, m);
            } else {
                rk_transfer_on_resp(n, from, m);
            }
            return;
        }
        rk_aae_on_message(n, from, m);
        return;
    case RK_MSG_CLUSTER:
        rk_membership_on_message(n, from, m);
        return;
    case RK_MSG_EPOCH:
    case RK_MSG_EPOCH_RESP:
        rk_epochs_on_message(n, from, m);
        return;
    }
}

void rk_node_on_timer(rk_node *n, uint64_t timer_id)
{
    if (timer_id == RK_TIMER_HANDOFF) {
        rk_handoff_on_timer(n);
    } else if (timer_id == RK_TIMER_AAE) {
        rk_aae_on_timer(n);
    } else if (timer_id == RK_TIMER_DEADLINES) {
        rk_coord_on_timer(n);
        n->stats.peers_suspected = n->members.suspected_total;
    } else if (timer_id == RK_TIMER_CLUSTER) {
        rk_membership_on_timer(n);
    } else if (timer_id == RK_TIMER_EPOCH) {
        rk_epochs_on_timer(n);
    }
}

void rk_node_on_peer(rk_node *n, rk_node_id peer, bool up)
{
    if (!rk_members_set_link(&n->members, peer, up)) {
        return;
    }
    if (up) {
        rk_handoff_kick(n);     /* hints for it go out on the next tick */
        /* A member that missed a change catches up on every (re)connect: peers count up from
         * the start, so the first handshake is an up call without a down before it. */
        node_bucket_push_all(n, peer);
        rk_epochs_on_peer_up(n, peer);
        rk_membership_on_peer_up(n, peer);
    }
}

/* ---- views ---------------------------------------------------------------------------------- */

bool rk_node_is_busy(const rk_node *n)
{
    return rk_durable_room(&n->durable) <= 2048u ||
           rk_coord_table_count(&n->coords) >= RK_COORD_INFLIGHT_MAX - 256u;
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

const rk_members *rk_node_members(const rk_node *n)
{
    return &n->members;
}

bool rk_node_member_reachable(const rk_node *n, rk_node_id id)
{
    return node_member_up(n, id);
}

bool rk_node_member_suspected(const rk_node *n, rk_node_id id)
{
    return rk_members_suspected(&n->members, id, node_now_ms(n));
}

int rk_node_local_get(rk_node *n, const uint8_t *key, size_t key_len, rk_buf *out)
{
    memset(out, 0, sizeof(*out));
    rk_local_key k;
    int rc = rk_local_key_init(&n->local, key, key_len, &k);
    return rc != 0 ? rc : rk_local_read_raw(&n->local, &k, out);
}

uint32_t rk_node_preflist(const rk_node *n, const uint8_t *key, size_t key_len, rk_node_id *out,
                          uint32_t out_count_max, uint32_t *primary_count_out)
{
    rk_local_key k;
    if (rk_local_key_init(&n->local, key, key_len, &k) != 0) {
        *primary_count_out = 0;
        return 0;
    }
    const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, key, key_len);
    int count = rk_ring_preflist(&n->ring, k.partition, node_effective_n(n, props), out,
                                 out_count_max, primary_count_out);
    return count < 0 ? 0 : (uint32_t)count;
}
