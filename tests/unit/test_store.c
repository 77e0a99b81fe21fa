/* test_store.c — the storage engines behind store.h. One conformance suite runs against every
 * engine (mem; lmdb and rocksdb in a fresh mkdtemp directory under /tmp, removed afterwards):
 * the fixture receives the engine as cmocka's prestate; lmdb runs twice, without and with its
 * redo log (wal; its own recovery tests are in test_store_wal.c). Then what every engine on
 * disk must do (writes visible before sync and persisted after, reopen, a sync thread racing
 * the writer, a missing directory), lmdb's map-full path (RK_ENOSPC, rollback, the store still
 * usable); mem's crash layer (a crash keeps exactly the synced writes) and fault injection in a
 * fail-at-N loop (SQLite's habit). rocksdb's own crash and failed-sync tests are in
 * test_store_rocksdb.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/store/store.h"

/* ---- fixture -------------------------------------------------------------------------- */

typedef struct engine_case {
    const char *engine;
    bool wal;
} engine_case;

static engine_case case_mem = {.engine = "mem"};
static engine_case case_lmdb = {.engine = "lmdb"};
static engine_case case_lmdb_wal = {.engine = "lmdb", .wal = true};   /* test_store_wal.c too */
static engine_case case_rocksdb = {.engine = "rocksdb"};

typedef struct fixture {
    const engine_case *engine;
    char dir[64];
    uint64_t map_bytes;
    rk_store *s;
} fixture;

/* Every engine but mem keeps its files in a directory and survives a restart. */
static bool fixture_on_disk(const fixture *f)
{
    return strcmp(f->engine->engine, "mem") != 0;
}

static void fixture_open(fixture *f)
{
    rk_store_options opts = {
        .engine = f->engine->engine,
        .dir = f->dir,
        .map_bytes = f->map_bytes,
        .sync_each_commit = true,
        .wal = f->engine->wal,
    };
    char err[256];
    int rc = rk_store_open(&opts, &f->s, err, sizeof(err));
    if (rc != 0) {
        fail_msg("open %s in %s: %s (%s)", f->engine->engine, f->dir, rk_strerror(rc), err);
    }
    assert_non_null(f->s);
}

static void fixture_reopen(fixture *f)
{
    rk_store_close(f->s);
    f->s = NULL;
    fixture_open(f);
}

static int fixture_remove_fn(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP) {
        rmdir(path);
    } else {
        unlink(path);
    }
    return 0;
}

/* rocksdb keeps its files in a subdirectory: remove the tree, deepest first. */
static void fixture_remove_dir(const char *dir)
{
    nftw(dir, fixture_remove_fn, 8, FTW_DEPTH | FTW_PHYS);
}

static int fixture_setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->engine = *state;
    if (fixture_on_disk(f)) {
        snprintf(f->dir, sizeof(f->dir), "/tmp/rk-test-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
    }
    fixture_open(f);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *f = *state;
    rk_store_close(f->s);
    if (fixture_on_disk(f)) {
        fixture_remove_dir(f->dir);
    }
    free(f);
    return 0;
}

/* ---- helpers -------------------------------------------------------------------------- */

static const uint8_t *bytes_of(const char *text)
{
    return (const uint8_t *)text;
}

static uint64_t put_str(rk_store *s, rk_db db, const char *key, const char *value)
{
    uint64_t seq = 0;
    int rc = rk_store_put(s, db, bytes_of(key), strlen(key), bytes_of(value), strlen(value), &seq);
    assert_int_equal(rc, 0);
    assert_true(seq > 0);
    return seq;
}

static uint64_t del_str(rk_store *s, rk_db db, const char *key)
{
    uint64_t seq = 0;
    assert_int_equal(rk_store_del(s, db, bytes_of(key), strlen(key), &seq), 0);
    assert_true(seq > 0);
    return seq;
}

static void store_expect_value(rk_store *s, rk_db db, const char *key, const char *value)
{
    rk_buf buf = {0};
    int rc = rk_store_get(s, db, bytes_of(key), strlen(key), &buf);
    if (rc != 0) {
        fail_msg("get %s: %s, expected \"%s\"", key, rk_strerror(rc), value);
    }
    assert_int_equal(buf.len, strlen(value));
    assert_memory_equal(buf.data, value, buf.len);
    rk_store_buf_free(&buf);
}

static void store_expect_missing(rk_store *s, rk_db db, const char *key)
{
    rk_buf buf = {0};
    int rc = rk_store_get(s, db, bytes_of(key), strlen(key), &buf);
    if (rc != RK_ENOTFOUND) {
        fail_msg("get %s: %s, expected not found", key, rk_strerror(rc));
    }
    assert_null(buf.data);
}

/* An iteration collected as "key=value," text, with an optional stop after `stop_after`. */
typedef struct collect {
    char text[4096];
    size_t count;
    size_t stop_after;      /* 0: never stop */
} collect;

static int collect_fn(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                      size_t value_len)
{
    collect *c = ctx;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof(c->text) - used, "%.*s=%.*s,", (int)key_len,
             (const char *)key, (int)value_len, (const char *)value);
    c->count++;
    return c->stop_after != 0 && c->count == c->stop_after ? 1 : 0;
}

static const char *collect_range(rk_store *s, rk_db db, const char *start, const char *end,
                                 collect *c)
{
    memset(c, 0, sizeof(*c));
    int rc = rk_store_iterate(s, db, start != NULL ? bytes_of(start) : NULL,
                              start != NULL ? strlen(start) : 0,
                              end != NULL ? bytes_of(end) : NULL, end != NULL ? strlen(end) : 0,
                              collect_fn, c);
    assert_int_equal(rc, 0);
    return c->text;
}

static const char *collect_all(rk_store *s, rk_db db, collect *c)
{
    return collect_range(s, db, NULL, NULL, c);
}

/* ---- conformance: every engine -------------------------------------------------------- */

static void test_get_missing_key_is_not_found(void **state)
{
    fixture *f = *state;
    store_expect_missing(f->s, RK_DB_DATA, "nobody");
}

static void test_put_then_get_returns_value(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "alice", "apples");
    store_expect_value(f->s, RK_DB_DATA, "alice", "apples");
}

