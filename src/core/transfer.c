/* transfer.c — ownership transfer (transfer.h): the receive table of the moving plan, pulling
 * batches and making them durable before asking for more, serving batches as a source, the
 * forwards of writes during a move, the flip, and the cleanup after it. */
#include "transfer.h"

#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "membership.h"
#include "parts.h"
#include "policy.h"
#include "replica.h"
#include "skey.h"

/* Keys the cleanup looks at per tick, so a large store never holds the loop long. */
#define TRANSFER_CLEANUP_KEYS_PER_TICK 2048u

void rk_transfer_init(rk_transfer *t, uint32_t objects_per_s)
{
    memset(t, 0, sizeof(*t));
    t->objects_per_s = objects_per_s;
}

void rk_transfer_deinit(rk_transfer *t)
{
    free(t->xfers);
    t->xfers = NULL;
    t->count = 0;
}

bool rk_transfer_moving(const rk_node *n)
{
    return n->cluster.moving;
}

/* The table follows the plan: the units naming this node receiver, nothing done yet unless
 * the metadata says so. */
void rk_transfer_rebuild(rk_node *n)
{
    rk_transfer *t = &n->transfer;
    const rk_cluster_meta *m = &n->cluster;
    uint64_t plan = m->moving ? m->plan : 0;
    if (t->plan == plan) {
        return;
    }
    rk_transfer_deinit(t);
    t->plan = plan;
    rk_transfer_resume_sweep(n); /* records of plans that are over */
    if (plan == 0) {
        return;
    }
    uint32_t mine = 0;
    for (uint32_t i = 0; i < m->unit_count; i++) {
        mine += m->units[i].receiver == n->config.id ? 1u : 0u;
    }
    if (mine == 0) {
        return;
    }
    t->xfers = calloc(mine, sizeof(*t->xfers));
    if (t->xfers == NULL) {
        t->plan = 0; /* try again next tick */
        return;
    }
    for (uint32_t i = 0; i < m->unit_count; i++) {
        if (m->units[i].receiver == n->config.id) {
            rk_xfer *x = &t->xfers[t->count++];
            x->unit = i;
            x->state = rk_cluster_unit_is_done(m, i) ? RK_XFER_DONE : RK_XFER_WAITING;
            if (x->state == RK_XFER_WAITING) {
                rk_transfer_resume_load(n, x); /* a restart resumes after the last batch */
            }
        }
    }
}

const rk_xfer *rk_transfer_find(const rk_node *n, uint32_t unit)
{
    const rk_transfer *t = &n->transfer;
    for (uint32_t i = 0; i < t->count; i++) {
        if (t->xfers[i].unit == unit) {
            return &t->xfers[i];
        }
    }
    return NULL;
}

uint32_t rk_transfer_pending(const rk_node *n)
{
    const rk_cluster_meta *m = &n->cluster;
    uint32_t pending = 0;
    for (uint32_t i = 0; m->moving && i < m->unit_count; i++) {
        const rk_cluster_unit *u = &m->units[i];
        if (!rk_cluster_unit_is_done(m, i) &&
            (u->receiver == n->config.id ||
             (u->source_count > 0 && u->sources[0] == n->config.id))) {
            pending++;
        }
    }
    return pending;
}

void rk_transfer_refill(rk_node *n, uint64_t now)
{
    rk_transfer *t = &n->transfer;
    if (t->tokens_ms == 0 || now < t->tokens_ms) {
        t->tokens_ms = now;
    }
    double add = (double)(now - t->tokens_ms) * t->objects_per_s / 1000.0;
    t->tokens_ms = now;
    double cap = t->objects_per_s < RK_TRANSFER_BATCH_OBJECTS ? RK_TRANSFER_BATCH_OBJECTS
                                                               : (double)t->objects_per_s;
    t->tokens = t->tokens + add > cap ? cap : t->tokens + add;
}

/* Unit `x` is all here: mark it done in the metadata (the flip follows its last). */
static void transfer_finished(rk_node *n, rk_xfer *x)
{
    x->state = RK_XFER_DONE;
    x->inflight = false;
    x->finished_ms = node_now_ms(n);
    rk_transfer_resume_drop(n, x->unit);
    n->stats.transfers_done++;
    if (rk_cluster_unit_done(&n->cluster, x->unit)) {
        rk_cluster_flip(&n->cluster);
        rk_membership_changed(n);
    }
}

