/* transfer_serve.c — the other half of ownership transfer (transfer.h): serving batches as a
 * source, sending writes on to a moving plan's new owners (the coordinator's and the replica's
 * side), the cleanup after a flip, a leaver's last step, and the periodic tick. */
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "membership.h"
#include "parts.h"
#include "setrows.h"
#include "skey.h"
#include "transfer.h"

/* The primaries of `k` in `ring` for its bucket's n (capped at the ring's members). */
static uint32_t transfer_primaries(const rk_node *n, const rk_ring *ring, const rk_local_key *k,
                                   rk_node_id out[RK_N_MAX])
{
    if (ring->member_count == 0) {
        return 0;
    }
    const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, k->key, k->key_len);
    uint32_t nn = props->n < ring->member_count ? props->n : ring->member_count;
    uint32_t primaries = 0;
    if (rk_ring_preflist(ring, k->partition, nn, out, RK_N_MAX, &primaries) < 0) {
        return 0;
    }
    return primaries;
}

static bool transfer_listed(const rk_node_id *list, uint32_t count, rk_node_id id)
{
    for (uint32_t i = 0; i < count; i++) {
        if (list[i] == id) {
            return true;
        }
    }
    return false;
}

/* Send `bytes` for `k` as a repair nobody waits on to each of `to` (count). */
static void transfer_send_object(rk_node *n, const rk_local_key *k, const rk_node_id *to,
                                 uint32_t count, const uint8_t *bytes, size_t len)
{
    if (count == 0) {
        return;
    }
    rk_msg m = {.kind = RK_MSG_PUT_REQ,
                .flags = RK_MSG_PUT_REPAIR | RK_MSG_PUT_PLANNED,
                .key = k->key,
                .key_len = k->key_len,
                .object = bytes,
                .object_len = len};
    node_send_many(n, to, count, &m);
    n->stats.transfer_forwards += count;
}

void rk_transfer_send_planned(rk_node *n, const rk_local_key *k, const rk_node_id *sent,
                              uint32_t sent_count, const uint8_t *bytes, size_t len)
{
    if (!n->cluster.moving) {
        return;
    }
    rk_node_id next[RK_N_MAX];
    uint32_t count = transfer_primaries(n, &n->cluster.next, k, next);
    rk_node_id to[RK_N_MAX];
    uint32_t to_count = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (next[i] != n->config.id && !transfer_listed(sent, sent_count, next[i]) &&
            node_member_up(n, next[i])) {
            to[to_count++] = next[i];
        }
    }
    transfer_send_object(n, k, to, to_count, bytes, len);
}

bool rk_transfer_next_primary(const rk_node *n, const rk_local_key *k)
{
    if (!n->cluster.moving) {
        return false;
    }
    rk_node_id next[RK_N_MAX];
    uint32_t count = transfer_primaries(n, &n->cluster.next, k, next);
    return transfer_listed(next, count, n->config.id);
}

void rk_transfer_forward(rk_node *n, const rk_local_key *k, const uint8_t *bytes, size_t len)
{
    if (!n->cluster.moving && n->cluster.plan == 0) {
        return; /* the ring never changed: no coordinator can hold an older one */
    }
    rk_node_id now[RK_N_MAX];
    uint32_t now_count = transfer_primaries(n, &n->ring, k, now);
    bool owner = transfer_listed(now, now_count, n->config.id);
    rk_node_id to[2 * RK_N_MAX];
    uint32_t to_count = 0;
    if (!owner && !rk_transfer_next_primary(n, k)) {
        /* A coordinator on an older ring wrote here, after this node's cleanup maybe: hints for
         * the key's owners now, so handoff delivers it (acknowledged) and deletes this copy. */
        uint64_t seq = 0;
        for (uint32_t i = 0; i < now_count; i++) {
            if (now[i] != n->config.id && rk_handoff_hint_owner(n, k, now[i], &seq) != 0) {
                break; /* a store error (counted): the owners still get the repair below */
            }
        }
        if (seq > 0) {
            n->env->sync(n->env->ctx, seq);
        }
        for (uint32_t i = 0; i < now_count; i++) {
            if (node_member_up(n, now[i])) {
                to[to_count++] = now[i];
            }
        }
    }
    if (n->cluster.moving) {
        rk_node_id next[RK_N_MAX];
        uint32_t next_count = transfer_primaries(n, &n->cluster.next, k, next);
        for (uint32_t i = 0; i < next_count; i++) {
            if (next[i] != n->config.id && !transfer_listed(now, now_count, next[i]) &&
                !transfer_listed(to, to_count, next[i]) && node_member_up(n, next[i])) {
                to[to_count++] = next[i];
            }
        }
    }
    transfer_send_object(n, k, to, to_count, bytes, len);
}

