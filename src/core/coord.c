/* coord.c — request coordinators (Dynamo 4.5): one small state machine per client request,
 * the table they live in, their shared deadline timer, and the choice of the nodes a request
 * goes to.
 *
 *   GET     any node: coord_get.c.
 *   PUT/DEL a primary: mint a dot, write locally, send the object to the other primaries,
 *           answer once W acknowledged durably. A node outside the preference list forwards
 *           the write to the first reachable primary (FWD), which coordinates it.
 *   BUCKET  push bucket properties to every member, answer with how many stored them.
 *
 * Sloppy quorum (Dynamo 4.6, on unless the bucket or request says `sloppy false`): a request
 * goes to the first N reachable nodes of the extended preference list. Each primary this node
 * sees down is stood in for by the next reachable node after the primaries, which keeps the
 * object as a hinted copy (handoff.c) and hands it back once the owner returns. R and W count
 * distinct nodes; a fallback's not-found counts toward R (Riak's notfound_ok). Writes are
 * coordinated by a reachable primary whenever there is one; a fallback coordinates only when
 * no primary is reachable. A primary a write missed (down with no fallback, or silent until
 * the deadline although W was met) gets a hint at the coordinator.
 *
 * Two failures are kept apart: RK_EUNAVAIL when fewer than R or W nodes are reachable before
 * anything is sent (the write did not happen), RK_ETIMEDOUT when it was sent but not
 * acknowledged in time (it may still appear). A bucket's fallback_w / fallback_r accept a
 * request with that many replicas instead (degraded, counted in INFO). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "node_internal.h"

/* ---- the table ---------------------------------------------------------------------------- */

static void coord_deadline_unlink(rk_node *n, rk_coord *c);

rk_coord *rk_coord_new(rk_node *n, coord_kind kind)
{
    if (n->coord_count >= RK_COORD_INFLIGHT_MAX) {
        return NULL;
    }
    uint32_t slot = 0;
    while (slot < RK_COORD_INFLIGHT_MAX && n->coords[slot] != NULL) {
        slot++;
    }
    RK_ASSERT(slot < RK_COORD_INFLIGHT_MAX);
    rk_coord *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    n->coord_generation[slot]++;
    /* The epoch in the top bits keeps ids unique across restarts: a peer that remembers a
     * forwarded request id (node_fwd_duplicate) never mistakes a new one for it. */
    c->id = ((n->epoch & 0xffffu) << 48) | ((uint64_t)n->coord_generation[slot] << 16) | slot;
    c->kind = kind;
    n->coords[slot] = c;
    n->coord_count++;
    return c;
}

static void coord_set_free(rk_dvvset *set)
{
    if (set != NULL) {
        rk_dvvset_deinit(set);
        free(set);
    }
}

void rk_coord_free(rk_node *n, rk_coord *c)
{
    uint32_t slot = (uint32_t)(c->id & 0xffffu);
    RK_ASSERT(slot < RK_COORD_INFLIGHT_MAX);
    RK_ASSERT(n->coords[slot] == c);
    coord_set_free(c->merged);
    for (uint32_t i = 0; i < RK_N_MAX; i++) {
        coord_set_free(c->got[i]);
    }
    coord_deadline_unlink(n, c);
    n->coords[slot] = NULL;
    n->coord_count--;
    free(c->written_context);
    free(c);
}

static rk_coord *coord_find(rk_node *n, uint64_t id)
{
    uint32_t slot = (uint32_t)(id & 0xffffu);
    if (slot >= RK_COORD_INFLIGHT_MAX || n->coords[slot] == NULL) {
        return NULL;
    }
    rk_coord *c = n->coords[slot];
    return c->id == id ? c : NULL;
}

/* One env timer for every deadline: a timer per request would leave thousands alive for the
 * whole timeout after their requests finished. The timer fires at the head's deadline (or a
 * finished head's, which only re-arms it for the next). */