/* Ask a source for the next batch of unit slot `slot`. */
static void transfer_request(rk_node *n, uint32_t slot)
{
    rk_transfer *t = &n->transfer;
    rk_xfer *x = &t->xfers[slot];
    const rk_cluster_unit *u = &n->cluster.units[x->unit];
    if (u->source_count == 0) {
        /* Every old primary is gone (force-removed): there is nothing left to fetch. */
        transfer_finished(n, x);
        return;
    }
    /* Only the first n_min sources hold every bucket's keys of the partition: with every
     * one of them down the unit waits (shown stalled) rather than take less. */
    uint32_t complete = rk_membership_n_min(n);
    complete = complete < u->source_count ? complete : u->source_count;
    rk_node_id source = 0;
    for (uint32_t tries = 0; tries < complete && source == 0; tries++) {
        rk_node_id candidate = u->sources[x->source_at % complete];
        if (node_member_up(n, candidate)) {
            source = candidate;
        } else {
            x->source_at = (uint8_t)((x->source_at + 1u) % complete);
        }
    }
    rk_transfer_refill(n, node_now_ms(n));
    if (source == 0 || t->tokens < 1.0) {
        return; /* no source reachable, or throttled: the next tick tries again */
    }
    uint32_t want = t->tokens < RK_TRANSFER_BATCH_OBJECTS ? (uint32_t)t->tokens
                                                          : RK_TRANSFER_BATCH_OBJECTS;
    t->tokens -= want;
    uint64_t plan = n->cluster.plan;
    rk_msg_bytes cursor = {.len = x->cursor_len, .data = x->cursor};
    rk_msg m = {.kind = RK_MSG_AAE_REQ,
                .req_id = ++t->req_next,
                .partition = u->partition,
                .level = RK_AAE_RANGE,
                .indices = &want,
                .index_count = 1,
                .hashes = &plan,
                .hash_count = 1,
                .values = x->has_cursor ? &cursor : NULL,
                .value_count = x->has_cursor ? 1u : 0u};
    x->req_id = m.req_id;
    x->inflight = true;
    x->sent_ms = node_now_ms(n);
    if (x->state == RK_XFER_WAITING) {
        x->state = RK_XFER_RUNNING;
        x->started_ms = x->sent_ms;
        x->progress_ms = x->sent_ms;
    }
    node_send(n, source, &m);
}

void rk_transfer_step(rk_node *n, uint64_t now)
{
    rk_transfer *t = &n->transfer;
    uint32_t running = 0;
    for (uint32_t i = 0; i < t->count; i++) {
        rk_xfer *x = &t->xfers[i];
        if (x->inflight && !x->writing && now >= x->sent_ms + n->config.request_timeout_ms) {
            /* Unanswered: the next source, and counted (status shows it stalled). */
            const rk_cluster_unit *u = &n->cluster.units[x->unit];
            x->inflight = false;
            x->retries++;
            n->stats.transfer_retries++;
            if (u->source_count > 0) {
                x->source_at = (uint8_t)((x->source_at + 1u) % u->source_count);
            }
        }
        running += x->inflight ? 1u : 0u;
    }
    for (uint32_t i = 0; i < t->count && running < RK_TRANSFER_PARALLEL; i++) {
        rk_xfer *x = &t->xfers[i];
        if (x->state != RK_XFER_DONE && !x->inflight) {
            transfer_request(n, i);
            running += x->inflight ? 1u : 0u;
        }
    }
}

/* ---- the receiver ------------------------------------------------------------------------ */

static rk_xfer *transfer_by_req(rk_node *n, uint64_t req_id, uint32_t *slot_out)
{
    rk_transfer *t = &n->transfer;
    for (uint32_t i = 0; i < t->count; i++) {
        if (t->xfers[i].inflight && !t->xfers[i].writing && t->xfers[i].req_id == req_id) {
            *slot_out = i;
            return &t->xfers[i];
        }
    }
    return NULL;
}

