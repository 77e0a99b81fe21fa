/* local.c — this node's own store access (local.h). */
#include "local.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "local_internal.h"
#include "node.h"
#include "setrows.h"

#define LOCAL_BATCH_OPS_MAX 5u  /* an object and the few records that change with it */

int rk_local_init(rk_local *l, const rk_env *env, const rk_ring *ring, rk_node_stats *stats)
{
    memset(l, 0, sizeof(*l));
    l->env = env;
    l->ring = ring;
    l->stats = stats;
    return rk_local_recount(l);
}

void rk_local_deinit(rk_local *l)
{
    free(l->scratch);
    l->scratch = NULL;
    l->scratch_capacity = 0;
    rk_local_streams_free(l);
}

bool rk_local_set_live(const rk_dvvset *set)
{
    for (uint32_t i = 0; i < set->sibling_count; i++) {
        if (!set->siblings[i].tombstone) {
            return true;
        }
    }
    return false;
}

/* ---- keys ----------------------------------------------------------------------------------- */

int rk_local_key_init(const rk_local *l, const uint8_t *key, size_t key_len, rk_local_key *out)
{
    if (key_len > RK_KEY_BYTES_MAX) {
        return RK_ETOOBIG;
    }
    out->hash = rk_hash_key(key, key_len);
    out->partition = rk_ring_partition_of(l->ring, out->hash);
    int len = rk_skey_encode(out->partition, key, key_len, out->skey);
    RK_ASSERT(len == (int)(RK_SKEY_PREFIX_BYTES + key_len));
    out->skey_len = (uint32_t)len;
    out->key = out->skey + RK_SKEY_PREFIX_BYTES;
    out->key_len = key_len;
    return 0;
}

int rk_local_key_from_skey(const uint8_t *skey, size_t skey_len, rk_local_key *out)
{
    uint32_t partition = 0;
    const uint8_t *key = NULL;
    size_t key_len = 0;
    if (skey_len > RK_SKEY_BYTES_MAX ||
        rk_skey_decode(skey, skey_len, &partition, &key, &key_len) != 0) {
        return RK_ECORRUPT;
    }
    memcpy(out->skey, skey, skey_len);
    out->hash = 0;
    out->partition = partition;
    out->skey_len = (uint32_t)skey_len;
    out->key = out->skey + RK_SKEY_PREFIX_BYTES;
    out->key_len = key_len;
    return 0;
}

void rk_local_key_copy(const rk_local_key *from, rk_local_key *to)
{
    to->hash = from->hash;
    to->partition = from->partition;
    to->skey_len = from->skey_len;
    memcpy(to->skey, from->skey, from->skey_len);
    to->key = to->skey + RK_SKEY_PREFIX_BYTES;
    to->key_len = from->key_len;
}

/* ---- reads ---------------------------------------------------------------------------------- */

/* ---- anti-entropy's trees -------------------------------------------------------------------- */

void rk_local_set_tree(rk_local *l, rk_aae_tree *tree)
{
    l->tree = tree;
    l->last_skey_len = 0;
}

static void local_remember(rk_local *l, const rk_local_key *k, uint64_t hash)
{
    memcpy(l->last_skey, k->skey, k->skey_len);
    l->last_skey_len = k->skey_len;
    l->last_hash = hash;
}

/* The hash of the object now stored under `k`: remembered, or looked up. */
uint64_t rk_local__stored_hash(rk_local *l, const rk_local_key *k)
{
    if (l->last_skey_len == k->skey_len && memcmp(l->last_skey, k->skey, k->skey_len) == 0) {
        return l->last_hash;
    }
    rk_buf stored = {0};
    uint64_t hash = 0;
    if (rk_store_get(l->env->store, RK_DB_DATA, k->skey, k->skey_len, &stored) == 0 &&
        rk_dvvset_frame_ok(stored.data, stored.len)) {
        hash = rk_aae_object_hash(k->skey, k->skey_len, stored.data, stored.len);
    }
    rk_store_buf_free(&stored);
    return hash;
}

