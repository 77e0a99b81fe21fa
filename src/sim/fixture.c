/* fixture.c — the stepping API of fixture.h over the simulator's world (sim_internal.h). The
 * world is the one rk_sim_run drives, started without workload or fault schedule; this file
 * runs its event queue itself, a step at a time, so it can stop where a test wants to look and
 * hold, drop or duplicate a message on its way. Client replies reach it through the world's
 * reply hook (world.c), and requests are handed to a node directly, at the current time.
 *
 * down/up are a partition of one (each node in its own partition group, net.c's link rule),
 * noticed through the simulated failure detector; disconnect/reconnect change the same groups
 * without telling anyone (sim_links_changed is not called).
 *
 * Nodes live in the world's slots; a slot's id is index + 1 until rk_fixture_fresh gives it a
 * new one (membership tests: an id that left never joins again), so every lookup goes by id
 * through the slots, and the network (net.c) routes by id the same way. Links follow each
 * node's member table as ringkvd's do (peer.c): when a member appears in a node's table, the
 * node is told at once whether its link to it is up (the handshake's rk_node_on_peer), which
 * is also when it pushes its bucket properties to the newcomer. */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

/* A test that runs more events than this in one call is stuck in a loop: fail it, don't hang. */
#define FX_STEPS_MAX 10000000u
/* A pump that has not gone quiet after this much virtual time never will (a retry loop). */
#define FX_PUMP_MS_MAX 600000u
/* Partition groups of nodes cut off alone: far above the 0 every connected node shares. */
#define FX_GROUP_ALONE 1000u
#define FX_LINK_SETTLE_MS_MAX 1000u

struct rk_fixture {
    sim_world *w;
    rk_node_config node_config;     /* nodes are (re)created from a copy of it */
    rk_fixture_reply *replies;      /* replies[handle], handle 1..request_count */
    uint32_t request_count;
    uint32_t request_cap;
    /* the message filter */
    rk_fixture_action action;
    rk_msg_kind filter_kind;
    rk_node_id filter_from;
    rk_node_id filter_to;
    uint32_t filter_left;           /* 0: unlimited */
    sim_event *held_head;
    sim_event *held_tail;
    uint32_t held_count;
    uint64_t delivered[RK_SIM_NODES_MAX][RK_MSG_KIND_MAX + 1];    /* [slot][kind] */
    rk_node_id id_next;             /* the id rk_fixture_fresh gives next: never one used */
    /* Links follow member tables through the world's members_generation and linked_mask
     * (sim_links_follow, membership.c). */
};

void rk_fixture_config_default(rk_fixture_config *c)
{
    memset(c, 0, sizeof(*c));
    c->seed = 1;
    c->nodes = 5;
    c->lone = 0;
    rk_node_config_default(&c->node);
    c->node.aae_on = false;     /* tests that want anti-entropy switch it on */
}

/* The slot of node `id`, or NULL when no slot holds it (never, or no longer). */
static sim_node *fixture_sim_node_find(const rk_fixture *fx, rk_node_id id)
{
    for (uint32_t i = 0; i < fx->w->cfg.nodes; i++) {
        if (fx->w->nodes[i].id == id) {
            return &fx->w->nodes[i];
        }
    }
    return NULL;
}

static sim_node *fixture_sim_node(rk_fixture *fx, rk_node_id id)
{
    sim_node *sn = fixture_sim_node_find(fx, id);
    RK_ASSERT(id >= 1);
    RK_ASSERT(sn != NULL);
    return sn;
}

/* ---- replies -------------------------------------------------------------------------------- */

static void *fixture_copy(const void *bytes, size_t len)
{
    uint8_t *copy = malloc(len + 1);
    RK_ASSERT(copy != NULL);
    if (len > 0) {
        memcpy(copy, bytes, len);
    }
    copy[len] = 0;      /* strings stay strings */
    return copy;
}

