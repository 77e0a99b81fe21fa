/* replica.c — the replica side (replica.h). Merging is the bucket policy's (policy.h); objects
 * of two types are refused and counted, never merged. */
#include "replica.h"

#include <stdlib.h>
#include <string.h>

#include "elems.h"

#include "parts.h"
#include "policy.h"
#include "setrows.h"
#include "transfer.h"

/* `k`'s set narrowed to `members`, encoded into *out (owned; len 0 when absent). */
static int replica_project(rk_node *n, const rk_local_key *k, const uint8_t *members,
                           size_t members_len, rk_buf *out)
{
    memset(out, 0, sizeof(*out));
    uint32_t count = 0;
    if (rk_elems_check(members, members_len, &count) != 0) {
        return RK_EINVAL;
    }
    rk_dvvset set;
    int rc = rk_local_set_project(&n->local, k, members, members_len, &set);
    if (rc == 0 && (set.sibling_count > 0 || set.history.entry_count > 0)) {
        rc = rk_local_encode_owned(&set, out);
    }
    rk_dvvset_deinit(&set);
    return rc;
}

void rk_replica_on_get(rk_node *n, rk_node_id from, const rk_msg *m)
{
    n->stats.replica_gets++;
    rk_msg resp = {.kind = RK_MSG_GET_RESP, .req_id = m->req_id};
    rk_local_key k;
    if (rk_local_key_init(&n->local, m->key, m->key_len, &k) != 0) {
        resp.status = RK_EINVAL;
        node_send(n, from, &resp);
        return;
    }
    /* The stored bytes go out as they are: the coordinator decodes (and so validates) every
     * answer anyway, and decoding here only to encode again would double the work. A delta
     * write's read asks for a few members of a set only (rows touched: one per member). */
    rk_buf stored;
    int rc = (m->flags & RK_MSG_GET_MEMBERS) != 0
                 ? replica_project(n, &k, m->value, m->value_len, &stored)
                 : rk_local_read_raw(&n->local, &k, &stored);
    if (rc == 0) {
        resp.object = stored.data;
        resp.object_len = stored.len;
    }
    if (rc == 0 && stored.len == 0 && (m->flags & RK_MSG_GET_PRIMARY) != 0 &&
        !node_is_primary(n, &k) && !rk_transfer_next_primary(n, &k)) {
        /* Asked as a primary of a key this node neither owns nor holds (the asker's ring is
         * older or newer than ours): "not found" would count toward R. */
        rc = RK_ENOTOWNER;
        n->stats.not_owner_answers++;
    }
    resp.status = rc;
    node_send(n, from, &resp);
    rk_store_buf_free(&stored);
}

/* The object to store for `k` (the merge of the local one and `incoming`) into *bytes_out
 * (local's scratch, or incoming_bytes), and whether it differs from what is stored. */
static int replica_merged(rk_node *n, const rk_dvvset *incoming, const uint8_t *incoming_bytes,
                          size_t incoming_len, uint8_t policy, const rk_buf *stored,
                          rk_dvvset *local, const uint8_t **bytes_out, size_t *len_out)
{
    /* Absent here: merging into nothing gives `incoming` itself when it holds one sibling
     * at most (resolved under any policy), so the bytes it came in go to the store
     * unchanged. */
    if (stored->len == 0 && incoming_bytes != NULL && incoming->sibling_count <= 1) {
        *bytes_out = incoming_bytes;
        *len_out = incoming_len;
        return 0;
    }
    int rc = rk_policy_merge(policy, local, incoming);
    if (rc == RK_EWRONGTYPE) {
        n->stats.objects_type_refused++;
    }
    if (rc == 0) {
        (void)rk_dvvset_forget(local, n->cluster.gone, n->cluster.gone_count);
    }
    if (rc == 0) {
        rc = rk_local_encode(&n->local, local, bytes_out, len_out);
    }
    return rc;
}