static void test_put_overwrites_value(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "k", "one");
    put_str(f->s, RK_DB_DATA, "k", "two");
    store_expect_value(f->s, RK_DB_DATA, "k", "two");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    put_str(f->s, RK_DB_DATA, "k", "three");
    store_expect_value(f->s, RK_DB_DATA, "k", "three");
}

static void test_del_removes_key(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "k", "v");
    del_str(f->s, RK_DB_DATA, "k");
    store_expect_missing(f->s, RK_DB_DATA, "k");

    put_str(f->s, RK_DB_DATA, "synced", "v");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    del_str(f->s, RK_DB_DATA, "synced");
    store_expect_missing(f->s, RK_DB_DATA, "synced");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    store_expect_missing(f->s, RK_DB_DATA, "synced");
}

static void test_del_missing_key_succeeds(void **state)
{
    fixture *f = *state;
    del_str(f->s, RK_DB_DATA, "never-there");
    store_expect_missing(f->s, RK_DB_DATA, "never-there");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
}

static void test_binary_keys_and_values_keep_nul_bytes(void **state)
{
    fixture *f = *state;
    const uint8_t key_a[] = {0x00, 0x01, 0x00, 0xff};
    const uint8_t key_b[] = {0x00, 0x01, 0x00};     /* a prefix of key_a: a different key */
    const uint8_t value[] = {0x00, 0x00, 0x7f, 0x00, 0xfe};
    uint64_t seq = 0;
    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, key_a, sizeof(key_a), value, sizeof(value),
                                  &seq), 0);
    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, key_b, sizeof(key_b), value, 1, &seq), 0);
    for (int round = 0; round < 2; round++) {
        rk_buf buf = {0};
        assert_int_equal(rk_store_get(f->s, RK_DB_DATA, key_a, sizeof(key_a), &buf), 0);
        assert_int_equal(buf.len, sizeof(value));
        assert_memory_equal(buf.data, value, sizeof(value));
        rk_store_buf_free(&buf);
        assert_int_equal(rk_store_get(f->s, RK_DB_DATA, key_b, sizeof(key_b), &buf), 0);
        assert_int_equal(buf.len, 1);
        rk_store_buf_free(&buf);
        assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    }
}

static void test_empty_value_is_stored(void **state)
{
    fixture *f = *state;
    uint64_t seq = 0;
    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, bytes_of("e"), 1, NULL, 0, &seq), 0);
    for (int round = 0; round < 2; round++) {
        rk_buf buf = {0};
        assert_int_equal(rk_store_get(f->s, RK_DB_DATA, bytes_of("e"), 1, &buf), 0);
        assert_int_equal(buf.len, 0);
        rk_store_buf_free(&buf);
        assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    }
    collect c;
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "e=,");
}

static void test_key_length_limits_are_1_and_511(void **state)
{
    fixture *f = *state;
    uint8_t key[RK_LMDB_KEY_BYTES_MAX + 1];
    memset(key, 'k', sizeof(key));
    uint64_t seq = 0;
    rk_buf buf = {0};

    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, key, 1, bytes_of("v"), 1, &seq), 0);
    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, key, RK_LMDB_KEY_BYTES_MAX, bytes_of("w"), 1,
                                  &seq), 0);
    assert_int_equal(rk_store_sync(f->s, seq), 0);
    assert_int_equal(rk_store_get(f->s, RK_DB_DATA, key, RK_LMDB_KEY_BYTES_MAX, &buf), 0);
    assert_int_equal(buf.len, 1);
    rk_store_buf_free(&buf);

    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, key, 0, bytes_of("v"), 1, &seq), RK_EINVAL);
    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, key, RK_LMDB_KEY_BYTES_MAX + 1, bytes_of("v"),
                                  1, &seq), RK_EINVAL);
    assert_int_equal(rk_store_get(f->s, RK_DB_DATA, key, 0, &buf), RK_EINVAL);
    assert_int_equal(rk_store_get(f->s, RK_DB_DATA, key, RK_LMDB_KEY_BYTES_MAX + 1, &buf),
                     RK_EINVAL);
    assert_int_equal(rk_store_del(f->s, RK_DB_DATA, key, 0, &seq), RK_EINVAL);
    assert_int_equal(rk_store_del(f->s, RK_DB_DATA, key, RK_LMDB_KEY_BYTES_MAX + 1, &seq),
                     RK_EINVAL);
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
}

static void test_bad_arguments_are_refused(void **state)
{
    fixture *f = *state;
    uint64_t seq = 0;
    rk_buf buf = {0};
    collect c = {0};
    rk_batch_op op = {.kind = RK_BATCH_PUT, .db = RK_DB_DATA, .key = bytes_of("k"), .key_len = 1};
    assert_int_equal(rk_store_write(f->s, &op, 0, &seq), RK_EINVAL);
    assert_int_equal(rk_store_get(f->s, (rk_db)RK_DB_COUNT, bytes_of("k"), 1, &buf), RK_EINVAL);
    assert_int_equal(rk_store_iterate(f->s, (rk_db)RK_DB_COUNT, NULL, 0, NULL, 0, collect_fn, &c),
                     RK_EINVAL);
    op.kind = (rk_batch_op_kind)7;
    assert_int_equal(rk_store_write(f->s, &op, 1, &seq), RK_EINVAL);

    rk_batch_op *many = calloc(RK_BATCH_OPS_MAX + 1, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i < RK_BATCH_OPS_MAX + 1; i++) {
        many[i] = (rk_batch_op){.kind = RK_BATCH_DEL, .db = RK_DB_DATA, .key = bytes_of("k"),
                                .key_len = 1};
    }
    assert_int_equal(rk_store_write(f->s, many, RK_BATCH_OPS_MAX + 1, &seq), RK_EINVAL);
    assert_int_equal(rk_store_write(f->s, many, RK_BATCH_OPS_MAX, &seq), 0);
    free(many);
}

