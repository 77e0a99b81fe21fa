/* epochs.c — members' epochs and a new store's learning of its own (epochs.h). */
#include "epochs.h"

#include <string.h>

#include "parts.h"

_Static_assert(RK_EPOCH_RECORD_KEY_BYTES == 13u, "prefix and a u32 id");

static void epochs_record_key(rk_node_id id, uint8_t key[RK_EPOCH_RECORD_KEY_BYTES])
{
    size_t prefix_len = sizeof(RK_EPOCH_RECORD_PREFIX) - 1u;
    memcpy(key, RK_EPOCH_RECORD_PREFIX, prefix_len);
    key[prefix_len] = (uint8_t)id;
    key[prefix_len + 1] = (uint8_t)(id >> 8);
    key[prefix_len + 2] = (uint8_t)(id >> 16);
    key[prefix_len + 3] = (uint8_t)(id >> 24);
}

/* The stored record of `id` into *out (0 when absent). 0, RK_ECORRUPT or a store error. */
static int epochs_read_record(const rk_env *env, rk_node_id id, uint64_t *out)
{
    uint8_t key[RK_EPOCH_RECORD_KEY_BYTES];
    epochs_record_key(id, key);
    return rk_local_meta_u64(env, key, sizeof(key), out);
}

static void epochs_arm(rk_node *n, uint64_t at_ms)
{
    rk_epochs *e = &n->epochs;
    if (e->timer_at_ms != 0 && e->timer_at_ms <= at_ms) {
        return;     /* one armed already fires first; it arms the next */
    }
    e->timer_at_ms = at_ms;
    n->env->set_timer(n->env->ctx, at_ms, RK_TIMER_EPOCH);
}

int rk_epochs_start(rk_node *n)
{
    rk_epochs *e = &n->epochs;
    memset(e, 0, sizeof(*e));
    for (uint32_t slot = 0; slot < n->members.slot_end; slot++) {
        const rk_member *m = rk_members_at(&n->members, slot);
        if (m == NULL || m->addr.id == n->config.id) {
            continue;
        }
        int rc = epochs_read_record(n->env, m->addr.id, &e->seen_epoch[slot]);
        if (rc != 0) {
            return rc;
        }
    }
    if (rk_clock_learning(&n->clock)) {
        e->learning = true;
        e->learn_start_ms = node_now_ms(n);
        n->stats.epoch_learning = 1;
        uint32_t first_ms = n->config.epoch_learn_ms_max < RK_EPOCH_ASK_INTERVAL_MS
                                ? n->config.epoch_learn_ms_max
                                : RK_EPOCH_ASK_INTERVAL_MS;
        epochs_arm(n, e->learn_start_ms + first_ms);
    }
    return 0;
}

static void epochs_send(rk_node *n, rk_node_id to)
{
    rk_msg m = {.kind = RK_MSG_EPOCH};
    if (n->epochs.learning) {
        m.flags = RK_MSG_EPOCH_ASK;     /* version 0: not known yet */
    } else {
        m.version = n->clock.epoch;
    }
    node_send(n, to, &m);
}

void rk_epochs_on_peer_up(rk_node *n, rk_node_id peer)
{
    epochs_send(n, peer);
}

/* Record that `from` (at `slot`) announced `epoch`, durably: it is what this node tells `from`
 * if its store is lost. The sync is asked for at once; nothing waits on it. */
static void epochs_record(rk_node *n, int slot, rk_node_id from, uint64_t epoch)
{
    rk_epochs *e = &n->epochs;
    if (epoch <= e->seen_epoch[slot]) {
        return;
    }
    uint8_t key[RK_EPOCH_RECORD_KEY_BYTES];
    uint8_t value[8];
    epochs_record_key(from, key);
    rk_le64_put(value, epoch);
    rk_batch_op op = {.kind = RK_BATCH_PUT,
                      .db = RK_DB_META,
                      .key = key,
                      .key_len = sizeof(key),
                      .value = value,
                      .value_len = sizeof(value)};
    uint64_t seq = 0;
    if (rk_local_write_records(&n->local, &op, 1, &seq) != 0) {
        return;     /* counted by local.c; the next announcement tries again */
    }
    e->seen_epoch[slot] = epoch;
    n->env->sync(n->env->ctx, seq);
}