static void fixture_reply_record(rk_fixture_reply *out, const rk_reply *r)
{
    out->kind = r->kind;
    out->integer = r->integer;
    out->error = r->error;
    if (r->kind == RK_REPLY_VALUE) {
        out->value = fixture_copy(r->value, r->value_len);
        out->value_len = r->value_len;
    }
    if (r->context != NULL) {
        out->context = fixture_copy(r->context, strlen(r->context));
    }
    if (r->message != NULL) {
        out->message = fixture_copy(r->message, strlen(r->message));
    }
    bool strings = r->kind == RK_REPLY_VERSIONS || r->kind == RK_REPLY_ARRAY ||
                   r->kind == RK_REPLY_MAP || r->kind == RK_REPLY_SET;
    if (r->kind == RK_REPLY_STATUS) {
        out->value = fixture_copy(r->value, r->value_len);
        out->value_len = r->value_len;
    }
    if (strings && r->value_count > 0) {
        out->value_count = r->value_count;
        out->values = calloc(r->value_count, sizeof(*out->values));
        out->value_lens = calloc(r->value_count, sizeof(*out->value_lens));
        RK_ASSERT(out->values != NULL);
        RK_ASSERT(out->value_lens != NULL);
        for (uint32_t i = 0; i < r->value_count; i++) {
            out->values[i] = fixture_copy(r->values[i], r->value_lens[i]);
            out->value_lens[i] = r->value_lens[i];
        }
    }
}

static void fixture_on_reply(void *ctx, uint32_t node, uint64_t client_req, const rk_reply *r)
{
    rk_fixture *fx = ctx;
    RK_ASSERT(client_req >= 1);
    RK_ASSERT(client_req <= fx->request_count);
    rk_fixture_reply *out = &fx->replies[client_req];
    RK_ASSERT(out->node == fx->w->nodes[node].id);  /* answered by the node it was sent to */
    if (out->answers++ == 0) {
        fixture_reply_record(out, r);
    }
}

static void fixture_reply_free(rk_fixture_reply *r)
{
    free(r->value);
    free(r->context);
    free(r->message);
    for (uint32_t i = 0; i < r->value_count; i++) {
        free(r->values[i]);
    }
    free(r->values);
    free(r->value_lens);
}

/* A new request slot for node `id`; returns its handle. */
static uint64_t fixture_request_new(rk_fixture *fx, rk_node_id id)
{
    if (fx->request_count + 1 >= fx->request_cap) {
        uint32_t cap = fx->request_cap == 0 ? 64 : fx->request_cap * 2;
        rk_fixture_reply *grown = realloc(fx->replies, cap * sizeof(*grown));
        RK_ASSERT(grown != NULL);
        memset(grown + fx->request_cap, 0, (cap - fx->request_cap) * sizeof(*grown));
        fx->replies = grown;
        fx->request_cap = cap;
    }
    uint64_t handle = ++fx->request_count;
    fx->replies[handle].node = id;
    return handle;
}

/* ---- stepping ------------------------------------------------------------------------------- */

static bool fixture_filter_matches(const rk_fixture *fx, const sim_event *e)
{
    return fx->action != RK_FIXTURE_PASS && e->kind == SIM_EV_MSG && e->a == fx->filter_kind &&
           (fx->filter_from == 0 || fx->w->nodes[e->from].id == fx->filter_from) &&
           (fx->filter_to == 0 || fx->w->nodes[e->node].id == fx->filter_to);
}

static void fixture_hold(rk_fixture *fx, sim_event *e)
{
    e->next = NULL;
    if (fx->held_tail != NULL) {
        fx->held_tail->next = e;
    } else {
        fx->held_head = e;
    }
    fx->held_tail = e;
    fx->held_count++;
}

/* Hold a copy of message event e (a duplicate the network will deliver when released). */
static void fixture_duplicate(rk_fixture *fx, const sim_event *e)
{
    sim_event *copy = sim_event_new(fx->w, SIM_EV_MSG, e->at_ms);
    sim_msg *frame = sim_msg_dup(e->msg);
    *copy = *e;
    copy->msg = frame;
    copy->next = NULL;
    fixture_hold(fx, copy);
}