static void test_batch_applies_every_op(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "gone", "x");
    rk_batch_op ops[] = {
        {.kind = RK_BATCH_PUT, .db = RK_DB_DATA, .key = bytes_of("a"), .key_len = 1,
         .value = bytes_of("1"), .value_len = 1},
        {.kind = RK_BATCH_PUT, .db = RK_DB_META, .key = bytes_of("b"), .key_len = 1,
         .value = bytes_of("2"), .value_len = 1},
        {.kind = RK_BATCH_DEL, .db = RK_DB_DATA, .key = bytes_of("gone"), .key_len = 4},
        {.kind = RK_BATCH_PUT, .db = RK_DB_DATA, .key = bytes_of("a"), .key_len = 1,
         .value = bytes_of("3"), .value_len = 1},      /* the later op on a key wins */
    };
    uint64_t seq = 0;
    assert_int_equal(rk_store_write(f->s, ops, 4, &seq), 0);
    for (int round = 0; round < 2; round++) {
        store_expect_value(f->s, RK_DB_DATA, "a", "3");
        store_expect_value(f->s, RK_DB_META, "b", "2");
        store_expect_missing(f->s, RK_DB_DATA, "gone");
        assert_int_equal(rk_store_sync(f->s, seq), 0);
    }
}

static void test_batch_with_invalid_op_applies_nothing(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "a", "old");
    uint8_t long_key[RK_LMDB_KEY_BYTES_MAX + 1];
    memset(long_key, 'z', sizeof(long_key));
    rk_batch_op ops[] = {
        {.kind = RK_BATCH_PUT, .db = RK_DB_DATA, .key = bytes_of("a"), .key_len = 1,
         .value = bytes_of("new"), .value_len = 3},
        {.kind = RK_BATCH_DEL, .db = RK_DB_DATA, .key = bytes_of("b"), .key_len = 1},
        {.kind = RK_BATCH_PUT, .db = RK_DB_DATA, .key = long_key, .key_len = sizeof(long_key),
         .value = bytes_of("v"), .value_len = 1},
    };
    uint64_t seq = 0;
    assert_int_equal(rk_store_write(f->s, ops, 3, &seq), RK_EINVAL);
    ops[2].key_len = 1;
    ops[2].db = (rk_db)RK_DB_COUNT;
    assert_int_equal(rk_store_write(f->s, ops, 3, &seq), RK_EINVAL);
    store_expect_value(f->s, RK_DB_DATA, "a", "old");
    collect c;
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "a=old,");
}

static void test_iterate_visits_keys_in_bytewise_order(void **state)
{
    fixture *f = *state;
    const char *keys[] = {"b", "ab", "a", "c", "aa", "ba"};
    for (size_t i = 0; i < 6; i++) {
        put_str(f->s, RK_DB_DATA, keys[i], keys[i]);
        if (i == 2) {
            assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);  /* half in LMDB proper */
        }
    }
    collect c;
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "a=a,aa=aa,ab=ab,b=b,ba=ba,c=c,");
}

static void test_iterate_honours_start_and_end(void **state)
{
    fixture *f = *state;
    const char *keys[] = {"a", "b", "c", "d", "e"};
    for (size_t i = 0; i < 5; i++) {
        put_str(f->s, RK_DB_DATA, keys[i], "v");
        if (i == 1) {
            assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
        }
    }
    collect c;
    assert_string_equal(collect_range(f->s, RK_DB_DATA, "b", "d", &c), "b=v,c=v,");
    assert_string_equal(collect_range(f->s, RK_DB_DATA, "bb", NULL, &c), "c=v,d=v,e=v,");
    assert_string_equal(collect_range(f->s, RK_DB_DATA, NULL, "b", &c), "a=v,");
    assert_string_equal(collect_range(f->s, RK_DB_DATA, "d", "b", &c), "");
    assert_string_equal(collect_range(f->s, RK_DB_DATA, "", "c", &c), "a=v,b=v,");
}

static int iterate_fail_fn(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len)
{
    size_t *calls = ctx;
    (*calls)++;
    return RK_ECORRUPT;
}

static void test_iterate_stops_early_and_passes_errors_up(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "a", "1");
    put_str(f->s, RK_DB_DATA, "b", "2");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    put_str(f->s, RK_DB_DATA, "c", "3");
    collect c = {.stop_after = 2};
    assert_int_equal(rk_store_iterate(f->s, RK_DB_DATA, NULL, 0, NULL, 0, collect_fn, &c), 0);
    assert_string_equal(c.text, "a=1,b=2,");
    size_t calls = 0;
    assert_int_equal(rk_store_iterate(f->s, RK_DB_DATA, NULL, 0, NULL, 0, iterate_fail_fn,
                                      &calls), RK_ECORRUPT);
    assert_int_equal(calls, 1);
}

typedef struct nested_ctx {
    rk_store *s;
    size_t visited;
} nested_ctx;

static int iterate_nested_get_fn(void *ctx, const uint8_t *key, size_t key_len,
                                 const uint8_t *value, size_t value_len)
{
    nested_ctx *n = ctx;
    rk_buf buf = {0};
    assert_int_equal(rk_store_get(n->s, RK_DB_DATA, key, key_len, &buf), 0);
    assert_int_equal(buf.len, value_len);
    assert_memory_equal(buf.data, value, value_len);
    rk_store_buf_free(&buf);
    n->visited++;
    return 0;
}

/* node.c reads objects while it walks a range (handoff, Merkle trees). */
static void test_iterate_callback_may_read_the_store(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "a", "1");
    put_str(f->s, RK_DB_DATA, "b", "2");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    put_str(f->s, RK_DB_DATA, "c", "3");
    nested_ctx n = {.s = f->s};
    assert_int_equal(rk_store_iterate(f->s, RK_DB_DATA, NULL, 0, NULL, 0, iterate_nested_get_fn,
                                      &n), 0);
    assert_int_equal(n.visited, 3);
    store_expect_value(f->s, RK_DB_DATA, "b", "2");     /* the cached reader still works */
}

static void test_iterate_merges_pending_overwrites_and_deletes(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "a", "1");
    put_str(f->s, RK_DB_DATA, "b", "2");
    put_str(f->s, RK_DB_DATA, "c", "3");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    del_str(f->s, RK_DB_DATA, "b");
    put_str(f->s, RK_DB_DATA, "c", "33");
    put_str(f->s, RK_DB_DATA, "d", "4");
    del_str(f->s, RK_DB_DATA, "e");
    collect c;
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "a=1,c=33,d=4,");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "a=1,c=33,d=4,");
}

