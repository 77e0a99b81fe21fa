/* test_store_rocksdb.c — what only the rocksdb engine (src/store/rocksdb.c) does; the
 * conformance suite and the tests every engine on disk passes run over it in test_store.c.
 * Here: a child process that writes and syncs is killed with SIGKILL mid-write, and the parent
 * reopens its directory and finds every write the child had synced, with what survived of the
 * rest a prefix (RocksDB recovers its WAL to a point in time); a failed sync makes the store
 * refuse every later write and sync (the engine's documented deviation from store.h's
 * rollback), while what was synced before survives a reopen; the files live under
 * <dir>/rocksdb. The kill test runs first: it forks, and RocksDB has not started threads yet.
 * Each test uses a fresh mkdtemp directory under /tmp, removed afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/store/store.h"

#define KILL_SYNC_EVERY     16      /* writes per sync in the child */
#define KILL_SYNCED_MIN     3000    /* the parent kills once this many writes are synced */
#define KILL_KEYS_MAX       200000  /* the child stops writing here (never reached in time) */

typedef struct rocks_fixture {
    char dir[64];
    rk_store *s;
} rocks_fixture;

static rk_store *rocks_open(const char *dir)
{
    rk_store_options opts = {.engine = "rocksdb", .dir = dir, .sync_each_commit = true};
    rk_store *s = NULL;
    char err[512] = "";
    int rc = rk_store_open(&opts, &s, err, sizeof(err));
    if (rc != 0) {
        fail_msg("open rocksdb in %s: %s (%s)", dir, rk_strerror(rc), err);
    }
    return s;
}

