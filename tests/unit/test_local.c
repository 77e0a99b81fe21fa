/* test_local.c — this node's own store access (src/core/local.c). Covers: resolving a user key
 * (the limit on both sides, the key as the tail of the storage key, the ring partition of its
 * hash), copying one so its key points into the copy, resolving a storage key read back from the
 * store (round trip, corrupt ones refused); writes and reads of objects, removes, records alone
 * and extra ops in the same batch; written_seq; keys_live as writes go (live, tombstone, remove)
 * and as recounted at init from what the store holds; and store failures: counted in
 * stats->store_errors, with nothing written and no counter moved. Runs on a mem store (its fault
 * injection fails the Nth operation) with a one-node ring and a fake env (test_local_env.h);
 * objects are checked by reading them back through the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/core/hash.h"
#include "test_local_env.h"

typedef test_local_env test_fixture;

/* ---- helpers ------------------------------------------------------------------------------ */

static test_fixture *test_fixture_new(void)
{
    test_fixture *fx = malloc(sizeof(*fx));
    assert_non_null(fx);
    test_local_env_init(fx);
    return fx;
}

static void test_fixture_free(test_fixture *fx)
{
    test_local_env_deinit(fx);
    free(fx);
}

static void test_key(const test_fixture *fx, const char *key, rk_local_key *out)
{
    assert_int_equal(rk_local_key_init(&fx->local, (const uint8_t *)key, strlen(key), out), 0);
}

/* A one-sibling object holding `value`, or a tombstone when value is NULL. */
static void test_object(const char *value, rk_dvvset *out)
{
    rk_dvvset_init(out);
    rk_vv context;
    rk_vv_init(&context);
    rk_dvvset_write write = {.value = (const uint8_t *)value,
                             .value_len = value != NULL ? strlen(value) : 0,
                             .tombstone = value == NULL,
                             .timestamp_us = 1000};
    rk_dot dot;
    assert_int_equal(rk_dvvset_update(out, &context, &write, TEST_LOCAL_NODE, 0,
                                      RK_DVVSET_SIBLINGS_DEFAULT, &dot),
                     0);
}

/* Write `value` (NULL: a tombstone) as the object of `key`; returns the batch's seq. */

/* Encode `set` as the node does (rk_local_encode) and write those bytes; bytes_out (may be
 * NULL) gets the encoding stored. */
static int test_write_set(rk_local *l, const rk_local_key *k, const rk_dvvset *set, bool was_live,
                          const rk_batch_op *extra, uint32_t extra_count, uint64_t *seq_out,
                          const uint8_t **bytes_out, size_t *len_out)
{
    const uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = rk_local_encode(l, set, &bytes, &len);
    if (rc == 0) {
        rc = rk_local_write(l, k, bytes, len, rk_local_set_live(set), was_live, extra,
                            extra_count, seq_out);
    }
    if (rc == 0 && bytes_out != NULL) {
        *bytes_out = bytes;
        *len_out = len;
    }
    return rc;
}
static uint64_t test_write(test_fixture *fx, const char *key, const char *value, bool was_live)
{
    rk_local_key k;
    test_key(fx, key, &k);
    rk_dvvset set;
    test_object(value, &set);
    uint64_t seq = 0;
    assert_int_equal(test_write_set(&fx->local, &k, &set, was_live, NULL, 0, &seq, NULL, NULL), 0);
    rk_dvvset_deinit(&set);
    return seq;
}

/* Whether `db` holds `key` (as the store has it, not through local). */
static bool test_stored(test_fixture *fx, rk_db db, const uint8_t *key, size_t key_len)
{
    rk_buf buf;
    int rc = rk_store_get(fx->store, db, key, key_len, &buf);
    if (rc == RK_ENOTFOUND) {
        return false;
    }
    assert_int_equal(rc, 0);
    rk_store_buf_free(&buf);
    return true;
}

/* A failed write of `k` with hint "h1" left neither behind. */
static void test_assert_not_written(test_fixture *fx, const rk_local_key *k)
{
    assert_false(test_stored(fx, RK_DB_DATA, k->skey, k->skey_len));
    assert_false(test_stored(fx, RK_DB_HINTS, (const uint8_t *)"h1", 2));
}

