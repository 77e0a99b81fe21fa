/* membership.c — the node's side of the cluster metadata (membership.h): start, mirror, store,
 * gossip, the timer, and the staged changes the RESP commands make (node.h rk_node_cluster_*).
 * Gossip stays quiet in a cluster nobody changed (metadata version 1, what every member
 * bootstraps alike from --members): no timer, no messages, so a static cluster and the
 * simulator's schedules are exactly what they were before membership could change. */
#include "membership.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "parts.h"

static const uint8_t membership_meta_key[] = RK_MEMBERSHIP_META_KEY;
#define MEMBERSHIP_META_KEY_BYTES (sizeof(membership_meta_key) - 1u)

uint32_t rk_membership_n_min(const rk_node *n)
{
    uint32_t n_min = n->buckets.defaults.n;
    for (uint32_t i = 0; i < n->buckets.count; i++) {
        uint32_t bn = n->buckets.entries[i].props.n;
        n_min = bn < n_min ? bn : n_min;
    }
    return n_min == 0 ? 1 : n_min;
}

uint32_t rk_membership_n_max(const rk_node *n)
{
    uint32_t n_max = n->buckets.defaults.n;
    for (uint32_t i = 0; i < n->buckets.count; i++) {
        uint32_t bn = n->buckets.entries[i].props.n;
        n_max = bn > n_max ? bn : n_max;
    }
    return n_max == 0 ? 1 : n_max;
}

/* Encode the metadata into a fresh buffer (free it). */
static int membership_encode(const rk_node *n, uint8_t **out, size_t *len_out)
{
    size_t size = rk_cluster_encoded_bytes(&n->cluster);
    uint8_t *buf = malloc(size);
    if (buf == NULL) {
        return RK_ENOMEM;
    }
    int len = rk_cluster_encode(&n->cluster, buf, size);
    if (len < 0) {
        free(buf);
        return len;
    }
    *out = buf;
    *len_out = (size_t)len;
    return 0;
}

/* The member table and the serving ring follow the metadata. */
static void membership_mirror(rk_node *n)
{
    const rk_cluster_meta *meta = &n->cluster;
    for (uint32_t slot = 0; slot < n->members.slot_end; slot++) {
        const rk_member *m = rk_members_at(&n->members, slot);
        if (m == NULL || m->addr.id == n->config.id) {
            continue;
        }
        const rk_cmember *cm = rk_cluster_member(meta, m->addr.id);
        if (cm == NULL || memcmp(&cm->addr, &m->addr, sizeof(m->addr)) != 0) {
            (void)rk_members_remove(&n->members, m->addr.id);
        }
    }
    for (uint32_t i = 0; i < meta->member_count; i++) {
        const rk_member_addr *addr = &meta->members[i].addr;
        if (rk_members_find(&n->members, addr->id) == NULL) {
            (void)rk_members_add(&n->members, addr);
        }
    }
    if (n->ring.version != meta->ring.version ||
        n->ring.member_count != meta->ring.member_count ||
        n->ring.zone_count != meta->ring.zone_count ||
        memcmp(n->ring.zone, meta->ring.zone, sizeof(n->ring.zone)) != 0 ||
        memcmp(n->ring.owner_index, meta->ring.owner_index, meta->ring.partition_count) != 0) {
        n->ring = meta->ring;
    }
    (void)rk_cluster_saw(&n->cluster, n->config.id, n->ring.version);
    n->stats.ring_version = n->ring.version;
    n->stats.cluster_members = meta->member_count;
}

static void membership_persist(rk_node *n)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (membership_encode(n, &bytes, &len) != 0) {
        n->stats.store_errors++;
        return;
    }
    rk_batch_op op = {.kind = RK_BATCH_PUT,
                      .db = RK_DB_META,
                      .key = membership_meta_key,
                      .key_len = MEMBERSHIP_META_KEY_BYTES,
                      .value = bytes,
                      .value_len = len};
    uint64_t seq = 0;
    if (rk_local_write_records(&n->local, &op, 1, &seq) == 0) {
        n->env->sync(n->env->ctx, seq);
    }
    free(bytes);
}

static void membership_send(rk_node *n, const rk_node_id *to, uint32_t count, uint32_t flags)
{
    if (count == 0) {
        return;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (membership_encode(n, &bytes, &len) != 0) {
        return;
    }
    rk_msg m = {.kind = RK_MSG_CLUSTER, .flags = flags, .object = bytes, .object_len = len};
    node_send_many(n, to, count, &m);
    n->membership.gossip_sent += count;
    free(bytes);
}

/* Every other member of the table that is up. */
static uint32_t membership_peers_up(const rk_node *n, rk_node_id *out)
{
    rk_node_id ids[RK_MEMBERS_MAX];
    uint32_t count = rk_members_ids(&n->members, ids);
    uint32_t up = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (ids[i] != n->config.id && node_member_up(n, ids[i])) {
            out[up++] = ids[i];
        }
    }
    return up;
}

