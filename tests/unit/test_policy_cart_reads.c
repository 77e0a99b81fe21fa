/* test_policy_cart_reads.c — what the collection policies (`union`, `set`, src/core/policy.h)
 * answer, through rk_policy_answer as the read coordinator calls it: SMEMBERS sorted bytewise
 * and unique (binary members, NUL bytes, the empty member), SCARD, SISMEMBER, SMISMEMBER,
 * EXISTS, TYPE; WRONGTYPE for GET and RK.GET of a set and for the set reads of a string; and
 * both sides of the limits on a command's member list (RK_COLL_MEMBERS_MAX, an element list
 * that is not one, max-value-bytes for a union version, the codec's length overflow). Answers
 * are freed with rk_policy_read_deinit, so ASan catches a leak or a double free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cart_fixture.h"

#define NODE_A 1u
#define NODE_B 2u

/* Members as bytes: NUL bytes, the empty member, prefixes of each other, a high byte; in the
 * order SMEMBERS must answer them. */
static const struct {
    const char *bytes;
    size_t len;
} reads_sorted[] = {
    {"", 0}, {"\0", 1}, {"\0\0", 2}, {"a", 1}, {"a\0", 2}, {"a\0b", 3}, {"ab", 2}, {"b", 1},
    {"\xff", 1},
};
#define READS_SORTED_COUNT (sizeof(reads_sorted) / sizeof(reads_sorted[0]))

/* SADD of reads_sorted[i] for every i with `pick(i)`, listed in reverse order, at `node`. */
static void reads_add(uint8_t policy, rk_dvvset *s, bool (*pick)(uint32_t), rk_node_id node)
{
    const uint8_t *members[READS_SORTED_COUNT];
    size_t lens[READS_SORTED_COUNT];
    uint32_t count = 0;
    for (uint32_t i = READS_SORTED_COUNT; i-- > 0;) {
        if (pick(i)) {
            members[count] = (const uint8_t *)reads_sorted[i].bytes;
            lens[count] = reads_sorted[i].len;
            count++;
        }
    }
    uint8_t list[CART_LIST_BYTES_MAX];
    size_t len = cart_list(members, lens, count, list, sizeof(list));
    rk_policy_write w = cart_write(RK_OP_SADD, list, len, node, 0);
    int64_t reply = 0;
    char message[CART_MESSAGE_BYTES];
    assert_int_equal(cart_try(policy, s, &w, &reply, message), 0);
}

static bool reads_even(uint32_t i)
{
    return i % 2 == 0;
}

static bool reads_odd_and_first(uint32_t i)
{
    return i % 2 == 1 || i < 3;
}

/* Two replicas add overlapping halves concurrently; merged, SMEMBERS answers every member
 * once, in bytewise order (a shorter member before its extensions). */
static void test_smembers_is_sorted_bytewise_and_unique_with_binary_members(void **state)
{
    (void)state;
    for (uint8_t policy = RK_POLICY_UNION; policy <= RK_POLICY_SET; policy++) {
        rk_dvvset a;
        rk_dvvset b;
        rk_dvvset_init(&a);
        rk_dvvset_init(&b);
        reads_add(policy, &a, reads_even, NODE_A);
        reads_add(policy, &b, reads_odd_and_first, NODE_B);
        assert_int_equal(rk_policy_merge(policy, &a, &b), 0);
        rk_policy_read read;
        cart_answer(policy, &a, RK_REQ_READ, RK_READ_SMEMBERS, NULL, 0, &read);
        cart_check_sorted_unique(&read.reply);
        assert_int_equal(read.reply.value_count, READS_SORTED_COUNT);
        for (uint32_t i = 0; i < READS_SORTED_COUNT; i++) {
            assert_int_equal(read.reply.value_lens[i], reads_sorted[i].len);
            if (reads_sorted[i].len > 0) {
                assert_memory_equal(read.reply.values[i], reads_sorted[i].bytes,
                                    reads_sorted[i].len);
            }
        }
        rk_policy_read_deinit(&read);
        rk_dvvset_deinit(&a);
        rk_dvvset_deinit(&b);
    }
}