static rk_batch_op test_hint_op(const char *key)
{
    return (rk_batch_op){.kind = RK_BATCH_PUT,
                         .db = RK_DB_HINTS,
                         .key = (const uint8_t *)key,
                         .key_len = strlen(key),
                         .value = (const uint8_t *)"h",
                         .value_len = 1};
}

/* ---- keys --------------------------------------------------------------------------------- */

static void test_key_init_takes_a_key_at_the_limit_and_refuses_one_more_byte(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    uint8_t key[RK_KEY_BYTES_MAX + 1];
    memset(key, 'k', sizeof(key));
    rk_local_key k;

    assert_int_equal(rk_local_key_init(&fx->local, key, RK_KEY_BYTES_MAX, &k), 0);
    assert_int_equal(k.skey_len, RK_SKEY_BYTES_MAX);
    assert_int_equal(rk_local_key_init(&fx->local, key, RK_KEY_BYTES_MAX + 1, &k), RK_ETOOBIG);
    test_fixture_free(fx);
}

/* The user key is the tail of the storage key, and `key` points at it inside the struct. */
static void test_key_init_puts_the_key_at_the_tail_of_skey(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;

    test_key(fx, "cart:alice", &k);

    assert_int_equal(k.key_len, 10);
    assert_int_equal(k.skey_len, RK_SKEY_PREFIX_BYTES + 10);
    assert_ptr_equal(k.key, k.skey + RK_SKEY_PREFIX_BYTES);
    assert_memory_equal(k.key, "cart:alice", 10);
    test_fixture_free(fx);
}

/* The key is hashed once, and its partition is the ring's partition of that hash. */
static void test_key_init_partition_is_the_ring_partition_of_the_hash(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    const char *keys[] = {"a", "b", "cart:alice", "cart:bob", "user:42"};

    for (uint32_t i = 0; i < 5; i++) {
        rk_local_key k;
        test_key(fx, keys[i], &k);
        uint64_t hash = rk_hash_key((const uint8_t *)keys[i], strlen(keys[i]));
        assert_int_equal(k.hash, hash);
        assert_int_equal(k.partition, rk_ring_partition_of(&fx->ring, hash));
        assert_true(k.partition < RK_RING_PARTITIONS_DEFAULT);
    }
    test_fixture_free(fx);
}

/* A copy's key points into the copy: it survives the original being overwritten. */
static void test_key_copy_points_into_the_copy(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key from;
    rk_local_key to;
    test_key(fx, "cart:alice", &from);

    rk_local_key_copy(&from, &to);
    uint64_t hash = from.hash;
    memset(&from, 0xa5, sizeof(from));

    assert_ptr_equal(to.key, to.skey + RK_SKEY_PREFIX_BYTES);
    assert_int_equal(to.key_len, 10);
    assert_memory_equal(to.key, "cart:alice", 10);
    assert_int_equal(to.hash, hash);
    test_fixture_free(fx);
}

static void test_key_from_skey_round_trips(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    rk_local_key back;
    test_key(fx, "cart:alice", &k);

    assert_int_equal(rk_local_key_from_skey(k.skey, k.skey_len, &back), 0);

    assert_int_equal(back.hash, 0); /* not hashed again */
    assert_int_equal(back.partition, k.partition);
    assert_int_equal(back.skey_len, k.skey_len);
    assert_memory_equal(back.skey, k.skey, k.skey_len);
    assert_ptr_equal(back.key, back.skey + RK_SKEY_PREFIX_BYTES);
    assert_int_equal(back.key_len, 10);
    assert_memory_equal(back.key, "cart:alice", 10);
    test_fixture_free(fx);
}

/* Storage keys come from disk: a short one, one past the limit and one whose bucket length
 * disagrees with its key are refused, not trusted. */
static void test_key_from_skey_refuses_corrupt_keys(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    rk_local_key back;
    test_key(fx, "cart:alice", &k);
    uint8_t long_skey[RK_SKEY_BYTES_MAX + 1];
    memset(long_skey, 0, sizeof(long_skey));

    assert_int_equal(rk_local_key_from_skey(k.skey, RK_SKEY_PREFIX_BYTES - 1, &back), RK_ECORRUPT);
    assert_int_equal(rk_local_key_from_skey(long_skey, sizeof(long_skey), &back), RK_ECORRUPT);
    k.skey[3] ^= 1; /* the bucket length */
    assert_int_equal(rk_local_key_from_skey(k.skey, k.skey_len, &back), RK_ECORRUPT);
    test_fixture_free(fx);
}