/* ---- the source ----------------------------------------------------------------------------- */

typedef struct transfer_batch {
    uint32_t want;
    uint32_t count;
    size_t bytes;
    bool stopped;
    rk_msg_bytes keys[RK_TRANSFER_BATCH_OBJECTS];
    rk_msg_bytes objects[RK_TRANSFER_BATCH_OBJECTS];
    bool whole_set;     /* the last object is a set's head: read whole after the scan */
} transfer_batch;

static int transfer_batch_add(void *ctx, const uint8_t *key, size_t key_len,
                              const uint8_t *value, size_t value_len)
{
    transfer_batch *b = ctx;
    uint32_t partition = 0;
    const uint8_t *user_key = NULL;
    size_t user_key_len = 0;
    if (rk_skey_decode(key, key_len, &partition, &user_key, &user_key_len) != 0) {
        return 0; /* not a storage key: skip */
    }
    bool head = rk_setrows_is_head(value, value_len);
    if (b->count > 0 && (head || b->bytes + value_len > RK_TRANSFER_BATCH_BYTES)) {
        /* The next batch starts with it: a batch is one object or at most 1 MiB, so it always
         * fits a frame (max-value-bytes plus the frame's slack). */
        b->stopped = true;
        return 1;
    }
    uint8_t *k = malloc(user_key_len + 1);
    uint8_t *v = malloc(value_len + 1);
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return RK_ENOMEM;
    }
    memcpy(k, user_key, user_key_len);
    memcpy(v, value, value_len);
    b->keys[b->count] = (rk_msg_bytes){.len = user_key_len, .data = k};
    b->objects[b->count] = (rk_msg_bytes){.len = value_len, .data = v};
    b->count++;
    b->bytes += value_len;
    if (head) {
        /* A set stored by element goes alone, read whole once the scan is over (its rows are
         * read through the store, which a scan's callback may not do at length). */
        b->whole_set = true;
        b->stopped = true;
        return 1;
    }
    if (b->count >= b->want) {
        b->stopped = true;
        return 1;
    }
    return 0;
}

/* Replace the batch's last object, a set's head, by the whole set. */
static int transfer_batch_whole_set(rk_node *n, transfer_batch *b)
{
    rk_msg_bytes *key = &b->keys[b->count - 1];
    rk_msg_bytes *object = &b->objects[b->count - 1];
    rk_local_key k;
    rk_buf whole = {0};
    int rc = rk_local_key_init(&n->local, key->data, key->len, &k);
    if (rc == 0) {
        rc = rk_local_read_raw(&n->local, &k, &whole);
    }
    if (rc != 0) {
        return rc;
    }
    b->bytes += whole.len - object->len;
    free((void *)(uintptr_t)object->data);
    object->data = whole.data;     /* malloc'd: freed with the batch */
    object->len = whole.len;
    return 0;
}

static void transfer_batch_free(transfer_batch *b)
{
    for (uint32_t i = 0; i < b->count; i++) {
        free((void *)(uintptr_t)b->keys[i].data);
        free((void *)(uintptr_t)b->objects[i].data);
    }
}

