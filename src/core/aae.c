/* aae.c — active anti-entropy (aae.h): building the trees, the exchange's requester side, and
 * the timer. The answering side, the key lists both sides compare and the repair are in
 * aae_keys.c. */
#include "aae.h"

#include <stdlib.h>
#include <string.h>

#include "aae_internal.h"
#include "parts.h"

int rk_aae_start(rk_node *n)
{
    rk_aae *a = &n->aae;
    memset(a, 0, sizeof(*a));
    a->on = n->config.aae_on;
    if (!a->on) {
        return 0;
    }
    uint32_t q = n->ring.partition_count;
    int rc = rk_aae_tree_init(&a->tree, q);
    if (rc != 0) {
        return rc;
    }
    a->rebuild_due_ms = calloc(q, sizeof(*a->rebuild_due_ms));
    a->repair_peers = calloc(q, sizeof(*a->repair_peers));
    a->marks = calloc(a->tree.segment_count, 1);
    a->reap_keys = calloc(RK_AAE_OBJECTS_PER_REQ, sizeof(*a->reap_keys));
    if (a->rebuild_due_ms == NULL || a->repair_peers == NULL || a->marks == NULL ||
        a->reap_keys == NULL) {
        rk_aae_deinit(a);
        return RK_ENOMEM;
    }
    rc = aae_reap_start(n);
    if (rc != 0) {
        rk_aae_deinit(a);
        return rc;
    }
    /* The first exchange waits one interval: trees are built first, one partition a tick. */
    a->next_exchange_ms = node_now_ms(n) + n->config.aae_interval_ms;
    rk_local_set_tree(&n->local, &a->tree);
    aae_arm(n);
    return 0;
}

void rk_aae_deinit(rk_aae *a)
{
    aae_exchange_reset(a);
    if (a->reap_keys != NULL) {
        aae_reap_reset(a);
    }
    free(a->reap_keys);
    free(a->reap_floor);
    free(a->reap_seen);
    a->reap_keys = NULL;
    a->reap_floor = NULL;
    a->reap_seen = NULL;
    rk_aae_tree_deinit(&a->tree);
    free(a->rebuild_due_ms);
    free(a->repair_peers);
    free(a->marks);
    a->rebuild_due_ms = NULL;
    a->repair_peers = NULL;
    a->marks = NULL;
}

void aae_arm(rk_node *n)
{
    if (n->aae.timer_set) {
        return;
    }
    n->aae.timer_set = true;
    n->env->set_timer(n->env->ctx, node_now_ms(n) + RK_AAE_TICK_MS, RK_TIMER_AAE);
}

/* ---- the partitions this node exchanges ------------------------------------------------------ */

uint32_t aae_partition_primaries(const rk_node *n, uint32_t partition, rk_node_id *out)
{
    uint32_t want = n->config.default_n < n->members.count ? n->config.default_n
                                                          : n->members.count;
    uint32_t primaries = 0;
    int count = rk_ring_preflist(&n->ring, partition, want, out, RK_N_MAX, &primaries);
    return count < 0 ? 0 : primaries;
}

/* The other primaries of `partition` into out (their preflist positions into pos); 0 when this
 * node is not one of them. */
static uint32_t aae_peers_of(const rk_node *n, uint32_t partition, rk_node_id *out,
                             uint32_t *pos)
{
    rk_node_id list[RK_N_MAX];
    uint32_t primaries = aae_partition_primaries(n, partition, list);
    bool self = false;
    uint32_t count = 0;
    for (uint32_t i = 0; i < primaries; i++) {
        if (list[i] == n->config.id) {
            self = true;
        } else {
            pos[count] = i;
            out[count++] = list[i];
        }
    }
    return self ? count : 0;
}

/* ---- building -------------------------------------------------------------------------------- */

/* Build (or rebuild) the next partition that needs it: one per tick, so a start-up with many
 * partitions, or their periodic rebuilds, never scan the whole store at once. */
