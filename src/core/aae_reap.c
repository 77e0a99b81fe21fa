/* aae_reap.c — tombstone reaping (aae.h, docs/cluster.md "Tombstones"): a deleted key's
 * tombstone is removed only when it is safe to forget it. A reap pass takes one partition this
 * node is a primary of and collects its tombstones older than the grace delay; it then asks
 * every other member whether it holds each of them (the same object), a different object, or
 * none, and whether it holds any hint or sees any member down. Only if every member answered,
 * none holds a hint or sees a member down, and for a key no member holds anything but that same
 * tombstone, the key is reaped: every member holding it is told to remove it, and this node
 * removes its own. A removal folds the highest counter this node's id has in the tombstone's
 * history into the partition's durable dot floor, in the same store batch, and every later dot
 * this node mints for a key of the partition is above it: a re-created key never gets the dot
 * of its first life (which a late copy may still carry).
 *
 * A member that missed the order to remove keeps its tombstone; its own pass reaps it later
 * (the others then answer "none"). Exchanges never copy an expired tombstone to a node that has
 * nothing for the key, nor fetch one (aae_keys.c), so reaped keys are not copied back. */
#include <stdlib.h>
#include <string.h>

#include "aae_internal.h"
#include "parts.h"

#define REAP_FLOOR_PREFIX "reap-floor:"
#define REAP_FLOOR_PREFIX_BYTES 11u
#define REAP_FLOOR_KEY_BYTES (REAP_FLOOR_PREFIX_BYTES + 2u)

enum { REAP_DIFFERENT = 0, REAP_SAME = 1, REAP_NONE = 2 };

/* ---- the dot floor --------------------------------------------------------------------------- */

static void reap_floor_key(uint32_t partition, uint8_t out[REAP_FLOOR_KEY_BYTES])
{
    memcpy(out, REAP_FLOOR_PREFIX, REAP_FLOOR_PREFIX_BYTES);
    out[REAP_FLOOR_PREFIX_BYTES] = (uint8_t)(partition >> 8);
    out[REAP_FLOOR_PREFIX_BYTES + 1] = (uint8_t)partition;
}

static int reap_floor_load_one(void *ctx, const uint8_t *key, size_t key_len,
                               const uint8_t *value, size_t value_len)
{
    rk_aae *a = ctx;
    if (key_len != REAP_FLOOR_KEY_BYTES ||
        memcmp(key, REAP_FLOOR_PREFIX, REAP_FLOOR_PREFIX_BYTES) != 0) {
        return 1;   /* past the prefix */
    }
    uint32_t p = ((uint32_t)key[REAP_FLOOR_PREFIX_BYTES] << 8) | key[REAP_FLOOR_PREFIX_BYTES + 1];
    if (value_len != 8 || p >= a->tree.partition_count) {
        return RK_ECORRUPT;
    }
    a->reap_floor[p] = rk_le64_get(value);
    return 0;
}

int aae_reap_start(rk_node *n)
{
    rk_aae *a = &n->aae;
    uint32_t q = a->tree.partition_count;
    a->reap_floor = calloc(q, sizeof(*a->reap_floor));
    a->reap_seen = calloc(q, sizeof(*a->reap_seen));
    if (a->reap_floor == NULL || a->reap_seen == NULL) {
        return RK_ENOMEM;
    }
    a->reap_next_ms = node_now_ms(n) + n->config.aae_interval_ms;
    const uint8_t *prefix = (const uint8_t *)REAP_FLOOR_PREFIX;
    return rk_store_iterate(n->env->store, RK_DB_META, prefix, REAP_FLOOR_PREFIX_BYTES, NULL, 0,
                            reap_floor_load_one, a);
}

uint64_t rk_aae_reap_floor(const rk_node *n, uint32_t partition)
{
    const rk_aae *a = &n->aae;
    return a->reap_floor != NULL && partition < a->tree.partition_count
               ? a->reap_floor[partition]
               : 0;
}

/* ---- what a tombstone is --------------------------------------------------------------------- */

bool aae_tombstone_expired(const rk_node *n, const uint8_t *bytes, size_t len)
{
    uint64_t grace_ms = n->config.tombstone_grace_ms;
    rk_dvvset set;
    if (grace_ms == 0 || len == 0 || rk_dvvset_decode_view(bytes, len, &set) != 0) {
        return false;
    }
    bool expired = set.sibling_count > 0;
    uint64_t stamp_us = 0;
    for (uint32_t i = 0; i < set.sibling_count; i++) {
        expired = expired && set.siblings[i].tombstone;
        stamp_us = set.siblings[i].timestamp_us > stamp_us ? set.siblings[i].timestamp_us
                                                           : stamp_us;
    }
    rk_dvvset_deinit(&set);
    uint64_t now_us = n->env->wall_us(n->env->ctx);
    return expired && now_us > stamp_us && now_us - stamp_us >= grace_ms * 1000u;
}