static int64_t reads_int(uint8_t policy, const rk_dvvset *s, rk_request_kind kind,
                         rk_read_kind op, const char *arg, size_t arg_len)
{
    rk_policy_read read;
    cart_answer(policy, s, kind, op, (const uint8_t *)arg, arg_len, &read);
    assert_int_equal(read.reply.kind, RK_REPLY_INT);
    int64_t integer = read.reply.integer;
    rk_policy_read_deinit(&read);
    return integer;
}

static void reads_expect_status(uint8_t policy, const rk_dvvset *s, const char *status)
{
    rk_policy_read read;
    cart_answer(policy, s, RK_REQ_READ, RK_READ_TYPE, NULL, 0, &read);
    assert_int_equal(read.reply.kind, RK_REPLY_STATUS);
    assert_int_equal(read.reply.value_len, strlen(status));
    assert_memory_equal(read.reply.value, status, strlen(status));
    rk_policy_read_deinit(&read);
}

static void reads_expect_wrongtype(uint8_t policy, const rk_dvvset *s, rk_request_kind kind,
                                   rk_read_kind op)
{
    rk_policy_read read;
    cart_answer(policy, s, kind, op, NULL, 0, &read);
    assert_int_equal(read.reply.kind, RK_REPLY_ERROR);
    assert_int_equal(read.reply.error, RK_EWRONGTYPE);
    assert_string_equal(read.reply.message, RK_POLICY_WRONGTYPE_MESSAGE);
    rk_policy_read_deinit(&read);
}

/* SCARD counts, SISMEMBER finds binary and empty members, SMISMEMBER answers one integer per
 * member asked, in its order (a member asked twice answers twice), TYPE says set. (EXISTS, GET
 * and RK.GET: test_exists_and_get_of_a_set_answer_and_free.) */
static void test_set_reads_answer_by_kind(void **state)
{
    (void)state;
    for (uint8_t policy = RK_POLICY_UNION; policy <= RK_POLICY_SET; policy++) {
        rk_dvvset s;
        rk_dvvset_init(&s);
        reads_add(policy, &s, reads_even, NODE_A);
        assert_int_equal(reads_int(policy, &s, RK_REQ_READ, RK_READ_SCARD, NULL, 0), 5);
        assert_int_equal(reads_int(policy, &s, RK_REQ_READ, RK_READ_SISMEMBER, "", 0), 1);
        assert_int_equal(reads_int(policy, &s, RK_REQ_READ, RK_READ_SISMEMBER, "\0\0", 2), 1);
        assert_int_equal(reads_int(policy, &s, RK_REQ_READ, RK_READ_SISMEMBER, "\0", 1), 0);
        assert_int_equal(reads_int(policy, &s, RK_REQ_READ, RK_READ_SISMEMBER, "a\0bc", 4), 0);
        reads_expect_status(policy, &s, "set");

        const uint8_t *asked[] = {(const uint8_t *)"\xff", (const uint8_t *)"\0",
                                  (const uint8_t *)"a\0", (const uint8_t *)"\xff"};
        size_t asked_lens[] = {1, 1, 2, 1};
        uint8_t list[CART_LIST_BYTES_MAX];
        size_t len = cart_list(asked, asked_lens, 4, list, sizeof(list));
        rk_policy_read read;
        cart_answer(policy, &s, RK_REQ_READ, RK_READ_SMISMEMBER, list, len, &read);
        assert_int_equal(read.reply.kind, RK_REPLY_INTS);
        assert_int_equal(read.reply.value_count, 4);
        assert_int_equal(read.reply.integers[0], 1);
        assert_int_equal(read.reply.integers[1], 0);
        assert_int_equal(read.reply.integers[2], 1);
        assert_int_equal(read.reply.integers[3], 1);
        rk_policy_read_deinit(&read);
        rk_dvvset_deinit(&s);
    }
}

/* A key never written, or deleted, reads as an empty set: TYPE none, SCARD 0, an empty
 * SMEMBERS, SISMEMBER 0 (EXISTS: see the known bug below). */
