/* test_server_reply.c — the RESP shapes of the node's replies (src/io/server.c,
 * rk_server_encode_reply): arrays, maps and sets as Redis answers them, in RESP2 (maps and
 * sets as flat arrays) and RESP3 (% and ~), empty ones and binary strings included; and the
 * older kinds unchanged. Byte for byte against the wire text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../src/io/server.h"

static const uint8_t *const reply_values[] = {(const uint8_t *)"apple", (const uint8_t *)"3",
                                              (const uint8_t *)"a\0b"};
static const size_t reply_lens[] = {5, 1, 3};

/* Encode `r` for `proto` and compare with `want` (want_len bytes, NULs allowed). */
static void expect_encoding(const rk_reply *r, int proto, const char *want, size_t want_len)
{
    rk_resp_out out;
    rk_resp_out_init(&out, proto);
    rk_server_encode_reply(&out, r);
    assert_false(out.oom);
    if (out.len != want_len || memcmp(out.data, want, want_len) != 0) {
        fail_msg("RESP%d of reply kind %d: got %zu bytes [%.*s]", proto, r->kind, out.len,
                 (int)out.len, (const char *)out.data);
    }
    rk_resp_out_deinit(&out);
}

#define EXPECT(r, proto, literal) expect_encoding((r), (proto), (literal), sizeof(literal) - 1)

static void test_array_is_an_array_in_both(void **state)
{
    (void)state;
    rk_reply r = {.kind = RK_REPLY_ARRAY, .value_count = 3, .values = reply_values,
                  .value_lens = reply_lens};
    EXPECT(&r, 2, "*3\r\n$5\r\napple\r\n$1\r\n3\r\n$3\r\na\0b\r\n");
    EXPECT(&r, 3, "*3\r\n$5\r\napple\r\n$1\r\n3\r\n$3\r\na\0b\r\n");
}

/* HGETALL's shape: key, value pairs; RESP2 flattens them. */
static void test_map_is_flat_in_resp2_and_a_map_in_resp3(void **state)
{
    (void)state;
    rk_reply r = {.kind = RK_REPLY_MAP, .value_count = 2, .values = reply_values,
                  .value_lens = reply_lens};
    EXPECT(&r, 2, "*2\r\n$5\r\napple\r\n$1\r\n3\r\n");
    EXPECT(&r, 3, "%1\r\n$5\r\napple\r\n$1\r\n3\r\n");
}

/* SMEMBERS's shape. */
static void test_set_is_an_array_in_resp2_and_a_set_in_resp3(void **state)
{
    (void)state;
    rk_reply r = {.kind = RK_REPLY_SET, .value_count = 2, .values = reply_values,
                  .value_lens = reply_lens};
    EXPECT(&r, 2, "*2\r\n$5\r\napple\r\n$1\r\n3\r\n");
    EXPECT(&r, 3, "~2\r\n$5\r\napple\r\n$1\r\n3\r\n");
}

static void test_empty_collections(void **state)
{
    (void)state;
    rk_reply r = {.kind = RK_REPLY_SET};
    EXPECT(&r, 2, "*0\r\n");
    EXPECT(&r, 3, "~0\r\n");
    r.kind = RK_REPLY_MAP;
    EXPECT(&r, 3, "%0\r\n");
    r.kind = RK_REPLY_ARRAY;
    EXPECT(&r, 3, "*0\r\n");
}

/* The kinds that were there before keep their shapes. */
static void test_older_kinds_unchanged(void **state)
{
    (void)state;
    rk_reply ok = {.kind = RK_REPLY_OK};
    EXPECT(&ok, 2, "+OK\r\n");
    rk_reply nil = {.kind = RK_REPLY_NIL};
    EXPECT(&nil, 2, "$-1\r\n");
    EXPECT(&nil, 3, "_\r\n");
    rk_reply value = {.kind = RK_REPLY_VALUE, .value = (const uint8_t *)"v", .value_len = 1};
    EXPECT(&value, 2, "$1\r\nv\r\n");
    rk_reply integer = {.kind = RK_REPLY_INT, .integer = -7};
    EXPECT(&integer, 2, ":-7\r\n");
    rk_reply written = {.kind = RK_REPLY_WRITTEN, .context = "ctx", .integer = 2};
    EXPECT(&written, 2, "*2\r\n$3\r\nctx\r\n:2\r\n");
    rk_reply error = {.kind = RK_REPLY_ERROR, .error = RK_EWRONGTYPE, .message = "no"};
    EXPECT(&error, 2, "-WRONGTYPE no\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array_is_an_array_in_both),
        cmocka_unit_test(test_map_is_flat_in_resp2_and_a_map_in_resp3),
        cmocka_unit_test(test_set_is_an_array_in_resp2_and_a_set_in_resp3),
        cmocka_unit_test(test_empty_collections),
        cmocka_unit_test(test_older_kinds_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
