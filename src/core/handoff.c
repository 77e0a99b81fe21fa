/* handoff.c — hinted handoff (Dynamo 4.6): the hint records a node keeps for primaries that
 * missed a write, and their delivery back to those owners.
 *
 * A hint is a record in RK_DB_HINTS, (owner, key) -> the storage key; the object is the node's
 * own copy in RK_DB_DATA, written in the same atomic batch as the record (rk_handoff_store), so
 * both are durable before the write is acknowledged and survive a crash of the fallback. Hints
 * arise three ways: a fallback stores a write for a primary it stands in for, a fallback
 * coordinates one, and a coordinator notes a primary its write missed (rk_handoff_hint_missed).
 *
 * Delivery: a timer every handoff_interval_ms while hints are pending looks at the owners this
 * node sees reachable and sends up to handoff_objects_per_s * interval / 1000 copies, each as a
 * PUT_REQ flagged RK_MSG_PUT_HANDOFF on an RK_COORD_HANDOFF coordinator. The owner merges it like
 * any replicated write (never an overwrite) and answers once the merge is durable. Only then,
 * and only if the copy here is still the one sent (no newer write reached it meanwhile), the
 * hint is deleted, and with its last hint the copy too unless this node is a primary of the key.
 * A changed copy, an error or a timeout leaves the hint to go again on a later tick. Deleting
 * a hint asks for no sync: a crash that undoes it only sends the copy once more, and the
 * owner's merge ignores what it has. */
#include "handoff.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "parts.h"
#include "policy.h"

#define HINT_FORMAT 1u

static void hint_key(rk_node_id owner, const uint8_t *skey, size_t skey_len,
                     uint8_t out[RK_HINT_KEY_BYTES])
{
    uint64_t h = rk_hash_key(skey, skey_len);
    for (int i = 0; i < 4; i++) {
        out[i] = (uint8_t)(owner >> (24 - 8 * i));
    }
    for (int i = 0; i < 8; i++) {
        out[4 + i] = (uint8_t)(h >> (56 - 8 * i));
    }
}

/* Whether the hint record `key` exists: 0 found, RK_ENOTFOUND, or a store error (counted). */
static int hint_lookup(rk_node *n, const uint8_t key[RK_HINT_KEY_BYTES])
{
    rk_buf found = {0};
    int rc = rk_store_get(n->env->store, RK_DB_HINTS, key, RK_HINT_KEY_BYTES, &found);
    rk_store_buf_free(&found);
    if (rc != 0 && rc != RK_ENOTFOUND) {
        n->stats.store_errors++;
    }
    return rc;
}

size_t rk_hint_encode(rk_node_id owner, const uint8_t *skey, size_t skey_len,
                      uint8_t key_out[RK_HINT_KEY_BYTES], uint8_t *value_out)
{
    RK_ASSERT(skey_len <= RK_SKEY_BYTES_MAX);
    hint_key(owner, skey, skey_len, key_out);
    value_out[0] = HINT_FORMAT;
    memcpy(value_out + 1, skey, skey_len);
    return 1 + skey_len;
}

/* Prepare the store op creating hint (owner, k) in *op, pointing into the buffers. Returns
 * 1 (op filled: call hint_added once it is written), 0 (the hint exists) or an error. */
static int hint_prepare(rk_node *n, rk_node_id owner, const rk_local_key *k,
                        uint8_t key_buf[RK_HINT_KEY_BYTES], uint8_t *value_buf, rk_batch_op *op)
{
    size_t value_len = rk_hint_encode(owner, k->skey, k->skey_len, key_buf, value_buf);
    int rc = hint_lookup(n, key_buf);
    if (rc != RK_ENOTFOUND) {
        return rc == 0 ? 0 : rc;
    }
    *op = (rk_batch_op){.kind = RK_BATCH_PUT,
                        .db = RK_DB_HINTS,
                        .key = key_buf,
                        .key_len = RK_HINT_KEY_BYTES,
                        .value = value_buf,
                        .value_len = value_len};
    return 1;
}