/* The object of `k` changed to `bytes` (NULL: removed): update its tree. */
void rk_local__tree_update(rk_local *l, const rk_local_key *k, uint64_t old_hash,
                           const uint8_t *bytes, size_t len)
{
    uint64_t new_hash = bytes != NULL ? rk_aae_object_hash(k->skey, k->skey_len, bytes, len) : 0;
    rk_aae_tree_update(l->tree, k->partition, k->skey, k->skey_len, old_hash, new_hash);
    local_remember(l, k, new_hash);
}

/* Count a damaged object once, however often it is read before a repair overwrites it. */
static void local_count_damaged(rk_local *l, const rk_local_key *k)
{
    uint64_t h = rk_hash_key(k->skey, k->skey_len) | 1u;    /* 0 marks a free entry */
    for (uint32_t i = 0; i < 16; i++) {
        if (l->damaged_seen[i] == h) {
            return;
        }
    }
    l->damaged_seen[l->damaged_next] = h;
    l->damaged_next = (l->damaged_next + 1) % 16;
    l->stats->aae_damaged_objects++;
}

int rk_local_read_checked(rk_local *l, const rk_local_key *k, rk_buf *out, bool *damaged)
{
    memset(out, 0, sizeof(*out));
    *damaged = false;
    int rc = rk_store_get(l->env->store, RK_DB_DATA, k->skey, k->skey_len, out);
    if (rc == RK_ENOTFOUND) {
        if (l->tree != NULL) {
            local_remember(l, k, 0);
        }
        return 0;
    }
    if (rc != 0) {
        l->stats->store_errors++;
        return rc;
    }
    if (out->len > 0 && !rk_dvvset_frame_ok(out->data, out->len)) {
        local_count_damaged(l, k);
        rk_store_buf_free(out);
        memset(out, 0, sizeof(*out));
        *damaged = true;
        if (l->tree != NULL) {
            /* Its tree took the object's hash when it was written intact: that tree no longer
             * agrees with the store, and is rebuilt (aae.c) without the damaged object. */
            rk_aae_tree_invalidate(l->tree, k->partition);
            local_remember(l, k, 0);
        }
        return 0;
    }
    if (l->tree != NULL) {
        local_remember(l, k, rk_aae_object_hash(k->skey, k->skey_len, out->data, out->len));
    }
    if (out->len > 0 && rk_setrows_is_head(out->data, out->len)) {
        /* A set stored by element: its whole state, as every other object reads. */
        rk_buf head = *out;
        memset(out, 0, sizeof(*out));
        rc = rk_local_set_materialize(l, k->skey, k->skey_len, head.data, head.len, out);
        rk_store_buf_free(&head);
        if (rc == RK_ECORRUPT) {
            local_count_damaged(l, k);
            *damaged = true;
            return 0;
        }
        return rc;
    }
    return 0;
}

int rk_local_read_raw(rk_local *l, const rk_local_key *k, rk_buf *out)
{
    /* A damaged copy reads as missing on the replica's paths: it answers none, the incoming
     * write or read repair overwrites it, and its bytes are never sent or merged anywhere
     * (issue 17: repaired, never spread). */
    bool damaged = false;
    return rk_local_read_checked(l, k, out, &damaged);
}

int rk_local_read(rk_local *l, const rk_local_key *k, rk_dvvset *out)
{
    rk_dvvset_init(out);
    rk_buf buf;
    bool damaged = false;
    int rc = rk_local_read_checked(l, k, &buf, &damaged);
    if (damaged) {
        return RK_ECORRUPT;     /* the coordinator must not mint from a history it lost */
    }
    if (rc != 0 || buf.len == 0) {
        rk_store_buf_free(&buf);
        return rc;
    }
    rc = rk_dvvset_decode(buf.data, buf.len, out);
    rk_store_buf_free(&buf);
    if (rc != 0) {
        l->stats->store_errors++;
    }
    return rc;
}

/* ---- writes --------------------------------------------------------------------------------- */

static int local_scratch_reserve(rk_local *l, size_t bytes)
{
    if (bytes <= l->scratch_capacity) {
        return 0;
    }
    uint8_t *grown = realloc(l->scratch, bytes);
    if (grown == NULL) {
        return RK_ENOMEM;
    }
    l->scratch = grown;
    l->scratch_capacity = bytes;
    return 0;
}