/* ---- writes and reads --------------------------------------------------------------------- */

static void test_write_then_read_gives_the_object_back(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    rk_dvvset set;
    test_object("book", &set);
    uint64_t seq = 0;
    const uint8_t *bytes = NULL;
    size_t len = 0;

    assert_int_equal(test_write_set(&fx->local, &k, &set, false, NULL, 0, &seq, &bytes, &len), 0);

    rk_dvvset back;
    assert_int_equal(rk_local_read(&fx->local, &k, &back), 0);
    assert_true(rk_dvvset_equal(&back, &set));
    rk_buf raw;
    assert_int_equal(rk_local_read_raw(&fx->local, &k, &raw), 0);
    assert_int_equal(raw.len, len); /* bytes_out is what was written */
    assert_memory_equal(raw.data, bytes, len);
    rk_store_buf_free(&raw);
    rk_dvvset_deinit(&back);
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

static void test_read_of_an_absent_key_is_empty(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "nobody", &k);
    rk_dvvset set;
    rk_buf raw;

    assert_int_equal(rk_local_read(&fx->local, &k, &set), 0);
    assert_int_equal(set.sibling_count, 0);
    assert_int_equal(rk_local_read_raw(&fx->local, &k, &raw), 0);
    assert_int_equal(raw.len, 0);
    rk_dvvset_deinit(&set);
    assert_int_equal(fx->stats.store_errors, 0);
    test_fixture_free(fx);
}

/* Bytes from disk are validated: an object that fails its checksum is damaged, counted as such
 * (not as a store error), once however often it is read. rk_local_read refuses it (a
 * coordinator must not mint from the history it lost) and leaves the set empty;
 * rk_local_read_raw reads it as missing. */