static void hint_added(rk_node *n)
{
    n->stats.hints_pending++;
    n->stats.hints_written++;
    rk_handoff_kick(n);
}

/* Store through `fn` (an object, a set's delta or chunk) with the hint record of `hint_owner`
 * in the same batch. */
static int handoff_store_set(rk_node *n, const rk_local_key *k, rk_node_id hint_owner,
                             uint64_t *seq_out,
                             int (*fn)(rk_local *l, const rk_local_key *k, const void *what,
                                       const rk_batch_op *extra, uint32_t extra_count,
                                       uint64_t *seq_out),
                             const void *what)
{
    uint8_t key_buf[RK_HINT_KEY_BYTES];
    uint8_t value_buf[1 + RK_SKEY_BYTES_MAX];
    rk_batch_op op = {0};
    int new_hint = 0;
    if (hint_owner != 0) {
        new_hint = hint_prepare(n, hint_owner, k, key_buf, value_buf, &op);
        if (new_hint < 0) {
            return new_hint;
        }
    }
    int rc = fn(&n->local, k, what, &op, new_hint == 1 ? 1 : 0, seq_out);
    if (rc == 0 && new_hint == 1) {
        hint_added(n);
    }
    return rc;
}

typedef struct handoff_object {
    const uint8_t *bytes;
    size_t len;
    bool live;
    bool was_live;
} handoff_object;

static int handoff_object_fn(rk_local *l, const rk_local_key *k, const void *what,
                             const rk_batch_op *extra, uint32_t extra_count, uint64_t *seq_out)
{
    const handoff_object *o = what;
    return rk_local_write(l, k, o->bytes, o->len, o->live, o->was_live, extra, extra_count,
                          seq_out);
}

int rk_handoff_store(rk_node *n, const rk_local_key *k, const uint8_t *bytes, size_t len,
                     bool live, bool was_live, rk_node_id hint_owner, uint64_t *seq_out)
{
    handoff_object o = {.bytes = bytes, .len = len, .live = live, .was_live = was_live};
    return handoff_store_set(n, k, hint_owner, seq_out, handoff_object_fn, &o);
}

typedef struct handoff_delta {
    const uint8_t *members;
    size_t members_len;
    const rk_dvvset *delta;
    bool need_ready;
} handoff_delta;

static int handoff_delta_fn(rk_local *l, const rk_local_key *k, const void *what,
                            const rk_batch_op *extra, uint32_t extra_count, uint64_t *seq_out)
{
    const handoff_delta *d = what;
    bool changed = false;
    return rk_local_set_merge_delta(l, k, d->members, d->members_len, d->delta, d->need_ready,
                                    extra, extra_count, seq_out, &changed);
}

int rk_handoff_store_delta(rk_node *n, const rk_local_key *k, const uint8_t *members,
                           size_t members_len, const rk_dvvset *delta, bool need_ready,
                           rk_node_id hint_owner, uint64_t *seq_out)
{
    handoff_delta d = {.members = members, .members_len = members_len, .delta = delta,
                       .need_ready = need_ready};
    return handoff_store_set(n, k, hint_owner, seq_out, handoff_delta_fn, &d);
}

/* ---- start-up and the timer ---------------------------------------------------------------- */

static int handoff_count_one(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                             size_t value_len)
{
    (void)key;
    (void)key_len;
    (void)value;
    (void)value_len;
    (*(uint64_t *)ctx)++;
    return 0;
}

int rk_handoff_start(rk_node *n)
{
    memset(&n->handoff, 0, sizeof(n->handoff));
    uint64_t count = 0;
    int rc = rk_store_iterate(n->env->store, RK_DB_HINTS, NULL, 0, NULL, 0, handoff_count_one,
                              &count);
    if (rc != 0) {
        return rc;
    }
    n->stats.hints_pending = count;
    rk_handoff_kick(n);
    return 0;
}