int rk_replica_merge(rk_node *n, const rk_local_key *k, const rk_dvvset *incoming,
                     const uint8_t *incoming_bytes, size_t incoming_len, uint8_t policy,
                     rk_node_id hint_owner, const rk_pending *p)
{
    rk_buf stored;
    rk_dvvset local;
    rk_dvvset_init(&local);
    int rc = rk_local_read_raw(&n->local, k, &stored);
    if (rc == 0 && stored.len > 0) {
        rc = rk_dvvset_decode(stored.data, stored.len, &local);
    }
    bool was_live = rk_local_set_live(&local);
    const uint8_t *bytes = NULL;
    size_t len = 0;
    if (rc == 0) {
        rc = replica_merged(n, incoming, incoming_bytes, incoming_len, policy, &stored, &local,
                            &bytes, &len);
    }
    /* Encodings are canonical (dvvset.h), so equal bytes are an equal object. Nothing new:
     * answer once what is already written is durable (it may not be yet). A hinted copy is
     * written anyway: its hint record may be the new part. */
    bool changed = rc == 0 && (len != stored.len || memcmp(bytes, stored.data, len) != 0);
    uint64_t seq = n->local.written_seq;
    if (rc == 0 && (changed || hint_owner != 0)) {
        bool live = bytes == incoming_bytes ? rk_local_set_live(incoming)
                                            : rk_local_set_live(&local);
        rc = rk_handoff_store(n, k, bytes, len, live, was_live, hint_owner, &seq);
    }
    rk_dvvset_deinit(&local);
    rk_store_buf_free(&stored);
    if (rc == 0 && p != NULL) {
        rk_pending wait = *p;
        wait.seq = seq;
        rk_durable_after(&n->durable, &wait);
    }
    return rc;
}

/* A fallback keeps a hint for the owner it stands in for; a hint naming this node or a
 * stranger is a confused peer's, and the copy is then kept as a plain one. */
static rk_node_id replica_hint_owner(const rk_node *n, const rk_local_key *k, rk_node_id owner)
{
    if (owner != 0 && (owner == n->config.id || rk_members_slot(&n->members, owner) < 0 ||
                       node_is_primary(n, k))) {
        return 0;
    }
    return owner;
}

/* A set delta (RK_MSG_PUT_DELTA): merged into the rows it names when causally ready, else
 * RK_ENOTREADY, and the coordinator sends the whole state. A damaged row asks for it too. */
static int replica_put_delta(rk_node *n, const rk_local_key *k, const rk_msg *m,
                             rk_node_id owner, uint64_t *seq_out)
{
    const uint8_t *members = NULL;
    const uint8_t *state = NULL;
    size_t members_len = 0;
    size_t state_len = 0;
    rk_dvvset delta;
    if (rk_setrows_delta_split(m->object, m->object_len, &members, &members_len, &state,
                               &state_len) != 0 ||
        rk_dvvset_decode_view(state, state_len, &delta) != 0) {
        return RK_EINVAL;
    }
    int rc = rk_handoff_store_delta(n, k, members, members_len, &delta, true, owner, seq_out);
    rk_dvvset_deinit(&delta);
    if (rc == RK_ENOTREADY || rc == RK_ECORRUPT) {
        n->stats.set_deltas_not_ready++;
        return RK_ENOTREADY;
    }
    n->stats.set_deltas_merged += rc == 0 ? 1 : 0;
    return rc;
}

/* One chunk of a whole set (RK_MSG_PUT_CHUNK): kept until its stream is complete, then merged
 * as the whole state it makes (with the hint of a fallback, answering the last chunk's request
 * once durable). Chunks before the last come as repairs and are never answered. */