/* A message the node will get if its link still holds (net.c decides at delivery). */
static void fixture_count_delivery(rk_fixture *fx, const sim_event *e)
{
    const sim_node *to = &fx->w->nodes[e->node];
    const sim_node *from = &fx->w->nodes[e->from];
    if (to->node != NULL && !to->paused && to->inc == e->inc && from->inc == e->from_inc &&
        sim_link_up(fx->w, e->from, e->node) && e->a <= RK_MSG_KIND_MAX) {
        fx->delivered[e->node][e->a]++;
    }
}

/* Take the next event due at or before until_ms and run it (or hold or drop it). False when
 * none is due. */
static bool fixture_step(rk_fixture *fx, uint64_t until_ms)
{
    sim_world *w = fx->w;
    sim_links_follow(fx->w);
    if (w->heap_count == 0 || w->heap[0]->at_ms > until_ms) {
        return false;
    }
    sim_event *e = sim_pop(w);
    w->now_ms = e->at_ms;
    if (fixture_filter_matches(fx, e)) {
        rk_fixture_action action = fx->action;
        if (fx->filter_left > 0 && --fx->filter_left == 0) {
            fx->action = RK_FIXTURE_PASS;   /* what it held stays held until released */
        }
        if (action == RK_FIXTURE_HOLD) {
            fixture_hold(fx, e);
            return true;
        }
        if (action == RK_FIXTURE_DROP) {
            sim_event_free(e);
            return true;
        }
        fixture_duplicate(fx, e);
    }
    if (e->kind == SIM_EV_MSG) {
        fixture_count_delivery(fx, e);
    }
    sim_event_run(w, e);
    return true;
}

void rk_fixture_run_due(rk_fixture *fx)
{
    for (uint32_t steps = 0; fixture_step(fx, fx->w->now_ms); steps++) {
        RK_ASSERT(steps < FX_STEPS_MAX);
    }
}

void rk_fixture_advance(rk_fixture *fx, uint64_t ms)
{
    uint64_t target = fx->w->now_ms + ms;
    for (uint32_t steps = 0; fixture_step(fx, target); steps++) {
        RK_ASSERT(steps < FX_STEPS_MAX);
    }
    fx->w->now_ms = target;
}

static bool fixture_busy(const rk_fixture *fx)
{
    const sim_world *w = fx->w;
    for (size_t i = 0; i < w->heap_count; i++) {
        if (w->heap[i]->kind != SIM_EV_TIMER) {
            return true;
        }
    }
    return false;
}

int rk_fixture_pump(rk_fixture *fx)
{
    uint64_t limit_ms = fx->w->now_ms + FX_PUMP_MS_MAX;
    for (uint32_t steps = 0; fixture_busy(fx); steps++) {
        RK_ASSERT(steps < FX_STEPS_MAX);
        if (!fixture_step(fx, limit_ms)) {
            return RK_ETIMEDOUT;
        }
    }
    return 0;
}

uint64_t rk_fixture_delivered(const rk_fixture *fx, rk_msg_kind kind, rk_node_id to)
{
    const sim_node *sn = fixture_sim_node_find(fx, to);
    RK_ASSERT(sn != NULL);
    if (kind != 0) {
        return kind <= RK_MSG_KIND_MAX ? fx->delivered[sn->index][kind] : 0;
    }
    uint64_t sum = 0;
    for (uint32_t k = 0; k <= RK_MSG_KIND_MAX; k++) {
        sum += fx->delivered[sn->index][k];
    }
    return sum;
}

bool rk_fixture_run_until_delivered(rk_fixture *fx, rk_msg_kind kind, rk_node_id to,
                                    uint64_t count, uint64_t ms_max)
{
    uint64_t limit_ms = fx->w->now_ms + ms_max;
    for (uint32_t steps = 0; rk_fixture_delivered(fx, kind, to) < count; steps++) {
        RK_ASSERT(steps < FX_STEPS_MAX);
        if (!fixture_step(fx, limit_ms)) {
            return false;
        }
    }
    return true;
}