static void coord_deadline_set_timer(rk_node *n)
{
    if (n->armed_head != NULL && !n->deadline_timer_set) {
        n->deadline_timer_set = true;
        n->env->set_timer(n->env->ctx, n->armed_head->deadline_ms, RK_TIMER_DEADLINES);
    }
}

static void coord_deadline_unlink(rk_node *n, rk_coord *c)
{
    if (!c->armed) {
        return;
    }
    if (c->armed_prev != NULL) {
        c->armed_prev->armed_next = c->armed_next;
    } else {
        n->armed_head = c->armed_next;
    }
    if (c->armed_next != NULL) {
        c->armed_next->armed_prev = c->armed_prev;
    } else {
        n->armed_tail = c->armed_prev;
    }
    c->armed = false;
    c->armed_prev = NULL;
    c->armed_next = NULL;
}

void rk_coord_arm(rk_node *n, rk_coord *c)
{
    RK_ASSERT(!c->armed);
    c->deadline_ms = n->env->now_ms(n->env->ctx) + n->config.request_timeout_ms;
    /* The same timeout for all keeps the list sorted by appending. */
    RK_ASSERT(n->armed_tail == NULL || n->armed_tail->deadline_ms <= c->deadline_ms);
    c->armed = true;
    c->armed_prev = n->armed_tail;
    if (n->armed_tail != NULL) {
        n->armed_tail->armed_next = c;
    } else {
        n->armed_head = c;
    }
    n->armed_tail = c;
    coord_deadline_set_timer(n);
}

void rk_coord_reply(rk_node *n, rk_coord *c, const rk_reply *r)
{
    if (c->replied) {
        return;
    }
    c->replied = true;
    node_reply(n, c->from_peer, c->origin, c->origin_req, r);
}

void rk_coord_reply_error(rk_node *n, rk_coord *c, int error, const char *message)
{
    if (error == RK_ETIMEDOUT) {
        n->stats.timeouts++;
    } else if (error == RK_EUNAVAIL) {
        n->stats.unavailable++;
    }
    rk_reply r = {.kind = RK_REPLY_ERROR, .error = error, .message = message};
    rk_coord_reply(n, c, &r);
}

/* A request refused before a coordinator exists. */
static void coord_refuse(rk_node *n, bool from_peer, rk_node_id origin, uint64_t origin_req,
                         int error, const char *message)
{
    if (error == RK_EUNAVAIL) {
        n->stats.unavailable++;
    }
    rk_reply r = {.kind = RK_REPLY_ERROR, .error = error, .message = message};
    node_reply(n, from_peer, origin, origin_req, &r);
}

int rk_coord_preflist_index(const rk_coord *c, rk_node_id id)
{
    for (uint32_t i = 0; i < c->preflist_count; i++) {
        if (c->preflist[i] == id) {
            return (int)i;
        }
    }
    return -1;
}

uint16_t rk_coord_expected_mask(const rk_coord *c, rk_node_id self)
{
    int self_index = rk_coord_preflist_index(c, self);
    return (uint16_t)(c->sent_mask | (self_index >= 0 ? (1u << self_index) : 0u));
}

/* Fewer than `need` reachable: lower need to what is there if the bucket allows a degraded
 * request (fallback_r / fallback_w), else refuse. True when the request goes on. */
bool rk_coord_need_reachable(rk_node *n, rk_coord *c, uint32_t up_count, char quorum)
{
    if (up_count >= c->need) {
        return true;
    }
    if (c->fallback_need > 0 && up_count >= c->fallback_need) {
        c->need = up_count;
        if (quorum == 'W') {
            n->stats.degraded_writes++;
        } else {
            n->stats.degraded_reads++;
        }
        return true;
    }
    char message[128];
    snprintf(message, sizeof(message), "need %c=%u replicas, %u reachable", quorum, c->need,
             up_count);
    rk_coord_reply_error(n, c, RK_EUNAVAIL, message);
    rk_coord_free(n, c);
    return false;
}

/* ---- PUT ---------------------------------------------------------------------------------- */