int rk_local_encode(rk_local *l, const rk_dvvset *set, const uint8_t **bytes_out,
                    size_t *len_out)
{
    size_t len = rk_dvvset_encoded_len(set);
    int rc = local_scratch_reserve(l, len);
    if (rc != 0) {
        return rc;
    }
    size_t written = rk_dvvset_encode(set, l->scratch);
    RK_ASSERT(written == len);
    *bytes_out = l->scratch;
    *len_out = len;
    return 0;
}

int rk_local__write_ops(rk_local *l, const rk_batch_op *ops, uint32_t count, uint64_t *seq_out)
{
    RK_ASSERT(count > 0 && count <= RK_BATCH_OPS_MAX);
    uint64_t seq = 0;
    int rc = rk_store_write(l->env->store, ops, count, &seq);
    if (rc != 0) {
        l->stats->store_errors++;
        return rc;
    }
    RK_ASSERT(seq > l->written_seq);
    l->written_seq = seq;
    *seq_out = seq;
    return 0;
}

/* Apply `first` then `extra` in one atomic batch; on success advance written_seq. */
static int local_batch(rk_local *l, const rk_batch_op *first, const rk_batch_op *extra,
                       uint32_t extra_count, uint64_t *seq_out)
{
    RK_ASSERT(extra_count < LOCAL_BATCH_OPS_MAX);
    rk_batch_op ops[LOCAL_BATCH_OPS_MAX];
    uint32_t count = 0;
    if (first != NULL) {
        ops[count++] = *first;
    }
    for (uint32_t i = 0; i < extra_count; i++) {
        RK_ASSERT(extra[i].db != RK_DB_DATA);
        ops[count++] = extra[i];
    }
    RK_ASSERT(count > 0);
    return rk_local__write_ops(l, ops, count, seq_out);
}

void rk_local__count_live(rk_local *l, bool was_live, bool live)
{
    if (live && !was_live) {
        l->keys_live++;
    } else if (!live && was_live) {
        RK_ASSERT(l->keys_live > 0);
        l->keys_live--;
    }
    l->stats->keys_live = l->keys_live;
}

int rk_local_write(rk_local *l, const rk_local_key *k, const uint8_t *bytes, size_t len,
                   bool live, bool was_live, const rk_batch_op *extra, uint32_t extra_count,
                   uint64_t *seq_out)
{
    if (len > 2 && bytes[2] == RK_LOCAL_ROWS_TAG && !rk_setrows_is_head(bytes, len)) {
        rk_dvvset set;
        int rc = rk_dvvset_decode_view(bytes, len, &set);
        if (rc == 0) {
            rc = rk_local_set_write(l, k, &set, was_live, extra, extra_count, seq_out);
            rk_dvvset_deinit(&set);
        }
        return rc;
    }
    rk_batch_op op = {.kind = RK_BATCH_PUT,
                      .db = RK_DB_DATA,
                      .key = k->skey,
                      .key_len = k->skey_len,
                      .value = bytes,
                      .value_len = len};
    uint64_t old_hash = l->tree != NULL ? rk_local__stored_hash(l, k) : 0;
    int rc = local_batch(l, &op, extra, extra_count, seq_out);
    if (rc == 0) {
        rk_local__count_live(l, was_live, live);
        if (l->tree != NULL) {
            rk_local__tree_update(l, k, old_hash, bytes, len);
        }
    }
    return rc;
}

int rk_local_remove(rk_local *l, const rk_local_key *k, bool was_live, const rk_batch_op *extra,
                    uint32_t extra_count, uint64_t *seq_out)
{
    rk_buf stored = {0};
    if (rk_store_get(l->env->store, RK_DB_DATA, k->skey, k->skey_len, &stored) == 0 &&
        rk_setrows_is_head(stored.data, stored.len)) {
        int rc = rk_local_set_drop_rows(l, k, seq_out);     /* its rows first, then the head */
        if (rc != 0) {
            rk_store_buf_free(&stored);
            return rc;
        }
    }
    rk_store_buf_free(&stored);
    rk_batch_op op = {
        .kind = RK_BATCH_DEL, .db = RK_DB_DATA, .key = k->skey, .key_len = k->skey_len};
    uint64_t old_hash = l->tree != NULL ? rk_local__stored_hash(l, k) : 0;
    int rc = local_batch(l, &op, extra, extra_count, seq_out);
    if (rc == 0) {
        rk_local__count_live(l, was_live, false);
        if (l->tree != NULL) {
            rk_local__tree_update(l, k, old_hash, NULL, 0);
        }
    }
    return rc;
}

