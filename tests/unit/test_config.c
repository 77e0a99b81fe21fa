/* test_config.c — ringkvd's options: defaults, flags in both forms, the INI file, flags
 * winning over the file, and every kind of bad value stopping start-up with a message that
 * names the option (and the file line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/io/config.h"
#include "../../src/store/store.h"

static int parse(rk_config *c, char *err, size_t err_len, int argc, const char **argv)
{
    assert_int_equal(rk_config_init(c), 0);
    int rc = rk_config_parse_args(c, argc, (char **)argv, err, err_len);
    if (rc == 0) {
        rc = rk_config_finish(c, err, err_len);
    }
    return rc;
}

static void test_defaults_are_documented_values(void **state)
{
    (void)state;
    rk_config c;
    char err[RK_CONFIG_ERROR_BYTES];
    const char *argv[] = {"ringkvd"};
    assert_int_equal(parse(&c, err, sizeof(err), 1, argv), 0);
    assert_int_equal(c.port, 7001);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_string_equal(c.engine, "lmdb");
    assert_int_equal(c.sync, RK_SYNC_BATCH);
    assert_true(c.wal);
    assert_int_equal(c.max_value_bytes, 16u << 20);
    assert_int_equal(c.failure_timeout_ms, 2000);
    rk_config_deinit(&c);
}

static void test_flags_in_both_forms_with_size_suffixes(void **state)
{
    (void)state;
    rk_config c;
    char err[RK_CONFIG_ERROR_BYTES];
    const char *argv[] = {"ringkvd", "--port", "7005", "--sync=always", "--max-value-bytes",
                          "4m", "--engine", "mem", "--map-size=2g", "--wal=no"};
    assert_int_equal(parse(&c, err, sizeof(err), 10, argv), 0);
    assert_false(c.wal);
    assert_int_equal(c.port, 7005);
    assert_int_equal(c.sync, RK_SYNC_ALWAYS);
    assert_int_equal(c.max_value_bytes, 4u << 20);
    assert_string_equal(c.engine, "mem");
    assert_int_equal(c.map_bytes, 2ull << 30);
    rk_config_deinit(&c);
}

static void test_engine_takes_each_engine_name(void **state)
{
    (void)state;
    const char *engines[] = {"lmdb", "rocksdb", "mem"};
    for (size_t i = 0; i < 3; i++) {
        rk_config c;
        char err[RK_CONFIG_ERROR_BYTES] = "";
        const char *argv[] = {"ringkvd", "--engine", engines[i]};
        assert_int_equal(parse(&c, err, sizeof(err), 3, argv), 0);
        assert_string_equal(c.engine, engines[i]);
        rk_config_deinit(&c);
    }
}

/* map-size defaults to auto (0: sized from the disk at open) and takes "auto" back. */
static void test_map_size_auto(void **state)
{
    (void)state;
    rk_config c;
    char err[256];
    const char *set[] = {"ringkvd", "--map-size", "1g"};
    assert_int_equal(parse(&c, err, sizeof(err), 3, set), 0);
    assert_int_equal(c.map_bytes, 1ull << 30);
    rk_config_deinit(&c);
    const char *automatic[] = {"ringkvd", "--map-size", "AUTO"};
    assert_int_equal(parse(&c, err, sizeof(err), 3, automatic), 0);
    assert_int_equal(c.map_bytes, 0);
    rk_config_deinit(&c);
    const char *none[] = {"ringkvd"};
    assert_int_equal(parse(&c, err, sizeof(err), 1, none), 0);
    assert_int_equal(c.map_bytes, 0);
    rk_config_deinit(&c);
    /* The data directory's own file system sizes it; at least the 1 GiB floor. */
    uint64_t bytes = rk_store_lmdb_auto_map_bytes(".");
    assert_true(bytes >= RK_STORE_MAP_BYTES_MIN_AUTO);
    assert_true(bytes <= RK_STORE_MAP_BYTES_MAX);
}

