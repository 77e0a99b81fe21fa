/* test_store_wal.c — the lmdb engine's redo log (src/store/wal.h): what a crash leaves behind is
 * exactly what was synced; a torn tail record is dropped and the prefix recovered; a damaged
 * record with valid ones behind it refuses to open (RK_ECORRUPT); a checkpoint empties the log
 * and LMDB keeps the data; a map too small for a checkpoint keeps acknowledged writes (in
 * memory and in the log), refuses new ones, and a larger map replays them. A "crash" is
 * rk_store_lmdb_crash_for_test: the store is freed without sync or checkpoint, as kill -9 would.
 * Each test uses a fresh mkdtemp directory under /tmp, removed afterwards. The conformance suite
 * with the WAL on runs in test_store.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/store/store.h"
#include "../../src/store/wal.h"

typedef struct wal_fixture {
    char dir[64];
    char wal_path[128];
    rk_store *s;
} wal_fixture;

static int wal_open_rc(wal_fixture *f, bool wal, uint64_t map_bytes, char *err, size_t err_len)
{
    rk_store_options opts = {
        .engine = "lmdb",
        .dir = f->dir,
        .map_bytes = map_bytes,
        .sync_each_commit = true,
        .wal = wal,
    };
    return rk_store_open(&opts, &f->s, err, err_len);
}

static void wal_open(wal_fixture *f, bool wal, uint64_t map_bytes)
{
    char err[512] = "";
    int rc = wal_open_rc(f, wal, map_bytes, err, sizeof(err));
    if (rc != 0) {
        fail_msg("open %s: %s (%s)", f->dir, rk_strerror(rc), err);
    }
}

static void wal_crash(wal_fixture *f)
{
    rk_store_lmdb_crash_for_test(f->s);
    f->s = NULL;
}

static int wal_setup(void **state)
{
    wal_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/rk-test-wal-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->wal_path, sizeof(f->wal_path), "%s/%s", f->dir, RK_WAL_FILE_NAME);
    wal_open(f, true, 0);
    *state = f;
    return 0;
}

static int wal_teardown(void **state)
{
    wal_fixture *f = *state;
    rk_store_close(f->s);
    DIR *d = opendir(f->dir);
    struct dirent *e = NULL;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char path[512];
            snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static uint64_t put_str(rk_store *s, const char *key, const char *value)
{
    uint64_t seq = 0;
    assert_int_equal(rk_store_put(s, RK_DB_DATA, (const uint8_t *)key, strlen(key),
                                  (const uint8_t *)value, strlen(value), &seq), 0);
    return seq;
}

static void wal_expect_value(rk_store *s, const char *key, const char *value)
{
    rk_buf buf = {0};
    int rc = rk_store_get(s, RK_DB_DATA, (const uint8_t *)key, strlen(key), &buf);
    if (rc != 0) {
        fail_msg("get %s: %s, expected \"%s\"", key, rk_strerror(rc), value);
    }
    assert_int_equal(buf.len, strlen(value));
    assert_memory_equal(buf.data, value, buf.len);
    rk_store_buf_free(&buf);
}

static void wal_expect_missing(rk_store *s, const char *key)
{
    rk_buf buf = {0};
    assert_int_equal(rk_store_get(s, RK_DB_DATA, (const uint8_t *)key, strlen(key), &buf),
                     RK_ENOTFOUND);
}

static off_t wal_file_bytes(const wal_fixture *f)
{
    struct stat st;
    assert_int_equal(stat(f->wal_path, &st), 0);
    return st.st_size;
}

/* A crash keeps every synced write (from the log, LMDB never saw them) and loses the rest;
 * open replays the log into LMDB and empties it. */
static void test_wal_crash_keeps_exactly_synced_writes(void **state)
{
    wal_fixture *f = *state;
    put_str(f->s, "a", "1");
    put_str(f->s, "b", "2");
    uint64_t seq = put_str(f->s, "a", "3");
    assert_int_equal(rk_store_sync(f->s, seq), 0);
    assert_int_equal(rk_store_durable_seq(f->s), seq);
    put_str(f->s, "c", "unsynced");
    assert_true(wal_file_bytes(f) > 0);
    wal_crash(f);

    wal_open(f, true, 0);
    assert_int_equal(wal_file_bytes(f), 0);
    wal_expect_value(f->s, "a", "3");
    wal_expect_value(f->s, "b", "2");
    wal_expect_missing(f->s, "c");
    wal_crash(f);                       /* now from LMDB alone */
    wal_open(f, true, 0);
    wal_expect_value(f->s, "a", "3");
}

/* Two groups, the second cut mid-record as a crash during its write leaves it: the first
 * comes back, the second is dropped, and the store opens. */