const rk_fixture_reply *rk_fixture_reply_get(const rk_fixture *fx, int64_t handle)
{
    if (handle < 1 || (uint64_t)handle > fx->request_count) {
        return NULL;
    }
    const rk_fixture_reply *r = &fx->replies[handle];
    return r->answers > 0 ? r : NULL;
}

const rk_fixture_reply *rk_fixture_wait(rk_fixture *fx, int64_t handle, uint64_t ms_max)
{
    uint64_t limit_ms = fx->w->now_ms + ms_max;
    for (uint32_t steps = 0; rk_fixture_reply_get(fx, handle) == NULL; steps++) {
        RK_ASSERT(steps < FX_STEPS_MAX);
        if (!fixture_step(fx, limit_ms)) {
            return NULL;
        }
    }
    return rk_fixture_reply_get(fx, handle);
}

/* ---- requests ------------------------------------------------------------------------------- */

int64_t rk_fixture_request(rk_fixture *fx, rk_node_id id, const rk_request *req)
{
    sim_node *sn = fixture_sim_node(fx, id);
    if (sn->node == NULL) {
        return RK_EUNAVAIL;
    }
    uint64_t handle = fixture_request_new(fx, id);
    fx->w->current_tag = 0;
    fx->w->current_node = sn->index;
    rk_node_on_request(sn->node, handle, req);
    fx->w->current_node = UINT32_MAX;
    return (int64_t)handle;
}

int64_t rk_fixture_bucket_set(rk_fixture *fx, rk_node_id id, const char *bucket,
                              const char *prop, const char *value)
{
    sim_node *sn = fixture_sim_node(fx, id);
    if (sn->node == NULL) {
        return RK_EUNAVAIL;
    }
    uint64_t handle = fixture_request_new(fx, id);
    const char *props[1] = {prop};
    const char *values[1] = {value};
    fx->w->current_node = sn->index;
    rk_node_bucket_set(sn->node, handle, (const uint8_t *)bucket, strlen(bucket), props, values,
                       1);
    fx->w->current_node = UINT32_MAX;
    return (int64_t)handle;
}

/* ---- links, crashes ------------------------------------------------------------------------- */

static bool fixture_views_settled(const rk_fixture *fx)
{
    const sim_world *w = fx->w;
    for (uint32_t a = 0; a < w->cfg.nodes; a++) {
        for (uint32_t b = 0; b < w->cfg.nodes; b++) {
            if (a != b && w->nodes[a].node != NULL &&
                w->nodes[a].link_known_up[b] != sim_link_up(w, a, b)) {
                return false;
            }
        }
    }
    return true;
}

/* Run until every node's view of its links is the truth (the detection delay passed). */
static void fixture_settle_links(rk_fixture *fx)
{
    sim_links_changed(fx->w);
    uint64_t limit_ms = fx->w->now_ms + FX_LINK_SETTLE_MS_MAX;
    while (!fixture_views_settled(fx)) {
        bool stepped = fixture_step(fx, limit_ms);
        RK_ASSERT(stepped);
    }
}

void rk_fixture_down(rk_fixture *fx, rk_node_id id)
{
    fixture_sim_node(fx, id)->group = FX_GROUP_ALONE + id;
    fixture_settle_links(fx);
}

void rk_fixture_up(rk_fixture *fx, rk_node_id id)
{
    fixture_sim_node(fx, id)->group = 0;
    fixture_settle_links(fx);
}

void rk_fixture_disconnect(rk_fixture *fx, rk_node_id id)
{
    fixture_sim_node(fx, id)->group = FX_GROUP_ALONE + id;
}