/* Merge one received object as a replica would; returns its bytes counted or an error. */
static int transfer_merge_one(rk_node *n, uint32_t partition, const rk_msg_bytes *key,
                              const rk_msg_bytes *object)
{
    rk_local_key k;
    if (rk_local_key_init(&n->local, key->data, key->len, &k) != 0 || k.partition != partition ||
        object->len == 0) {
        return 0; /* not of this partition, or absent there: nothing to take */
    }
    rk_dvvset incoming;
    int rc = rk_dvvset_decode_view(object->data, object->len, &incoming);
    if (rc != 0) {
        return 0; /* a damaged copy at the source: anti-entropy mends it there */
    }
    const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, key->data, key->len);
    rc = rk_replica_merge(n, &k, &incoming, object->data, object->len, props->policy, 0, NULL);
    rk_dvvset_deinit(&incoming);
    if (rc == RK_EWRONGTYPE) {
        return 0; /* counted by the merge; the key keeps this node's type */
    }
    return rc;
}

void rk_transfer_on_resp(rk_node *n, rk_node_id from, const rk_msg *m)
{
    (void)from;
    uint32_t slot = 0;
    rk_xfer *x = transfer_by_req(n, m->req_id, &slot);
    if (x == NULL) {
        return; /* late, or for a plan that is over */
    }
    const rk_cluster_unit *u = &n->cluster.units[x->unit];
    if (m->status != 0 || (m->object_count != m->value_count)) {
        x->inflight = false; /* the source is behind on the plan (busy) or failed: later */
        if (m->status != RK_EBUSY && u->source_count > 0) {
            x->source_at = (uint8_t)((x->source_at + 1u) % u->source_count);
        }
        return;
    }
    if (rk_durable_room(&n->durable) <= 1024u) {
        x->inflight = false; /* the node is saturated: this batch goes again later */
        return;
    }
    for (uint32_t i = 0; i < m->value_count; i++) {
        int rc = transfer_merge_one(n, u->partition, &m->values[i], &m->objects[i]);
        if (rc != 0) {
            x->inflight = false; /* a store error (counted): the batch goes again */
            return;
        }
        x->keys++;
        x->bytes += m->objects[i].len;
        n->stats.transfer_keys_received++;
        n->stats.transfer_bytes_received += m->objects[i].len;
    }
    if (m->value_count > 0) {
        const rk_msg_bytes *last = &m->values[m->value_count - 1];
        memcpy(x->cursor, last->data, last->len);
        x->cursor_len = (uint16_t)last->len;
        x->has_cursor = true;
        if (rk_transfer_resume_save(n, x) != 0) {
            x->inflight = false; /* a store error (counted): the batch goes again */
            return;
        }
    }
    x->progress_ms = node_now_ms(n);
    x->last = m->index_count > 0 && m->indices[0] == 1;
    x->writing = true;
    rk_pending p = {.kind = RK_PENDING_TRANSFER,
                    .seq = n->local.written_seq,
                    .id = slot,
                    .integer = (int64_t)n->transfer.plan};
    rk_durable_after(&n->durable, &p);
    if (n->local.written_seq > rk_durable_seq(&n->durable)) {
        n->env->sync(n->env->ctx, n->local.written_seq);
    }
}

void rk_transfer_on_durable(rk_node *n, uint64_t slot, int status)
{
    rk_transfer *t = &n->transfer;
    if (slot >= t->count || !t->xfers[slot].inflight) {
        return;
    }
    rk_xfer *x = &t->xfers[slot];
    x->writing = false;
    x->inflight = false;
    if (status != 0) {
        x->has_cursor = false; /* what the failed sync covered is gone: start over */
        x->cursor_len = 0;
        return;
    }
    if (!x->last) {
        transfer_request(n, (uint32_t)slot);
        return;
    }
    transfer_finished(n, x);
    if (n->cluster.moving) {
        rk_transfer_step(n, node_now_ms(n)); /* the next unit now, not at the next tick */
    }
}

/* The durability queue's item for a batch of an older plan is dropped here. */
void rk_transfer_on_pending(rk_node *n, const rk_pending *p, int status)
{
    if ((uint64_t)p->integer != n->transfer.plan) {
        return;
    }
    rk_transfer_on_durable(n, p->id, status);
}
