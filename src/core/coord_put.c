/* coord_put.c — the write coordinator (Dynamo 4.5): on a primary (or, with no primary
 * reachable, a chosen fallback) apply the write's operation to the local object through the
 * bucket's policy (policy.h: it mints the dot and resolves), store it, send its bytes to the
 * other chosen nodes, answer once W acknowledged durably, then record hints for the primaries
 * the write missed. A merge type's write is a read-modify-write: the key is first read from
 * the same chosen nodes and applied only once R answered, to the merge of their answers and
 * the local object — so with R + W > N its reply and what it removes include every write
 * acknowledged before it began. One deadline covers both phases. Knows no policy and no
 * operation by name. Writes RK_COORD_PUT coordinators only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "parts.h"
#include "policy.h"
#include "transfer.h"

static void coord_put_reply_ok(rk_node *n, rk_coord_put *c)
{
    rk_reply r = {.kind = c->reply_kind,
                  .integer = c->reply_integer,
                  .value = c->reply_value,
                  .value_len = c->reply_value_len};
    if (r.kind == RK_REPLY_OK) {
        r.integer = c->q.ok_count;
    }
    if (c->versioned) {
        r.kind = RK_REPLY_WRITTEN;
        r.integer = c->q.ok_count;
        r.context = c->written_context;
    }
    rk_coord_reply(n, &c->base, &r);
}

/* A write's coordinator is done: hints for the primaries it missed, then free. */
static void coord_put_finish(rk_node *n, rk_coord_put *c)
{
    if (c->local_ok) {
        rk_handoff_hint_missed(n, c);
    }
    rk_coord_free(n, &c->base);
}

/* No more answers will come (all in, or the deadline): accept at the degraded floor if the
 * bucket allows, else answer `error` with `format` (W, then the acks that succeeded) unless
 * W was met before; then finish. */
static void coord_put_close(rk_node *n, rk_coord_put *c, int error, const char *format)
{
    if (!c->base.replied && c->q.fallback_need > 0 && c->q.ok_count >= c->q.fallback_need) {
        n->stats.degraded_writes++;
        coord_put_reply_ok(n, c);
    }
    if (!c->base.replied) {
        char message[160];
        snprintf(message, sizeof(message), format, c->q.need, c->q.ok_count);
        rk_coord_reply_error(n, &c->base, error, message);
    }
    coord_put_finish(n, c);
}

void rk_coord_put_on_ack(rk_node *n, rk_coord_put *c, uint32_t index, bool ok)
{
    RK_ASSERT(index < c->q.preflist_count);
    uint16_t bit = (uint16_t)(1u << index);
    if (c->q.answered_mask & bit) {
        return;     /* a duplicated ack counts once */
    }
    c->q.answered_mask |= bit;
    c->q.ok_mask |= ok ? bit : 0;
    c->q.ok_count += ok ? 1 : 0;
    RK_ASSERT(c->q.ok_count <= c->q.preflist_count);
    if (!c->base.replied && c->q.ok_count >= c->q.need) {
        coord_put_reply_ok(n, c);
    }
    if (c->q.answered_mask == rk_coord_expected_mask(&c->q, n->config.id)) {
        coord_put_close(n, c, RK_EIO, "needed W=%u, %u replicas stored it, the rest failed");
    }
}

static void coord_put_send(rk_node *n, rk_coord_put *c, const uint8_t *bytes, size_t len);

void rk_coord_put_on_local_durable(rk_node *n, rk_coord_put *c, int status)
{
    int self_index = rk_coord_preflist_index(&c->q, n->config.id);
    RK_ASSERT(self_index >= 0);
    c->local_ok = status == 0;
    if (c->unsent_object != NULL) {
        if (status == 0) {
            coord_put_send(n, c, c->unsent_object, c->unsent_object_len);
        }
        free(c->unsent_object);     /* a failed local write is sent nowhere */
        c->unsent_object = NULL;
    }
    rk_coord_put_on_ack(n, c, (uint32_t)self_index, status == 0);
}

/* Whether this write makes its local copy durable before sending it (policy.h). */
static bool coord_put_local_first(const rk_node *n, const rk_coord_put *c)
{
    return rk_policy_of(c->policy)->durable_before_send && n->config.sync != RK_SYNC_NONE;
}