void rk_fixture_tell(rk_fixture *fx, rk_node_id observer, rk_node_id peer)
{
    sim_node *sn = fixture_sim_node(fx, observer);
    sim_node *other = fixture_sim_node(fx, peer);
    RK_ASSERT(sn->node != NULL);
    RK_ASSERT(observer != peer);
    bool up = sim_link_up(fx->w, sn->index, other->index);
    sn->link_known_up[other->index] = up;
    fx->w->current_node = sn->index;
    rk_node_on_peer(sn->node, peer, up);
    fx->w->current_node = UINT32_MAX;
}

/* Node `id` learns the truth about each of its links, now. */
static void fixture_tell_all(rk_fixture *fx, rk_node_id id)
{
    for (uint32_t i = 0; i < fx->w->cfg.nodes; i++) {
        rk_node_id peer = fx->w->nodes[i].id;
        if (peer != id) {
            rk_fixture_tell(fx, id, peer);
        }
    }
}

void rk_fixture_reconnect(rk_fixture *fx, rk_node_id id)
{
    fixture_sim_node(fx, id)->group = 0;
    fixture_tell_all(fx, id);
}

void rk_fixture_crash(rk_fixture *fx, rk_node_id id)
{
    sim_node_crash(fx->w, fixture_sim_node(fx, id));
}

#define FIXTURE_DAMAGE_MAX 4096u    /* objects one damage call flips: tests hold a few */

typedef struct fixture_damage {
    uint32_t count;
    uint8_t *keys[FIXTURE_DAMAGE_MAX];
    size_t key_lens[FIXTURE_DAMAGE_MAX];
    uint8_t *values[FIXTURE_DAMAGE_MAX];
    size_t value_lens[FIXTURE_DAMAGE_MAX];
} fixture_damage;

/* Collect a copy of each stored object with one bit flipped in its middle, as a disk might. */
static int fixture_damage_collect(void *ctx, const uint8_t *key, size_t key_len,
                                  const uint8_t *value, size_t value_len)
{
    fixture_damage *d = ctx;
    if (value_len == 0) {
        return 0;
    }
    RK_ASSERT(d->count < FIXTURE_DAMAGE_MAX);
    d->keys[d->count] = fixture_copy(key, key_len);
    d->key_lens[d->count] = key_len;
    d->values[d->count] = fixture_copy(value, value_len);
    d->values[d->count][value_len / 2] ^= 0x10;
    d->value_lens[d->count] = value_len;
    d->count++;
    return 0;
}

uint32_t rk_fixture_damage(rk_fixture *fx, rk_node_id id)
{
    rk_store *store = fixture_sim_node(fx, id)->store.inner;
    fixture_damage *d = calloc(1, sizeof(*d));
    RK_ASSERT(d != NULL);
    int rc = rk_store_iterate(store, RK_DB_DATA, NULL, 0, NULL, 0, fixture_damage_collect, d);
    RK_ASSERT(rc == 0);
    uint32_t count = d->count;
    for (uint32_t i = 0; i < count; i++) {
        rk_batch_op op = {.kind = RK_BATCH_PUT, .db = RK_DB_DATA, .key = d->keys[i],
                          .key_len = d->key_lens[i], .value = d->values[i],
                          .value_len = d->value_lens[i]};
        uint64_t seq = 0;
        rc = rk_store_write(store, &op, 1, &seq);
        RK_ASSERT(rc == 0);
        rc = rk_store_sync(store, seq);
        RK_ASSERT(rc == 0);
        free(d->keys[i]);
        free(d->values[i]);
    }
    free(d);
    return count;
}

void rk_fixture_wipe(rk_fixture *fx, rk_node_id id)
{
    int rc = sim_node_wipe(fx->w, fixture_sim_node(fx, id));
    RK_ASSERT(rc == 0);
}

/* Ask node `sn` to write its clean-stop mark (`marked` false) or whether the mark is durable
 * (true), running the world between asks while the answer is RK_EBUSY. */