void rk_transfer_on_req(rk_node *n, rk_node_id from, const rk_msg *m)
{
    rk_msg resp = {.kind = RK_MSG_AAE_RESP,
                   .req_id = m->req_id,
                   .partition = m->partition,
                   .level = RK_AAE_RANGE};
    if (m->partition >= n->ring.partition_count || m->hash_count < 1 || m->index_count < 1 ||
        m->value_count > 1) {
        resp.status = RK_EINVAL;
        node_send(n, from, &resp);
        return;
    }
    if (m->hashes[0] > n->cluster.plan) {
        resp.status = RK_EBUSY; /* this node has not heard of that plan yet */
        node_send(n, from, &resp);
        return;
    }
    transfer_batch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        resp.status = RK_ENOMEM;
        node_send(n, from, &resp);
        return;
    }
    b->want = m->indices[0] == 0 ? 1u : m->indices[0];
    b->want = b->want > RK_TRANSFER_BATCH_OBJECTS ? RK_TRANSFER_BATCH_OBJECTS : b->want;
    uint8_t start[RK_SKEY_BYTES_MAX + 1];
    size_t start_len = 2;
    uint8_t end[2];
    rk_skey_partition_range(m->partition, start, end);
    int rc = 0;
    if (m->value_count == 1) {
        rc = rk_skey_encode(m->partition, m->values[0].data, m->values[0].len, start);
        if (rc >= 0) {
            start[rc] = 0; /* the first key after the cursor */
            start_len = (size_t)rc + 1;
            rc = 0;
        }
    }
    if (rc == 0) {
        bool last_partition = m->partition == RK_RING_PARTITIONS_MAX - 1u;
        rc = rk_store_iterate(n->env->store, RK_DB_DATA, start, start_len,
                              last_partition ? NULL : end, last_partition ? 0 : sizeof(end),
                              transfer_batch_add, b);
        rc = rc > 0 ? 0 : rc;
    }
    if (rc == 0 && b->whole_set) {
        rc = transfer_batch_whole_set(n, b);
    }
    uint32_t done = rc == 0 && !b->stopped ? 1u : 0u;
    resp.status = rc;
    if (rc == 0) {
        resp.values = b->keys;
        resp.value_count = b->count;
        resp.objects = b->objects;
        resp.object_count = b->count;
        resp.indices = &done;
        resp.index_count = 1;
        n->stats.transfer_keys_sent += b->count;
        n->stats.transfer_bytes_sent += b->bytes;
    }
    node_send(n, from, &resp);
    transfer_batch_free(b);
    free(b);
}

/* ---- after the flip ------------------------------------------------------------------------- */

#define TRANSFER_SCAN_KEYS 1024u

typedef struct transfer_scan {
    uint32_t count;
    bool stopped;
    uint16_t lens[TRANSFER_SCAN_KEYS];
    uint8_t skeys[TRANSFER_SCAN_KEYS][RK_SKEY_BYTES_MAX];
} transfer_scan;

static int transfer_scan_add(void *ctx, const uint8_t *key, size_t key_len,
                             const uint8_t *value, size_t value_len)
{
    (void)value;
    (void)value_len;
    transfer_scan *s = ctx;
    if (key_len > RK_SKEY_BYTES_MAX) {
        return 0;
    }
    memcpy(s->skeys[s->count], key, key_len);
    s->lens[s->count] = (uint16_t)key_len;
    s->count++;
    if (s->count == TRANSFER_SCAN_KEYS) {
        s->stopped = true;
        return 1;
    }
    return 0;
}

/* Hand one key this node no longer owns to its owners: hint records, which handoff delivers
 * (acknowledged) and then removes the copy with its last. */
static int transfer_cleanup_key(rk_node *n, const uint8_t *skey, size_t skey_len)
{
    rk_local_key k;
    if (rk_local_key_from_skey(skey, skey_len, &k) != 0) {
        return 0;
    }
    rk_node_id owners[RK_N_MAX];
    uint32_t count = transfer_primaries(n, &n->ring, &k, owners);
    if (count == 0 || transfer_listed(owners, count, n->config.id)) {
        return 0;
    }
    uint64_t seq = 0;
    for (uint32_t i = 0; i < count; i++) {
        int rc = rk_handoff_hint_owner(n, &k, owners[i], &seq);
        if (rc != 0) {
            return rc;
        }
    }
    n->stats.cleanup_keys++;
    n->transfer.cleanup_keys++;
    if (seq > 0) {
        n->env->sync(n->env->ctx, seq);
    }
    return 0;
}