/* The floor of the dot this write mints. Durable before sent: a primary's dots need no epoch
 * floor, only the store's (a wiped store mints elsewhere). Above every counter of this node in
 * a tombstone reaped in the key's partition, so a re-created key never gets a dot of its first
 * life, which a late copy may still carry (aae_reap.c). */
static uint64_t coord_put_dot_floor(const rk_node *n, const rk_coord_put *c, bool fallback)
{
    uint64_t floor = coord_put_local_first(n, c) && !fallback
                         ? rk_clock_store_floor(&n->clock)
                         : rk_clock_dot_floor(&n->clock, fallback);
    uint64_t reaped = rk_aae_reap_floor(n, c->key.partition);
    return reaped >= floor ? reaped + 1 : floor;
}

void rk_coord_put_expire(rk_node *n, rk_coord_put *c)
{
    if (c->reading) {
        char message[160];
        snprintf(message, sizeof(message), "needed R=%u replicas for the read before the write, "
                 "%u answered in time; nothing was written", c->read_need, c->read_ok_count);
        rk_coord_reply_error(n, &c->base, RK_ETIMEDOUT, message);
        rk_coord_free(n, &c->base);
        return;
    }
    coord_put_close(n, c, RK_ETIMEDOUT, "needed W=%u acknowledgements, %u arrived in time; "
                    "the write may still appear");
}

/* A hybrid logical clock (microseconds): the wall clock, but above every stamp this write
 * supersedes, so a causally later write never loses to what it replaced because of skew. */
static uint64_t coord_put_stamp(rk_node *n, const rk_dvvset *local)
{
    uint64_t floor_us = 0;
    for (uint32_t i = 0; i < local->sibling_count; i++) {
        if (local->siblings[i].timestamp_us > floor_us) {
            floor_us = local->siblings[i].timestamp_us;
        }
    }
    return rk_clock_stamp_above(&n->clock, n->env->wall_us(n->env->ctx), floor_us);
}

/* The context token of `set` (owned; NULL when out of memory: the reply then has none). */
static char *coord_context_token(const rk_dvvset *set)
{
    rk_vv context;
    rk_dvvset_join(set, &context);
    char token[RK_VV_TOKEN_CHARS_MAX + 1];
    int rc = rk_vv_token_encode(&context, token, sizeof(token));
    RK_ASSERT(rc >= 0);
    return strdup(token);
}

/* The operation a write request carries (op.h). */
static rk_op coord_put_op(const rk_request *r)
{
    switch (r->kind) {
    case RK_REQ_PUT:
    case RK_REQ_VPUT:
        return (rk_op){.kind = RK_OP_PUT, .arg = r->value, .arg_len = r->value_len};
    case RK_REQ_DEL:
    case RK_REQ_VDEL:
        return (rk_op){.kind = RK_OP_DEL};
    default:
        RK_ASSERT(r->kind == RK_REQ_WRITE);
        return (rk_op){.kind = (rk_op_kind)r->op, .arg = r->value, .arg_len = r->value_len};
    }
}

/* Apply the client's write to `local`, this coordinator's copy, through the bucket's policy,
 * and check the object still fits in an object (and so in a frame to the replicas and in a
 * handoff). 0, or an error with `message` for the client. */