static void coord_put_reply_ok(rk_node *n, rk_coord *c)
{
    rk_reply r = {.kind = RK_REPLY_OK, .integer = c->ok_count};
    if (c->req_kind == RK_REQ_DEL) {
        r.kind = RK_REPLY_INT;
        r.integer = c->integer;
    } else if (c->req_kind == RK_REQ_VPUT || c->req_kind == RK_REQ_VDEL) {
        r.kind = RK_REPLY_WRITTEN;
        r.context = c->written_context;
    }
    rk_coord_reply(n, c, &r);
}

/* A write's coordinator is done: hints for the primaries it missed, then free. */
static void coord_put_finish(rk_node *n, rk_coord *c)
{
    if (c->local_ok) {
        rk_handoff_hint_missed(n, c);
    }
    rk_coord_free(n, c);
}

static void coord_put_ack(rk_node *n, rk_coord *c, uint32_t index, bool ok)
{
    uint16_t bit = (uint16_t)(1u << index);
    if (c->answered_mask & bit) {
        return;
    }
    c->answered_mask |= bit;
    c->ok_mask |= ok ? bit : 0;
    c->ok_count += ok ? 1 : 0;
    if (!c->replied && c->ok_count >= c->need) {
        coord_put_reply_ok(n, c);
    }
    if (c->answered_mask == rk_coord_expected_mask(c, n->config.id)) {
        if (!c->replied && c->fallback_need > 0 && c->ok_count >= c->fallback_need) {
            n->stats.degraded_writes++;
            coord_put_reply_ok(n, c);
        }
        if (!c->replied) {
            char message[128];
            snprintf(message, sizeof(message), "needed W=%u, %u replicas stored it, the rest "
                     "failed", c->need, c->ok_count);
            rk_coord_reply_error(n, c, RK_EIO, message);
        }
        coord_put_finish(n, c);
    }
}

/* A bucket push is done once this node stored the properties (bit 0 of answered_mask) and
 * every peer sent one (`need` of them) answered (`integer` counts answers). */
static void coord_bucket_maybe_done(rk_node *n, rk_coord *c)
{
    if ((c->answered_mask & 1u) != 0 && c->integer >= (int64_t)c->need) {
        rk_reply r = {.kind = RK_REPLY_INT, .integer = c->ok_count};
        rk_coord_reply(n, c, &r);
        rk_coord_free(n, c);
    }
}

void rk_coord_on_local_durable(rk_node *n, uint64_t coord_id, int status)
{
    rk_coord *c = coord_find(n, coord_id);
    if (c == NULL) {
        return;     /* timed out meanwhile */
    }
    if (c->kind == COORD_BUCKET) {
        c->answered_mask |= 1u;
        c->ok_count += status == 0 ? 1 : 0;
        coord_bucket_maybe_done(n, c);
        return;
    }
    int self_index = rk_coord_preflist_index(c, n->config.id);
    RK_ASSERT(self_index >= 0);
    c->local_ok = status == 0;
    coord_put_ack(n, c, (uint32_t)self_index, status == 0);
}

/* The context a write supersedes: RK.PUT/RK.DEL's token under siblings; what this coordinator
 * holds for plain SET/DEL (a client's own SET x 1; SET x 2 never conflicts and DEL really
 * deletes) and for every write under lww. */