static void test_an_absent_or_deleted_set_reads_as_empty(void **state)
{
    (void)state;
    for (uint8_t policy = RK_POLICY_UNION; policy <= RK_POLICY_SET; policy++) {
        rk_dvvset s;
        rk_dvvset_init(&s);
        for (int round = 0; round < 2; round++) {
            reads_expect_status(policy, &s, "none");
            assert_int_equal(reads_int(policy, &s, RK_REQ_READ, RK_READ_SCARD, NULL, 0), 0);
            assert_int_equal(reads_int(policy, &s, RK_REQ_READ, RK_READ_SISMEMBER, "a", 1), 0);
            rk_policy_read read;
            cart_answer(policy, &s, RK_REQ_READ, RK_READ_SMEMBERS, NULL, 0, &read);
            assert_int_equal(read.reply.kind, RK_REPLY_SET);
            assert_int_equal(read.reply.value_count, 0);
            rk_policy_read_deinit(&read);
            cart_do(policy, &s, RK_OP_SADD, "a,b", NODE_A);
            cart_do(policy, &s, RK_OP_DEL, NULL, NODE_B);
        }
        assert_true(s.history.entry_count > 0);     /* deleted, not forgotten */
        rk_dvvset_deinit(&s);
    }
}

/* EXISTS, GET and RK.GET of a collection free the member arrays they gathered (they leaked
 * once: LeakSanitizer in build-asan fails this test if they do again). The answers are pinned: EXISTS 1 for a live set and
 * 0 for an absent or deleted one; GET and RK.GET answer WRONGTYPE, absent keys included (a
 * merge type's bucket holds sets only; MGET turns that into nil at the edge, server.c). */
static void test_exists_and_get_of_a_set_answer_and_free(void **state)
{
    (void)state;
    for (uint8_t policy = RK_POLICY_UNION; policy <= RK_POLICY_SET; policy++) {
        rk_dvvset s;
        rk_dvvset_init(&s);
        assert_int_equal(reads_int(policy, &s, RK_REQ_EXISTS, 0, NULL, 0), 0);
        reads_expect_wrongtype(policy, &s, RK_REQ_GET, 0);
        cart_do(policy, &s, RK_OP_SADD, "a,b", NODE_A);
        assert_int_equal(reads_int(policy, &s, RK_REQ_EXISTS, 0, NULL, 0), 1);
        reads_expect_wrongtype(policy, &s, RK_REQ_GET, 0);
        reads_expect_wrongtype(policy, &s, RK_REQ_VGET, 0);
        cart_do(policy, &s, RK_OP_DEL, NULL, NODE_B);
        assert_int_equal(reads_int(policy, &s, RK_REQ_EXISTS, 0, NULL, 0), 0);
        rk_dvvset_deinit(&s);
    }
}

/* TYPE names what the key holds whatever the bucket's policy; the other reads of a key of
 * another type answer WRONGTYPE, EXISTS answers 1. */
static void test_reads_of_another_type_answer_wrongtype_and_type_names_it(void **state)
{
    (void)state;
    rk_dvvset str;
    rk_dvvset_init(&str);
    cart_lww(&str, RK_OP_PUT, "v", NODE_A);
    rk_dvvset set;
    rk_dvvset_init(&set);
    cart_do(RK_POLICY_SET, &set, RK_OP_SADD, "pen", NODE_A);
    for (uint8_t policy = RK_POLICY_UNION; policy <= RK_POLICY_SET; policy++) {
        reads_expect_status(policy, &str, "string");
        reads_expect_wrongtype(policy, &str, RK_REQ_READ, RK_READ_SMEMBERS);
        reads_expect_wrongtype(policy, &str, RK_REQ_READ, RK_READ_SCARD);
        assert_int_equal(reads_int(policy, &str, RK_REQ_EXISTS, 0, NULL, 0), 1);
    }
    for (uint8_t policy = RK_POLICY_LWW; policy <= RK_POLICY_SIBLINGS; policy++) {
        reads_expect_status(policy, &set, "set");
        reads_expect_wrongtype(policy, &set, RK_REQ_GET, 0);
        reads_expect_wrongtype(policy, &set, RK_REQ_VGET, 0);
        assert_int_equal(reads_int(policy, &set, RK_REQ_EXISTS, 0, NULL, 0), 1);
        reads_expect_wrongtype(policy, &str, RK_REQ_READ, RK_READ_SISMEMBER);
    }
    reads_expect_status(RK_POLICY_UNION, &set, "set");      /* both merge types are sets */
    rk_dvvset_deinit(&str);
    rk_dvvset_deinit(&set);
}

/* ---- limits on a command's members ----------------------------------------------------- */