static void test_sub_databases_stay_separate(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "k", "data");
    put_str(f->s, RK_DB_HINTS, "k", "hint");
    put_str(f->s, RK_DB_META, "m", "meta");
    for (int round = 0; round < 2; round++) {
        collect c;
        assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "k=data,");
        assert_string_equal(collect_all(f->s, RK_DB_HINTS, &c), "k=hint,");
        assert_string_equal(collect_all(f->s, RK_DB_META, &c), "m=meta,");
        store_expect_missing(f->s, RK_DB_META, "k");
        assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    }
    del_str(f->s, RK_DB_HINTS, "k");
    store_expect_value(f->s, RK_DB_DATA, "k", "data");
}

static void test_sequence_numbers_increase(void **state)
{
    fixture *f = *state;
    uint64_t last = 0;
    for (int i = 0; i < 10; i++) {
        uint64_t seq = i % 3 == 2 ? del_str(f->s, RK_DB_DATA, "k") : put_str(f->s, RK_DB_DATA, "k",
                                                                              "v");
        assert_int_equal(seq, last + 1);
        last = seq;
    }
}

static void test_sync_makes_writes_up_to_seq_durable(void **state)
{
    fixture *f = *state;
    assert_int_equal(rk_store_durable_seq(f->s), 0);
    uint64_t s1 = put_str(f->s, RK_DB_DATA, "a", "1");
    uint64_t s2 = put_str(f->s, RK_DB_DATA, "b", "2");
    uint64_t s3 = put_str(f->s, RK_DB_DATA, "c", "3");
    assert_int_equal(rk_store_sync(f->s, s2), 0);
    assert_int_equal(rk_store_durable_seq(f->s), s2);
    assert_int_equal(rk_store_sync(f->s, s1), 0);       /* an older seq changes nothing */
    assert_int_equal(rk_store_durable_seq(f->s), s2);
    assert_int_equal(rk_store_sync(f->s, s3), 0);
    assert_int_equal(rk_store_durable_seq(f->s), s3);
    assert_int_equal(rk_store_sync(f->s, s3 + 100), 0); /* beyond the last write: clamped */
    assert_int_equal(rk_store_durable_seq(f->s), s3);
    store_expect_value(f->s, RK_DB_DATA, "c", "3");
}

/* A sync of an older seq must not hide a newer write of the same key still waiting. */
static void test_sync_of_older_seq_keeps_newer_writes_visible(void **state)
{
    fixture *f = *state;
    uint64_t s1 = put_str(f->s, RK_DB_DATA, "k", "v1");
    put_str(f->s, RK_DB_DATA, "j", "j1");
    put_str(f->s, RK_DB_DATA, "k", "v2");
    del_str(f->s, RK_DB_DATA, "j");
    assert_int_equal(rk_store_sync(f->s, s1 + 1), 0);
    store_expect_value(f->s, RK_DB_DATA, "k", "v2");
    store_expect_missing(f->s, RK_DB_DATA, "j");
    collect c;
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "k=v2,");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    store_expect_value(f->s, RK_DB_DATA, "k", "v2");
    store_expect_missing(f->s, RK_DB_DATA, "j");
}

static void test_large_value_round_trips(void **state)
{
    fixture *f = *state;
    size_t len = 4u << 20;
    uint8_t *value = malloc(len);
    assert_non_null(value);
    for (size_t i = 0; i < len; i++) {
        value[i] = (uint8_t)(i * 31u + (i >> 12));
    }
    uint64_t seq = 0;
    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, bytes_of("big"), 3, value, len, &seq), 0);
    for (int round = 0; round < 2; round++) {
        rk_buf buf = {0};
        assert_int_equal(rk_store_get(f->s, RK_DB_DATA, bytes_of("big"), 3, &buf), 0);
        assert_int_equal(buf.len, len);
        assert_memory_equal(buf.data, value, len);
        rk_store_buf_free(&buf);
        assert_int_equal(rk_store_sync(f->s, seq), 0);
    }
    free(value);
}

static void test_engine_names_itself(void **state)
{
    fixture *f = *state;
    assert_string_equal(rk_store_engine_name(f->s), f->engine->engine);
    assert_int_equal(rk_store_is_durable(f->s), fixture_on_disk(f));
    assert_string_equal(rk_store_last_error(f->s), "");
}

/* ---- engines on disk (lmdb, rocksdb) --------------------------------------------------- */

static void test_disk_write_visible_before_sync_and_persisted_after(void **state)
{
    fixture *f = *state;
    uint64_t seq = put_str(f->s, RK_DB_DATA, "k", "v");
    put_str(f->s, RK_DB_META, "epoch", "7");
    store_expect_value(f->s, RK_DB_DATA, "k", "v");
    assert_int_equal(rk_store_durable_seq(f->s), 0);
    assert_int_equal(rk_store_sync(f->s, seq), 0);
    assert_int_equal(rk_store_durable_seq(f->s), seq);
    fixture_reopen(f);      /* close syncs the META write too */
    store_expect_value(f->s, RK_DB_DATA, "k", "v");
    store_expect_value(f->s, RK_DB_META, "epoch", "7");
    assert_int_equal(rk_store_durable_seq(f->s), 0);    /* numbers are per open store */
}

static void test_disk_reopen_sees_deletes_and_order(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "b", "2");
    put_str(f->s, RK_DB_DATA, "a", "1");
    put_str(f->s, RK_DB_DATA, "c", "3");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    del_str(f->s, RK_DB_DATA, "b");
    fixture_reopen(f);
    collect c;
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "a=1,c=3,");
}

static void test_disk_open_missing_dir_is_eio(void **state)
{
    const engine_case *engine = *state;
    rk_store_options opts = {.engine = engine->engine, .dir = "/tmp/rk-test-store-no-such-dir/x"};
    rk_store *s = NULL;
    char err[256] = "";
    assert_int_equal(rk_store_open(&opts, &s, err, sizeof(err)), RK_EIO);
    assert_null(s);
    assert_non_null(strstr(err, "No such file"));
}