static int rocks_remove_fn(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int rocks_setup(void **state)
{
    rocks_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/rk-test-rocksdb-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int rocks_teardown(void **state)
{
    rocks_fixture *f = *state;
    rk_store_close(f->s);
    nftw(f->dir, rocks_remove_fn, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void kill_key(char *key, size_t key_bytes, uint32_t i)
{
    snprintf(key, key_bytes, "key%08u", i);
}

static void kill_value(char *value, size_t value_bytes, uint32_t i)
{
    snprintf(value, value_bytes, "value-%u-%0*u", i, 40, i * 7u);
}

static uint64_t put_text(rk_store *s, rk_db db, const char *key, const char *value)
{
    uint64_t seq = 0;
    int rc = rk_store_put(s, db, (const uint8_t *)key, strlen(key), (const uint8_t *)value,
                          strlen(value), &seq);
    assert_int_equal(rc, 0);
    return seq;
}

/* The child: write keys 0, 1, 2, ... with a sync every KILL_SYNC_EVERY writes, and after each
 * sync report on `fd` how many keys it covers. Never returns; the parent kills it. */
static void kill_child_main(const char *dir, int fd)
{
    rk_store_options opts = {.engine = "rocksdb", .dir = dir, .sync_each_commit = true};
    rk_store *s = NULL;
    if (rk_store_open(&opts, &s, NULL, 0) != 0) {
        _exit(2);       /* no cmocka in the child: its failures are exit codes */
    }
    char key[32];
    char value[64];
    for (uint32_t i = 0; i < KILL_KEYS_MAX; i++) {
        kill_key(key, sizeof(key), i);
        kill_value(value, sizeof(value), i);
        uint64_t seq = 0;
        if (rk_store_put(s, RK_DB_DATA, (const uint8_t *)key, strlen(key),
                         (const uint8_t *)value, strlen(value), &seq) != 0) {
            _exit(3);
        }
        if ((i + 1) % KILL_SYNC_EVERY == 0) {
            if (rk_store_sync(s, seq) != 0 || rk_store_durable_seq(s) != seq) {
                _exit(4);
            }
            uint32_t synced = i + 1;
            if (write(fd, &synced, sizeof(synced)) != (ssize_t)sizeof(synced)) {
                _exit(5);
            }
        }
    }
    pause();
    _exit(6);
}

/* Of the keys 0.. present after the crash: count them and check they are a prefix. */
static uint32_t kill_count_prefix(rk_store *s)
{
    char key[32];
    char value[64];
    uint32_t present = 0;
    for (uint32_t i = 0; i < KILL_KEYS_MAX; i++) {
        kill_key(key, sizeof(key), i);
        rk_buf buf = {0};
        int rc = rk_store_get(s, RK_DB_DATA, (const uint8_t *)key, strlen(key), &buf);
        if (rc == RK_ENOTFOUND) {
            break;
        }
        assert_int_equal(rc, 0);
        kill_value(value, sizeof(value), i);
        assert_int_equal(buf.len, strlen(value));
        assert_memory_equal(buf.data, value, buf.len);
        rk_store_buf_free(&buf);
        present = i + 1;
    }
    for (uint32_t i = present; i < present + 4 * KILL_SYNC_EVERY; i++) {
        kill_key(key, sizeof(key), i);      /* nothing after the first hole */
        rk_buf buf = {0};
        assert_int_equal(rk_store_get(s, RK_DB_DATA, (const uint8_t *)key, strlen(key), &buf),
                         RK_ENOTFOUND);
    }
    return present;
}

/* kill -9 of a process that writes and syncs: every write it saw synced is there after the
 * reopen, and what else survived is a prefix of what it wrote. */
static void test_rocksdb_sigkill_keeps_every_synced_write(void **state)
{
    rocks_fixture *f = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(fds[0]);
        kill_child_main(f->dir, fds[1]);
    }
    close(fds[1]);
    uint32_t synced = 0;
    uint32_t report = 0;
    while (synced < KILL_SYNCED_MIN &&
           read(fds[0], &report, sizeof(report)) == (ssize_t)sizeof(report)) {
        synced = report;
    }
    assert_int_equal(kill(child, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    close(fds[0]);
    assert_true(WIFSIGNALED(status));           /* killed mid-run, not an early exit */
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_true(synced >= KILL_SYNCED_MIN);

    f->s = rocks_open(f->dir);
    uint32_t present = kill_count_prefix(f->s);
    print_message("child synced %u writes before kill -9; %u came back\n", synced, present);
    assert_true(present >= synced);
}

/* A failed sync cannot roll back in RocksDB: the store refuses every later write and sync with
 * RK_EIO and RocksDB's text, durable_seq stays at the last good sync, reads go on, and what was
 * synced before survives a reopen. */
static void test_rocksdb_failed_sync_refuses_later_writes_and_syncs(void **state)
{
    rocks_fixture *f = *state;
    f->s = rocks_open(f->dir);
    uint64_t s1 = put_text(f->s, RK_DB_DATA, "a", "1");
    assert_int_equal(rk_store_sync(f->s, s1), 0);
    uint64_t s2 = put_text(f->s, RK_DB_META, "b", "2");
    rk_store_rocksdb_fail_next_sync_for_test(f->s);
    assert_int_equal(rk_store_sync(f->s, s2), RK_EIO);
    assert_non_null(strstr(rk_store_last_error(f->s), "rocksdb_flush_wal: IO error"));
    assert_int_equal(rk_store_durable_seq(f->s), s1);

    uint64_t seq = 0;
    assert_int_equal(rk_store_put(f->s, RK_DB_DATA, (const uint8_t *)"c", 1,
                                  (const uint8_t *)"3", 1, &seq), RK_EIO);
    assert_int_equal(seq, 0);
    assert_int_equal(rk_store_sync(f->s, UINT64_MAX), RK_EIO);  /* no retry, no later fsync */
    assert_int_equal(rk_store_durable_seq(f->s), s1);
    rk_buf buf = {0};
    assert_int_equal(rk_store_get(f->s, RK_DB_DATA, (const uint8_t *)"a", 1, &buf), 0);
    assert_memory_equal(buf.data, "1", 1);
    rk_store_buf_free(&buf);
    assert_int_equal(rk_store_get(f->s, RK_DB_DATA, (const uint8_t *)"c", 1, &buf),
                     RK_ENOTFOUND);

    rk_store_close(f->s);
    f->s = rocks_open(f->dir);
    assert_int_equal(rk_store_get(f->s, RK_DB_DATA, (const uint8_t *)"a", 1, &buf), 0);
    rk_store_buf_free(&buf);
    assert_int_equal(rk_store_durable_seq(f->s), 0);
    seq = put_text(f->s, RK_DB_DATA, "c", "3");         /* a new process writes again */
    assert_int_equal(rk_store_sync(f->s, seq), 0);
}

/* RocksDB's files stay in <dir>/rocksdb, apart from the runtime's lock and other engines. */
static void test_rocksdb_files_live_in_a_subdirectory(void **state)
{
    rocks_fixture *f = *state;
    f->s = rocks_open(f->dir);
    char path[128];
    struct stat st;
    snprintf(path, sizeof(path), "%s/rocksdb/CURRENT", f->dir);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/CURRENT", f->dir);
    assert_int_equal(stat(path, &st), -1);
}

#define ROCKS_TEST(fn) cmocka_unit_test_setup_teardown(fn, rocks_setup, rocks_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ROCKS_TEST(test_rocksdb_sigkill_keeps_every_synced_write),     /* first: it forks */
        ROCKS_TEST(test_rocksdb_failed_sync_refuses_later_writes_and_syncs),
        ROCKS_TEST(test_rocksdb_files_live_in_a_subdirectory),
    };
    return cmocka_run_group_tests_name("store_rocksdb", tests, NULL, NULL);
}