static void aae_build_next(rk_node *n, uint64_t now)
{
    rk_aae *a = &n->aae;
    uint32_t q = a->tree.partition_count;
    for (uint32_t tries = 0; tries < q; tries++) {
        uint32_t p = a->build_cursor;
        a->build_cursor = (a->build_cursor + 1) % q;
        if (rk_aae_tree_built(&a->tree, p) && now < a->rebuild_due_ms[p]) {
            continue;
        }
        if (a->state != RK_AAE_IDLE && a->partition == p) {
            continue;       /* not under a running exchange's feet */
        }
        /* A damaged object it skips is counted when the repair reads it (local.c). */
        int rc = rk_aae_tree_build(&a->tree, n->env->store, p, now, NULL);
        if (rc != 0) {
            n->stats.store_errors++;
            return;
        }
        n->stats.aae_trees_built++;
        /* Spread the next rebuilds over half an interval more, so partitions built together at
         * start-up do not come due together forever. */
        uint64_t span = n->config.aae_rebuild_ms / 2 + 1;
        a->rebuild_due_ms[p] = now + n->config.aae_rebuild_ms +
                               n->env->random(n->env->ctx) % span;
        return;
    }
}

/* ---- the requester side of an exchange ------------------------------------------------------- */

void aae_send_req(rk_node *n, uint32_t level, const uint32_t *indices, uint32_t index_count,
                  const rk_msg_bytes *keys, uint32_t key_count)
{
    rk_aae *a = &n->aae;
    a->req_id++;
    a->deadline_ms = node_now_ms(n) + n->config.request_timeout_ms;
    rk_msg m = {.kind = RK_MSG_AAE_REQ,
                .req_id = a->req_id,
                .partition = a->partition,
                .level = level,
                .indices = indices,
                .index_count = index_count,
                .values = keys,
                .value_count = key_count};
    node_send(n, a->peer, &m);
}

/* The exchange is over (finished, or given up when `failed`). */
void aae_exchange_done(rk_node *n, bool failed)
{
    rk_aae *a = &n->aae;
    if (failed) {
        n->stats.aae_exchanges_failed++;
    } else {
        n->stats.aae_exchanges++;
    }
    uint64_t now = node_now_ms(n);
    /* After one that repaired, exchanges follow each other at once for a while (ten intervals
     * since the last repair), found differences or not: a node that lost its data fills at the
     * pace of requests, not of the interval, even where a peer's exchange got there first. */
    if (a->repaired > 0) {
        a->busy_until_ms = now + 10u * (uint64_t)n->config.aae_interval_ms;
    }
    a->next_exchange_ms = now < a->busy_until_ms ? now : now + n->config.aae_interval_ms;
    aae_exchange_reset(a);
}

static void aae_start(rk_node *n, uint32_t partition, rk_node_id peer, bool repairing)
{
    rk_aae *a = &n->aae;
    RK_ASSERT(a->state == RK_AAE_IDLE);
    a->partition = partition;
    a->peer = peer;
    a->repairing = repairing;
    a->repaired = 0;
    a->state = RK_AAE_WAIT_BRANCHES;
    aae_send_req(n, RK_AAE_BRANCHES, NULL, 0, NULL, 0);
}

/* Start the next exchange RK.REPAIR queued; false when none can start now. */
static bool aae_start_queued(rk_node *n)
{
    rk_aae *a = &n->aae;
    for (uint32_t p = 0; a->repair_pending > 0 && p < a->tree.partition_count; p++) {
        if (a->repair_peers[p] == 0 || !rk_aae_tree_built(&a->tree, p) ||
            a->rebuild_due_ms[p] == 0) {
            continue;   /* rebuilt from the store first (rk_node_aae_repair) */
        }
        rk_node_id peers[RK_N_MAX];
        uint32_t pos[RK_N_MAX];
        uint32_t count = aae_peers_of(n, p, peers, pos);
        for (uint32_t i = 0; i < count; i++) {
            uint8_t bit = (uint8_t)(1u << pos[i]);
            if ((a->repair_peers[p] & bit) == 0 || !node_member_up(n, peers[i])) {
                continue;
            }
            a->repair_peers[p] &= (uint8_t)~bit;
            a->repair_pending--;
            n->stats.aae_repair_pending = a->repair_pending;
            aae_start(n, p, peers[i], true);
            return true;
        }
    }
    return false;
}

/* Start the periodic rotation's next exchange: each partition this node is a primary of, with
 * its other primaries in turn. */