static void test_wal_torn_tail_recovers_prefix(void **state)
{
    wal_fixture *f = *state;
    assert_int_equal(rk_store_sync(f->s, put_str(f->s, "first", "kept")), 0);
    off_t first_bytes = wal_file_bytes(f);
    assert_int_equal(rk_store_sync(f->s, put_str(f->s, "second", "torn")), 0);
    off_t both_bytes = wal_file_bytes(f);
    assert_true(both_bytes > first_bytes);
    wal_crash(f);
    assert_int_equal(truncate(f->wal_path, both_bytes - 3), 0);

    wal_open(f, true, 0);
    wal_expect_value(f->s, "first", "kept");
    wal_expect_missing(f->s, "second");
}

/* A damaged first record with a valid one behind it is not a crash's torn tail: open refuses
 * with RK_ECORRUPT and says where, and leaves the file alone. */
static void test_wal_corrupt_middle_record_is_ecorrupt(void **state)
{
    wal_fixture *f = *state;
    assert_int_equal(rk_store_sync(f->s, put_str(f->s, "one", "1")), 0);
    assert_int_equal(rk_store_sync(f->s, put_str(f->s, "two", "2")), 0);
    assert_int_equal(rk_store_sync(f->s, put_str(f->s, "three", "3")), 0);
    wal_crash(f);
    int fd = open(f->wal_path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte = 0;
    off_t at = RK_WAL_HEADER_BYTES + RK_WAL_GROUP_HEADER_BYTES + RK_WAL_BATCH_HEADER_BYTES +
               RK_WAL_OP_HEADER_BYTES;      /* the first record's first key byte */
    assert_int_equal(pread(fd, &byte, 1, at), 1);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, at), 1);
    close(fd);
    off_t bytes = wal_file_bytes(f);

    char err[512] = "";
    assert_int_equal(wal_open_rc(f, true, 0, err, sizeof(err)), RK_ECORRUPT);
    assert_null(f->s);
    if (strstr(err, "record at byte 0") == NULL || strstr(err, "valid records follow") == NULL) {
        fail_msg("message \"%s\" does not say where", err);
    }
    assert_int_equal(wal_file_bytes(f), bytes);
    assert_int_equal(unlink(f->wal_path), 0);   /* so teardown's close has nothing to do */
    wal_open(f, true, 0);
}

/* A checkpoint moves durable writes into LMDB and empties the log; later writes go on in a
 * new log, and a crash after both keeps both. */
static void test_wal_checkpoint_empties_log_and_lmdb_keeps_data(void **state)
{
    wal_fixture *f = *state;
    put_str(f->s, "k", "before");
    uint64_t seq = 0;
    assert_int_equal(rk_store_del(f->s, RK_DB_DATA, (const uint8_t *)"gone", 4, &seq), 0);
    assert_int_equal(rk_store_sync(f->s, put_str(f->s, "gone2", "x")), 0);
    assert_true(wal_file_bytes(f) > 0);
    assert_int_equal(rk_store_checkpoint(f->s), 0);
    assert_int_equal(wal_file_bytes(f), 0);
    wal_expect_value(f->s, "k", "before");

    assert_int_equal(rk_store_sync(f->s, put_str(f->s, "k", "after")), 0);
    assert_int_equal(rk_store_del(f->s, RK_DB_DATA, (const uint8_t *)"gone2", 5, &seq), 0);
    assert_int_equal(rk_store_sync(f->s, seq), 0);
    wal_crash(f);
    wal_open(f, true, 0);
    wal_expect_value(f->s, "k", "after");
    wal_expect_missing(f->s, "gone2");
    assert_int_equal(rk_store_checkpoint(f->s), 0);     /* nothing to do */
}

/* A log left by a crash is replayed even when the store reopens with the WAL off. */
static void test_wal_left_behind_is_replayed_with_wal_off(void **state)
{
    wal_fixture *f = *state;
    assert_int_equal(rk_store_sync(f->s, put_str(f->s, "k", "v")), 0);
    wal_crash(f);
    wal_open(f, false, 0);
    wal_expect_value(f->s, "k", "v");
    assert_int_equal(wal_file_bytes(f), 0);
}

#define WAL_MAP_BYTES_SMALL (1u << 20)
#define WAL_MAP_BYTES_LARGE (16u << 20)
#define WAL_FULL_VALUE_BYTES (32u << 10)
#define WAL_FULL_PUTS 48            /* 1.5 MiB of values: more than the small map holds */

static void wal_full_key(char *key, size_t key_bytes, int i)
{
    snprintf(key, key_bytes, "big%03d", i);
}

