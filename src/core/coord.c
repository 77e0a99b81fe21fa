/* coord.c — request coordinators (Dynamo 4.5): where a request goes, and the routing of answers
 * and deadlines to the coordinator of each kind (coord.h).
 *
 *   GET     any node: coord_get.c.
 *   PUT/DEL a primary: coord_put.c. A node outside the preference list forwards the write to
 *           the first reachable primary (FWD, here), which coordinates it.
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
#include "coord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parts.h"

/* ---- shared by the kinds -------------------------------------------------------------------- */

void rk_coord_deinit(rk_coord *c)
{
    if (c->kind == RK_COORD_GET) {
        rk_coord_get_deinit((rk_coord_get *)c);
    } else if (c->kind == RK_COORD_PUT) {
        rk_coord_put_deinit((rk_coord_put *)c);
    }
}

void rk_coord_free(rk_node *n, rk_coord *c)
{
    rk_coord_deinit(c);
    rk_coord_table_free(&n->coords, c);
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

int rk_coord_preflist_index(const rk_coord_quorum *q, rk_node_id id)
{
    for (uint32_t i = 0; i < q->preflist_count; i++) {
        if (q->preflist[i] == id) {
            return (int)i;
        }
    }
    return -1;
}

uint16_t rk_coord_expected_mask(const rk_coord_quorum *q, rk_node_id self)
{
    int self_index = rk_coord_preflist_index(q, self);
    return (uint16_t)(q->sent_mask | (self_index >= 0 ? (1u << self_index) : 0u));
}

bool rk_coord_need_reachable(rk_node *n, rk_coord *c, rk_coord_quorum *q, uint32_t up_count,
                             char quorum)
{
    if (up_count >= q->need) {
        return true;
    }
    if (q->fallback_need > 0 && up_count >= q->fallback_need) {
        q->need = up_count;
        if (quorum == 'W') {
            n->stats.degraded_writes++;
        } else {
            n->stats.degraded_reads++;
        }
        return true;
    }
    char message[128];
    snprintf(message, sizeof(message), "need %c=%u replicas, %u reachable", quorum, q->need,
             up_count);
    rk_coord_reply_error(n, c, RK_EUNAVAIL, message);
    rk_coord_free(n, c);
    return false;
}

/* ---- forwarding ----------------------------------------------------------------------------- */

static void coord_forward(rk_node *n, rk_coord_fwd *c, const rk_request *r, rk_node_id to)
{
    n->stats.forwarded++;
    c->to = to;
    rk_msg m = {.kind = RK_MSG_FWD_REQ,
                .req_id = c->base.id,
                .key = r->key,
                .key_len = r->key_len,
                .req_kind = r->kind,
                .value = r->value,
                .value_len = r->value_len,
                .context = (const uint8_t *)r->context,
                .context_len = r->context != NULL ? r->context_len : 0,
                .r = r->r,
                .w = r->w,
                .sloppy = r->sloppy,
                .op = r->kind == RK_REQ_WRITE ? r->op : 0};
    node_send(n, to, &m);
    rk_coord_table_arm(&n->coords, &c->base);
}

/* The strings of a forwarded array, map or set reply into r's parallel arrays (owned: free
 * *values_out and *lens_out). False when out of memory. */
static bool coord_fwd_values(const rk_msg *m, rk_reply *r, const uint8_t ***values_out,
                             size_t **lens_out)
{
    *values_out = calloc(m->value_count > 0 ? m->value_count : 1, sizeof(**values_out));
    *lens_out = calloc(m->value_count > 0 ? m->value_count : 1, sizeof(**lens_out));
    if (*values_out == NULL || *lens_out == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < m->value_count; i++) {
        (*values_out)[i] = m->values[i].data;
        (*lens_out)[i] = m->values[i].len;
    }
    r->values = *values_out;
    r->value_lens = *lens_out;
    r->value_count = m->value_count;
    return true;
}

static void coord_fwd_on_resp(rk_node *n, rk_coord_fwd *c, const rk_msg *m)
{
    char message[256];
    char context[RK_VV_TOKEN_CHARS_MAX + 1];
    const uint8_t **values = NULL;
    size_t *lens = NULL;
    rk_reply r = {.kind = (rk_reply_kind)m->req_kind, .integer = m->integer};
    bool strings = r.kind == RK_REPLY_ARRAY || r.kind == RK_REPLY_MAP || r.kind == RK_REPLY_SET;
    if (m->status == 0 && r.kind == RK_REPLY_VALUE && m->value_count == 1) {
        r.value = m->values[0].data;
        r.value_len = m->values[0].len;
    } else if (m->status == 0 && strings && !coord_fwd_values(m, &r, &values, &lens)) {
        r = (rk_reply){.kind = RK_REPLY_ERROR, .error = RK_ENOMEM, .message = "out of memory"};
    } else if (m->status == 0 && (r.kind == RK_REPLY_NIL || strings)) {
        /* as it is */
    } else if (r.kind == RK_REPLY_WRITTEN && m->status == 0 && m->context_len < sizeof(context)) {
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
    rk_coord_reply(n, &c->base, &r);
    rk_coord_free(n, &c->base);
    free(values);
    free(lens);
}

/* ---- choosing the nodes --------------------------------------------------------------------- */

/* Choose the nodes a request goes to (see the top of this file) from the extended preference
 * list `list` (primaries first). `need_self`: a write forwarded here is coordinated here, so if
 * this node is not among them it stands in for the last one (or a primary nobody stands in
 * for). Returns how many of the chosen nodes this node sees reachable. */
static uint32_t coord_choose(const rk_node *n, rk_coord_quorum *q, const rk_node_id *list,
                             uint32_t count, uint32_t primaries, bool sloppy, bool need_self)
{
    memcpy(q->owners, list, primaries * sizeof(list[0]));
    q->owner_count = primaries;
    rk_node_id uncovered[RK_N_MAX];
    uint32_t uncovered_count = 0;
    uint32_t up_count = 0;
    q->preflist_count = 0;
    for (uint32_t i = 0; i < primaries; i++) {
        bool up = node_member_up(n, list[i]);
        up_count += up ? 1 : 0;
        if (up || !sloppy) {
            q->hint_for[q->preflist_count] = 0;
            q->preflist[q->preflist_count++] = list[i];
        } else {
            uncovered[uncovered_count++] = list[i];
        }
    }
    /* Fallbacks in ring order stand in for the unreachable primaries, also in order. */
    uint32_t next = 0;
    for (uint32_t i = primaries; i < count && next < uncovered_count; i++) {
        if (node_member_up(n, list[i])) {
            q->hint_for[q->preflist_count] = uncovered[next++];
            q->preflist[q->preflist_count++] = list[i];
        }
    }
    if (need_self && sloppy && primaries > 0 && rk_coord_preflist_index(q, n->config.id) < 0) {
        /* Not a primary (this node always counts up). Stand in for a primary nobody covers,
         * else for the last chosen node, which then gets the object through a hint here. */
        uint32_t slot = q->preflist_count;
        rk_node_id owner = 0;
        if (next < uncovered_count) {
            owner = uncovered[next++];
            q->preflist_count++;
        } else {
            slot = q->preflist_count - 1;
            owner = q->hint_for[slot] != 0 ? q->hint_for[slot] : q->preflist[slot];
        }
        q->hint_for[slot] = owner;
        q->preflist[slot] = n->config.id;
    }
    /* Sloppy: every chosen node is reachable. Strict: the primaries, reachable or not. */
    return sloppy ? q->preflist_count : up_count;
}

/* The first reachable primary among the chosen nodes, or 0. */
static rk_node_id coord_first_primary_up(const rk_node *n, const rk_coord_quorum *q)
{
    for (uint32_t i = 0; i < q->preflist_count; i++) {
        if (q->hint_for[i] == 0 && node_member_up(n, q->preflist[i])) {
            return q->preflist[i];
        }
    }
    return 0;
}

/* A coordinator of `kind` answering (from_peer, origin, origin_req), or NULL with the request
 * refused (RK_EBUSY). */
static rk_coord *coord_new(rk_node *n, rk_coord_kind kind, size_t bytes, bool from_peer,
                           rk_node_id origin, uint64_t origin_req)
{
    rk_coord *c = rk_coord_table_new(&n->coords, kind, bytes);
    if (c == NULL) {
        n->stats.refused_busy++;
        coord_refuse(n, from_peer, origin, origin_req, RK_EBUSY, "too many requests in flight");
        return NULL;
    }
    c->from_peer = from_peer;
    c->origin = origin;
    c->origin_req = origin_req;
    return c;
}

/* A write: coordinate it here (a reachable primary, or a chosen fallback when no primary is
 * reachable) or forward it to a primary (or, with none reachable, to a chosen fallback). */
static void coord_write(rk_node *n, const rk_coord_quorum *q, const rk_local_key *k,
                        const rk_bucket_props *props, bool from_peer, rk_node_id origin,
                        uint64_t origin_req, const rk_request *r, uint32_t up_count, bool sloppy)
{
    int self_index = rk_coord_preflist_index(q, n->config.id);
    bool self_primary = self_index >= 0 && q->hint_for[self_index] == 0;
    rk_node_id primary = coord_first_primary_up(n, q);
    rk_node_id to = 0;
    if (self_primary || (self_index >= 0 && primary == 0)) {
        rk_coord_put *c = (rk_coord_put *)coord_new(n, RK_COORD_PUT, sizeof(*c), from_peer,
                                                    origin, origin_req);
        if (c != NULL) {
            c->q = *q;
            c->policy = props->policy;
            c->versioned = r->kind == RK_REQ_VPUT || r->kind == RK_REQ_VDEL;
            rk_local_key_copy(k, &c->key);
            rk_coord_put_start(n, c, r, up_count, props->r, props->fallback_r != 0);
        }
        return;
    }
    if (primary != 0) {
        to = primary;
    } else if (sloppy && q->preflist_count > 0 && !from_peer) {
        to = q->preflist[0];    /* a fallback coordinates */
    }
    if (to != 0) {
        rk_coord_fwd *c = (rk_coord_fwd *)coord_new(n, RK_COORD_FWD, sizeof(*c), from_peer,
                                                    origin, origin_req);
        if (c != NULL) {
            coord_forward(n, c, r, to);
        }
        return;
    }
    char message[128];
    snprintf(message, sizeof(message), "need W=%u replicas, no primary of the key is "
             "reachable%s", q->need, sloppy ? "" : " (sloppy quorum off)");
    coord_refuse(n, from_peer, origin, origin_req, RK_EUNAVAIL, message);
}

void rk_coord_start(rk_node *n, bool from_peer, rk_node_id origin, uint64_t origin_req,
                    const rk_request *r)
{
    rk_local_key k;
    if (rk_local_key_init(&n->local, r->key, r->key_len, &k) != 0) {
        coord_refuse(n, from_peer, origin, origin_req, RK_ETOOBIG, "key too long");
        return;
    }
    const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, r->key, r->key_len);
    bool sloppy = r->sloppy == RK_SLOPPY_ON || (r->sloppy != RK_SLOPPY_OFF && props->sloppy);
    uint32_t nn = node_effective_n(n, props);
    rk_node_id list[RK_MEMBERS_MAX];
    uint32_t primaries = 0;
    int count = rk_ring_preflist(&n->ring, k.partition, nn, list, RK_MEMBERS_MAX, &primaries);
    RK_ASSERT(count >= 0);
    RK_ASSERT(primaries == nn);
    bool is_read = r->kind == RK_REQ_GET || r->kind == RK_REQ_EXISTS || r->kind == RK_REQ_VGET ||
                   r->kind == RK_REQ_READ;
    rk_coord_quorum q;
    memset(&q, 0, sizeof(q));
    uint32_t up_count = coord_choose(n, &q, list, (uint32_t)count, primaries, sloppy,
                                     from_peer && !is_read);
    uint32_t asked = is_read ? (r->r != 0 ? r->r : props->r) : (r->w != 0 ? r->w : props->w);
    /* Fewer members than n: n, r and w shrink to what the cluster has (a cluster of one works). */
    q.need = asked < nn ? asked : nn;
    q.fallback_need = is_read ? props->fallback_r : props->fallback_w;
    if (!is_read) {
        coord_write(n, &q, &k, props, from_peer, origin, origin_req, r, up_count, sloppy);
        return;
    }
    rk_coord_get *c = (rk_coord_get *)coord_new(n, RK_COORD_GET, sizeof(*c), from_peer, origin,
                                                origin_req);
    if (c != NULL) {
        c->q = q;
        c->req_kind = r->kind;
        c->read_op = r->kind == RK_REQ_READ ? r->op : 0;
        c->policy = props->policy;
        rk_local_key_copy(&k, &c->key);
        if (r->kind == RK_REQ_READ && r->value_len > 0) {
            c->arg = malloc(r->value_len);
            if (c->arg == NULL) {
                rk_coord_reply_error(n, &c->base, RK_ENOMEM, "out of memory");
                rk_coord_free(n, &c->base);
                return;
            }
            memcpy(c->arg, r->value, r->value_len);
            c->arg_len = r->value_len;
        }
        rk_coord_get_start(n, c, up_count);
    }
}

/* ---- answers and deadlines ------------------------------------------------------------------ */

/* The index of `from` in a quorum's preflist if it was sent a request, else -1. */
static int coord_asked_index(const rk_coord_quorum *q, rk_node_id from)
{
    int index = rk_coord_preflist_index(q, from);
    return index >= 0 && (q->sent_mask & (1u << index)) != 0 ? index : -1;
}

void rk_coord_on_message(rk_node *n, rk_node_id from, const rk_msg *m)
{
    rk_coord *c = rk_coord_table_find(&n->coords, m->req_id);
    if (c == NULL) {
        return;     /* late: the coordinator finished or timed out */
    }
    /* Each kind checks that `from` is a node it asked: a confused or hostile peer's answer
     * is dropped. */
    if (m->kind == RK_MSG_GET_RESP && c->kind == RK_COORD_GET) {
        rk_coord_get *g = (rk_coord_get *)c;
        int index = coord_asked_index(&g->q, from);
        if (index >= 0) {
            rk_coord_get_on_resp(n, g, (uint32_t)index, m);
        }
    } else if (m->kind == RK_MSG_GET_RESP && c->kind == RK_COORD_PUT) {
        rk_coord_put *p = (rk_coord_put *)c;
        int index = coord_asked_index(&p->q, from);
        if (index >= 0 && p->reading) {
            rk_coord_put_on_read(n, p, (uint32_t)index, m);
        }
    } else if (m->kind == RK_MSG_PUT_RESP && c->kind == RK_COORD_PUT) {
        rk_coord_put *p = (rk_coord_put *)c;
        int index = coord_asked_index(&p->q, from);
        if (index >= 0 && !p->reading && m->status == RK_ENOTREADY && p->delta) {
            rk_coord_put_resend_whole(n, p, (uint32_t)index);
        } else if (index >= 0 && !p->reading) {
            rk_coord_put_on_ack(n, p, (uint32_t)index, m->status == 0);
        }
    } else if (m->kind == RK_MSG_PUT_RESP && c->kind == RK_COORD_HANDOFF) {
        rk_coord_handoff *h = (rk_coord_handoff *)c;
        if (from == h->owner) {
            rk_handoff_on_ack(n, h, m->status);
        }
    } else if (m->kind == RK_MSG_FWD_RESP && c->kind == RK_COORD_FWD) {
        rk_coord_fwd *f = (rk_coord_fwd *)c;
        if (from == f->to) {
            coord_fwd_on_resp(n, f, m);
        }
    } else if (m->kind == RK_MSG_BUCKET_ACK && c->kind == RK_COORD_BUCKET) {
        rk_coord_bucket_on_ack(n, (rk_coord_bucket *)c, from, m);
    }
}

void rk_coord_on_local_durable(rk_node *n, uint64_t coord_id, int status)
{
    rk_coord *c = rk_coord_table_find(&n->coords, coord_id);
    if (c == NULL) {
        return;     /* timed out meanwhile */
    }
    if (c->kind == RK_COORD_BUCKET) {
        rk_coord_bucket_on_local_durable(n, (rk_coord_bucket *)c, status);
    } else {
        RK_ASSERT(c->kind == RK_COORD_PUT);
        rk_coord_put_on_local_durable(n, (rk_coord_put *)c, status);
    }
}

/* Every node a coordinator sent to and that did not answer by the deadline is a little more
 * suspect (members.h). */
static void coord_note_silent(rk_node *n, const rk_coord_quorum *q)
{
    for (uint32_t i = 0; i < q->preflist_count; i++) {
        uint16_t bit = (uint16_t)(1u << i);
        if ((q->sent_mask & bit) != 0 && (q->answered_mask & bit) == 0) {
            rk_members_silent(&n->members, q->preflist[i], node_now_ms(n));
        }
    }
}

static void coord_expire(rk_node *n, rk_coord *c)
{
    switch (c->kind) {
    case RK_COORD_GET:
        coord_note_silent(n, &((rk_coord_get *)c)->q);
        rk_coord_get_expire(n, (rk_coord_get *)c);
        return;
    case RK_COORD_PUT:
        coord_note_silent(n, &((rk_coord_put *)c)->q);
        rk_coord_put_expire(n, (rk_coord_put *)c);
        return;
    case RK_COORD_HANDOFF:
        rk_members_silent(&n->members, ((rk_coord_handoff *)c)->owner, node_now_ms(n));
        rk_handoff_on_expire(n, (rk_coord_handoff *)c);
        return;
    case RK_COORD_FWD:
        rk_members_silent(&n->members, ((rk_coord_fwd *)c)->to, node_now_ms(n));
        rk_coord_reply_error(n, c, RK_ETIMEDOUT, "the replica coordinating the write did not "
                             "answer in time; the write may still appear");
        rk_coord_free(n, c);
        return;
    case RK_COORD_BUCKET:
        rk_coord_bucket_expire(n, (rk_coord_bucket *)c);
        return;
    }
    RK_ASSERT(!"unknown coordinator kind");
}

void rk_coord_on_timer(rk_node *n)
{
    rk_coord_table_on_timer(&n->coords);
    /* Bounded: each pass frees the head, and only armed coordinators are on the list. */
    rk_coord *c = NULL;
    while ((c = rk_coord_table_due(&n->coords)) != NULL) {
        coord_expire(n, c);
    }
}