static void test_read_of_a_corrupt_object_is_damaged_and_counts(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    uint64_t seq = 0;
    assert_int_equal(
        rk_store_put(fx->store, RK_DB_DATA, k.skey, k.skey_len, (const uint8_t *)"junk", 4, &seq),
        0);
    rk_dvvset set;

    assert_int_equal(rk_local_read(&fx->local, &k, &set), RK_ECORRUPT);
    assert_int_equal(set.sibling_count, 0);
    rk_buf raw;
    assert_int_equal(rk_local_read_raw(&fx->local, &k, &raw), 0);
    assert_int_equal(raw.len, 0);

    assert_int_equal(fx->stats.aae_damaged_objects, 1);
    assert_int_equal(fx->stats.store_errors, 0);
    rk_store_buf_free(&raw);
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

static void test_remove_deletes_the_object(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_write(fx, "cart:alice", "book", false);
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    uint64_t seq = 0;

    assert_int_equal(rk_local_remove(&fx->local, &k, true, NULL, 0, &seq), 0);

    assert_false(test_stored(fx, RK_DB_DATA, k.skey, k.skey_len));
    test_fixture_free(fx);
}

/* written_seq only grows: each batch (object, remove, records) gets the next seq. */
static void test_written_seq_strictly_increases(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    rk_batch_op hint = test_hint_op("h1");
    uint64_t seq[4];

    seq[0] = test_write(fx, "cart:alice", "book", false);
    seq[1] = test_write(fx, "cart:alice", "pen", true);
    assert_int_equal(rk_local_remove(&fx->local, &k, true, NULL, 0, &seq[2]), 0);
    assert_int_equal(rk_local_write_records(&fx->local, &hint, 1, &seq[3]), 0);

    assert_true(seq[0] > 0);
    for (uint32_t i = 1; i < 4; i++) {
        assert_true(seq[i] > seq[i - 1]);
    }
    assert_int_equal(fx->local.written_seq, seq[3]);
    test_fixture_free(fx);
}

/* A hint written with its copy is one batch: one seq for both, both readable after. */
static void test_write_puts_extra_ops_in_the_same_batch(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    rk_dvvset set;
    test_object("book", &set);
    rk_batch_op extra[2] = {test_hint_op("h1"), test_hint_op("h2")};
    uint64_t seq = 0;
    uint64_t before = fx->local.written_seq;

    assert_int_equal(test_write_set(&fx->local, &k, &set, false, extra, 2, &seq, NULL, NULL), 0);

    assert_int_equal(seq, before + 1);
    assert_true(test_stored(fx, RK_DB_DATA, k.skey, k.skey_len));
    assert_true(test_stored(fx, RK_DB_HINTS, (const uint8_t *)"h1", 2));
    assert_true(test_stored(fx, RK_DB_HINTS, (const uint8_t *)"h2", 2));
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

/* A batch holds an object and up to three records (local.c's LOCAL_BATCH_OPS_MAX of 4). */
static void test_write_takes_three_extra_ops(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    rk_dvvset set;
    test_object("book", &set);
    rk_batch_op extra[3] = {test_hint_op("h1"), test_hint_op("h2"), test_hint_op("h3")};
    uint64_t seq = 0;

    assert_int_equal(test_write_set(&fx->local, &k, &set, false, extra, 3, &seq, NULL, NULL), 0);

    assert_true(test_stored(fx, RK_DB_DATA, k.skey, k.skey_len));
    assert_true(test_stored(fx, RK_DB_HINTS, (const uint8_t *)"h3", 2));
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

/* An object removed with its hint: both gone in one batch. */
static void test_remove_puts_extra_ops_in_the_same_batch(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_batch_op hint = test_hint_op("h1");
    uint64_t seq = 0;
    assert_int_equal(rk_local_write_records(&fx->local, &hint, 1, &seq), 0);
    test_write(fx, "cart:alice", "book", false);
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    rk_batch_op del = {
        .kind = RK_BATCH_DEL, .db = RK_DB_HINTS, .key = (const uint8_t *)"h1", .key_len = 2};
    uint64_t before = fx->local.written_seq;

    assert_int_equal(rk_local_remove(&fx->local, &k, true, &del, 1, &seq), 0);

    assert_int_equal(seq, before + 1);
    assert_false(test_stored(fx, RK_DB_DATA, k.skey, k.skey_len));
    assert_false(test_stored(fx, RK_DB_HINTS, (const uint8_t *)"h1", 2));
    test_fixture_free(fx);
}

static void test_write_records_writes_them_in_one_batch(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_batch_op ops[2] = {test_hint_op("h1"), test_hint_op("h2")};
    ops[1].db = RK_DB_META;
    uint64_t seq = 0;
    uint64_t before = fx->local.written_seq;

    assert_int_equal(rk_local_write_records(&fx->local, ops, 2, &seq), 0);

    assert_int_equal(seq, before + 1);
    assert_int_equal(fx->local.written_seq, seq);
    assert_true(test_stored(fx, RK_DB_HINTS, (const uint8_t *)"h1", 2));
    assert_true(test_stored(fx, RK_DB_META, (const uint8_t *)"h2", 2));
    assert_int_equal(fx->local.keys_live, 0); /* records are not objects */
    test_fixture_free(fx);
}

/* ---- keys_live ---------------------------------------------------------------------------- */

static void test_live_write_counts_a_live_key_once(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();

    test_write(fx, "cart:alice", "book", false);
    test_write(fx, "cart:alice", "pen", true); /* replaces a live one */
    test_write(fx, "cart:bob", "cup", false);

    assert_int_equal(fx->local.keys_live, 2);
    assert_int_equal(fx->stats.keys_live, 2);
    test_fixture_free(fx);
}

/* A tombstone over a live object takes it off the count; a live write over one puts it back. */
static void test_tombstone_write_uncounts_the_key(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_write(fx, "cart:alice", "book", false);

    test_write(fx, "cart:alice", NULL, true);
    assert_int_equal(fx->local.keys_live, 0);
    assert_int_equal(fx->stats.keys_live, 0);
    test_write(fx, "cart:alice", NULL, false); /* tombstone over tombstone */
    assert_int_equal(fx->local.keys_live, 0);

    test_write(fx, "cart:alice", "pen", false);
    assert_int_equal(fx->local.keys_live, 1);
    test_fixture_free(fx);
}

static void test_remove_uncounts_a_live_key_only(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_write(fx, "cart:alice", "book", false);
    test_write(fx, "cart:bob", NULL, false);
    rk_local_key alice;
    rk_local_key bob;
    test_key(fx, "cart:alice", &alice);
    test_key(fx, "cart:bob", &bob);
    uint64_t seq = 0;

    assert_int_equal(rk_local_remove(&fx->local, &bob, false, NULL, 0, &seq), 0);
    assert_int_equal(fx->local.keys_live, 1);
    assert_int_equal(rk_local_remove(&fx->local, &alice, true, NULL, 0, &seq), 0);
    assert_int_equal(fx->local.keys_live, 0);
    assert_int_equal(fx->stats.keys_live, 0);
    test_fixture_free(fx);
}

/* A restart counts what the store holds: live objects only, tombstones not. */
static void test_init_counts_the_live_keys_already_stored(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_write(fx, "cart:alice", "book", false);
    test_write(fx, "cart:bob", "cup", false);
    test_write(fx, "cart:carol", NULL, false);
    rk_local_deinit(&fx->local);
    rk_node_stats stats;
    memset(&stats, 0, sizeof(stats));

    assert_int_equal(rk_local_init(&fx->local, &fx->env.env, &fx->ring, &stats), 0);

    assert_int_equal(fx->local.keys_live, 2);
    assert_int_equal(stats.keys_live, 2);
    fx->local.stats = &fx->stats;
    test_fixture_free(fx);
}

/* A failed sync rolled writes back: recount gives what the store holds now. */
static void test_recount_follows_a_rollback(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    uint64_t seq = test_write(fx, "cart:alice", "book", false);
    assert_int_equal(rk_store_sync(fx->store, seq), 0);
    test_write(fx, "cart:bob", "cup", false);
    rk_store_mem_crash(fx->store);

    assert_int_equal(rk_local_recount(&fx->local), 0);

    assert_int_equal(fx->local.keys_live, 1);
    assert_int_equal(fx->stats.keys_live, 1);
    test_fixture_free(fx);
}

/* ---- store failures ----------------------------------------------------------------------- */

/* A failed batch writes nothing, neither the object nor its extra ops, and moves no counter
 * but store_errors. */
static void test_failed_write_counts_and_writes_nothing(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_write(fx, "cart:bob", "cup", false);
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    rk_dvvset set;
    test_object("book", &set);
    rk_batch_op hint = test_hint_op("h1");
    uint64_t seq = 12345;
    uint64_t before = fx->local.written_seq;

    rk_store_mem_fail_at(fx->store, 1, false);
    assert_int_equal(test_write_set(&fx->local, &k, &set, false, &hint, 1, &seq, NULL, NULL),
                     RK_ECRASHED);

    assert_int_equal(fx->stats.store_errors, 1);
    assert_int_equal(seq, 12345);
    assert_int_equal(fx->local.written_seq, before);
    assert_int_equal(fx->local.keys_live, 1);
    assert_int_equal(fx->stats.keys_live, 1);
    test_assert_not_written(fx, &k);
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

static void test_failed_remove_counts_and_keeps_the_object(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_write(fx, "cart:alice", "book", false);
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    uint64_t seq = 0;

    /* The remove reads the object first (a set's head has rows to drop): its write is call 2. */
    rk_store_mem_fail_at(fx->store, 2, false);
    assert_int_equal(rk_local_remove(&fx->local, &k, true, NULL, 0, &seq), RK_ECRASHED);

    assert_int_equal(fx->stats.store_errors, 1);
    assert_int_equal(fx->local.keys_live, 1);
    assert_true(test_stored(fx, RK_DB_DATA, k.skey, k.skey_len));
    test_fixture_free(fx);
}

static void test_failed_write_records_counts_and_writes_nothing(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_batch_op hint = test_hint_op("h1");
    uint64_t seq = 0;

    rk_store_mem_fail_at(fx->store, 1, false);
    assert_int_equal(rk_local_write_records(&fx->local, &hint, 1, &seq), RK_ECRASHED);

    assert_int_equal(fx->stats.store_errors, 1);
    assert_int_equal(fx->local.written_seq, 0);
    assert_false(test_stored(fx, RK_DB_HINTS, (const uint8_t *)"h1", 2));
    test_fixture_free(fx);
}

/* A read that fails is an error, counted; a missing key (the store's RK_ENOTFOUND) is not. */
static void test_failed_read_counts(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    test_write(fx, "cart:alice", "book", false);
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    rk_dvvset set;
    rk_buf raw;

    rk_store_mem_fail_at(fx->store, 1, false);
    assert_int_equal(rk_local_read(&fx->local, &k, &set), RK_ECRASHED);
    rk_dvvset_deinit(&set);
    rk_store_mem_fail_at(fx->store, 1, false);
    assert_int_equal(rk_local_read_raw(&fx->local, &k, &raw), RK_ECRASHED);

    assert_int_equal(fx->stats.store_errors, 2);
    test_fixture_free(fx);
}

/* Init scans the store; when the scan fails it says so and counts it. */
static void test_failed_init_scan_counts(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_deinit(&fx->local);
    memset(&fx->stats, 0, sizeof(fx->stats));

    rk_store_mem_fail_at(fx->store, 1, false);
    assert_int_equal(rk_local_init(&fx->local, &fx->env.env, &fx->ring, &fx->stats), RK_ECRASHED);

    assert_int_equal(fx->stats.store_errors, 1);
    test_fixture_free(fx);
}

/* Fail each store operation of a write in turn (STYLE.md's fail-at-N loop): every failure
 * leaves the store, written_seq and keys_live as they were, until the write goes through. */
static void test_write_fails_cleanly_at_every_operation(void **state)
{
    (void)state;
    test_fixture *fx = test_fixture_new();
    rk_local_key k;
    test_key(fx, "cart:alice", &k);
    rk_dvvset set;
    test_object("book", &set);
    rk_batch_op hint = test_hint_op("h1");
    uint64_t seq = 0;
    int rc = RK_ECRASHED;

    for (uint64_t n = 1; rc != 0; n++) {
        assert_true(n < 10);
        rk_store_mem_fail_at(fx->store, n, false);
        rc = test_write_set(&fx->local, &k, &set, false, &hint, 1, &seq, NULL, NULL);
        rk_store_mem_fail_at(fx->store, 0, false);
        if (rc != 0) {
            assert_int_equal(rc, RK_ECRASHED);
            assert_int_equal(fx->stats.store_errors, n);
            assert_int_equal(fx->local.written_seq, 0);
            assert_int_equal(fx->local.keys_live, 0);
            test_assert_not_written(fx, &k);
        }
    }

    assert_int_equal(fx->local.keys_live, 1);
    assert_true(test_stored(fx, RK_DB_HINTS, (const uint8_t *)"h1", 2));
    rk_dvvset_deinit(&set);
    test_fixture_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_init_takes_a_key_at_the_limit_and_refuses_one_more_byte),
        cmocka_unit_test(test_key_init_puts_the_key_at_the_tail_of_skey),
        cmocka_unit_test(test_key_init_partition_is_the_ring_partition_of_the_hash),
        cmocka_unit_test(test_key_copy_points_into_the_copy),
        cmocka_unit_test(test_key_from_skey_round_trips),
        cmocka_unit_test(test_key_from_skey_refuses_corrupt_keys),
        cmocka_unit_test(test_write_then_read_gives_the_object_back),
        cmocka_unit_test(test_read_of_an_absent_key_is_empty),
        cmocka_unit_test(test_read_of_a_corrupt_object_is_damaged_and_counts),
        cmocka_unit_test(test_remove_deletes_the_object),
        cmocka_unit_test(test_written_seq_strictly_increases),
        cmocka_unit_test(test_write_puts_extra_ops_in_the_same_batch),
        cmocka_unit_test(test_write_takes_three_extra_ops),
        cmocka_unit_test(test_remove_puts_extra_ops_in_the_same_batch),
        cmocka_unit_test(test_write_records_writes_them_in_one_batch),
        cmocka_unit_test(test_live_write_counts_a_live_key_once),
        cmocka_unit_test(test_tombstone_write_uncounts_the_key),
        cmocka_unit_test(test_remove_uncounts_a_live_key_only),
        cmocka_unit_test(test_init_counts_the_live_keys_already_stored),
        cmocka_unit_test(test_recount_follows_a_rollback),
        cmocka_unit_test(test_failed_write_counts_and_writes_nothing),
        cmocka_unit_test(test_failed_remove_counts_and_keeps_the_object),
        cmocka_unit_test(test_failed_write_records_counts_and_writes_nothing),
        cmocka_unit_test(test_failed_read_counts),
        cmocka_unit_test(test_failed_init_scan_counts),
        cmocka_unit_test(test_write_fails_cleanly_at_every_operation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