void rk_handoff_kick(rk_node *n)
{
    if (n->stats.hints_pending == 0 || n->handoff.timer_set) {
        return;
    }
    n->handoff.timer_set = true;
    uint64_t at_ms = node_now_ms(n) + n->config.handoff_interval_ms;
    n->env->set_timer(n->env->ctx, at_ms, RK_TIMER_HANDOFF);
}

/* ---- the in-flight table: a hint goes out once at a time ------------------------------------ */

static int handoff_inflight_find(const rk_handoff *h, uint64_t hint_id)
{
    for (uint32_t i = 0; i < h->inflight_count; i++) {
        if (h->inflight[i] == hint_id) {
            return (int)i;
        }
    }
    return -1;
}

static void handoff_inflight_add(rk_handoff *h, uint64_t hint_id)
{
    RK_ASSERT(h->inflight_count < RK_HANDOFF_INFLIGHT_MAX);
    RK_ASSERT_SLOW(handoff_inflight_find(h, hint_id) < 0);
    h->inflight[h->inflight_count++] = hint_id;
}

static void handoff_inflight_remove(rk_handoff *h, uint64_t hint_id)
{
    int i = handoff_inflight_find(h, hint_id);
    if (i >= 0) {
        h->inflight[i] = h->inflight[--h->inflight_count];
    }
}

/* ---- sending --------------------------------------------------------------------------------- */

typedef struct handoff_pick {
    const rk_handoff *h;
    uint32_t want;
    uint32_t count;
    uint8_t (*skeys)[RK_SKEY_BYTES_MAX];
    size_t *skey_lens;
    uint64_t *hint_ids;
} handoff_pick;

static int handoff_pick_one(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                            size_t value_len)
{
    handoff_pick *p = ctx;
    if (key_len != RK_HINT_KEY_BYTES || value_len < 1 + RK_SKEY_PREFIX_BYTES ||
        value_len > 1 + RK_SKEY_BYTES_MAX || value[0] != HINT_FORMAT) {
        return 0;   /* not a record this version wrote: left alone, and counted pending */
    }
    uint64_t hint_id = rk_hash_key(key, key_len);
    if (handoff_inflight_find(p->h, hint_id) >= 0) {
        return 0;
    }
    memcpy(p->skeys[p->count], value + 1, value_len - 1);
    p->skey_lens[p->count] = value_len - 1;
    p->hint_ids[p->count] = hint_id;
    p->count++;
    return p->count == p->want ? 1 : 0;
}

/* Delete the hint (owner, skey); with its copy when `drop_copy` (was_live: the copy had a live
 * sibling), in one batch. 0 or a store error. */
static int handoff_delete(rk_node *n, rk_node_id owner, const uint8_t *skey, size_t skey_len,
                          bool drop_copy, bool was_live)
{
    uint8_t key[RK_HINT_KEY_BYTES];
    hint_key(owner, skey, skey_len, key);
    rk_batch_op op = {.kind = RK_BATCH_DEL, .db = RK_DB_HINTS, .key = key, .key_len = sizeof(key)};
    uint64_t seq = 0;
    int rc = 0;
    rk_local_key k;
    if (drop_copy && rk_local_key_from_skey(skey, skey_len, &k) == 0) {
        rc = rk_local_remove(&n->local, &k, was_live, &op, 1, &seq);
    } else {
        rc = rk_local_write_records(&n->local, &op, 1, &seq);
    }
    if (rc != 0) {
        return rc;
    }
    RK_ASSERT(n->stats.hints_pending > 0);
    n->stats.hints_pending--;
    return 0;
}

/* Send this node's copy of `skey` to `owner`. A hint whose copy is gone or unreadable as a key
 * is dropped: there is nothing to hand back. */