int rk_local_meta_u64(const rk_env *env, const uint8_t *key, size_t key_len, uint64_t *out)
{
    *out = 0;
    rk_buf buf = {0};
    int rc = rk_store_get(env->store, RK_DB_META, key, key_len, &buf);
    if (rc == RK_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    if (buf.len == 8) {
        *out = rk_le64_get(buf.data);
    } else {
        rc = RK_ECORRUPT;
    }
    rk_store_buf_free(&buf);
    return rc;
}

int rk_local_write_records(rk_local *l, const rk_batch_op *ops, uint32_t count,
                           uint64_t *seq_out)
{
    RK_ASSERT(count > 0);
    return local_batch(l, NULL, ops, count, seq_out);
}

/* ---- counting ------------------------------------------------------------------------------- */

static int local_count_one(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len)
{
    uint64_t *count = ctx;
    (void)key;
    (void)key_len;
    rk_setrows_head head;
    if (rk_setrows_head_decode(value, value_len, &head) == 0) {
        *count += head.count > 0 ? 1 : 0;
        return 0;
    }
    rk_dvvset set;
    if (rk_dvvset_decode(value, value_len, &set) == 0) {
        *count += rk_local_set_live(&set) ? 1 : 0;
        rk_dvvset_deinit(&set);
    }
    return 0;
}

/* Stop (1) at the first live object. */
static int local_live_one(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                          size_t value_len)
{
    bool *live = ctx;
    (void)key;
    (void)key_len;
    rk_setrows_head head;
    if (rk_setrows_head_decode(value, value_len, &head) == 0) {
        *live = head.count > 0;
        return *live ? 1 : 0;
    }
    rk_dvvset set;
    if (rk_dvvset_decode_view(value, value_len, &set) == 0) {
        *live = rk_local_set_live(&set);
        rk_dvvset_deinit(&set);
    }
    return *live ? 1 : 0;
}

int rk_local_bucket_live(rk_local *l, const uint8_t *name, size_t name_len)
{
    RK_ASSERT(name_len > 0 && name_len < RK_KEY_BYTES_MAX);
    uint8_t key[RK_KEY_BYTES_MAX];
    memcpy(key, name, name_len);
    key[name_len] = ':';
    uint8_t start[RK_SKEY_BYTES_MAX];
    uint8_t end[RK_SKEY_BYTES_MAX];
    for (uint32_t p = 0; p < l->ring->partition_count; p++) {
        /* Every key "name:..." of partition p starts with the storage key of "name:" itself;
         * the range ends before "name;" (':' + 1). */
        int len = rk_skey_encode(p, key, name_len + 1, start);
        RK_ASSERT(len > 0);
        memcpy(end, start, (size_t)len);
        end[len - 1] = ':' + 1;
        bool live = false;
        int rc = rk_store_iterate(l->env->store, RK_DB_DATA, start, (size_t)len, end,
                                  (size_t)len, local_live_one, &live);
        if (rc < 0) {
            l->stats->store_errors++;
            return rc;
        }
        if (live) {
            return 1;
        }
    }
    return 0;
}

int rk_local_recount(rk_local *l)
{
    if (l->tree != NULL) {
        rk_aae_tree_invalidate_all(l->tree);
        l->last_skey_len = 0;
    }
    uint64_t count = 0;
    int rc = rk_store_iterate(l->env->store, RK_DB_DATA, NULL, 0, NULL, 0, local_count_one,
                              &count);
    if (rc != 0) {
        l->stats->store_errors++;
        return rc;
    }
    l->keys_live = count;
    l->stats->keys_live = count;
    return 0;
}