static void aae_start_rotation(rk_node *n)
{
    rk_aae *a = &n->aae;
    uint32_t q = a->tree.partition_count;
    for (uint32_t tries = 0; tries < q; tries++) {
        uint32_t p = a->rotation % q;
        uint32_t round = a->rotation / q;
        a->rotation++;
        rk_node_id peers[RK_N_MAX];
        uint32_t pos[RK_N_MAX];
        uint32_t count = aae_peers_of(n, p, peers, pos);
        if (count == 0 || !rk_aae_tree_built(&a->tree, p)) {
            continue;
        }
        rk_node_id peer = peers[round % count];
        if (node_member_up(n, peer)) {
            aae_start(n, p, peer, false);
            return;
        }
    }
    a->next_exchange_ms = node_now_ms(n) + n->config.aae_interval_ms;
}

void rk_aae_on_timer(rk_node *n)
{
    rk_aae *a = &n->aae;
    a->timer_set = false;
    if (!a->on) {
        return;
    }
    uint64_t now = node_now_ms(n);
    aae_build_next(n, now);
    n->stats.aae_trees_ready = a->tree.built_count;
    if (a->state == RK_AAE_CONFIRM_PAUSE && now >= a->deadline_ms) {
        aae_confirm_send(n);
    } else if (a->state != RK_AAE_IDLE && a->state != RK_AAE_CONFIRM_PAUSE &&
               now >= a->deadline_ms) {
        aae_exchange_done(n, true);     /* the peer is gone or the answer was lost */
    }
    if (a->state == RK_AAE_IDLE && !aae_start_queued(n) && now >= a->next_exchange_ms) {
        aae_start_rotation(n);
    }
    aae_reap_on_tick(n, now);
    aae_arm(n);
}

int rk_node_aae_repair(rk_node *n, bool all, uint32_t partition)
{
    rk_aae *a = &n->aae;
    if (!a->on) {
        return RK_EUNAVAIL;
    }
    if (!all && partition >= a->tree.partition_count) {
        return RK_EINVAL;
    }
    int queued = 0;
    for (uint32_t p = all ? 0 : partition; p < (all ? a->tree.partition_count : partition + 1);
         p++) {
        rk_node_id peers[RK_N_MAX];
        uint32_t pos[RK_N_MAX];
        uint32_t count = aae_peers_of(n, p, peers, pos);
        if (count > 0) {
            /* Rebuilt from the store before the exchange: the rebuild checks every object's
             * checksum, so damage nobody read is found and repaired too. */
            a->rebuild_due_ms[p] = 0;
        }
        for (uint32_t i = 0; i < count; i++) {
            uint8_t bit = (uint8_t)(1u << pos[i]);
            if ((a->repair_peers[p] & bit) == 0) {
                a->repair_peers[p] |= bit;
                a->repair_pending++;
                queued++;
            }
        }
    }
    n->stats.aae_repair_pending = a->repair_pending;
    return queued;
}

/* ---- checks for the simulator ---------------------------------------------------------------- */

bool rk_node_aae_matches_store(rk_node *n)
{
    for (uint32_t p = 0; n->aae.on && p < n->aae.tree.partition_count; p++) {
        if (!rk_aae_tree_matches_store(&n->aae.tree, n->env->store, p)) {
            return false;
        }
    }
    return true;
}

bool rk_node_aae_agrees(const rk_node *n, const rk_node *other, uint32_t partition)
{
    const rk_aae_tree *a = &n->aae.tree;
    const rk_aae_tree *b = &other->aae.tree;
    if (!n->aae.on || !other->aae.on || !rk_aae_tree_built(a, partition) ||
        !rk_aae_tree_built(b, partition) || a->segment_count != b->segment_count) {
        return false;
    }
    return memcmp(a->segments[partition], b->segments[partition],
                  a->segment_count * sizeof(uint64_t)) == 0;
}

int rk_node_test_damage(rk_node *n, const uint8_t *key, size_t key_len)
{
    rk_local_key k;
    int rc = rk_local_key_init(&n->local, key, key_len, &k);
    rk_buf stored = {0};
    if (rc == 0) {
        rc = rk_store_get(n->env->store, RK_DB_DATA, k.skey, k.skey_len, &stored);
    }
    if (rc == 0 && stored.len > 0) {
        stored.data[stored.len / 2] ^= 0x20;    /* inside the object; the checksum is the tail */
        uint64_t seq = 0;
        rc = rk_store_put(n->env->store, RK_DB_DATA, k.skey, k.skey_len, stored.data, stored.len,
                          &seq);
        if (rc == 0) {
            n->env->sync(n->env->ctx, seq);
        }
    }
    rk_store_buf_free(&stored);
    return rc;
}