static void handoff_send(rk_node *n, rk_node_id owner, const uint8_t *skey, size_t skey_len,
                         uint64_t hint_id)
{
    rk_local_key k;
    rk_buf copy = {0};
    int rc = rk_local_key_from_skey(skey, skey_len, &k);
    if (rc == 0) {
        rc = rk_local_read_raw(&n->local, &k, &copy);
        rc = rc == 0 && copy.len == 0 ? RK_ENOTFOUND : rc;
    }
    if (rc == RK_ENOTFOUND || rc == RK_ECORRUPT) {
        rk_store_buf_free(&copy);
        handoff_delete(n, owner, skey, skey_len, false, false);
        return;
    }
    if (rc != 0) {
        return;
    }
    rk_coord_handoff *c = (rk_coord_handoff *)rk_coord_table_new(&n->coords, RK_COORD_HANDOFF,
                                                                 sizeof(*c));
    if (c == NULL) {
        rk_store_buf_free(&copy);
        return;
    }
    rk_local_key_copy(&k, &c->key);
    c->owner = owner;
    c->hint_id = hint_id;
    c->copy_hash = rk_hash_key(copy.data, copy.len);
    rk_msg m = {.kind = RK_MSG_PUT_REQ,
                .req_id = c->base.id,
                .flags = RK_MSG_PUT_HANDOFF,
                .key = c->key.key,
                .key_len = c->key.key_len,
                .object = copy.data,
                .object_len = copy.len};
    /* A large set goes in chunks that each fit a frame (merge.md, "Large sets"). */
    if (rk_local_set_count(&n->local, &k) < RK_SET_STREAM_MEMBERS_MIN ||
        rk_coord_send_whole_set(n, owner, &c->key, c->base.id, RK_MSG_PUT_HANDOFF, 0) != 0) {
        node_send(n, owner, &m);
    }
    rk_store_buf_free(&copy);
    rk_coord_table_arm(&n->coords, &c->base);
    handoff_inflight_add(&n->handoff, hint_id);
    n->stats.handoff_sent++;
}

/* Send up to p->want of owner's hints (p's arrays hold that many); returns how many went. */
static uint32_t handoff_owner(rk_node *n, rk_node_id owner, handoff_pick *p)
{
    uint8_t start[4];
    uint8_t end[4];
    for (int i = 0; i < 4; i++) {
        start[i] = (uint8_t)(owner >> (24 - 8 * i));
        end[i] = (uint8_t)((owner + 1u) >> (24 - 8 * i));
    }
    p->count = 0;
    /* owner + 1 wraps only for the largest id: then to the end */
    int rc = rk_store_iterate(n->env->store, RK_DB_HINTS, start, sizeof(start),
                              owner == UINT32_MAX ? NULL : end, sizeof(end), handoff_pick_one, p);
    if (rc < 0) {
        n->stats.store_errors++;
        return 0;
    }
    for (uint32_t i = 0; i < p->count; i++) {
        handoff_send(n, owner, p->skeys[i], p->skey_lens[i], p->hint_ids[i]);
    }
    return p->count;
}

/* ---- hints follow their keys (docs/membership.md) ------------------------------------------ */

#define HANDOFF_REPOINT_MAX 1024u

/* Hints whose owner is no member or no primary of the key any more, collected by a scan. */
typedef struct handoff_stale {
    const rk_node *n;
    uint32_t count;
    bool stopped;
    bool skipped;   /* a stale hint was being delivered: the next pass takes it */
    rk_node_id owners[HANDOFF_REPOINT_MAX];
    uint16_t lens[HANDOFF_REPOINT_MAX];
    uint8_t skeys[HANDOFF_REPOINT_MAX][RK_SKEY_BYTES_MAX];
} handoff_stale;

static int handoff_stale_one(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                             size_t value_len)
{
    handoff_stale *s = ctx;
    if (key_len != RK_HINT_KEY_BYTES || value_len < 1 + RK_SKEY_PREFIX_BYTES ||
        value_len > 1 + RK_SKEY_BYTES_MAX || value[0] != HINT_FORMAT) {
        return 0;
    }
    rk_node_id owner = (rk_node_id)key[0] << 24 | (rk_node_id)key[1] << 16 |
                       (rk_node_id)key[2] << 8 | key[3];
    rk_local_key k;
    if (rk_local_key_from_skey(value + 1, value_len - 1, &k) != 0) {
        return 0;
    }
    if (rk_members_find(&s->n->members, owner) != NULL && node_key_primary(s->n, &k, owner)) {
        return 0; /* still the key's owner: delivered as it is */
    }
    if (handoff_inflight_find(&s->n->handoff, rk_hash_key(key, key_len)) >= 0) {
        s->skipped = true; /* its answer deletes it: deleting it here too would count it twice */
        return 0;
    }
    s->owners[s->count] = owner;
    s->lens[s->count] = (uint16_t)(value_len - 1);
    memcpy(s->skeys[s->count], value + 1, value_len - 1);
    s->count++;
    if (s->count == HANDOFF_REPOINT_MAX) {
        s->stopped = true;
        return 1;
    }
    return 0;
}