static void test_open_unknown_engine_is_einval(void **state)
{
    (void)state;
    rk_store_options opts = {.engine = "rocks"};
    rk_store *s = NULL;
    char err[256] = "";
    assert_int_equal(rk_store_open(&opts, &s, err, sizeof(err)), RK_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "rocks"));
}

#define MAP_FULL_VALUE_BYTES (64u * 1024u)
#define MAP_FULL_PUTS_MAX    256

static void map_full_key(char *key, size_t key_bytes, int i)
{
    snprintf(key, key_bytes, "big%03d", i);
}

/* A tiny map fills: the sync that does not fit reports RK_ENOSPC with LMDB's text, its write is
 * rolled back, a later write it did not cover survives, synced data stays readable, and the
 * store still takes deletes (then new writes in the room they free). */
static void test_lmdb_map_full_is_enospc_and_rolls_back(void **state)
{
    fixture *f = *state;
    rk_store_close(f->s);
    f->map_bytes = 1u << 20;
    fixture_open(f);

    uint8_t *value = calloc(1, MAP_FULL_VALUE_BYTES);
    assert_non_null(value);
    char key[32];
    int full_at = -1;
    uint64_t seq_ok = 0;
    for (int i = 0; i < MAP_FULL_PUTS_MAX && full_at < 0; i++) {
        map_full_key(key, sizeof(key), i);
        value[0] = (uint8_t)i;
        uint64_t seq = 0;
        assert_int_equal(rk_store_put(f->s, RK_DB_DATA, bytes_of(key), strlen(key), value,
                                      MAP_FULL_VALUE_BYTES, &seq), 0);
        uint64_t small_seq = put_str(f->s, RK_DB_DATA, "small", key);
        int rc = rk_store_sync(f->s, seq);
        if (rc == 0) {
            seq_ok = seq;
            assert_int_equal(rk_store_sync(f->s, small_seq), 0);
            seq_ok = small_seq;
            continue;
        }
        assert_int_equal(rc, RK_ENOSPC);
        full_at = i;
        assert_non_null(strstr(rk_store_last_error(f->s), "MDB_MAP_FULL"));
        assert_int_equal(rk_store_durable_seq(f->s), seq_ok);
        store_expect_missing(f->s, RK_DB_DATA, key);          /* rolled back */
        store_expect_value(f->s, RK_DB_DATA, "small", key);   /* not covered: still pending */
    }
    assert_true(full_at > 0);
    print_message("a 1 MiB map took %d values of %u bytes\n", full_at, MAP_FULL_VALUE_BYTES);
    free(value);

    map_full_key(key, sizeof(key), 0);
    rk_buf buf = {0};
    assert_int_equal(rk_store_get(f->s, RK_DB_DATA, bytes_of(key), strlen(key), &buf), 0);
    assert_int_equal(buf.len, MAP_FULL_VALUE_BYTES);
    rk_store_buf_free(&buf);

    for (int i = 0; i < full_at; i++) {
        map_full_key(key, sizeof(key), i);
        del_str(f->s, RK_DB_DATA, key);
    }
    uint64_t seq = del_str(f->s, RK_DB_DATA, "small");
    assert_int_equal(rk_store_sync(f->s, seq), 0);
    assert_int_equal(rk_store_durable_seq(f->s), seq);
    seq = put_str(f->s, RK_DB_DATA, "after", "room again");
    assert_int_equal(rk_store_sync(f->s, seq), 0);
    fixture_reopen(f);
    collect c;
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "after=room again,");
}

#define CONCURRENT_KEYS 20000

typedef struct sync_thread_ctx {
    rk_store *s;
    _Atomic uint64_t seq_wanted;
    _Atomic bool done;
    _Atomic int failures;
    uint64_t syncs;         /* those that advanced durable_seq */
} sync_thread_ctx;

static void *sync_thread_main(void *arg)
{
    sync_thread_ctx *ctx = arg;
    while (!atomic_load(&ctx->done)) {
        uint64_t seq = atomic_load(&ctx->seq_wanted);
        uint64_t before = rk_store_durable_seq(ctx->s);
        if (rk_store_sync(ctx->s, seq) != 0) {
            atomic_fetch_add(&ctx->failures, 1);
        }
        if (rk_store_durable_seq(ctx->s) > before) {
            ctx->syncs++;       /* a sync that made writes durable */
        }
    }
    return NULL;
}

static void concurrent_key(char *key, size_t key_bytes, int i)
{
    snprintf(key, key_bytes, "key%06d", i);
}

static void concurrent_check(rk_store *s)
{
    char key[32];
    char value[32];
    for (int i = 0; i < CONCURRENT_KEYS; i++) {
        concurrent_key(key, sizeof(key), i);
        if (i % 10 == 3) {
            store_expect_missing(s, RK_DB_DATA, key);
            continue;
        }
        snprintf(value, sizeof(value), "%s%d", i % 7 == 0 ? "again-" : "v", i);
        store_expect_value(s, RK_DB_DATA, key, value);
    }
}

static int concurrent_count_fn(void *ctx, const uint8_t *key, size_t key_len,
                               const uint8_t *value, size_t value_len)
{
    size_t *count = ctx;
    (*count)++;
    return 0;
}