/* failure-timeout-ms takes both ends of its range (peer.h: the silence that counts a member
 * down); one past either end is refused in test_bad_values_name_the_option. */
static void test_failure_timeout_takes_both_ends_of_its_range(void **state)
{
    (void)state;
    const char *ends[] = {"500", "60000"};
    for (size_t i = 0; i < 2; i++) {
        rk_config c;
        char err[RK_CONFIG_ERROR_BYTES] = "";
        const char *argv[] = {"ringkvd", "--failure-timeout-ms", ends[i]};
        assert_int_equal(parse(&c, err, sizeof(err), 3, argv), 0);
        assert_int_equal(c.failure_timeout_ms, (uint32_t)strtoul(ends[i], NULL, 10));
        rk_config_deinit(&c);
    }
}

static void expect_error(const char *flag, const char *value, const char *needle)
{
    rk_config c;
    char err[RK_CONFIG_ERROR_BYTES] = "";
    const char *argv[] = {"ringkvd", flag, value};
    assert_int_equal(parse(&c, err, sizeof(err), 3, argv), RK_EINVAL);
    if (strstr(err, needle) == NULL) {
        fail_msg("%s %s: message \"%s\" lacks \"%s\"", flag, value, err, needle);
    }
    rk_config_deinit(&c);
}

static void test_bad_values_name_the_option(void **state)
{
    (void)state;
    expect_error("--port", "0", "port = 0: expected 1 to 65535");
    expect_error("--port", "65536", "port");
    expect_error("--port", "12ab", "port = \"12ab\"");
    expect_error("--sync", "sometimes", "sync = \"sometimes\": expected always, batch or none");
    expect_error("--engine", "rocks", "engine = \"rocks\": expected lmdb, rocksdb or mem");
    expect_error("--wal", "maybe", "wal = \"maybe\": expected yes or no");
    expect_error("--log-level", "loud", "log-level");
    expect_error("--max-value-bytes", "-5", "max-value-bytes");
    expect_error("--max-value-bytes", "1t", "max-value-bytes");
    expect_error("--max-key-bytes", "600", "max-key-bytes = 600: expected 1 to 507");
    expect_error("--failure-timeout-ms", "499", "failure-timeout-ms = 499: expected 500 to 60000");
    expect_error("--failure-timeout-ms", "60001", "failure-timeout-ms");
    expect_error("--partitions", "48", "partitions = 48: expected a power of two");
    expect_error("--no-such-option", "1", "unknown option \"no-such-option\"");
    expect_error("--client-query-buffer-limit", "65536", "client-query-buffer-limit");
    expect_error("--cluster-name",
                 "a-cluster-name-that-goes-on-and-on-well-past-the-sixty-four-bytes-allowed",
                 "cluster-name is 73 bytes: expected 1 to 64");
}

static void test_members_list_parses_and_must_name_this_node(void **state)
{
    (void)state;
    rk_config c;
    char err[RK_CONFIG_ERROR_BYTES] = "";
    const char *argv[] = {"ringkvd", "--node-id", "2", "--members",
                          "1=127.0.0.1:7001:17001,2=127.0.0.2:7002:17002"};
    assert_int_equal(parse(&c, err, sizeof(err), 5, argv), 0);
    assert_int_equal(c.member_count, 2);
    assert_int_equal(c.members[1].id, 2);
    assert_string_equal(c.members[1].host, "127.0.0.2");
    assert_int_equal(c.members[1].client_port, 7002);
    assert_int_equal(c.members[1].cluster_port, 17002);
    rk_config_deinit(&c);
    expect_error("--members", "1=127.0.0.1:7001", "expected id=host:port:cluster-port");
    expect_error("--members", "5=127.0.0.1:7001:17001", "this node's id 1 is not among them");
    expect_error("--members", "1=h:1:2,1=h:3:4", "node id 1 named twice");
}