static void membership_arm(rk_node *n)
{
    if (n->cluster.version <= 1) {
        return; /* nothing ever changed: nothing to gossip */
    }
    uint64_t now = node_now_ms(n);
    uint64_t at = now + (rk_transfer_busy(n) ? RK_MEMBERSHIP_TICK_MS : RK_MEMBERSHIP_GOSSIP_MS);
    if (n->membership.timer_set && n->membership.timer_at_ms <= at) {
        return;
    }
    n->membership.timer_set = true;
    n->membership.timer_at_ms = at;
    n->env->set_timer(n->env->ctx, at, RK_TIMER_CLUSTER);
}

void rk_membership_changed(rk_node *n)
{
    membership_mirror(n);
    membership_persist(n);
    rk_node_id to[RK_MEMBERS_MAX];
    membership_send(n, to, membership_peers_up(n, to), 0);
    membership_arm(n);
}

int rk_membership_start(rk_node *n)
{
    const rk_node_config *config = &n->config;
    rk_members_init(&n->members, config->id, config->request_timeout_ms);
    rk_buf stored = {0};
    int rc = rk_store_get(n->env->store, RK_DB_META, membership_meta_key,
                          MEMBERSHIP_META_KEY_BYTES, &stored);
    bool loaded = false;
    if (rc == 0) {
        rc = rk_cluster_decode(&n->cluster, stored.data, stored.len);
        loaded = rc == 0 && n->cluster.ring.partition_count == config->partition_count &&
                 rk_cluster_member(&n->cluster, config->id) != NULL;
        if (rc == 0 && !loaded) {
            rk_cluster_meta_deinit(&n->cluster);
        }
        rk_store_buf_free(&stored);
    }
    if (rc != 0 && rc != RK_ENOTFOUND && rc != RK_ECORRUPT) {
        return rc;
    }
    if (!loaded) {
        rc = rk_cluster_bootstrap(&n->cluster,
                                  rk_cluster_id_of(config->members, config->member_count),
                                  config->partition_count, config->members, config->member_count,
                                  config->default_n);
        if (rc != 0) {
            return rc;
        }
    }
    n->stats.cluster_loaded = loaded ? 1 : 0;
    rk_members_add(&n->members, &rk_cluster_member(&n->cluster, config->id)->addr);
    membership_mirror(n);
    return 0;
}

/* Called once the rest of the node is up (the store and the durability queue). */
void rk_membership_ready(rk_node *n)
{
    if (n->stats.cluster_loaded == 0) {
        return; /* bootstrapped: every member derives the same, nothing to store yet */
    }
    membership_arm(n);
}