/* The runtime's shape: a worker syncs in a loop while the loop thread writes and reads. */
static void test_disk_sync_thread_races_writes_and_reads(void **state)
{
    fixture *f = *state;
    sync_thread_ctx ctx = {.s = f->s};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, sync_thread_main, &ctx), 0);

    char key[32];
    char value[32];
    uint64_t seq = 0;
    for (int i = 0; i < CONCURRENT_KEYS; i++) {
        concurrent_key(key, sizeof(key), i);
        snprintf(value, sizeof(value), "v%d", i);
        seq = put_str(f->s, RK_DB_DATA, key, value);
        atomic_store(&ctx.seq_wanted, seq);
        store_expect_value(f->s, RK_DB_DATA, key, value);
        if (i % 7 == 0) {
            snprintf(value, sizeof(value), "again-%d", i);
            seq = put_str(f->s, RK_DB_DATA, key, value);
        }
        if (i % 10 == 3) {
            seq = del_str(f->s, RK_DB_DATA, key);
            store_expect_missing(f->s, RK_DB_DATA, key);
        } else if (i % 7 == 0) {
            store_expect_value(f->s, RK_DB_DATA, key, value);
        }
        if (i >= 100 && i % 100 == 0) {
            concurrent_key(key, sizeof(key), i - 97);   /* an older key, likely committed */
            store_expect_missing(f->s, RK_DB_DATA, key);
        }
        atomic_store(&ctx.seq_wanted, seq);
        if (i % 250 == 249) {
            /* Let a sync finish now and then, so reads also go to LMDB mid-run. */
            while (rk_store_durable_seq(f->s) < seq - 5) {
                sched_yield();
            }
        }
    }
    atomic_store(&ctx.done, true);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(atomic_load(&ctx.failures), 0);
    assert_true(ctx.syncs > 0);
    print_message("%llu syncs raced %d writes\n", (unsigned long long)ctx.syncs, CONCURRENT_KEYS);
    assert_int_equal(rk_store_sync(f->s, seq), 0);
    assert_int_equal(rk_store_durable_seq(f->s), seq);

    concurrent_check(f->s);
    fixture_reopen(f);
    concurrent_check(f->s);
    size_t count = 0;
    assert_int_equal(rk_store_iterate(f->s, RK_DB_DATA, NULL, 0, NULL, 0, concurrent_count_fn,
                                      &count), 0);
    assert_int_equal(count, CONCURRENT_KEYS - CONCURRENT_KEYS / 10);
}

/* ---- mem crash layer ------------------------------------------------------------------ */

static void test_mem_crash_drops_exactly_unsynced_writes(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "keep", "1");
    put_str(f->s, RK_DB_DATA, "over", "old");
    put_str(f->s, RK_DB_DATA, "gone", "old");
    put_str(f->s, RK_DB_META, "m", "old");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    uint64_t durable = rk_store_durable_seq(f->s);

    put_str(f->s, RK_DB_DATA, "over", "new");
    put_str(f->s, RK_DB_DATA, "over", "newer");
    del_str(f->s, RK_DB_DATA, "gone");
    put_str(f->s, RK_DB_DATA, "fresh", "x");
    del_str(f->s, RK_DB_DATA, "fresh");
    put_str(f->s, RK_DB_DATA, "fresh2", "y");
    del_str(f->s, RK_DB_META, "m");
    put_str(f->s, RK_DB_META, "m", "new");
    rk_store_mem_crash(f->s);

    collect c;
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "gone=old,keep=1,over=old,");
    assert_string_equal(collect_all(f->s, RK_DB_META, &c), "m=old,");
    assert_int_equal(rk_store_mem_count(f->s, RK_DB_DATA), 3);
    assert_int_equal(rk_store_durable_seq(f->s), durable);
    uint64_t seq = put_str(f->s, RK_DB_DATA, "later", "z");   /* numbers go on, never reused */
    assert_true(seq > durable + 8);
}

static void test_mem_crash_after_sync_of_middle_seq_keeps_prefix(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "a", "1");
    uint64_t mid = put_str(f->s, RK_DB_DATA, "b", "2");
    put_str(f->s, RK_DB_DATA, "a", "11");
    put_str(f->s, RK_DB_DATA, "c", "3");
    del_str(f->s, RK_DB_DATA, "b");
    assert_int_equal(rk_store_sync(f->s, mid), 0);
    assert_int_equal(rk_store_durable_seq(f->s), mid);
    collect c;
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "a=11,c=3,");
    rk_store_mem_crash(f->s);
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "a=1,b=2,");
    rk_store_mem_crash(f->s);      /* a second crash finds nothing more to drop */
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "a=1,b=2,");
}

/* A failed sync rolls back the batches it covered and keeps later ones; a crash afterwards
 * still lands on the last synced state. */
static void test_mem_failed_sync_rolls_back_only_covered_writes(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "a", "synced");
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), 0);
    put_str(f->s, RK_DB_DATA, "a", "failed");
    put_str(f->s, RK_DB_DATA, "b", "failed");
    uint64_t covered = put_str(f->s, RK_DB_DATA, "c", "failed");
    put_str(f->s, RK_DB_DATA, "a", "later");
    put_str(f->s, RK_DB_DATA, "d", "later");

    rk_store_mem_fail_at(f->s, 1, false);
    assert_int_equal(rk_store_sync(f->s, covered), RK_ECRASHED);
    collect c;
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "a=later,d=later,");
    rk_store_mem_crash(f->s);
    assert_string_equal(collect_all(f->s, RK_DB_DATA, &c), "a=synced,");
}

static void test_mem_sticky_failure_fails_every_call_until_crash(void **state)
{
    fixture *f = *state;
    put_str(f->s, RK_DB_DATA, "a", "1");
    rk_store_mem_fail_at(f->s, 2, true);
    store_expect_value(f->s, RK_DB_DATA, "a", "1");           /* call 1 passes */
    uint64_t seq = 0;
    rk_buf buf = {0};
    collect c = {0};
    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, bytes_of("b"), 1, bytes_of("2"), 1, &seq),
                     RK_ECRASHED);
    assert_int_equal(rk_store_get(f->s, RK_DB_DATA, bytes_of("a"), 1, &buf), RK_ECRASHED);
    assert_int_equal(rk_store_iterate(f->s, RK_DB_DATA, NULL, 0, NULL, 0, collect_fn, &c),
                     RK_ECRASHED);
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), RK_ECRASHED);
    assert_int_equal(c.count, 0);
    rk_store_mem_crash(f->s);
    store_expect_missing(f->s, RK_DB_DATA, "a");              /* never synced */
    put_str(f->s, RK_DB_DATA, "b", "2");                /* a crash switches injection off */

    rk_store_mem_fail_at(f->s, 1, false);
    assert_int_equal(rk_store_get(f->s, RK_DB_DATA, bytes_of("b"), 1, &buf), RK_ECRASHED);
    store_expect_value(f->s, RK_DB_DATA, "b", "2");           /* once: the next call passes */
}