static void test_single_node_is_its_own_member(void **state)
{
    (void)state;
    rk_config c;
    char err[RK_CONFIG_ERROR_BYTES];
    const char *argv[] = {"ringkvd", "--port", "7005"};
    assert_int_equal(parse(&c, err, sizeof(err), 3, argv), 0);
    assert_int_equal(c.member_count, 1);
    assert_int_equal(c.members[0].id, 1);
    assert_int_equal(c.cluster_port, 17005);
    rk_config_deinit(&c);
}

static void test_flag_without_value_is_an_error(void **state)
{
    (void)state;
    rk_config c;
    char err[RK_CONFIG_ERROR_BYTES] = "";
    const char *argv[] = {"ringkvd", "--port"};
    assert_int_equal(parse(&c, err, sizeof(err), 2, argv), RK_EINVAL);
    assert_non_null(strstr(err, "--port needs a value"));
    rk_config_deinit(&c);
}

static char *write_file(const char *text)
{
    char *path = strdup("/tmp/ringkv-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_file_sets_options_and_flags_win(void **state)
{
    (void)state;
    char *path = write_file("; a comment\n[node]\nport = 7100\nsync = none\ndata-dir = /tmp/x\n");
    rk_config c;
    char err[RK_CONFIG_ERROR_BYTES];
    const char *argv[] = {"ringkvd", "--port", "7200", "--config", path};
    assert_int_equal(parse(&c, err, sizeof(err), 5, argv), 0);
    assert_int_equal(c.port, 7200);
    assert_int_equal(c.sync, RK_SYNC_NONE);
    assert_string_equal(c.data_dir, "/tmp/x");
    rk_config_deinit(&c);
    unlink(path);
    free(path);
}

static void test_file_error_names_file_line_and_option(void **state)
{
    (void)state;
    char *path = write_file("port = 7100\n\nsync = sometimes\n");
    rk_config c;
    char err[RK_CONFIG_ERROR_BYTES] = "";
    const char *argv[] = {"ringkvd", "--config", path};
    assert_int_equal(parse(&c, err, sizeof(err), 3, argv), RK_EINVAL);
    char want[512];
    snprintf(want, sizeof(want), "%s:3: sync = \"sometimes\"", path);
    if (strstr(err, want) == NULL) {
        fail_msg("message \"%s\" lacks \"%s\"", err, want);
    }
    rk_config_deinit(&c);
    unlink(path);
    free(path);
}

static void test_missing_file_is_an_error(void **state)
{
    (void)state;
    rk_config c;
    char err[RK_CONFIG_ERROR_BYTES] = "";
    const char *argv[] = {"ringkvd", "--config", "/nonexistent/ringkv.conf"};
    assert_int_equal(parse(&c, err, sizeof(err), 3, argv), RK_EINVAL);
    assert_non_null(strstr(err, "/nonexistent/ringkv.conf: cannot open"));
    rk_config_deinit(&c);
}

static void test_help_lists_every_flag_named_in_the_issue(void **state)
{
    (void)state;
    const char *text = rk_config_usage();
    const char *flags[] = {"--port", "--bind", "--data-dir", "--engine", "--sync",
                           "--max-value-bytes", "--log-level", "--config", "--help"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        assert_non_null(strstr(text, flags[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_documented_values),
        cmocka_unit_test(test_flags_in_both_forms_with_size_suffixes),
        cmocka_unit_test(test_engine_takes_each_engine_name),
        cmocka_unit_test(test_map_size_auto),
        cmocka_unit_test(test_failure_timeout_takes_both_ends_of_its_range),
        cmocka_unit_test(test_bad_values_name_the_option),
        cmocka_unit_test(test_members_list_parses_and_must_name_this_node),
        cmocka_unit_test(test_single_node_is_its_own_member),
        cmocka_unit_test(test_flag_without_value_is_an_error),
        cmocka_unit_test(test_file_sets_options_and_flags_win),
        cmocka_unit_test(test_file_error_names_file_line_and_option),
        cmocka_unit_test(test_missing_file_is_an_error),
        cmocka_unit_test(test_help_lists_every_flag_named_in_the_issue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