static int coord_put_apply(rk_node *n, rk_coord_put *c, const rk_request *r, bool fallback,
                           const rk_dvvset *own_base, rk_dvvset *local, char *message,
                           size_t message_bytes)
{
    const rk_policy *policy = rk_policy_of(c->policy);
    (void)rk_dvvset_forget(local, n->cluster.gone, n->cluster.gone_count);
    if (!rk_policy_holds(policy, local)) {
        if (coord_put_op(r).kind != RK_OP_DEL) {
            return rk_policy_wrongtype(message, message_bytes);  /* Redis's text */
        }
        /* DEL deletes a key of any type, as in Redis: by the table of the type it holds (a key
         * left by a write that raced a policy change, node_bucket.c). */
        policy = rk_policy_of_state(c->policy, local);
    }
    rk_vv context;
    if (c->versioned) {
        rk_vv_init(&context);
        if (r->context != NULL && r->context_len > 0 &&
            rk_vv_token_decode(r->context, r->context_len, &context) != 0) {
            snprintf(message, message_bytes, "context is not a token from RK.GET");
            return RK_EINVAL;
        }
    }
    rk_policy_write w = {.op = coord_put_op(r),
                         .context = c->versioned ? &context : NULL,
                         .coordinator = n->config.id,
                         .dot_floor = coord_put_dot_floor(n, c, fallback),
                         .stamp_us = coord_put_stamp(n, local),
                         .siblings_max = n->config.siblings_max,
                         .value_bytes_max = n->config.value_bytes_max,
                         .lineage = rk_clock_lineage(&n->clock, coord_put_local_first(n, c)),
                         .handback_floor = fallback ? n->clock.handback_floor : 0,
                         .own_base = own_base,
                         .gone = n->cluster.gone,
                         .gone_count = n->cluster.gone_count};
    rk_policy_applied applied;
    memset(&applied, 0, sizeof(applied));
    int rc = policy->apply(&w, local, &applied, message, message_bytes);
    if (rc == RK_ETOOBIG && applied.clock_full) {
        n->stats.set_clock_refused++;
    } else if (rc == RK_ETOOBIG && applied.actors_full) {
        n->stats.counter_actors_refused++;
    } else if (rc == RK_ETOOBIG && local->sibling_count >= n->config.siblings_max) {
        n->stats.siblings_refused++;
    }
    if (rc != 0) {
        return rc;
    }
    n->stats.counter_actors_created += applied.actor_minted != 0 ? 1 : 0;
    /* A remove mints no dot, and an actor advanced in place mints none either. */
    if (fallback && applied.dot.counter != 0) {
        rk_clock_fallback_minted(&n->clock, applied.dot.counter);
    }
    c->reply_kind = applied.reply_kind;
    c->reply_integer = applied.integer;
    c->reply_value = applied.value;     /* taken: freed with the coordinator */
    c->reply_value_len = applied.value_len;
    size_t object_bytes = rk_dvvset_encoded_len(local);
    uint64_t object_bytes_max = n->config.value_bytes_max + RK_OBJECT_SLACK_BYTES;
    if (object_bytes > object_bytes_max) {
        n->stats.objects_refused++;
        snprintf(message, message_bytes, "the key's %u versions would take %zu bytes; an object "
                 "holds at most %llu (max-value-bytes + %u): resolve its siblings with RK.GET "
                 "and RK.PUT", local->sibling_count, object_bytes,
                 (unsigned long long)object_bytes_max, RK_OBJECT_SLACK_BYTES);
        return RK_ETOOBIG;
    }
    return 0;
}

/* Read, apply and store the write locally. 0 with *seq_out and the stored bytes (scratch), or
 * an error with `message`. */