/* An element list of `count` empty members (malloc'd; 4 bytes each). */
static uint8_t *reads_empty_members(uint32_t count, size_t *len_out)
{
    size_t *lens = calloc(count, sizeof(*lens));
    const uint8_t **members = calloc(count, sizeof(*members));
    assert_non_null(lens);
    assert_non_null(members);
    size_t len = rk_elems_encoded_len(lens, count);
    uint8_t *list = malloc(len);
    assert_non_null(list);
    assert_int_equal(rk_elems_encode(members, lens, count, list), len);
    free(members);
    free(lens);
    *len_out = len;
    return list;
}

/* RK_COLL_MEMBERS_MAX members in one command are taken, one more is refused with both numbers
 * named: by SADD and SREM (the state unchanged) and by SMISMEMBER. */
static void test_members_per_command_stop_at_the_bound(void **state)
{
    (void)state;
    size_t at_len = 0;
    size_t over_len = 0;
    uint8_t *at = reads_empty_members(RK_COLL_MEMBERS_MAX, &at_len);
    uint8_t *over = reads_empty_members(RK_COLL_MEMBERS_MAX + 1, &over_len);
    char message[CART_MESSAGE_BYTES];
    uint32_t count = 0;
    assert_int_equal(rk_policy_coll_arg(at, at_len, &count, message, sizeof(message)), 0);
    assert_int_equal(count, RK_COLL_MEMBERS_MAX);
    char expected[CART_MESSAGE_BYTES];
    snprintf(expected, sizeof(expected), "%u members in one command; at most %u",
             RK_COLL_MEMBERS_MAX + 1, RK_COLL_MEMBERS_MAX);
    for (uint8_t policy = RK_POLICY_UNION; policy <= RK_POLICY_SET; policy++) {
        rk_dvvset s;
        rk_dvvset_init(&s);
        cart_do(policy, &s, RK_OP_SADD, "a", NODE_A);
        rk_dvvset before;
        assert_int_equal(rk_dvvset_copy(&s, &before), 0);
        for (rk_op_kind kind = RK_OP_SADD; kind <= RK_OP_SREM; kind++) {
            rk_policy_write w = cart_write(kind, over, over_len, NODE_A, 0);
            int64_t reply = 0;
            assert_int_equal(cart_try(policy, &s, &w, &reply, message), RK_ETOOBIG);
            assert_string_equal(message, expected);
            assert_true(rk_dvvset_equal(&s, &before));
        }
        rk_policy_write w = cart_write(RK_OP_SADD, at, at_len, NODE_A, 0);
        int64_t reply = 0;
        assert_int_equal(cart_try(policy, &s, &w, &reply, message), 0);
        assert_int_equal(reply, 1);    /* the empty member, given 100000 times, once */
        rk_policy_read read;
        cart_answer(policy, &s, RK_REQ_READ, RK_READ_SMISMEMBER, at, at_len, &read);
        assert_int_equal(read.reply.kind, RK_REPLY_INTS);
        assert_int_equal(read.reply.value_count, RK_COLL_MEMBERS_MAX);
        assert_int_equal(read.reply.integers[RK_COLL_MEMBERS_MAX - 1], 1);
        rk_policy_read_deinit(&read);
        cart_answer(policy, &s, RK_REQ_READ, RK_READ_SMISMEMBER, over, over_len, &read);
        assert_int_equal(read.reply.kind, RK_REPLY_ERROR);
        rk_policy_read_deinit(&read);
        rk_dvvset_deinit(&before);
        rk_dvvset_deinit(&s);
    }
    free(at);
    free(over);
}