static void wal_expect_full_values(rk_store *s)
{
    char key[32];
    for (int i = 0; i < WAL_FULL_PUTS; i++) {
        wal_full_key(key, sizeof(key), i);
        rk_buf buf = {0};
        assert_int_equal(rk_store_get(s, RK_DB_DATA, (const uint8_t *)key, strlen(key), &buf), 0);
        assert_int_equal(buf.len, WAL_FULL_VALUE_BYTES);
        assert_int_equal(buf.data[0], (uint8_t)i);
        rk_store_buf_free(&buf);
    }
}

/* The map fills at a checkpoint, after the writes were acknowledged: they stay readable and in
 * the log, new writes get RK_ENOSPC, close keeps the log, an open with the same map fails with
 * RK_ENOSPC naming MDB_MAP_FULL, and an open with a larger map replays everything. */
static void test_wal_map_full_at_checkpoint_keeps_acknowledged_writes(void **state)
{
    wal_fixture *f = *state;
    rk_store_close(f->s);
    wal_open(f, true, WAL_MAP_BYTES_SMALL);
    uint8_t *value = calloc(1, WAL_FULL_VALUE_BYTES);
    assert_non_null(value);
    char key[32];
    uint64_t seq = 0;
    for (int i = 0; i < WAL_FULL_PUTS; i++) {
        wal_full_key(key, sizeof(key), i);
        value[0] = (uint8_t)i;
        assert_int_equal(rk_store_put(f->s, RK_DB_DATA, (const uint8_t *)key, strlen(key), value,
                                      WAL_FULL_VALUE_BYTES, &seq), 0);
    }
    free(value);
    assert_int_equal(rk_store_sync(f->s, seq), 0);      /* durable in the log */
    assert_int_equal(rk_store_checkpoint(f->s), RK_ENOSPC);
    assert_non_null(strstr(rk_store_last_error(f->s), "MDB_MAP_FULL"));
    assert_int_equal(rk_store_durable_seq(f->s), seq);
    wal_expect_full_values(f->s);
    uint64_t refused_seq = 0;
    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, (const uint8_t *)"new", 3,
                                  (const uint8_t *)"v", 1, &refused_seq), RK_ENOSPC);
    assert_int_equal(rk_store_del(f->s, RK_DB_DATA, (const uint8_t *)"big000", 6, &refused_seq),
                     RK_ENOSPC);
    rk_store_close(f->s);   /* its checkpoint fails too: the log stays */
    f->s = NULL;
    assert_true(wal_file_bytes(f) > (off_t)(WAL_FULL_PUTS * WAL_FULL_VALUE_BYTES));

    char err[512] = "";
    assert_int_equal(wal_open_rc(f, true, WAL_MAP_BYTES_SMALL, err, sizeof(err)), RK_ENOSPC);
    if (strstr(err, "MDB_MAP_FULL") == NULL || strstr(err, RK_WAL_FILE_NAME) == NULL) {
        fail_msg("message \"%s\" lacks MDB_MAP_FULL or the file", err);
    }
    wal_open(f, true, WAL_MAP_BYTES_LARGE);
    assert_int_equal(wal_file_bytes(f), 0);
    wal_expect_full_values(f->s);
    assert_int_equal(rk_store_sync(f->s, put_str(f->s, "new", "room")), 0);
}

/* The record checksum is CRC-32C as everyone computes it, so other tools can read the log. */
static void test_wal_crc32c_matches_the_standard_check_value(void **state)
{
    (void)state;
    /* RFC 3720 B.4 / the usual CRC-32C check: "123456789" -> 0xE3069283. */
    assert_int_equal(rk_wal_crc32c(0, (const uint8_t *)"123456789", 9), 0xE3069283u);
    uint32_t split = rk_wal_crc32c(rk_wal_crc32c(0, (const uint8_t *)"1234", 4),
                                   (const uint8_t *)"56789", 5);
    assert_int_equal(split, 0xE3069283u);
}

#define WAL_TEST(fn) cmocka_unit_test_setup_teardown(fn, wal_setup, wal_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        WAL_TEST(test_wal_crash_keeps_exactly_synced_writes),
        WAL_TEST(test_wal_torn_tail_recovers_prefix),
        WAL_TEST(test_wal_corrupt_middle_record_is_ecorrupt),
        WAL_TEST(test_wal_checkpoint_empties_log_and_lmdb_keeps_data),
        WAL_TEST(test_wal_left_behind_is_replayed_with_wal_off),
        WAL_TEST(test_wal_map_full_at_checkpoint_keeps_acknowledged_writes),
        cmocka_unit_test(test_wal_crc32c_matches_the_standard_check_value),
    };
    return cmocka_run_group_tests_name("store_wal", tests, NULL, NULL);
}