/* After the ring or the members changed: a hint whose owner left, or no longer owns the key,
 * becomes hints for the key's owners now (none for this node), then goes. */
static void handoff_repoint(rk_node *n)
{
    uint64_t key = n->ring.version ^ (n->members.generation << 32);
    if (n->handoff.repoint_key == key) {
        return;
    }
    handoff_stale *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return;
    }
    s->n = n;
    int rc = rk_store_iterate(n->env->store, RK_DB_HINTS, NULL, 0, NULL, 0, handoff_stale_one, s);
    for (uint32_t i = 0; rc >= 0 && i < s->count; i++) {
        rk_local_key k;
        if (rk_local_key_from_skey(s->skeys[i], s->lens[i], &k) != 0) {
            continue;
        }
        rk_node_id owners[RK_N_MAX];
        uint32_t count = node_primaries(n, &k, owners);
        uint64_t seq = 0;
        for (uint32_t o = 0; rc >= 0 && o < count; o++) {
            if (owners[o] != n->config.id) {
                rc = rk_handoff_hint_owner(n, &k, owners[o], &seq);
            }
        }
        if (rc >= 0) {
            rc = handoff_delete(n, s->owners[i], s->skeys[i], s->lens[i], false, false);
            n->stats.hints_repointed++;
        }
    }
    if (rc >= 0 && !s->stopped && !s->skipped) {
        n->handoff.repoint_key = key;
    }
    free(s);
}

void rk_handoff_on_timer(rk_node *n)
{
    n->handoff.timer_set = false;
    handoff_repoint(n);
    uint64_t per_tick = (uint64_t)n->config.handoff_objects_per_s *
                        n->config.handoff_interval_ms / 1000u;
    uint32_t budget = per_tick == 0 ? 1u : per_tick > UINT32_MAX ? UINT32_MAX : (uint32_t)per_tick;
    uint32_t room = RK_HANDOFF_INFLIGHT_MAX - n->handoff.inflight_count;
    budget = budget < room ? budget : room;
    /* One set of pick arrays for the tick, reused for every owner. */
    handoff_pick p = {.h = &n->handoff};
    if (budget > 0) {
        p.skeys = malloc(budget * sizeof(*p.skeys));
        p.skey_lens = malloc(budget * sizeof(*p.skey_lens));
        p.hint_ids = malloc(budget * sizeof(*p.hint_ids));
    }
    bool allocated = p.skeys != NULL && p.skey_lens != NULL && p.hint_ids != NULL;
    for (uint32_t slot = 0; slot < n->members.slot_end && budget > 0 && allocated; slot++) {
        const rk_member *m = rk_members_at(&n->members, slot);
        rk_node_id owner = m != NULL ? m->addr.id : 0;
        if (owner != 0 && owner != n->config.id && node_member_up(n, owner)) {
            p.want = budget;
            budget -= handoff_owner(n, owner, &p);
        }
    }
    free(p.skeys);
    free(p.skey_lens);
    free(p.hint_ids);
    rk_handoff_kick(n);
}

/* ---- answers ------------------------------------------------------------------------------- */

