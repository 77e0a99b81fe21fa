/* replica.c — the replica side (replica.h). */
#include "replica.h"

#include <string.h>

#include "parts.h"

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
     * answer anyway, and decoding here only to encode again would double the work. */
    rk_buf stored;
    int rc = rk_local_read_raw(&n->local, &k, &stored);
    if (rc == 0) {
        resp.object = stored.data;
        resp.object_len = stored.len;
    }
    resp.status = rc;
    node_send(n, from, &resp);
    rk_store_buf_free(&stored);
}

int rk_replica_merge(rk_node *n, const rk_local_key *k, const rk_dvvset *incoming,
                     uint8_t policy, rk_node_id hint_owner, const rk_pending *p)
{
    rk_dvvset local;
    int rc = rk_local_read(&n->local, k, &local);
    if (rc != 0) {
        return rc;
    }
    bool was_live = rk_local_set_live(&local);
    rk_dvvset before;
    rc = rk_dvvset_copy(&local, &before);
    if (rc == 0) {
        rc = rk_dvvset_sync(&local, incoming);
    }
    if (rc == 0 && policy == RK_POLICY_LWW) {
        node_resolve_lww(&local);
    }
    /* Nothing new: answer once what is already written is durable (it may not be yet). A
     * hinted copy is written anyway: its hint record may be the new part. */
    uint64_t seq = n->local.written_seq;
    if (rc == 0 && (hint_owner != 0 || !rk_dvvset_equal(&before, &local))) {
        rc = rk_handoff_store(n, k, &local, was_live, hint_owner, &seq, NULL, NULL);
    }
    rk_dvvset_deinit(&before);
    rk_dvvset_deinit(&local);
    if (rc == 0 && p != NULL) {
        rk_pending wait = *p;
        wait.seq = seq;
        rk_durable_after(&n->durable, &wait);
    }
    return rc;
}

void rk_replica_on_put(rk_node *n, rk_node_id from, const rk_msg *m)
{
    n->stats.replica_puts++;
    bool repair = (m->flags & RK_MSG_PUT_REPAIR) != 0;
    rk_local_key k;
    rk_dvvset incoming;
    int rc = rk_local_key_init(&n->local, m->key, m->key_len, &k) == 0 ? 0 : RK_EINVAL;
    if (rc == 0) {
        rc = rk_dvvset_decode(m->object, m->object_len, &incoming);
    }
    if (rc == 0) {
        const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, m->key, m->key_len);
        rk_pending p = {.kind = RK_PENDING_PEER,
                        .reply_kind = RK_MSG_PUT_RESP,
                        .peer = from,
                        .id = m->req_id};
        /* A fallback keeps a hint for the owner it stands in for; a hint naming this node or
         * a stranger is a confused peer's, and the copy is then kept as a plain one. */
        rk_node_id owner = m->hint_owner;
        if (owner != 0 && (owner == n->config.id ||
                           rk_members_slot(&n->members, owner) < 0 || node_is_primary(n, &k))) {
            owner = 0;
        }
        rc = rk_replica_merge(n, &k, &incoming, props->policy, owner, repair ? NULL : &p);
        rk_dvvset_deinit(&incoming);
    }
    if (rc != 0 && !repair) {
        rk_msg resp = {.kind = RK_MSG_PUT_RESP, .req_id = m->req_id, .status = rc};
        node_send(n, from, &resp);
    }
}