static int coord_put_store(rk_node *n, rk_coord_put *c, const rk_request *r, int self_index,
                           uint64_t *seq_out, const uint8_t **bytes_out, size_t *len_out,
                           char *message, size_t message_bytes)
{
    rk_dvvset local;
    int rc = c->delta ? rk_local_set_project(&n->local, &c->key, r->value, r->value_len, &local)
                      : rk_local_read(&n->local, &c->key, &local);
    c->was_live = rc == 0 && rk_local_set_live(&local);
    rk_node_id hint_owner = c->q.hint_for[self_index];
    /* Counters advance this node's own actor only from its own copy (policy_fields.h). */
    rk_dvvset own_base;
    rk_dvvset_init(&own_base);
    bool keep_base = rc == 0 && rk_policy_of(c->policy)->advances_actors;
    if (keep_base) {
        rc = rk_dvvset_copy(&local, &own_base);
    }
    if (rc == 0 && c->read_merged != NULL) {
        /* What the read at R found, with whatever reached this node since. */
        rc = rk_policy_merge(c->policy, &local, c->read_merged);
        if (rc == RK_EWRONGTYPE) {
            n->stats.objects_type_refused++;
            snprintf(message, message_bytes, "replicas hold two types for this key");
        } else if (rc != 0) {
            snprintf(message, message_bytes, "merge before the write failed: %s",
                     rk_strerror(rc));
        }
        if (rc != 0) {
            rk_dvvset_deinit(&own_base);
            rk_dvvset_deinit(&local);
            return rc;
        }
    }
    rk_vv seen;
    if (rc == 0 && c->delta) {
        rk_coord_put_delta_seen(&local, &seen);
    }
    if (rc == 0) {
        rc = coord_put_apply(n, c, r, hint_owner != 0, keep_base ? &own_base : NULL, &local,
                             message, message_bytes);
        rk_op op = coord_put_op(r);
        rc = rc == 0 ? rk_coord_put_members_check(n, c, &op, &local, c->reply_integer, message,
                                                  message_bytes)
                     : rc;
    } else if (rc == RK_ECORRUPT) {
        snprintf(message, message_bytes, "this node's copy of the key is damaged (it would mint "
                 "from a history it lost); a read of the key repairs it");
    } else {
        snprintf(message, message_bytes, "write failed: %s", rk_strerror(rc));
    }
    rk_dvvset_deinit(&own_base);
    if (rc == 0 && c->delta) {
        rc = rk_coord_put_delta_store(n, c, &local, &seen, hint_owner, seq_out, bytes_out,
                                      len_out);
        if (rc != 0) {
            snprintf(message, message_bytes, "write failed: %s", rk_strerror(rc));
        }
    } else if (rc == 0) {
        /* Encoded once: these bytes are stored and then sent to every replica. */
        rc = rk_local_encode(&n->local, &local, bytes_out, len_out);
        if (rc == 0) {
            rc = rk_handoff_store(n, &c->key, *bytes_out, *len_out, rk_local_set_live(&local),
                                  c->was_live, hint_owner, seq_out);
        }
        if (rc != 0) {
            snprintf(message, message_bytes, "write failed: %s", rk_strerror(rc));
        }
    }
    if (rc == 0 && c->versioned) {
        c->written_context = coord_context_token(&local);
    }
    rk_dvvset_deinit(&local);
    return rc;
}

/* The write itself: apply, store, send to the chosen nodes, wait for W. */
static void coord_put_write(rk_node *n, rk_coord_put *c, const rk_request *r)
{
    int self_index = rk_coord_preflist_index(&c->q, n->config.id);
    RK_ASSERT(self_index >= 0);
    /* Checked again here: a read-modify-write may have read while the node began to stop. */
    if (!rk_clock_ready(&n->clock, rk_durable_seq(&n->durable))) {
        const char *why = "node starting: its epoch is not durable yet";
        if (rk_clock_stopping(&n->clock)) {
            why = "node stopping: it coordinates no more writes";
        } else if (rk_clock_learning(&n->clock)) {
            why = "node starting: learning its epoch from its peers (epoch_learning in INFO)";
        }
        rk_coord_reply_error(n, &c->base, RK_EBUSY, why);
        rk_coord_free(n, &c->base);
        return;
    }
    char message[256];
    uint64_t seq = 0;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = coord_put_store(n, c, r, self_index, &seq, &bytes, &len, message, sizeof(message));
    if (rc != 0) {
        rk_coord_reply_error(n, &c->base, rc, message);
        rk_coord_free(n, &c->base);
        return;
    }
    c->q.sent_mask = 0;
    if (coord_put_local_first(n, c)) {
        c->unsent_object = malloc(len > 0 ? len : 1);
        if (c->unsent_object == NULL) {
            /* Stored but sent nowhere: W cannot be met past this node, so it answers. */
            n->stats.store_errors++;
        } else {
            memcpy(c->unsent_object, bytes, len);   /* the scratch buffer will be reused */
            c->unsent_object_len = len;
        }
    } else {
        coord_put_send(n, c, bytes, len);
    }
    if (!c->base.armed) {
        rk_coord_table_arm(&n->coords, &c->base);
    }
    rk_pending p = {.seq = seq, .id = c->base.id, .kind = RK_PENDING_COORD};
    rk_durable_after(&n->durable, &p);
}