/* The fault-injection loop's script: writes, reads and syncs over five keys. */
#define SCRIPT_KEYS 5

typedef enum script_kind {
    SCRIPT_PUT,
    SCRIPT_DEL,
    SCRIPT_PAIR,    /* one batch: put key, delete key2 */
    SCRIPT_GET,
    SCRIPT_ITER,
    SCRIPT_SYNC,
} script_kind;

typedef struct script_step {
    script_kind kind;
    int key;
    int key2;
    const char *value;
} script_step;

static const script_step script[] = {
    {SCRIPT_PUT, 0, 0, "a0"},  {SCRIPT_PUT, 1, 0, "b0"},  {SCRIPT_SYNC, 0, 0, NULL},
    {SCRIPT_PUT, 0, 0, "a1"},  {SCRIPT_DEL, 1, 0, NULL},  {SCRIPT_GET, 0, 0, NULL},
    {SCRIPT_PUT, 2, 0, "c0"},  {SCRIPT_SYNC, 0, 0, NULL}, {SCRIPT_PAIR, 3, 0, "d0"},
    {SCRIPT_ITER, 0, 0, NULL}, {SCRIPT_PUT, 0, 0, "a2"},  {SCRIPT_SYNC, 0, 0, NULL},
    {SCRIPT_DEL, 2, 0, NULL},  {SCRIPT_PUT, 4, 0, "e0"},  {SCRIPT_PAIR, 1, 4, "b1"},
    {SCRIPT_SYNC, 0, 0, NULL}, {SCRIPT_PUT, 2, 0, "c1"},  {SCRIPT_PUT, 3, 0, "d1"},
};
#define SCRIPT_STEPS (sizeof(script) / sizeof(script[0]))

static const char *script_key(int key)
{
    static const char *const names[SCRIPT_KEYS] = {"k0", "k1", "k2", "k3", "k4"};
    return names[key];
}

/* Run one step against the store and the live model; returns the store's result. */
static int script_run_step(rk_store *s, const script_step *step, const char *live[SCRIPT_KEYS])
{
    uint64_t seq = 0;
    rk_buf buf = {0};
    collect c = {0};
    const char *key = script_key(step->key);
    int rc = 0;
    switch (step->kind) {
    case SCRIPT_PUT:
        rc = rk_store_put(s, RK_DB_DATA, bytes_of(key), 2, bytes_of(step->value),
                          strlen(step->value), &seq);
        if (rc == 0) {
            live[step->key] = step->value;
        }
        break;
    case SCRIPT_DEL:
        rc = rk_store_del(s, RK_DB_DATA, bytes_of(key), 2, &seq);
        if (rc == 0) {
            live[step->key] = NULL;
        }
        break;
    case SCRIPT_PAIR: {
        rk_batch_op ops[2] = {
            {.kind = RK_BATCH_PUT, .db = RK_DB_DATA, .key = bytes_of(key), .key_len = 2,
             .value = bytes_of(step->value), .value_len = strlen(step->value)},
            {.kind = RK_BATCH_DEL, .db = RK_DB_DATA, .key = bytes_of(script_key(step->key2)),
             .key_len = 2},
        };
        rc = rk_store_write(s, ops, 2, &seq);
        if (rc == 0) {
            live[step->key] = step->value;
            live[step->key2] = NULL;
        }
        break;
    }
    case SCRIPT_GET:
        rc = rk_store_get(s, RK_DB_DATA, bytes_of(key), 2, &buf);
        rk_store_buf_free(&buf);
        break;
    case SCRIPT_ITER:
        rc = rk_store_iterate(s, RK_DB_DATA, NULL, 0, NULL, 0, collect_fn, &c);
        break;
    case SCRIPT_SYNC:
        rc = rk_store_sync(s, UINT64_MAX);
        break;
    }
    return rc;
}

static void script_expect_state(rk_store *s, const char *model[SCRIPT_KEYS], uint64_t n)
{
    size_t live_count = 0;
    for (int k = 0; k < SCRIPT_KEYS; k++) {
        if (model[k] == NULL) {
            store_expect_missing(s, RK_DB_DATA, script_key(k));
        } else {
            store_expect_value(s, RK_DB_DATA, script_key(k), model[k]);
            live_count++;
        }
    }
    if (rk_store_mem_count(s, RK_DB_DATA) != live_count) {
        fail_msg("fail_at %llu: %zu keys after crash, expected %zu", (unsigned long long)n,
                 rk_store_mem_count(s, RK_DB_DATA), live_count);
    }
}

/* For N = 1, 2, ...: the Nth call fails (once or from then on); the process is taken to die
 * there. After the crash exactly the state of the last sync that returned 0 is left. The loop
 * ends when the script completes without the failure firing. */
static void fail_at_loop(bool sticky)
{
    bool completed = false;
    for (uint64_t n = 1; !completed; n++) {
        assert_true(n <= SCRIPT_STEPS + 1);
        rk_store *s = NULL;
        assert_int_equal(rk_store_mem_open(&s), 0);
        const char *live[SCRIPT_KEYS] = {NULL};
        const char *synced[SCRIPT_KEYS] = {NULL};
        rk_store_mem_fail_at(s, n, sticky);
        completed = true;
        for (size_t i = 0; i < SCRIPT_STEPS; i++) {
            int rc = script_run_step(s, &script[i], live);
            if (rc == RK_ECRASHED) {
                completed = false;
                break;
            }
            assert_int_equal(rc, 0);
            if (script[i].kind == SCRIPT_SYNC) {
                memcpy(synced, live, sizeof(synced));
            }
        }
        rk_store_mem_crash(s);
        script_expect_state(s, synced, n);
        rk_store_close(s);
    }
}

static void test_mem_fail_at_n_loses_no_synced_write(void **state)
{
    (void)state;
    fail_at_loop(false);
}

static void test_mem_sticky_fail_at_n_loses_no_synced_write(void **state)
{
    (void)state;
    fail_at_loop(true);
}