/* An argument that is not exactly one element list, or lists no member, is refused by name. */
static void test_a_member_list_that_is_not_one_is_refused(void **state)
{
    (void)state;
    uint8_t list[CART_LIST_BYTES_MAX];
    size_t len = cart_list_csv("pen", list, sizeof(list));
    const uint8_t none[4] = {0, 0, 0, 0};
    struct {
        const uint8_t *arg;
        size_t len;
        const char *message;
    } bad[] = {
        {NULL, 0, "the members are not an element list"},
        {list, len - 1, "the members are not an element list"},
        {list, 3, "the members are not an element list"},
        {none, sizeof(none), "no member given"},
    };
    for (uint8_t policy = RK_POLICY_UNION; policy <= RK_POLICY_SET; policy++) {
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            rk_dvvset s;
            rk_dvvset_init(&s);
            rk_policy_write w = cart_write(RK_OP_SADD, bad[i].arg, bad[i].len, NODE_A, 0);
            int64_t reply = 0;
            char message[CART_MESSAGE_BYTES];
            assert_int_equal(cart_try(policy, &s, &w, &reply, message), RK_EINVAL);
            assert_string_equal(message, bad[i].message);
            assert_int_equal(s.history.entry_count, 0);
            rk_policy_read read;
            cart_answer(policy, &s, RK_REQ_READ, RK_READ_SMISMEMBER, bad[i].arg, bad[i].len,
                        &read);
            assert_int_equal(read.reply.kind, RK_REPLY_ERROR);
            assert_int_equal(read.reply.error, RK_EINVAL);
            assert_string_equal(read.reply.message, bad[i].message);
            rk_policy_read_deinit(&read);
            rk_dvvset_deinit(&s);
        }
    }
}

/* A union version is one value: its member list fits max-value-bytes exactly, or the write is
 * refused with the limit named and the state unchanged. */
static void test_union_version_stops_at_max_value_bytes(void **state)
{
    (void)state;
    rk_dvvset s;
    rk_dvvset_init(&s);
    uint8_t list[CART_LIST_BYTES_MAX];
    size_t len = cart_list_csv("abc", list, sizeof(list));
    rk_policy_write w = cart_write(RK_OP_SADD, list, len, NODE_A, 0);
    w.value_bytes_max = 4 + 4 + 3;
    int64_t reply = 0;
    char message[CART_MESSAGE_BYTES];
    assert_int_equal(cart_try(RK_POLICY_UNION, &s, &w, &reply, message), 0);
    len = cart_list_csv("de", list, sizeof(list));
    w = cart_write(RK_OP_SADD, list, len, NODE_A, 0);
    w.value_bytes_max = 4 + (4 + 3) + (4 + 2) - 1;
    assert_int_equal(cart_try(RK_POLICY_UNION, &s, &w, &reply, message), RK_ETOOBIG);
    assert_non_null(strstr(message, "the set would hold 2 members in 17 bytes"));
    assert_non_null(strstr(message, "max-value-bytes (16)"));
    char buf[32];
    assert_string_equal(cart_members(RK_POLICY_UNION, &s, buf, sizeof(buf)), "abc");
    w.value_bytes_max++;
    assert_int_equal(cart_try(RK_POLICY_UNION, &s, &w, &reply, message), 0);
    assert_string_equal(cart_members(RK_POLICY_UNION, &s, buf, sizeof(buf)), "abc,de");
    rk_dvvset_deinit(&s);
}

/* A member's length is a u32 on the wire: UINT32_MAX fits, one more gives SIZE_MAX (which no
 * allocation meets) instead of a length that wrapped. */
static void test_elems_encoded_len_refuses_a_member_past_u32(void **state)
{
    (void)state;
    size_t lens[2] = {UINT32_MAX, 1};
    assert_int_equal(rk_elems_encoded_len(lens, 1), (size_t)UINT32_MAX + 8u);
    assert_int_equal(rk_elems_encoded_len(lens, 2), (size_t)UINT32_MAX + 8u + 5u);
    lens[1] = (size_t)UINT32_MAX + 1u;
    assert_int_equal(rk_elems_encoded_len(lens, 2), SIZE_MAX);
    assert_int_equal(rk_elems_encoded_len(lens, 0), RK_ELEMS_HEAD_BYTES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smembers_is_sorted_bytewise_and_unique_with_binary_members),
        cmocka_unit_test(test_set_reads_answer_by_kind),
        cmocka_unit_test(test_an_absent_or_deleted_set_reads_as_empty),
        cmocka_unit_test(test_exists_and_get_of_a_set_answer_and_free),
        cmocka_unit_test(test_reads_of_another_type_answer_wrongtype_and_type_names_it),
        cmocka_unit_test(test_members_per_command_stop_at_the_bound),
        cmocka_unit_test(test_a_member_list_that_is_not_one_is_refused),
        cmocka_unit_test(test_union_version_stops_at_max_value_bytes),
        cmocka_unit_test(test_elems_encoded_len_refuses_a_member_past_u32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