static void replica_put_chunk(rk_node *n, const rk_local_key *k, const rk_msg *m,
                              rk_node_id from, rk_node_id owner, bool repair)
{
    rk_setrows_chunk chunk;
    rk_local_chunk_done done = {0};
    rk_buf whole = {0};
    uint64_t waiter[2] = {from, m->req_id};
    int rc = rk_setrows_chunk_decode(m->object, m->object_len, &chunk) == 0
                 ? rk_local_set_stage_chunk(&n->local, k, &chunk, repair ? NULL : waiter, &done,
                                            &whole)
                 : RK_EINVAL;
    rk_msg resp = {.kind = RK_MSG_PUT_RESP, .req_id = m->req_id, .status = rc};
    if (rc == 0 && done.complete) {
        rk_dvvset incoming;
        const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, m->key, m->key_len);
        rk_pending p = {.kind = RK_PENDING_PEER, .reply_kind = RK_MSG_PUT_RESP,
                        .peer = (rk_node_id)done.waiter[0], .id = done.waiter[1]};
        rc = rk_dvvset_decode_view(whole.data, whole.len, &incoming);
        if (rc == 0) {
            rc = rk_replica_merge(n, k, &incoming, whole.data, whole.len, props->policy, owner,
                                  done.answer ? &p : NULL);
            rk_dvvset_deinit(&incoming);
        }
        resp.req_id = done.waiter[1];
        resp.status = rc;
        from = (rk_node_id)done.waiter[0];
        repair = !done.answer;
    }
    rk_store_buf_free(&whole);
    if (rc != 0 && !repair) {
        node_send(n, from, &resp);
    }
    if (rc == 0 && n->local.written_seq > rk_durable_seq(&n->durable)) {
        n->env->sync(n->env->ctx, n->local.written_seq);
    }
}

void rk_replica_on_put(rk_node *n, rk_node_id from, const rk_msg *m)
{
    n->stats.replica_puts++;
    bool repair = (m->flags & RK_MSG_PUT_REPAIR) != 0;
    rk_local_key k;
    rk_dvvset incoming;
    int rc = rk_local_key_init(&n->local, m->key, m->key_len, &k) == 0 ? 0 : RK_EINVAL;
    bool delta = (m->flags & (RK_MSG_PUT_DELTA | RK_MSG_PUT_CHUNK)) != 0;
    if (rc == 0 && delta) {
        rk_node_id owner = replica_hint_owner(n, &k, m->hint_owner);
        uint64_t seq = n->local.written_seq;
        if ((m->flags & RK_MSG_PUT_CHUNK) != 0) {
            replica_put_chunk(n, &k, m, from, owner, repair);
            return;
        }
        rc = replica_put_delta(n, &k, m, owner, &seq);
        if (rc == 0 && !repair) {
            rk_pending p = {.kind = RK_PENDING_PEER, .reply_kind = RK_MSG_PUT_RESP, .peer = from,
                            .id = m->req_id, .seq = seq};
            rk_durable_after(&n->durable, &p);
        }
    } else if (rc == 0) {
        rc = rk_dvvset_decode_view(m->object, m->object_len, &incoming);
    }
    if (rc == 0 && !delta) {
        const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, m->key, m->key_len);
        rk_pending p = {.kind = RK_PENDING_PEER,
                        .reply_kind = RK_MSG_PUT_RESP,
                        .peer = from,
                        .id = m->req_id};
        rk_node_id owner = replica_hint_owner(n, &k, m->hint_owner);
        rc = rk_replica_merge(n, &k, &incoming, m->object, m->object_len, props->policy, owner,
                              repair ? NULL : &p);
        rk_dvvset_deinit(&incoming);
        if (rc == 0 && owner == 0 && (m->flags & RK_MSG_PUT_PLANNED) == 0) {
            rk_transfer_forward(n, &k, m->object, m->object_len);
        }
    }
    if (rc != 0 && !repair) {
        rk_msg resp = {.kind = RK_MSG_PUT_RESP, .req_id = m->req_id, .status = rc};
        node_send(n, from, &resp);
    }
    if (rc == 0 && repair && n->local.written_seq > rk_durable_seq(&n->durable)) {
        /* Nobody waits on a repair, so nothing else would ask for its sync: a node refilled by
         * anti-entropy would keep every repaired object in memory until a client wrote. */
        n->env->sync(n->env->ctx, n->local.written_seq);
    }
}