void rk_membership_on_message(rk_node *n, rk_node_id from, const rk_msg *m)
{
    if (m->kind != RK_MSG_CLUSTER) {
        return;
    }
    /* Converged copies are the same bytes (the merge is a join, the codec canonical): then there
     * is nothing to decode, merge or answer. */
    uint8_t *mine = NULL;
    size_t mine_len = 0;
    if (membership_encode(n, &mine, &mine_len) == 0) {
        bool same = mine_len == m->object_len && memcmp(mine, m->object, mine_len) == 0;
        free(mine);
        if (same) {
            return;
        }
    }
    rk_cluster_meta *theirs = malloc(sizeof(*theirs));
    if (theirs == NULL) {
        return;
    }
    if (rk_cluster_decode(theirs, m->object, m->object_len) != 0) {
        free(theirs);
        return;
    }
    int rc = rk_cluster_merge(&n->cluster, theirs);
    rk_cluster_meta_deinit(theirs);
    free(theirs);
    if (rc < 0) {
        return; /* another cluster's, or out of memory */
    }
    if (rc == 1) {
        n->membership.gossip_merged++;
        rk_membership_changed(n);
    }
    if ((m->flags & RK_MSG_CLUSTER_REPLY) != 0) {
        return;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (membership_encode(n, &bytes, &len) == 0) {
        bool same = len == m->object_len && memcmp(bytes, m->object, len) == 0;
        free(bytes);
        if (!same) {
            membership_send(n, &from, 1, RK_MSG_CLUSTER_REPLY);
        }
    }
}

void rk_membership_on_timer(rk_node *n)
{
    n->membership.timer_set = false;
    uint64_t now = node_now_ms(n);
    if (now >= n->membership.gossip_at_ms) {
        n->membership.gossip_at_ms = now + RK_MEMBERSHIP_GOSSIP_MS;
        rk_node_id up[RK_MEMBERS_MAX];
        uint32_t count = membership_peers_up(n, up);
        if (count > 0) {
            rk_node_id to = up[n->env->random(n->env->ctx) % count];
            membership_send(n, &to, 1, 0);
        }
    }
    rk_transfer_tick(n);
    membership_arm(n);
}

void rk_membership_on_peer_up(rk_node *n, rk_node_id peer)
{
    if (n->cluster.version > 1) {
        membership_send(n, &peer, 1, 0);
    }
}

/* ---- the RESP commands' side (node.h) ------------------------------------------------------- */

const rk_cluster_meta *rk_node_cluster(const rk_node *n)
{
    return &n->cluster;
}

uint32_t rk_node_cluster_n_max(const rk_node *n)
{
    return rk_membership_n_max(n);
}

void rk_node_transfer_limit(rk_node *n, uint32_t objects_per_s)
{
    n->transfer.objects_per_s = objects_per_s;
}

int rk_node_cluster_encode(const rk_node *n, uint8_t **out, size_t *len_out)
{
    return membership_encode(n, out, len_out);
}

int rk_node_cluster_stage_join(rk_node *n, const rk_member_addr *addr, char *message,
                               size_t message_bytes)
{
    int rc = rk_cluster_stage_join(&n->cluster, n->config.id, addr, message, message_bytes);
    if (rc == 0) {
        rk_membership_changed(n);
    }
    return rc;
}

int rk_node_cluster_adopt(rk_node *n, const uint8_t *bytes, size_t len, char *message,
                          size_t message_bytes)
{
    if (n->cluster.member_count > 1) {
        snprintf(message, message_bytes, "node %u is already a member of a cluster of %u nodes",
                 n->config.id, n->cluster.member_count);
        return RK_EINVAL;
    }
    if (n->stats.keys_live > 0 || n->stats.hints_pending > 0) {
        snprintf(message, message_bytes,
                 "node %u holds %llu keys; only an empty node can join", n->config.id,
                 (unsigned long long)n->stats.keys_live);
        return RK_EINVAL;
    }
    rk_cluster_meta *theirs = malloc(sizeof(*theirs));
    if (theirs == NULL) {
        return RK_ENOMEM;
    }
    int rc = rk_cluster_decode(theirs, bytes, len);
    if (rc != 0) {
        free(theirs);
        snprintf(message, message_bytes, "the cluster metadata does not decode: %s",
                 rk_strerror(rc));
        return rc;
    }
    const rk_cmember *me = rk_cluster_member(theirs, n->config.id);
    if (me == NULL || me->state != RK_CMEMBER_JOINING ||
        theirs->ring.partition_count != n->config.partition_count) {
        snprintf(message, message_bytes,
                 me == NULL ? "the metadata does not name node %u as joining"
                            : "the cluster's ring has %u partitions, this node %u",
                 me == NULL ? n->config.id : theirs->ring.partition_count,
                 n->config.partition_count);
        rk_cluster_meta_deinit(theirs);
        free(theirs);
        return RK_EINVAL;
    }
    rk_cluster_meta_deinit(&n->cluster);
    memcpy(&n->cluster, theirs, sizeof(*theirs));
    free(theirs); /* its units and bitmap now belong to n->cluster */
    rk_membership_changed(n);
    return 0;
}

int rk_node_cluster_leave(rk_node *n, rk_node_id id, bool force, char *message,
                          size_t message_bytes)
{
    int rc = rk_cluster_stage_leave(&n->cluster, n->config.id, id == 0 ? n->config.id : id,
                                    force, message, message_bytes);
    if (rc == 0) {
        rk_membership_changed(n);
    }
    return rc;
}

void rk_node_cluster_clear(rk_node *n)
{
    rk_cluster_stage_clear(&n->cluster, n->config.id);
    rk_membership_changed(n);
}

int rk_node_cluster_commit(rk_node *n, char *message, size_t message_bytes)
{
    int rc = rk_cluster_commit(&n->cluster, n->config.id, rk_membership_n_max(n), message,
                               message_bytes);
    if (rc == 0) {
        if (n->cluster.moving) {
            snprintf(message, message_bytes, "plan %llu committed: %u transfers",
                     (unsigned long long)n->cluster.plan, n->cluster.unit_count);
        } else {
            snprintf(message, message_bytes, "plan %llu committed: nothing to transfer",
                     (unsigned long long)n->cluster.plan);
        }
        rk_membership_changed(n);
    }
    return rc;
}