static int coord_put_context(rk_node *n, const rk_coord *c, const rk_request *r,
                             const rk_dvvset *local, rk_vv *out)
{
    rk_vv_init(out);
    if (r->context != NULL && r->context_len > 0) {
        int rc = rk_vv_token_decode(r->context, r->context_len, out);
        if (rc != 0 || c->policy != RK_POLICY_LWW) {
            return rc;
        }
    }
    /* Under lww every write supersedes exactly what this coordinator holds, whatever context
     * the client sent: its stamp is then above every stamp it supersedes (coord_put_stamp), so
     * timestamps and causality agree and the highest stamp always survives. A client context
     * could cover siblings this node has not seen, whose stamps it cannot know. */
    bool plain = r->kind == RK_REQ_PUT || r->kind == RK_REQ_DEL;
    if (c->policy == RK_POLICY_LWW || plain) {
        rk_vv_init(out);
        rk_dvvset_join(local, out);
    }
    (void)n;
    return 0;
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
    return node_stamp_above(n, floor_us);
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

/* The dot floor of a write coordinated here. A fallback may hand its copy back and delete
 * it, then coordinate the same key again: its per-key counter would start over and mint a dot
 * it already used. So dots minted as a fallback come from one node-wide increasing counter
 * (a per-key gap in its history, which range lists hold). */
static uint64_t coord_put_dot_floor(rk_node *n, const rk_coord *c, int self_index)
{
    uint64_t floor = n->epoch << RK_EPOCH_SHIFT;
    if (c->hint_for[self_index] != 0 && n->fallback_dot_last + 1 > floor) {
        floor = n->fallback_dot_last + 1;
    }
    return floor;
}

/* Apply the client's write to `local`, this coordinator's copy: supersede what its context
 * saw, mint the dot, resolve lww, and check the object still fits in an object (and so in a
 * frame to the replicas and in a handoff). 0, or an error with `message` for the client. */
static int coord_put_apply(rk_node *n, rk_coord *c, const rk_request *r, int self_index,
                           rk_dvvset *local, char *message, size_t message_bytes)
{
    rk_vv context;
    if (coord_put_context(n, c, r, local, &context) != 0) {
        snprintf(message, message_bytes, "context is not a token from RK.GET");
        return RK_EINVAL;
    }
    rk_dvvset_write w = {.value = r->value,
                         .value_len = r->value_len,
                         .tombstone = r->kind == RK_REQ_DEL || r->kind == RK_REQ_VDEL,
                         .timestamp_us = coord_put_stamp(n, local)};
    rk_dot dot;
    int rc = rk_dvvset_update(local, &context, &w, n->config.id,
                              coord_put_dot_floor(n, c, self_index), n->config.siblings_max,
                              &dot);
    if (rc == RK_ETOOBIG) {
        n->stats.siblings_refused++;
        snprintf(message, message_bytes, "too many siblings: max-siblings is %u; read with "
                 "RK.GET and write with its context to resolve them", n->config.siblings_max);
        return rc;
    }
    if (rc != 0) {
        snprintf(message, message_bytes, "write failed: %s", rk_strerror(rc));
        return rc;
    }
    if (c->hint_for[self_index] != 0) {
        n->fallback_dot_last = dot.counter;
    }
    if (c->policy == RK_POLICY_LWW) {
        node_resolve_lww(local);
    }
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

static void coord_put_start(rk_node *n, rk_coord *c, const rk_request *r, uint32_t up_count)
{
    n->stats.coord_puts++;
    char message[256];
    if (!rk_coord_need_reachable(n, c, up_count, 'W')) {
        return;
    }
    int self_index = rk_coord_preflist_index(c, n->config.id);
    RK_ASSERT(self_index >= 0);
    if (n->durable_seq < n->epoch_seq) {
        rk_coord_reply_error(n, c, RK_EBUSY, "node starting: its epoch is not durable yet");
        rk_coord_free(n, c);
        return;
    }
    rk_dvvset local;
    int rc = node_local_read(n, c->key, c->key_len, &local);
    bool was_live = rc == 0 && node_set_live(&local);
    c->integer = was_live ? 1 : 0;
    if (rc == 0) {
        rc = coord_put_apply(n, c, r, self_index, &local, message, sizeof(message));
    } else {
        snprintf(message, sizeof(message), "write failed: %s", rk_strerror(rc));
    }
    uint64_t seq = 0;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    if (rc == 0) {
        rc = node_local_write(n, c->key, c->key_len, &local, was_live, c->hint_for[self_index],
                              &seq, &bytes, &len);
        if (rc != 0) {
            snprintf(message, sizeof(message), "write failed: %s", rk_strerror(rc));
        }
    }
    if (rc != 0) {
        rk_dvvset_deinit(&local);
        rk_coord_reply_error(n, c, rc, message);
        rk_coord_free(n, c);
        return;
    }
    if (r->kind == RK_REQ_VPUT || r->kind == RK_REQ_VDEL) {
        c->written_context = coord_context_token(&local);
    }
    rk_dvvset_deinit(&local);
    /* The replicas get the very bytes just stored (still in the scratch buffer). */
    rk_msg m = {.kind = RK_MSG_PUT_REQ,
                .req_id = c->id,
                .key = c->key,
                .key_len = c->key_len,
                .object = bytes,
                .object_len = len};
    bool used_fallback = c->hint_for[self_index] != 0;
    for (uint32_t i = 0; i < c->preflist_count; i++) {
        rk_node_id id = c->preflist[i];
        if (id != n->config.id && node_member_up(n, id)) {
            c->sent_mask |= (uint16_t)(1u << i);
            m.hint_owner = c->hint_for[i];
            used_fallback = used_fallback || c->hint_for[i] != 0;
            node_send(n, id, &m);
        }
    }
    n->stats.fallback_writes += used_fallback ? 1 : 0;
    rk_coord_arm(n, c);
    node_pending p = {.seq = seq, .id = c->id, .kind = NODE_PENDING_COORD};
    node_after_durable(n, &p);
}

/* ---- forwarding ----------------------------------------------------------------------------- */

static void coord_forward(rk_node *n, rk_coord *c, const rk_request *r, rk_node_id to)
{
    n->stats.forwarded++;
    c->kind = COORD_FWD;
    c->preflist[0] = to;
    c->preflist_count = 1;
    c->sent_mask = 1u;
    rk_msg m = {.kind = RK_MSG_FWD_REQ,
                .req_id = c->id,
                .key = r->key,
                .key_len = r->key_len,
                .req_kind = r->kind,
                .value = r->value,
                .value_len = r->value_len,
                .context = (const uint8_t *)r->context,
                .context_len = r->context != NULL ? r->context_len : 0,
                .r = r->r,
                .w = r->w,
                .sloppy = r->sloppy};
    node_send(n, to, &m);
    rk_coord_arm(n, c);
}

static void coord_on_fwd_resp(rk_node *n, rk_coord *c, const rk_msg *m)
{
    char message[256];
    char context[RK_VV_TOKEN_CHARS_MAX + 1];
    rk_reply r = {.kind = (rk_reply_kind)m->req_kind, .integer = m->integer};
    if (r.kind == RK_REPLY_WRITTEN && m->status == 0 && m->context_len < sizeof(context)) {
        memcpy(context, m->context, m->context_len);
        context[m->context_len] = '\0';
        r.context = context;
    } else if (r.kind == RK_REPLY_ERROR || m->status != 0) {
        size_t len = m->message_len < sizeof(message) - 1 ? m->message_len : sizeof(message) - 1;
        if (len > 0) {
            memcpy(message, m->message, len);
        }
        message[len] = '\0';
        r.kind = RK_REPLY_ERROR;
        r.error = m->status != 0 ? m->status : RK_EIO;
        r.message = message;
    } else if (r.kind != RK_REPLY_OK && r.kind != RK_REPLY_INT) {
        r.kind = RK_REPLY_ERROR;
        r.error = RK_ECORRUPT;
        r.message = "bad forwarded reply";
    }
    rk_coord_reply(n, c, &r);
    rk_coord_free(n, c);
}

/* ---- entry points --------------------------------------------------------------------------- */

/* Choose the nodes a request goes to (see the top of this file) from the extended preference
 * list `list` (primaries first). `need_self`: a write forwarded here is coordinated here, so if
 * this node is not among them it stands in for the last one (or a primary nobody stands in
 * for). Returns how many of the chosen nodes this node sees reachable. */
static uint32_t coord_choose(rk_node *n, rk_coord *c, const rk_node_id *list, uint32_t count,
                             uint32_t primaries, bool sloppy, bool need_self)
{
    memcpy(c->owners, list, primaries * sizeof(list[0]));
    c->owner_count = primaries;
    rk_node_id uncovered[RK_N_MAX];
    uint32_t uncovered_count = 0;
    uint32_t up_count = 0;
    c->preflist_count = 0;
    for (uint32_t i = 0; i < primaries; i++) {
        bool up = node_member_up(n, list[i]);
        up_count += up ? 1 : 0;
        if (up || !sloppy) {
            c->hint_for[c->preflist_count] = 0;
            c->preflist[c->preflist_count++] = list[i];
        } else {
            uncovered[uncovered_count++] = list[i];
        }
    }
    /* Fallbacks in ring order stand in for the unreachable primaries, also in order. */
    uint32_t next = 0;
    for (uint32_t i = primaries; i < count && next < uncovered_count; i++) {
        if (node_member_up(n, list[i])) {
            c->hint_for[c->preflist_count] = uncovered[next++];
            c->preflist[c->preflist_count++] = list[i];
        }
    }
    if (need_self && sloppy && primaries > 0 && rk_coord_preflist_index(c, n->config.id) < 0) {
        /* Not a primary (this node always counts up). Stand in for a primary nobody covers,
         * else for the last chosen node, which then gets the object through a hint here. */
        uint32_t slot = c->preflist_count;
        rk_node_id owner = 0;
        if (next < uncovered_count) {
            owner = uncovered[next++];
            c->preflist_count++;
        } else {
            slot = c->preflist_count - 1;
            owner = c->hint_for[slot] != 0 ? c->hint_for[slot] : c->preflist[slot];
        }
        c->hint_for[slot] = owner;
        c->preflist[slot] = n->config.id;
    }
    /* Sloppy: every chosen node is reachable. Strict: the primaries, reachable or not. */
    return sloppy ? c->preflist_count : up_count;
}

/* The first reachable primary among the chosen nodes, or 0. */
static rk_node_id coord_first_primary_up(rk_node *n, const rk_coord *c)
{
    for (uint32_t i = 0; i < c->preflist_count; i++) {
        if (c->hint_for[i] == 0 && node_member_up(n, c->preflist[i])) {
            return c->preflist[i];
        }
    }
    return 0;
}

/* A write: coordinate it here (a reachable primary, or a chosen fallback when no primary is
 * reachable) or forward it to a primary (or, with none reachable, to a chosen fallback). */
static void coord_write(rk_node *n, rk_coord *c, const rk_request *r, uint32_t up_count,
                        bool sloppy)
{
    int self_index = rk_coord_preflist_index(c, n->config.id);
    bool self_primary = self_index >= 0 && c->hint_for[self_index] == 0;
    rk_node_id primary = coord_first_primary_up(n, c);
    if (self_primary || (self_index >= 0 && primary == 0)) {
        c->kind = COORD_PUT;
        coord_put_start(n, c, r, up_count);
    } else if (primary != 0) {
        coord_forward(n, c, r, primary);
    } else if (sloppy && c->preflist_count > 0 && !c->from_peer) {
        coord_forward(n, c, r, c->preflist[0]);     /* a fallback coordinates */
    } else {
        char message[128];
        snprintf(message, sizeof(message), "need W=%u replicas, no primary of the key is "
                 "reachable%s", c->need, sloppy ? "" : " (sloppy quorum off)");
        rk_coord_reply_error(n, c, RK_EUNAVAIL, message);
        rk_coord_free(n, c);
    }
}

void rk_coord_start(rk_node *n, bool from_peer, rk_node_id origin, uint64_t origin_req,
                    const rk_request *r)
{
    rk_coord *c = rk_coord_new(n, COORD_GET);
    if (c == NULL) {
        n->stats.refused_busy++;
        coord_refuse(n, from_peer, origin, origin_req, RK_EBUSY, "too many requests in flight");
        return;
    }
    c->from_peer = from_peer;
    c->origin = origin;
    c->origin_req = origin_req;
    c->req_kind = r->kind;
    if (r->key_len > 0) {
        memcpy(c->key, r->key, r->key_len);   /* the empty key may come off the wire as NULL */
    }
    c->key_len = r->key_len;
    const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, r->key, r->key_len);
    c->policy = props->policy;
    bool sloppy = r->sloppy == RK_SLOPPY_ON || (r->sloppy != RK_SLOPPY_OFF && props->sloppy);
    uint32_t nn = node_effective_n(n, props);
    uint32_t partition = rk_ring_partition_of(&n->ring, rk_hash_key(r->key, r->key_len));
    rk_node_id list[RK_MEMBERS_MAX];
    uint32_t primaries = 0;
    int count = rk_ring_preflist(&n->ring, partition, nn, list, RK_MEMBERS_MAX, &primaries);
    RK_ASSERT(count >= 0);
    RK_ASSERT(primaries == nn);
    bool is_read = r->kind == RK_REQ_GET || r->kind == RK_REQ_EXISTS || r->kind == RK_REQ_VGET;
    uint32_t up_count = coord_choose(n, c, list, (uint32_t)count, primaries, sloppy,
                                     from_peer && !is_read);
    uint32_t asked = is_read ? (r->r != 0 ? r->r : props->r) : (r->w != 0 ? r->w : props->w);
    /* Fewer members than n: n, r and w shrink to what the cluster has (a cluster of one works). */
    c->need = asked < nn ? asked : nn;
    c->fallback_need = is_read ? props->fallback_r : props->fallback_w;
    if (is_read) {
        c->kind = COORD_GET;
        rk_coord_get_start(n, c, up_count);
    } else {
        coord_write(n, c, r, up_count, sloppy);
    }
}

void rk_coord_on_message(rk_node *n, rk_node_id from, const rk_msg *m)
{
    rk_coord *c = coord_find(n, m->req_id);
    if (c == NULL) {
        return;     /* late: the coordinator finished or timed out */
    }
    int index = rk_coord_preflist_index(c, from);
    if (index < 0 || (c->sent_mask & (1u << index)) == 0) {
        return;     /* not asked: a confused or hostile peer */
    }
    if (m->kind == RK_MSG_FWD_RESP && c->kind == COORD_FWD) {
        coord_on_fwd_resp(n, c, m);
    } else if (m->kind == RK_MSG_PUT_RESP && c->kind == COORD_PUT) {
        coord_put_ack(n, c, (uint32_t)index, m->status == 0);
    } else if (m->kind == RK_MSG_PUT_RESP && c->kind == COORD_HANDOFF) {
        rk_handoff_on_ack(n, c, m->status);
    } else if (m->kind == RK_MSG_GET_RESP && c->kind == COORD_GET) {
        rk_coord_get_on_resp(n, c, (uint32_t)index, m);
    }
}

/* Every node a coordinator sent to and that did not answer by the deadline is a little more
 * suspect (node_peer_silent). */
static void coord_note_silent(rk_node *n, const rk_coord *c)
{
    for (uint32_t i = 0; i < c->preflist_count; i++) {
        uint16_t bit = (uint16_t)(1u << i);
        if ((c->sent_mask & bit) != 0 && (c->answered_mask & bit) == 0) {
            node_peer_silent(n, c->preflist[i]);
        }
    }
}

static void coord_expire(rk_node *n, rk_coord *c)
{
    char message[160];
    if (c->kind != COORD_BUCKET) {
        coord_note_silent(n, c);
    }
    switch (c->kind) {
    case COORD_GET:
        rk_coord_get_expire(n, c);
        return;
    case COORD_PUT:
        if (!c->replied && c->fallback_need > 0 && c->ok_count >= c->fallback_need) {
            n->stats.degraded_writes++;
            coord_put_reply_ok(n, c);
        }
        if (!c->replied) {
            snprintf(message, sizeof(message), "needed W=%u acknowledgements, %u arrived in "
                     "time; the write may still appear", c->need, c->ok_count);
            rk_coord_reply_error(n, c, RK_ETIMEDOUT, message);
        }
        coord_put_finish(n, c);
        return;
    case COORD_HANDOFF:
        rk_handoff_on_expire(n, c);
        return;
    case COORD_FWD:
        snprintf(message, sizeof(message), "the replica coordinating the write did not answer "
                 "in time; the write may still appear");
        break;
    case COORD_BUCKET: {
        rk_reply r = {.kind = RK_REPLY_INT, .integer = c->ok_count};
        rk_coord_reply(n, c, &r);
        rk_coord_free(n, c);
        return;
    }
    }
    if (!c->replied) {
        rk_coord_reply_error(n, c, RK_ETIMEDOUT, message);
    }
    rk_coord_free(n, c);
}

void rk_coord_on_timer(rk_node *n, uint64_t timer_id)
{
    if (timer_id != RK_TIMER_DEADLINES) {
        return;
    }
    n->deadline_timer_set = false;
    uint64_t now_ms = n->env->now_ms(n->env->ctx);
    /* Bounded: each pass frees the head, and only armed coordinators are on the list. */
    while (n->armed_head != NULL && n->armed_head->deadline_ms <= now_ms) {
        coord_expire(n, n->armed_head);
    }
    coord_deadline_set_timer(n);
}

/* ---- bucket properties ---------------------------------------------------------------------- */

void rk_node_bucket_set(rk_node *n, uint64_t client_req, const uint8_t *name, size_t name_len,
                        const char *const *props, const char *const *values, uint32_t count)
{
    if (name_len == 0 || name_len > RK_BUCKET_NAME_BYTES_MAX) {
        node_reply_error(n, client_req, RK_ETOOBIG, "bucket name must be 1 to 64 bytes");
        return;
    }
    const rk_bucket_entry *e = rk_bucket_find(&n->buckets, name, name_len);
    rk_bucket_props next = e != NULL ? e->props : n->buckets.defaults;
    char err[128];
    for (uint32_t i = 0; i < count; i++) {
        if (rk_bucket_props_set(&next, props[i], values[i], err, sizeof(err)) != 0) {
            node_reply_error(n, client_req, RK_EINVAL, err);
            return;
        }
    }
    next.version = (e != NULL ? e->props.version : 0) + 1;
    next.origin = n->config.id;
    rk_coord *c = rk_coord_new(n, COORD_BUCKET);
    if (c == NULL) {
        node_reply_error(n, client_req, RK_EBUSY, "too many requests in flight");
        return;
    }
    c->origin_req = client_req;
    uint64_t seq = 0;
    int rc = node_bucket_store(n, name, name_len, &next, &seq);
    if (rc < 0) {
        node_reply_error(n, client_req, rc, "cannot store bucket properties");
        rk_coord_free(n, c);
        return;
    }
    uint8_t bytes[RK_BUCKET_PROPS_BYTES];
    rk_bucket_props_encode(&next, bytes);
    rk_msg m = {.kind = RK_MSG_BUCKET_SET,
                .req_id = c->id,
                .key = name,
                .key_len = name_len,
                .object = bytes,
                .object_len = sizeof(bytes),
                .version = next.version};
    for (uint32_t i = 0; i < n->config.member_count; i++) {
        rk_node_id id = n->config.members[i];
        if (id != n->config.id && node_member_up(n, id)) {
            c->need++;
            node_send(n, id, &m);
        }
    }
    rk_coord_arm(n, c);
    node_pending p = {.seq = seq, .id = c->id, .kind = NODE_PENDING_COORD};
    node_after_durable(n, &p);
}

void rk_coord_bucket_on_ack(rk_node *n, rk_node_id from, const rk_msg *m)
{
    rk_coord *c = coord_find(n, m->req_id);
    if (c == NULL || c->kind != COORD_BUCKET) {
        return;
    }
    int index = node_member_index(n, from);
    if (index < 0 || (c->members_answered & (1ull << index)) != 0) {
        return;     /* a duplicated ack counts once */
    }
    c->members_answered |= 1ull << index;
    c->ok_count += m->status == 0 ? 1 : 0;
    c->integer++;
    coord_bucket_maybe_done(n, c);
}