/* Every member holds the serving ring. */
static bool transfer_ring_everywhere(const rk_node *n)
{
    const rk_cluster_meta *m = &n->cluster;
    for (uint32_t i = 0; i < m->member_count; i++) {
        if (m->members[i].seen_ring < m->ring.version) {
            return false;
        }
    }
    return true;
}

/* After a flip: once every member holds the ring and a request timeout passed (what was in
 * flight drained), hand what this node no longer owns to its owners, a slice per tick. */
static void transfer_cleanup(rk_node *n, uint64_t now)
{
    rk_transfer *t = &n->transfer;
    if (n->cluster.moving || t->cleanup_ring == n->ring.version || !transfer_ring_everywhere(n)) {
        return;
    }
    if (t->cleanup_at_ms == 0) {
        t->cleanup_at_ms = now + n->config.request_timeout_ms;
        t->cleanup_cursor_len = 0;
        return;
    }
    if (now < t->cleanup_at_ms) {
        return;
    }
    /* Before the first copy is handed off (and later deleted), every later dot goes above the
     * ones minted so far: a key coordinated here again without its copy must not get one of
     * its old dots (the simulator found it). Once per ring this node cleans up. */
    if (t->cleanup_cursor_len == 0 && t->cleanup_bumped != n->ring.version) {
        if (!rk_clock_bump(&n->clock, &n->local, n->env, rk_durable_seq(&n->durable))) {
            return;
        }
        t->cleanup_bumped = n->ring.version;
        n->stats.epoch = n->clock.epoch;
    }
    transfer_scan *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return;
    }
    int rc = rk_store_iterate(n->env->store, RK_DB_DATA,
                              t->cleanup_cursor_len > 0 ? t->cleanup_cursor : NULL,
                              t->cleanup_cursor_len, NULL, 0, transfer_scan_add, s);
    rc = rc > 0 ? 0 : rc;
    for (uint32_t i = 0; rc == 0 && i < s->count; i++) {
        rc = transfer_cleanup_key(n, s->skeys[i], s->lens[i]);
    }
    if (rc == 0 && s->count > 0) {
        memcpy(t->cleanup_cursor, s->skeys[s->count - 1], s->lens[s->count - 1]);
        t->cleanup_cursor[s->lens[s->count - 1]] = 0; /* the next key after it */
        t->cleanup_cursor_len = (uint16_t)(s->lens[s->count - 1] + 1u);
    }
    if (rc == 0 && !s->stopped) {
        t->cleanup_ring = n->ring.version;
        t->cleanup_at_ms = 0;
    }
    free(s);
}

/* A leaver that owns nothing, handed everything off and holds no hint: it is gone. */
static void transfer_leaver_done(rk_node *n)
{
    const rk_cmember *me = rk_cluster_member(&n->cluster, n->config.id);
    if (me == NULL || me->state != RK_CMEMBER_LEAVING || n->cluster.moving ||
        rk_ring_owned_count(&n->ring, n->config.id) > 0 ||
        n->transfer.cleanup_ring != n->ring.version || n->stats.hints_pending > 0) {
        return;
    }
    rk_cluster_member_left(&n->cluster, n->config.id);
    rk_membership_changed(n);
}

bool rk_transfer_busy(const rk_node *n)
{
    if (n->cluster.moving) {
        return true;
    }
    if (n->transfer.cleanup_ring != n->ring.version) {
        return true;
    }
    const rk_cmember *me = rk_cluster_member(&n->cluster, n->config.id);
    return me != NULL && me->state == RK_CMEMBER_LEAVING;
}

void rk_transfer_tick(rk_node *n)
{
    uint64_t now = node_now_ms(n);
    rk_transfer *t = &n->transfer;
    if (n->cluster.moving) {
        rk_transfer_rebuild(n);
        rk_transfer_refill(n, now);
        rk_transfer_step(n, now);
        if (rk_cluster_flip(&n->cluster)) {
            rk_membership_changed(n);
        }
    } else {
        rk_transfer_rebuild(n);
        transfer_cleanup(n, now);
        transfer_leaver_done(n);
    }
    n->stats.transfers_pending = rk_transfer_pending(n);
    (void)t;
}