static int fixture_stop_wait(rk_fixture *fx, sim_node *sn, bool marked, uint64_t limit_ms)
{
    for (uint32_t steps = 0;; steps++) {
        RK_ASSERT(steps < FX_STEPS_MAX);
        fx->w->current_node = sn->index;
        int rc = marked ? rk_node_stop_clean_status(sn->node) : rk_node_stop_clean(sn->node);
        fx->w->current_node = UINT32_MAX;
        if (rc != RK_EBUSY) {
            return rc;
        }
        if (!fixture_step(fx, limit_ms)) {
            return RK_ETIMEDOUT;
        }
    }
}

int rk_fixture_stop(rk_fixture *fx, rk_node_id id)
{
    sim_node *sn = fixture_sim_node(fx, id);
    RK_ASSERT(sn->node != NULL);
    uint64_t limit_ms = fx->w->now_ms + FX_PUMP_MS_MAX;
    int rc = fixture_stop_wait(fx, sn, false, limit_ms);
    if (rc == 0) {
        rc = fixture_stop_wait(fx, sn, true, limit_ms);
    }
    sim_node_crash(fx->w, sn);
    return rc;
}

void rk_fixture_restart(rk_fixture *fx, rk_node_id id)
{
    sim_world *w = fx->w;
    rk_node_config saved = w->node_config;
    w->node_config = fx->node_config;
    w->node_config.member_count = saved.member_count;
    memcpy(w->node_config.members, saved.members, sizeof(saved.members));
    sim_node *sn = fixture_sim_node(fx, id);
    int rc = sim_node_restart(w, sn);
    RK_ASSERT(rc == 0);
    fixture_tell_all(fx, id);
    sim_links_taken(fx->w, sn->index);
}

rk_node_id rk_fixture_fresh(rk_fixture *fx, rk_node_id id)
{
    sim_world *w = fx->w;
    sim_node *sn = fixture_sim_node(fx, id);
    if (sn->node != NULL) {
        int rc = sim_node_wipe(w, sn);
        RK_ASSERT(rc == 0);
    } else {
        /* Crashed already: only the disk is left to lose. */
        rk_store_close(sn->store.inner);
        sn->store.inner = NULL;
        int rc = rk_store_mem_open(&sn->store.inner);
        RK_ASSERT(rc == 0);
    }
    /* Another process: no skew, no failing disk, connected, counted from zero. */
    sn->id = fx->id_next++;
    sn->skew_us = 0;
    sn->sync_fail_error = 0;
    sn->group = 0;
    sn->cut_to_mask = 0;
    memset(fx->delivered[sn->index], 0, sizeof(fx->delivered[sn->index]));
    for (uint32_t a = 0; a < w->cfg.nodes; a++) {
        fx->w->linked_mask[a] &= ~(1u << sn->index);   /* the old process's links are gone */
    }
    rk_fixture_restart(fx, sn->id);
    return sn->id;
}

void rk_fixture_skew(rk_fixture *fx, rk_node_id id, int64_t skew_us)
{
    fixture_sim_node(fx, id)->skew_us = skew_us;
}

void rk_fixture_fail_next_sync(rk_fixture *fx, rk_node_id id, int error)
{
    RK_ASSERT(error < 0);
    fixture_sim_node(fx, id)->sync_fail_error = error;
}

void rk_fixture_filter(rk_fixture *fx, rk_fixture_action action, rk_msg_kind kind,
                       rk_node_id from, rk_node_id to, uint32_t count)
{
    fx->action = action;
    fx->filter_kind = kind;
    fx->filter_from = from;
    fx->filter_to = to;
    fx->filter_left = count;
}

uint32_t rk_fixture_release(rk_fixture *fx)
{
    uint32_t count = fx->held_count;
    rk_fixture_filter(fx, RK_FIXTURE_PASS, 0, 0, 0, 0);
    sim_event *e = fx->held_head;
    fx->held_head = NULL;
    fx->held_tail = NULL;
    fx->held_count = 0;
    while (e != NULL) {
        sim_event *next = e->next;
        e->next = NULL;
        e->at_ms = fx->w->now_ms;
        sim_schedule(fx->w, e);
        e = next;
    }
    return count;
}