static void test_mem_count_follows_puts_and_deletes(void **state)
{
    fixture *f = *state;
    assert_int_equal(rk_store_mem_count(f->s, RK_DB_DATA), 0);
    put_str(f->s, RK_DB_DATA, "a", "1");
    put_str(f->s, RK_DB_DATA, "a", "2");
    put_str(f->s, RK_DB_DATA, "b", "1");
    put_str(f->s, RK_DB_HINTS, "a", "1");
    del_str(f->s, RK_DB_DATA, "b");
    del_str(f->s, RK_DB_DATA, "zz");
    assert_int_equal(rk_store_mem_count(f->s, RK_DB_DATA), 1);
    assert_int_equal(rk_store_mem_count(f->s, RK_DB_HINTS), 1);
}

/* Many keys in the skiplist: order and lookups hold beyond a handful of levels. */
static void test_mem_many_keys_stay_ordered(void **state)
{
    fixture *f = *state;
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "%08d", (i * 7919) % 5000);
        put_str(f->s, RK_DB_DATA, key, "v");
    }
    assert_int_equal(rk_store_mem_count(f->s, RK_DB_DATA), 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof(key), "%08d", i);
        del_str(f->s, RK_DB_DATA, key);
    }
    collect c = {.stop_after = 3};
    assert_int_equal(rk_store_iterate(f->s, RK_DB_DATA, NULL, 0, NULL, 0, collect_fn, &c), 0);
    assert_string_equal(c.text, "00000001=v,00000003=v,00000005=v,");
    assert_int_equal(rk_store_mem_count(f->s, RK_DB_DATA), 2500);
}

/* ---- main ----------------------------------------------------------------------------- */

#define STORE_TEST(fn, engine) \
    cmocka_unit_test_prestate_setup_teardown(fn, fixture_setup, fixture_teardown, &(engine))

/* What every engine on disk must do, as well as the conformance suite. */
#define DISK_TESTS(engine)                                                                   \
    STORE_TEST(test_disk_write_visible_before_sync_and_persisted_after, engine),             \
    STORE_TEST(test_disk_reopen_sees_deletes_and_order, engine),                             \
    STORE_TEST(test_disk_sync_thread_races_writes_and_reads, engine),                        \
    cmocka_unit_test_prestate(test_disk_open_missing_dir_is_eio, &(engine))

#define CONFORMANCE_TESTS(engine)                                                            \
    STORE_TEST(test_get_missing_key_is_not_found, engine),                                   \
    STORE_TEST(test_put_then_get_returns_value, engine),                                     \
    STORE_TEST(test_put_overwrites_value, engine),                                           \
    STORE_TEST(test_del_removes_key, engine),                                                \
    STORE_TEST(test_del_missing_key_succeeds, engine),                                       \
    STORE_TEST(test_binary_keys_and_values_keep_nul_bytes, engine),                          \
    STORE_TEST(test_empty_value_is_stored, engine),                                          \
    STORE_TEST(test_key_length_limits_are_1_and_511, engine),                                \
    STORE_TEST(test_bad_arguments_are_refused, engine),                                      \
    STORE_TEST(test_batch_applies_every_op, engine),                                         \
    STORE_TEST(test_batch_with_invalid_op_applies_nothing, engine),                          \
    STORE_TEST(test_iterate_visits_keys_in_bytewise_order, engine),                          \
    STORE_TEST(test_iterate_honours_start_and_end, engine),                                  \
    STORE_TEST(test_iterate_stops_early_and_passes_errors_up, engine),                       \
    STORE_TEST(test_iterate_callback_may_read_the_store, engine),                            \
    STORE_TEST(test_iterate_merges_pending_overwrites_and_deletes, engine),                  \
    STORE_TEST(test_sub_databases_stay_separate, engine),                                    \
    STORE_TEST(test_sequence_numbers_increase, engine),                                      \
    STORE_TEST(test_sync_makes_writes_up_to_seq_durable, engine),                            \
    STORE_TEST(test_sync_of_older_seq_keeps_newer_writes_visible, engine),                   \
    STORE_TEST(test_large_value_round_trips, engine),                                        \
    STORE_TEST(test_engine_names_itself, engine)

int main(void)
{
    const struct CMUnitTest mem_tests[] = {
        CONFORMANCE_TESTS(case_mem),
        STORE_TEST(test_mem_crash_drops_exactly_unsynced_writes, case_mem),
        STORE_TEST(test_mem_crash_after_sync_of_middle_seq_keeps_prefix, case_mem),
        STORE_TEST(test_mem_failed_sync_rolls_back_only_covered_writes, case_mem),
        STORE_TEST(test_mem_sticky_failure_fails_every_call_until_crash, case_mem),
        cmocka_unit_test(test_mem_fail_at_n_loses_no_synced_write),
        cmocka_unit_test(test_mem_sticky_fail_at_n_loses_no_synced_write),
        STORE_TEST(test_mem_count_follows_puts_and_deletes, case_mem),
        STORE_TEST(test_mem_many_keys_stay_ordered, case_mem),
    };
    const struct CMUnitTest lmdb_tests[] = {
        CONFORMANCE_TESTS(case_lmdb),
        DISK_TESTS(case_lmdb),
        STORE_TEST(test_lmdb_map_full_is_enospc_and_rolls_back, case_lmdb),
        cmocka_unit_test(test_open_unknown_engine_is_einval),
    };
    /* The map-full test pins the rollback of a failed LMDB commit, which the WAL replaces
     * (test_store_wal.c covers map full at a checkpoint). */
    const struct CMUnitTest lmdb_wal_tests[] = {
        CONFORMANCE_TESTS(case_lmdb_wal),
        STORE_TEST(test_disk_write_visible_before_sync_and_persisted_after, case_lmdb_wal),
        STORE_TEST(test_disk_reopen_sees_deletes_and_order, case_lmdb_wal),
        STORE_TEST(test_disk_sync_thread_races_writes_and_reads, case_lmdb_wal),
    };
    const struct CMUnitTest rocksdb_tests[] = {
        CONFORMANCE_TESTS(case_rocksdb),
        DISK_TESTS(case_rocksdb),
    };
    int failed = cmocka_run_group_tests_name("store_mem", mem_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("store_lmdb", lmdb_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("store_lmdb_wal", lmdb_wal_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("store_rocksdb", rocksdb_tests, NULL, NULL);
    return failed;
}