/* Remove this node's copy of `k` (`bytes`, an expired tombstone), folding its own counter into
 * the partition's dot floor in the same batch. 0 or an error. */
static int reap_remove(rk_node *n, const rk_local_key *k, const uint8_t *bytes, size_t len)
{
    rk_aae *a = &n->aae;
    rk_dvvset set;
    int rc = rk_dvvset_decode_view(bytes, len, &set);
    if (rc != 0) {
        return rc;
    }
    uint64_t own = rk_vv_counter_max(&set.history, n->config.id);
    rk_dvvset_deinit(&set);
    uint64_t floor = own > a->reap_floor[k->partition] ? own : a->reap_floor[k->partition];
    uint8_t key[REAP_FLOOR_KEY_BYTES];
    uint8_t value[8];
    reap_floor_key(k->partition, key);
    rk_le64_put(value, floor);
    rk_batch_op op = {.kind = RK_BATCH_PUT, .db = RK_DB_META, .key = key,
                      .key_len = sizeof(key), .value = value, .value_len = sizeof(value)};
    uint64_t seq = 0;
    rc = rk_local_remove(&n->local, k, false, &op, 1, &seq);
    if (rc != 0) {
        return rc;
    }
    a->reap_floor[k->partition] = floor;
    n->stats.tombstones_reaped++;
    if (a->reap_seen[k->partition] > 0) {
        a->reap_seen[k->partition]--;
        n->stats.tombstones_pending--;
    }
    return 0;
}

/* ---- the answering side ---------------------------------------------------------------------- */

/* Whether every member is up to this node and it holds no hint: the cluster-wide conditions. */
static bool reap_cluster_quiet(const rk_node *n)
{
    if (n->stats.hints_pending > 0) {
        return false;
    }
    rk_node_id ids[RK_MEMBERS_MAX];
    uint32_t count = rk_members_ids(&n->members, ids);
    for (uint32_t i = 0; i < count; i++) {
        if (!node_member_up(n, ids[i])) {
            return false;
        }
    }
    return true;
}

/* This node's object of key into *out (owned) and what it is to `hash`. */
static int reap_look(rk_node *n, const rk_msg_bytes *key, uint64_t hash, rk_local_key *k,
                     rk_buf *out)
{
    memset(out, 0, sizeof(*out));
    if (rk_local_key_init(&n->local, key->data, key->len, k) != 0) {
        return REAP_DIFFERENT;
    }
    /* A damaged copy is not known to be the tombstone; reading it drops its tree, whose rebuild
     * leaves it out, so an exchange repairs it (local.c). */
    bool damaged = false;
    int rc = rk_local_read_checked(&n->local, k, out, &damaged);
    if (rc != 0 || damaged) {
        return REAP_DIFFERENT;
    }
    if (out->len == 0) {
        return REAP_NONE;
    }
    return rk_aae_object_hash(k->skey, k->skey_len, out->data, out->len) == hash
               ? REAP_SAME
               : REAP_DIFFERENT;
}

void aae_reap_serve(rk_node *n, rk_node_id from, const rk_msg *m, rk_msg *resp)
{
    uint64_t answers[RK_AAE_OBJECTS_PER_REQ];
    if (m->value_count > RK_AAE_OBJECTS_PER_REQ || m->hash_count != m->value_count) {
        resp->status = RK_EINVAL;
        node_send(n, from, resp);
        return;
    }
    if (m->level == RK_AAE_REAP_CHECK && !reap_cluster_quiet(n)) {
        resp->status = RK_EBUSY;
        node_send(n, from, resp);
        return;
    }
    bool removed = false;
    for (uint32_t i = 0; i < m->value_count; i++) {
        rk_local_key k;
        rk_buf object;
        answers[i] = (uint64_t)reap_look(n, &m->values[i], m->hashes[i], &k, &object);
        if (m->level == RK_AAE_REAP && answers[i] == REAP_SAME &&
            reap_remove(n, &k, object.data, object.len) == 0) {
            removed = true;
        }
        rk_store_buf_free(&object);
    }
    if (removed) {
        n->env->sync(n->env->ctx, n->local.written_seq);
    }
    resp->hashes = answers;
    resp->hash_count = m->value_count;
    node_send(n, from, resp);
}