/* Send the object to the other chosen nodes that are up. */
static void coord_put_send(rk_node *n, rk_coord_put *c, const uint8_t *bytes, size_t len)
{
    int self_index = rk_coord_preflist_index(&c->q, n->config.id);
    RK_ASSERT(self_index >= 0);
    RK_ASSERT(c->q.sent_mask == 0);
    rk_msg m = {.kind = RK_MSG_PUT_REQ,
                .req_id = c->base.id,
                .key = c->key.key,
                .key_len = c->key.key_len,
                .object = bytes,
                .object_len = len,
                .flags = (rk_transfer_moving(n) ? RK_MSG_PUT_PLANNED : 0u) |
                         (c->delta ? RK_MSG_PUT_DELTA : 0u)};
    bool used_fallback = c->q.hint_for[self_index] != 0;
    /* Primaries get the same message (no hint owner): encoded once for all of them. */
    rk_node_id plain[RK_N_MAX];
    uint32_t plain_count = 0;
    for (uint32_t i = 0; i < c->q.preflist_count; i++) {
        rk_node_id id = c->q.preflist[i];
        if (id != n->config.id && node_member_up(n, id)) {
            c->q.sent_mask |= (uint16_t)(1u << i);
            if (c->q.hint_for[i] == 0) {
                plain[plain_count++] = id;
                continue;
            }
            m.hint_owner = c->q.hint_for[i];
            used_fallback = true;
            node_send(n, id, &m);
        }
    }
    m.hint_owner = 0;
    node_send_many(n, plain, plain_count, &m);
    n->stats.fallback_writes += used_fallback ? 1 : 0;
    if (c->delta) {
        /* A plan's new owners get a large set by its transfer, not by deltas (merge.md). */
        n->stats.set_deltas_sent += (uint64_t)__builtin_popcount(c->q.sent_mask);
        return;
    }
    /* A moving plan's new owners get the write too, counted toward nothing (membership.md). */
    rk_transfer_send_planned(n, &c->key, c->q.preflist, c->q.preflist_count, bytes, len);
}

/* Keep the request for after the read: its argument and context are the client's buffers. */
static int coord_put_keep_request(rk_coord_put *c, const rk_request *r)
{
    c->request = *r;
    c->request.key = c->key.key;
    c->request.key_len = c->key.key_len;
    if (r->value_len > 0) {
        c->request_value = malloc(r->value_len);
        if (c->request_value == NULL) {
            return RK_ENOMEM;
        }
        memcpy(c->request_value, r->value, r->value_len);
    }
    c->request.value = c->request_value;
    if (r->context != NULL && r->context_len > 0) {
        c->request_context = malloc(r->context_len);
        if (c->request_context == NULL) {
            return RK_ENOMEM;
        }
        memcpy(c->request_context, r->context, r->context_len);
    }
    c->request.context = c->request_context;
    c->request.context_len = c->request_context != NULL ? r->context_len : 0;
    return 0;
}

/* One answer to the read before the write (`set` moves in; NULL for an error answer). Once R
 * answered, the write goes on; once every node answered short of R, it is refused. */
static void coord_put_read_answer(rk_node *n, rk_coord_put *c, uint32_t index, rk_dvvset *set)
{
    RK_ASSERT(c->reading);
    uint16_t bit = (uint16_t)(1u << index);
    if ((c->read_answered_mask & bit) == 0) {
        c->read_answered_mask |= bit;
        int rc = set != NULL ? rk_policy_merge(c->policy, c->read_merged, set) : RK_EIO;
        n->stats.objects_type_refused += rc == RK_EWRONGTYPE ? 1 : 0;
        c->read_ok_count += rc == 0 ? 1 : 0;
    }
    if (set != NULL) {
        rk_dvvset_deinit(set);
    }
    if (c->read_ok_count >= c->read_need) {
        c->reading = false;     /* later answers are dropped (coord.c) */
        coord_put_write(n, c, &c->request);
        return;
    }
    if (c->read_answered_mask == rk_coord_expected_mask(&c->q, n->config.id)) {
        char message[160];
        snprintf(message, sizeof(message), "needed R=%u replicas for the read before the write, "
                 "%u answered; nothing was written", c->read_need, c->read_ok_count);
        rk_coord_reply_error(n, &c->base, RK_EUNAVAIL, message);
        rk_coord_free(n, &c->base);
    }
}