/* Whether a hint for skey names another owner than `owner`. */
static bool handoff_other_hints(rk_node *n, rk_node_id owner, const uint8_t *skey,
                                size_t skey_len)
{
    for (uint32_t slot = 0; slot < n->members.slot_end; slot++) {
        const rk_member *m = rk_members_at(&n->members, slot);
        rk_node_id other = m != NULL ? m->addr.id : 0;
        if (other == 0 || other == owner || other == n->config.id) {
            continue;
        }
        uint8_t key[RK_HINT_KEY_BYTES];
        hint_key(other, skey, skey_len, key);
        if (hint_lookup(n, key) != RK_ENOTFOUND) {
            return true;    /* found, or unsure: keep the copy */
        }
    }
    return false;
}

void rk_handoff_on_ack(rk_node *n, rk_coord_handoff *c, int status)
{
    handoff_inflight_remove(&n->handoff, c->hint_id);
    rk_buf copy = {0};
    int rc = status == 0 ? rk_local_read_raw(&n->local, &c->key, &copy) : status;
    rc = rc == 0 && copy.len == 0 ? RK_ENOTFOUND : rc;
    if (rc == 0 && rk_hash_key(copy.data, copy.len) != c->copy_hash) {
        n->stats.handoff_resent++;      /* a newer write reached the copy: it goes again */
        rc = RK_EBUSY;
    }
    if (rc == 0) {
        bool drop_copy = !node_is_primary(n, &c->key) &&
                         !handoff_other_hints(n, c->owner, c->key.skey, c->key.skey_len);
        bool was_live = false;
        rk_dvvset set;
        if (drop_copy && rk_dvvset_decode(copy.data, copy.len, &set) == 0) {
            was_live = rk_local_set_live(&set);
            rk_dvvset_deinit(&set);
        }
        if (handoff_delete(n, c->owner, c->key.skey, c->key.skey_len, drop_copy, was_live) ==
            0) {
            n->stats.hints_delivered++;
            n->stats.handoff_dropped_copies += drop_copy ? 1 : 0;
            if (drop_copy) {
                rk_clock_on_handback(&n->clock);    /* its actors' copies are gone */
            }
        }
    }
    rk_store_buf_free(&copy);
    rk_coord_free(n, &c->base);
}

void rk_handoff_on_expire(rk_node *n, rk_coord_handoff *c)
{
    handoff_inflight_remove(&n->handoff, c->hint_id);
    rk_coord_free(n, &c->base);
}

int rk_handoff_hint_owner(rk_node *n, const rk_local_key *k, rk_node_id owner, uint64_t *seq_out)
{
    uint8_t key_buf[RK_HINT_KEY_BYTES];
    uint8_t value_buf[1 + RK_SKEY_BYTES_MAX];
    rk_batch_op op = {0};
    int rc = hint_prepare(n, owner, k, key_buf, value_buf, &op);
    if (rc == 1) {
        rc = rk_local_write_records(&n->local, &op, 1, seq_out);
        if (rc == 0) {
            hint_added(n);
        }
    }
    return rc;
}

void rk_handoff_hint_missed(rk_node *n, const rk_coord_put *c)
{
    for (uint32_t o = 0; o < c->q.owner_count; o++) {
        rk_node_id owner = c->q.owners[o];
        bool covered = owner == n->config.id;
        for (uint32_t i = 0; i < c->q.preflist_count && !covered; i++) {
            bool stored = (c->q.ok_mask & (1u << i)) != 0;
            covered = stored && (c->q.hint_for[i] == owner ||
                                 (c->q.hint_for[i] == 0 && c->q.preflist[i] == owner));
        }
        if (covered) {
            continue;
        }
        uint8_t key_buf[RK_HINT_KEY_BYTES];
        uint8_t value_buf[1 + RK_SKEY_BYTES_MAX];
        rk_batch_op op = {0};
        uint64_t seq = 0;
        if (hint_prepare(n, owner, &c->key, key_buf, value_buf, &op) == 1 &&
            rk_local_write_records(&n->local, &op, 1, &seq) == 0) {
            hint_added(n);
            /* Nobody waits on it, but it must not wait for an unrelated write's sync either: a
             * crash would leave the owner stale until a read came by. */
            n->env->sync(n->env->ctx, seq);
        }
    }
}