/* ---- a reap pass ----------------------------------------------------------------------------- */

typedef struct reap_scan {
    rk_node *n;
    bool collect;           /* false: only count the tombstones (a member down, a hint held) */
    uint32_t tombstones;
    int error;
} reap_scan;

static int reap_scan_one(void *ctx, const uint8_t *skey, size_t skey_len, const uint8_t *value,
                         size_t value_len)
{
    reap_scan *s = ctx;
    rk_node *n = s->n;
    rk_aae *a = &n->aae;
    rk_dvvset set;
    if (!rk_dvvset_frame_ok(value, value_len) ||
        rk_dvvset_decode_view(value, value_len, &set) != 0) {
        return 0;
    }
    bool tombstone = set.sibling_count > 0 && !rk_local_set_live(&set);
    rk_dvvset_deinit(&set);
    if (!tombstone) {
        return 0;
    }
    s->tombstones++;
    rk_local_key k;
    if (!s->collect || a->reap_count == RK_AAE_OBJECTS_PER_REQ ||
        !aae_tombstone_expired(n, value, value_len) ||
        rk_local_key_from_skey(skey, skey_len, &k) != 0) {
        return 0;
    }
    /* Only keys whose primaries are the partition's: another bucket n is left alone. */
    rk_node_id list[RK_N_MAX];
    uint32_t primaries = aae_partition_primaries(n, a->reap_partition, list);
    for (uint32_t i = 0; i < primaries; i++) {
        if (!node_key_primary(n, &k, list[i])) {
            return 0;
        }
    }
    aae_diff *d = &a->reap_keys[a->reap_count];
    d->skey = malloc(skey_len);
    if (d->skey == NULL) {
        s->error = RK_ENOMEM;
        return 1;
    }
    memcpy(d->skey, skey, skey_len);
    d->skey_len = (uint32_t)skey_len;
    d->mine = rk_aae_object_hash(skey, skey_len, value, value_len);
    d->theirs = 0;
    a->reap_count++;
    return 0;
}

void aae_reap_reset(rk_aae *a)
{
    for (uint32_t i = 0; i < a->reap_count; i++) {
        free(a->reap_keys[i].skey);
    }
    a->reap_count = 0;
    a->reap_answers = 0;
    a->reap_state = RK_AAE_REAP_IDLE;
}

static void reap_done(rk_node *n)
{
    rk_aae *a = &n->aae;
    aae_reap_reset(a);
    a->reap_next_ms = node_now_ms(n) + n->config.aae_interval_ms;
}

/* Send level (check or reap) with the candidates still standing to every other member. */
static void reap_broadcast(rk_node *n, uint32_t level)
{
    rk_aae *a = &n->aae;
    rk_msg_bytes keys[RK_AAE_OBJECTS_PER_REQ];
    uint64_t hashes[RK_AAE_OBJECTS_PER_REQ];
    uint32_t count = 0;
    for (uint32_t i = 0; i < a->reap_count; i++) {
        if (a->reap_ok[i]) {
            const aae_diff *d = &a->reap_keys[i];
            keys[count] = (rk_msg_bytes){.len = d->skey_len - RK_SKEY_PREFIX_BYTES,
                                         .data = d->skey + RK_SKEY_PREFIX_BYTES};
            hashes[count++] = d->mine;
        }
    }
    a->reap_req_id++;
    a->reap_answers = 0;
    a->reap_deadline_ms = node_now_ms(n) + n->config.request_timeout_ms;
    rk_msg m = {.kind = RK_MSG_AAE_REQ, .req_id = a->reap_req_id, .partition = a->reap_partition,
                .level = level, .values = keys, .value_count = count, .hashes = hashes,
                .hash_count = count};
    rk_node_id ids[RK_MEMBERS_MAX];
    uint32_t members = rk_members_ids(&n->members, ids);
    for (uint32_t i = 0; i < members; i++) {
        if (ids[i] != n->config.id) {
            node_send(n, ids[i], &m);
        }
    }
}