/* Learning is over: the clock takes its epoch, and every member hears it. */
static void epochs_finish(rk_node *n, bool partial)
{
    rk_epochs *e = &n->epochs;
    if (rk_clock_learned(&n->clock, &n->local, n->env, e->learn_highest) != 0) {
        return;     /* a store error (counted) or epochs exhausted: the timer tries again */
    }
    e->learning = false;
    n->stats.epoch = n->clock.epoch;
    n->stats.epoch_learning = 0;
    n->stats.epoch_learned_partial = partial ? 1 : 0;
    rk_node_id ids[RK_MEMBERS_MAX];
    uint32_t count = rk_members_ids(&n->members, ids);
    for (uint32_t i = 0; i < count; i++) {
        if (ids[i] != n->config.id) {
            epochs_send(n, ids[i]);
        }
    }
}

static void epochs_on_answer(rk_node *n, int slot, uint64_t epoch)
{
    rk_epochs *e = &n->epochs;
    if (!e->learning || e->answered[slot]) {
        return;     /* a duplicated or late answer counts once */
    }
    e->answered[slot] = true;
    e->answered_count++;
    if (epoch > e->learn_highest) {
        e->learn_highest = epoch;
    }
    RK_ASSERT(e->answered_count < n->members.count);
    if (e->answered_count + 1 == n->members.count) {
        epochs_finish(n, false);
    }
}

void rk_epochs_on_message(rk_node *n, rk_node_id from, const rk_msg *m)
{
    int slot = rk_members_slot(&n->members, from);
    if (slot < 0) {
        return;
    }
    if (m->kind == RK_MSG_EPOCH_RESP) {
        epochs_on_answer(n, slot, m->version);
        return;
    }
    RK_ASSERT(m->kind == RK_MSG_EPOCH);
    epochs_record(n, slot, from, m->version);
    if ((m->flags & RK_MSG_EPOCH_ASK) != 0) {
        rk_msg resp = {.kind = RK_MSG_EPOCH_RESP, .version = n->epochs.seen_epoch[slot]};
        node_send(n, from, &resp);
    }
}

void rk_epochs_on_timer(rk_node *n)
{
    rk_epochs *e = &n->epochs;
    uint64_t now_ms = node_now_ms(n);
    if (e->timer_at_ms == 0 || now_ms < e->timer_at_ms) {
        return;     /* a timer of an earlier arming */
    }
    e->timer_at_ms = 0;
    if (!e->learning) {
        return;
    }
    /* Past the bound, this node and the members that answered, a majority, will do. Everyone
     * answered already only when finishing failed (a store error): try again. */
    bool all = e->answered_count + 1 == n->members.count;
    bool majority = 2 * (e->answered_count + 1) > n->members.count;
    if (all || (now_ms - e->learn_start_ms >= n->config.epoch_learn_ms_max && majority)) {
        epochs_finish(n, !all);
    }
    if (!e->learning) {
        return;
    }
    for (uint32_t slot = 0; slot < n->members.slot_end; slot++) {
        const rk_member *mem = rk_members_at(&n->members, slot);
        if (mem != NULL && mem->addr.id != n->config.id && !e->answered[slot]) {
            epochs_send(n, mem->addr.id);
        }
    }
    uint64_t next_ms = now_ms + RK_EPOCH_ASK_INTERVAL_MS;
    uint64_t bound_ms = e->learn_start_ms + n->config.epoch_learn_ms_max;
    epochs_arm(n, bound_ms > now_ms && bound_ms < next_ms ? bound_ms : next_ms);
}

uint64_t rk_epochs_seen(const rk_node *n, rk_node_id id)
{
    int slot = rk_members_slot(&n->members, id);
    return slot >= 0 ? n->epochs.seen_epoch[slot] : 0;
}