void rk_coord_put_on_read(rk_node *n, rk_coord_put *c, uint32_t index, const rk_msg *m)
{
    rk_dvvset set;
    int rc = m->status;
    if (rc == 0 && m->object_len == 0) {
        rk_dvvset_init(&set);
    } else if (rc == 0) {
        rc = rk_dvvset_decode(m->object, m->object_len, &set);
    }
    coord_put_read_answer(n, c, index, rc == 0 ? &set : NULL);
}

/* Ask the chosen nodes for the key, this one included (answered at once). */
static void coord_put_read_start(rk_node *n, rk_coord_put *c, const rk_request *r,
                                 uint32_t up_count, uint32_t read_r, bool fallback_r)
{
    uint32_t need = read_r < c->q.owner_count ? read_r : c->q.owner_count;
    if (up_count < need && fallback_r && up_count > 0) {
        need = 1;   /* the bucket's degraded floor, as a plain read has it */
    }
    if (up_count < need) {
        char message[160];
        snprintf(message, sizeof(message), "need R=%u replicas for the read before the write, "
                 "%u reachable", need, up_count);
        rk_coord_reply_error(n, &c->base, RK_EUNAVAIL, message);
        rk_coord_free(n, &c->base);
        return;
    }
    c->read_need = need > 0 ? need : 1;
    c->read_merged = malloc(sizeof(*c->read_merged));
    if (c->read_merged == NULL || coord_put_keep_request(c, r) != 0) {
        rk_coord_reply_error(n, &c->base, RK_ENOMEM, "out of memory");
        rk_coord_free(n, &c->base);
        return;
    }
    rk_dvvset_init(c->read_merged);
    c->reading = true;
    /* A delta write reads only the members it names (coord_put_delta.c). */
    uint32_t members_flag = c->delta ? RK_MSG_GET_MEMBERS : 0u;
    rk_msg m = {.kind = RK_MSG_GET_REQ,
                .req_id = c->base.id,
                .key = c->key.key,
                .key_len = c->key.key_len,
                .value = c->delta ? c->request.value : NULL,
                .value_len = c->delta ? c->request.value_len : 0};
    for (uint32_t i = 0; i < c->q.preflist_count; i++) {
        rk_node_id id = c->q.preflist[i];
        if (id != n->config.id && node_member_up(n, id)) {
            c->q.sent_mask |= (uint16_t)(1u << i);
            m.flags = (c->q.hint_for[i] == 0 ? RK_MSG_GET_PRIMARY : 0) | members_flag;
            node_send(n, id, &m);
        }
    }
    rk_coord_table_arm(&n->coords, &c->base);
    int self_index = rk_coord_preflist_index(&c->q, n->config.id);
    rk_dvvset local;
    int rc = c->delta ? rk_local_set_project(&n->local, &c->key, c->request.value,
                                             c->request.value_len, &local)
                      : rk_local_read(&n->local, &c->key, &local);
    coord_put_read_answer(n, c, (uint32_t)self_index, rc == 0 ? &local : NULL);
}

void rk_coord_put_deinit(rk_coord_put *c)
{
    free(c->written_context);
    free(c->reply_value);
    free(c->request_value);
    free(c->request_context);
    free(c->unsent_object);
    c->unsent_object = NULL;
    free(c->delta_object);
    c->delta_object = NULL;
    if (c->read_merged != NULL) {
        rk_dvvset_deinit(c->read_merged);
        free(c->read_merged);
    }
    c->written_context = NULL;
    c->reply_value = NULL;
    c->request_value = NULL;
    c->request_context = NULL;
    c->read_merged = NULL;
}

void rk_coord_put_start(rk_node *n, rk_coord_put *c, const rk_request *r, uint32_t up_count,
                        uint32_t read_r, bool fallback_r)
{
    n->stats.coord_puts++;
    if (!rk_coord_need_reachable(n, &c->base, &c->q, up_count, 'W')) {
        return;
    }
    int self_index = rk_coord_preflist_index(&c->q, n->config.id);
    RK_ASSERT(self_index >= 0);
    if (rk_policy_of(c->policy)->read_before_write) {
        rk_op op = coord_put_op(r);
        (void)rk_coord_put_delta_choose(n, c, &op);
        coord_put_read_start(n, c, r, up_count, read_r, fallback_r);
        return;
    }
    coord_put_write(n, c, r);
}