/* Every member agreed: order the removal everywhere and remove this node's copies. */
static void reap_commit(rk_node *n)
{
    rk_aae *a = &n->aae;
    bool any = false;
    for (uint32_t i = 0; i < a->reap_count; i++) {
        any = any || a->reap_ok[i];
    }
    if (!any) {
        reap_done(n);
        return;
    }
    reap_broadcast(n, RK_AAE_REAP);
    bool removed = false;
    for (uint32_t i = 0; i < a->reap_count; i++) {
        const aae_diff *d = &a->reap_keys[i];
        rk_msg_bytes key = {.len = d->skey_len - RK_SKEY_PREFIX_BYTES,
                            .data = d->skey + RK_SKEY_PREFIX_BYTES};
        rk_local_key k;
        rk_buf object;
        if (a->reap_ok[i] && reap_look(n, &key, d->mine, &k, &object) == REAP_SAME &&
            reap_remove(n, &k, object.data, object.len) == 0) {
            removed = true;
        }
        rk_store_buf_free(&object);
    }
    if (removed) {
        n->env->sync(n->env->ctx, n->local.written_seq);
    }
    /* A full batch may leave more behind: the same partition again at once. */
    bool full = a->reap_count == RK_AAE_OBJECTS_PER_REQ && removed;
    reap_done(n);   /* the answers to the order are not waited for: a miss is reaped later */
    if (full) {
        a->reap_again = true;
        a->reap_next_ms = node_now_ms(n);
    }
}

void aae_reap_on_resp(rk_node *n, rk_node_id from, const rk_msg *m)
{
    rk_aae *a = &n->aae;
    int slot = rk_members_slot(&n->members, from);
    if (a->reap_state != RK_AAE_REAP_CHECKING || m->req_id != a->reap_req_id || slot < 0 ||
        m->level != RK_AAE_REAP_CHECK) {
        return;
    }
    uint64_t bit = 1ull << slot;
    if ((a->reap_answers & bit) != 0) {
        return;
    }
    a->reap_answers |= bit;
    uint32_t asked = 0;
    for (uint32_t i = 0; i < a->reap_count; i++) {
        asked += a->reap_ok[i] ? 1u : 0u;
    }
    if (m->status != 0 || m->hash_count != asked) {
        reap_done(n);   /* a member holds hints, sees one down, or answered nonsense */
        return;
    }
    for (uint32_t i = 0, j = 0; i < a->reap_count; i++) {
        if (a->reap_ok[i]) {
            a->reap_ok_next[i] = a->reap_ok_next[i] && m->hashes[j] != REAP_DIFFERENT;
            j++;
        }
    }
    if ((uint32_t)__builtin_popcountll(a->reap_answers) + 1u == n->members.count) {
        memcpy(a->reap_ok, a->reap_ok_next, sizeof(a->reap_ok));
        reap_commit(n);
    }
}

void aae_reap_on_tick(rk_node *n, uint64_t now)
{
    rk_aae *a = &n->aae;
    if (a->reap_state == RK_AAE_REAP_CHECKING && now >= a->reap_deadline_ms) {
        reap_done(n);   /* a member did not answer: it may be down; try again later */
        return;
    }
    if (a->reap_state != RK_AAE_REAP_IDLE || n->config.tombstone_grace_ms == 0 ||
        now < a->reap_next_ms) {
        return;
    }
    uint32_t q = a->tree.partition_count;
    if (!a->reap_again) {
        a->reap_partition = a->reap_rotation++ % q;
    }
    a->reap_again = false;
    rk_node_id list[RK_N_MAX];
    uint32_t primaries = aae_partition_primaries(n, a->reap_partition, list);
    bool primary = false;
    for (uint32_t i = 0; i < primaries; i++) {
        primary = primary || list[i] == n->config.id;
    }
    if (!primary) {
        a->reap_next_ms = now + RK_AAE_TICK_MS;     /* the next partition on the next tick */
        return;
    }
    /* While the cluster is not quiet nothing is reaped, but the pass still counts the
     * partition's tombstones: tombstones_pending is most wanted when reaping is held back. */
    uint8_t start[2];
    uint8_t end[2];
    size_t end_len = 0;
    rk_aae_partition_range(a->reap_partition, q, start, end, &end_len);
    reap_scan s = {.n = n, .collect = reap_cluster_quiet(n)};
    int rc = rk_store_iterate(n->env->store, RK_DB_DATA, start, 2, end_len > 0 ? end : NULL,
                              end_len, reap_scan_one, &s);
    n->stats.tombstones_pending -= a->reap_seen[a->reap_partition];
    a->reap_seen[a->reap_partition] = s.tombstones;
    n->stats.tombstones_pending += s.tombstones;
    if (rc < 0 || s.error != 0 || a->reap_count == 0) {
        reap_done(n);
        return;
    }
    for (uint32_t i = 0; i < a->reap_count; i++) {
        a->reap_ok[i] = true;
        a->reap_ok_next[i] = true;
    }
    if (n->members.count == 1) {
        reap_commit(n);
        return;
    }
    a->reap_state = RK_AAE_REAP_CHECKING;
    reap_broadcast(n, RK_AAE_REAP_CHECK);
}