uint32_t rk_fixture_held(const rk_fixture *fx)
{
    return fx->held_count;
}

/* ---- state ---------------------------------------------------------------------------------- */

rk_node *rk_fixture_node(rk_fixture *fx, rk_node_id id)
{
    return fixture_sim_node(fx, id)->node;
}

rk_node_id rk_fixture_id_at(const rk_fixture *fx, uint32_t slot)
{
    RK_ASSERT(slot < fx->w->cfg.nodes);
    return fx->w->nodes[slot].id;
}

rk_node_config *rk_fixture_node_config(rk_fixture *fx)
{
    return &fx->node_config;
}

uint32_t rk_fixture_node_count(const rk_fixture *fx)
{
    return fx->w->cfg.nodes;
}

uint64_t rk_fixture_now_ms(const rk_fixture *fx)
{
    return fx->w->now_ms;
}

uint64_t rk_fixture_trace_hash(const rk_fixture *fx)
{
    return XXH3_64bits_digest(fx->w->trace);
}

const rk_node_stats *rk_fixture_stats(rk_fixture *fx, rk_node_id id)
{
    rk_node *n = rk_fixture_node(fx, id);
    return n != NULL ? rk_node_stats_get(n) : NULL;
}

int rk_fixture_local_get(rk_fixture *fx, rk_node_id id, const char *key, rk_buf *out)
{
    rk_node *n = rk_fixture_node(fx, id);
    if (n == NULL) {
        return RK_EUNAVAIL;
    }
    return rk_node_local_get(n, (const uint8_t *)key, strlen(key), out);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

/* The simulator's own config for a world of c: what sim_world_start reads. */
static void fixture_sim_config(const rk_fixture_config *c, rk_sim_config *out)
{
    rk_sim_config_default(out);
    out->seed = c->seed;
    out->nodes = c->nodes;
    out->n = c->node.default_n;
    out->r = c->node.default_r;
    out->w = c->node.default_w;
    out->policy = c->node.default_policy;
    out->sync = c->node.sync;
    out->no_sloppy = !c->node.default_sloppy;
    out->request_timeout_ms = c->node.request_timeout_ms;
    out->faults = 0;
}

int rk_fixture_new(const rk_fixture_config *c, rk_fixture **out)
{
    *out = NULL;
    if (c->nodes == 0 || c->nodes > RK_SIM_NODES_MAX || c->lone >= c->nodes) {
        return RK_EINVAL;
    }
    rk_sim_config sim_config;
    fixture_sim_config(c, &sim_config);
    rk_fixture *fx = calloc(1, sizeof(*fx));
    sim_world *w = sim_world_new(&sim_config);
    if (fx == NULL || w == NULL) {
        free(fx);
        if (w != NULL) {
            sim_world_free(w);
        }
        return RK_ENOMEM;
    }
    fx->w = w;
    fx->node_config = c->node;
    fx->id_next = c->nodes + 1;
    /* The members at start are ids 1..nodes - lone; world.c starts the rest alone. */
    rk_node_config base = c->node;
    base.member_count = c->nodes - c->lone;
    w->node_config_base = &base;
    w->reply_hook = fixture_on_reply;
    w->hook_ctx = fx;
    int rc = sim_world_start(w);
    w->node_config_base = NULL;
    if (rc != 0) {
        rk_fixture_free(fx);
        return rc;
    }
    for (uint32_t a = 0; a < c->nodes; a++) {
        sim_links_taken(fx->w, a);     /* sim_world_start told every node every link */
    }
    rc = rk_fixture_pump(fx);
    RK_ASSERT(rc == 0);
    *out = fx;
    return 0;
}

void rk_fixture_free(rk_fixture *fx)
{
    if (fx == NULL) {
        return;
    }
    rk_fixture_release(fx);
    sim_world_free(fx->w);
    for (uint32_t i = 1; i <= fx->request_count; i++) {
        fixture_reply_free(&fx->replies[i]);
    }
    free(fx->replies);
    free(fx);
}
