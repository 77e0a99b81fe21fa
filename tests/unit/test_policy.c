/* test_policy.c — the conflict policies as tables (src/core/policy.h): each table's apply,
 * merge, read, hash and reapable test on hand-built states, without a node; the type tag that
 * keeps objects of two types from merging; and APPEND and GETDEL, the operations added through
 * the table (lww takes APPEND, siblings refuses it; GETDEL answers the value it deleted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/bucket.h"
#include "../../src/core/policy.h"

#define COORD_A 1u
#define COORD_B 2u

/* A write of `kind` with `arg` through `coordinator` at `stamp_us`, plain (no client context)
 * unless `context` is given. */
static rk_policy_write test_write(rk_op_kind kind, const char *arg, rk_node_id coordinator,
                                  uint64_t stamp_us, const rk_vv *context)
{
    return (rk_policy_write){.op = {.kind = kind,
                                    .arg = (const uint8_t *)arg,
                                    .arg_len = arg != NULL ? strlen(arg) : 0},
                             .context = context,
                             .coordinator = coordinator,
                             .dot_floor = 0,
                             .stamp_us = stamp_us,
                             .siblings_max = RK_DVVSET_SIBLINGS_DEFAULT,
                             .value_bytes_max = RK_VALUE_BYTES_DEFAULT};
}

/* Apply and expect success; returns the applied result. */
static rk_policy_applied test_apply(const rk_policy *p, rk_dvvset *state, rk_policy_write w)
{
    rk_policy_applied out;
    memset(&out, 0, sizeof(out));
    char message[160] = "";
    int rc = p->apply(&w, state, &out, message, sizeof(message));
    if (rc != 0) {
        fail_msg("apply %s: %s (%s)", rk_op_name(w.op.kind), rk_strerror(rc), message);
    }
    return out;
}

/* The live values of `state`, joined by ',' in dot order, into buf. */
static const char *test_values(const rk_dvvset *state, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        const rk_sibling *s = &state->siblings[i];
        if (s->tombstone) {
            continue;
        }
        used += (size_t)snprintf(buf + used, size - used, "%s%.*s", used > 0 ? "," : "",
                                 (int)s->value_len, (const char *)s->value);
    }
    return buf;
}

static void test_lww_put_supersedes_what_it_holds(void **state)
{
    (void)state;
    const rk_policy *lww = rk_policy_of(RK_POLICY_LWW);
    rk_dvvset s;
    rk_dvvset_init(&s);
    rk_policy_applied a = test_apply(lww, &s, test_write(RK_OP_PUT, "one", COORD_A, 10, NULL));
    assert_int_equal(a.reply_kind, RK_REPLY_OK);
    test_apply(lww, &s, test_write(RK_OP_PUT, "two", COORD_B, 20, NULL));
    char buf[64];
    assert_string_equal(test_values(&s, buf, sizeof(buf)), "two");
    assert_int_equal(s.sibling_count, 1);
    assert_int_equal(s.type_tag, RK_POLICY_TAG_VALUES);
    rk_dvvset_deinit(&s);
}

/* Two concurrent writes on two replicas: lww keeps the higher stamp, siblings keeps both. */
static void test_merge_of_concurrent_writes_by_policy(void **state)
{
    (void)state;
    for (int policy = RK_POLICY_LWW; policy <= RK_POLICY_SIBLINGS; policy++) {
        const rk_policy *p = rk_policy_of((uint8_t)policy);
        rk_dvvset a;
        rk_dvvset b;
        rk_dvvset_init(&a);
        rk_dvvset_init(&b);
        test_apply(p, &a, test_write(RK_OP_PUT, "late", COORD_A, 200, NULL));
        test_apply(p, &b, test_write(RK_OP_PUT, "early", COORD_B, 100, NULL));
        assert_int_equal(p->merge(&a, &b), 0);
        char buf[64];
        assert_string_equal(test_values(&a, buf, sizeof(buf)),
                            policy == RK_POLICY_LWW ? "late" : "late,early");
        assert_int_equal(p->merge_delta(&b, &a), 0);
        assert_true(rk_dvvset_equal(&a, &b));   /* converged, either way round */
        rk_dvvset_deinit(&a);
        rk_dvvset_deinit(&b);
    }
}

/* Under siblings a versioned write supersedes exactly what its context saw: the empty
 * context adds a sibling, the state's own history replaces every sibling. */
static void test_siblings_context_decides_what_is_superseded(void **state)
{
    (void)state;
    const rk_policy *p = rk_policy_of(RK_POLICY_SIBLINGS);
    rk_dvvset s;
    rk_dvvset_init(&s);
    rk_vv empty;
    rk_vv_init(&empty);
    test_apply(p, &s, test_write(RK_OP_PUT, "book", COORD_A, 1, &empty));
    test_apply(p, &s, test_write(RK_OP_PUT, "pen", COORD_B, 2, &empty));
    assert_int_equal(s.sibling_count, 2);
    rk_vv seen;
    rk_dvvset_join(&s, &seen);
    test_apply(p, &s, test_write(RK_OP_PUT, "book,pen", COORD_A, 3, &seen));
    char buf[64];
    assert_string_equal(test_values(&s, buf, sizeof(buf)), "book,pen");
    rk_dvvset_deinit(&s);
}

static void test_del_answers_whether_a_value_was_live(void **state)
{
    (void)state;
    const rk_policy *p = rk_policy_of(RK_POLICY_LWW);
    rk_dvvset s;
    rk_dvvset_init(&s);
    rk_policy_applied a = test_apply(p, &s, test_write(RK_OP_DEL, NULL, COORD_A, 1, NULL));
    assert_int_equal(a.reply_kind, RK_REPLY_INT);
    assert_int_equal(a.integer, 0);
    assert_true(p->is_reapable(&s));
    test_apply(p, &s, test_write(RK_OP_PUT, "x", COORD_A, 2, NULL));
    assert_false(p->is_reapable(&s));
    a = test_apply(p, &s, test_write(RK_OP_DEL, NULL, COORD_A, 3, NULL));
    assert_int_equal(a.integer, 1);
    assert_true(p->is_reapable(&s));
    rk_dvvset_deinit(&s);
}

/* APPEND grows what the coordinator holds (nothing, a value, or after a delete nothing) and
 * answers the new length, as Redis does. */
static void test_lww_append_grows_the_value(void **state)
{
    (void)state;
    const rk_policy *p = rk_policy_of(RK_POLICY_LWW);
    rk_dvvset s;
    rk_dvvset_init(&s);
    rk_policy_applied a = test_apply(p, &s, test_write(RK_OP_APPEND, "ab", COORD_A, 1, NULL));
    assert_int_equal(a.reply_kind, RK_REPLY_INT);
    assert_int_equal(a.integer, 2);
    a = test_apply(p, &s, test_write(RK_OP_APPEND, "cde", COORD_B, 2, NULL));
    assert_int_equal(a.integer, 5);
    char buf[64];
    assert_string_equal(test_values(&s, buf, sizeof(buf)), "abcde");
    a = test_apply(p, &s, test_write(RK_OP_APPEND, "", COORD_B, 3, NULL));
    assert_int_equal(a.integer, 5);
    test_apply(p, &s, test_write(RK_OP_DEL, NULL, COORD_A, 4, NULL));
    a = test_apply(p, &s, test_write(RK_OP_APPEND, "z", COORD_A, 5, NULL));
    assert_int_equal(a.integer, 1);
    assert_string_equal(test_values(&s, buf, sizeof(buf)), "z");
    rk_dvvset_deinit(&s);
}

/* APPEND stops at the node's max-value-bytes, as SET does: exactly at the limit it takes,
 * one byte over it refuses with the limit named and leaves the value as it was. */
static void test_lww_append_stops_at_max_value_bytes(void **state)
{
    (void)state;
    const rk_policy *p = rk_policy_of(RK_POLICY_LWW);
    rk_dvvset s;
    rk_dvvset_init(&s);
    rk_policy_write w = test_write(RK_OP_APPEND, "abc", COORD_A, 1, NULL);
    w.value_bytes_max = 5;
    test_apply(p, &s, w);
    w = test_write(RK_OP_APPEND, "de", COORD_A, 2, NULL);
    w.value_bytes_max = 5;
    rk_policy_applied a = test_apply(p, &s, w);
    assert_int_equal(a.integer, 5);
    w = test_write(RK_OP_APPEND, "f", COORD_A, 3, NULL);
    w.value_bytes_max = 5;
    char message[160] = "";
    assert_int_equal(p->apply(&w, &s, &a, message, sizeof(message)), RK_ETOOBIG);
    assert_non_null(strstr(message, "APPEND would make the value 6 bytes; max-value-bytes is 5"));
    char buf[64];
    assert_string_equal(test_values(&s, buf, sizeof(buf)), "abcde");
    rk_dvvset_deinit(&s);
}

static void test_siblings_refuses_append_and_changes_nothing(void **state)
{
    (void)state;
    const rk_policy *p = rk_policy_of(RK_POLICY_SIBLINGS);
    rk_dvvset s;
    rk_dvvset_init(&s);
    test_apply(p, &s, test_write(RK_OP_PUT, "v", COORD_A, 1, NULL));
    rk_dvvset before;
    assert_int_equal(rk_dvvset_copy(&s, &before), 0);
    rk_policy_write w = test_write(RK_OP_APPEND, "x", COORD_A, 2, NULL);
    rk_policy_applied out;
    char message[160] = "";
    assert_int_equal(p->apply(&w, &s, &out, message, sizeof(message)), RK_EINVAL);
    assert_non_null(strstr(message, "APPEND needs a bucket whose policy is lww"));
    assert_true(rk_dvvset_equal(&s, &before));
    rk_dvvset_deinit(&before);
    rk_dvvset_deinit(&s);
}

/* GETDEL answers the value it deleted (a copy the caller owns: the state no longer holds it),
 * or nil when there was none; on siblings with two live values it refuses, changing nothing. */
static void test_getdel_answers_what_it_deleted(void **state)
{
    (void)state;
    for (int policy = RK_POLICY_LWW; policy <= RK_POLICY_SIBLINGS; policy++) {
        const rk_policy *p = rk_policy_of((uint8_t)policy);
        rk_dvvset s;
        rk_dvvset_init(&s);
        rk_policy_applied a = test_apply(p, &s, test_write(RK_OP_GETDEL, NULL, COORD_A, 1, NULL));
        assert_int_equal(a.reply_kind, RK_REPLY_NIL);
        assert_null(a.value);
        test_apply(p, &s, test_write(RK_OP_PUT, "cart", COORD_A, 2, NULL));
        a = test_apply(p, &s, test_write(RK_OP_GETDEL, NULL, COORD_B, 3, NULL));
        assert_int_equal(a.reply_kind, RK_REPLY_VALUE);
        assert_int_equal(a.value_len, 4);
        assert_memory_equal(a.value, "cart", 4);
        free(a.value);
        assert_true(p->is_reapable(&s));
        rk_dvvset_deinit(&s);
    }
    const rk_policy *p = rk_policy_of(RK_POLICY_SIBLINGS);
    rk_dvvset s;
    rk_dvvset_init(&s);
    rk_vv empty;
    rk_vv_init(&empty);
    test_apply(p, &s, test_write(RK_OP_PUT, "a", COORD_A, 1, &empty));
    test_apply(p, &s, test_write(RK_OP_PUT, "b", COORD_B, 2, &empty));
    rk_policy_write w = test_write(RK_OP_GETDEL, NULL, COORD_A, 3, NULL);
    rk_policy_applied out;
    memset(&out, 0, sizeof(out));
    char message[160] = "";
    assert_int_equal(p->apply(&w, &s, &out, message, sizeof(message)), RK_ECONFLICT);
    assert_null(out.value);
    assert_int_equal(s.sibling_count, 2);
    rk_dvvset_deinit(&s);
}

/* At siblings_max a blind write is refused, the state unchanged. */
static void test_siblings_max_refuses_one_more(void **state)
{
    (void)state;
    const rk_policy *p = rk_policy_of(RK_POLICY_SIBLINGS);
    rk_dvvset s;
    rk_dvvset_init(&s);
    rk_vv empty;
    rk_vv_init(&empty);
    for (uint32_t i = 0; i < 3; i++) {
        rk_policy_write w = test_write(RK_OP_PUT, "v", COORD_A, i + 1, &empty);
        w.siblings_max = 3;
        test_apply(p, &s, w);
    }
    rk_policy_write w = test_write(RK_OP_PUT, "v", COORD_A, 9, &empty);
    w.siblings_max = 3;
    rk_policy_applied out;
    char message[160] = "";
    assert_int_equal(p->apply(&w, &s, &out, message, sizeof(message)), RK_ETOOBIG);
    assert_non_null(strstr(message, "max-siblings is 3"));
    assert_int_equal(s.sibling_count, 3);
    rk_dvvset_deinit(&s);
}

static void test_read(const rk_policy *p, const rk_dvvset *s, rk_request_kind kind,
                      rk_policy_read *r)
{
    rk_policy_query q = {.kind = kind};
    p->read(s, &q, r);
}

/* The reads: a value, absent, two live versions (CONFLICT), EXISTS, RK.GET's versions. */
static void test_reads_answer_by_kind(void **state)
{
    (void)state;
    const rk_policy *p = rk_policy_of(RK_POLICY_SIBLINGS);
    rk_policy_read *r = malloc(sizeof(*r));
    assert_non_null(r);
    rk_dvvset s;
    rk_dvvset_init(&s);
    test_read(p, &s, RK_REQ_GET, r);
    assert_int_equal(r->reply.kind, RK_REPLY_NIL);
    test_read(p, &s, RK_REQ_EXISTS, r);
    assert_int_equal(r->reply.integer, 0);
    rk_vv empty;
    rk_vv_init(&empty);
    test_apply(p, &s, test_write(RK_OP_PUT, "a", COORD_A, 1, &empty));
    test_read(p, &s, RK_REQ_GET, r);
    assert_int_equal(r->reply.kind, RK_REPLY_VALUE);
    assert_memory_equal(r->reply.value, "a", 1);
    test_apply(p, &s, test_write(RK_OP_PUT, "b", COORD_B, 2, &empty));
    test_read(p, &s, RK_REQ_GET, r);
    assert_int_equal(r->reply.kind, RK_REPLY_ERROR);
    assert_int_equal(r->reply.error, RK_ECONFLICT);
    test_read(p, &s, RK_REQ_EXISTS, r);
    assert_int_equal(r->reply.integer, 1);
    test_read(p, &s, RK_REQ_VGET, r);
    assert_int_equal(r->reply.kind, RK_REPLY_VERSIONS);
    assert_int_equal(r->reply.value_count, 2);
    assert_true(strlen(r->reply.context) > 0);
    rk_dvvset_deinit(&s);
    free(r);
}

/* Equal states hash equal; a changed value changes the hash (the clock alone would not). */
static void test_hash_covers_values(void **state)
{
    (void)state;
    const rk_policy *p = rk_policy_of(RK_POLICY_LWW);
    rk_dvvset a;
    rk_dvvset_init(&a);
    test_apply(p, &a, test_write(RK_OP_PUT, "same", COORD_A, 1, NULL));
    rk_dvvset b;
    assert_int_equal(rk_dvvset_copy(&a, &b), 0);
    assert_int_equal(p->hash(&a), p->hash(&b));
    b.siblings[0].value[0] = 'S';
    assert_int_not_equal(p->hash(&a), p->hash(&b));
    rk_dvvset_deinit(&a);
    rk_dvvset_deinit(&b);
}

/* Every object carries its type: two live states of different tags never merge; an empty one
 * merges with anything and takes its tag; the tag survives encoding. */
static void test_type_tags_keep_types_apart(void **state)
{
    (void)state;
    const rk_policy *p = rk_policy_of(RK_POLICY_LWW);
    rk_dvvset values;
    rk_dvvset other;
    rk_dvvset empty;
    rk_dvvset_init(&values);
    rk_dvvset_init(&other);
    rk_dvvset_init(&empty);
    test_apply(p, &values, test_write(RK_OP_PUT, "v", COORD_A, 1, NULL));
    test_apply(p, &other, test_write(RK_OP_PUT, "w", COORD_B, 1, NULL));
    other.type_tag = RK_DVVSET_TYPE_TAG_MAX;     /* as a future policy's state would be */
    assert_int_equal(rk_policy_merge(RK_POLICY_LWW, &values, &other), RK_EWRONGTYPE);
    assert_true(rk_policy_holds(p, &values));
    assert_false(rk_policy_holds(p, &other));
    assert_true(rk_policy_holds(p, &empty));
    assert_int_equal(rk_policy_merge(RK_POLICY_LWW, &empty, &other), 0);
    assert_int_equal(empty.type_tag, RK_DVVSET_TYPE_TAG_MAX);

    uint8_t bytes[256];
    size_t len = rk_dvvset_encode(&other, bytes);
    rk_dvvset back;
    assert_int_equal(rk_dvvset_decode(bytes, len, &back), 0);
    assert_int_equal(back.type_tag, RK_DVVSET_TYPE_TAG_MAX);
    assert_true(rk_dvvset_equal(&back, &other));
    rk_dvvset_deinit(&back);
    assert_false(rk_dvvset_equal(&values, &other));
    rk_dvvset_deinit(&values);
    rk_dvvset_deinit(&other);
    rk_dvvset_deinit(&empty);
}

/* A tag above the largest known one is damage, not a type. */
static void test_decode_refuses_an_unknown_tag(void **state)
{
    (void)state;
    const rk_policy *p = rk_policy_of(RK_POLICY_LWW);
    rk_dvvset s;
    rk_dvvset_init(&s);
    test_apply(p, &s, test_write(RK_OP_PUT, "v", COORD_A, 1, NULL));
    s.type_tag = RK_DVVSET_TYPE_TAG_MAX + 1;
    uint8_t bytes[256];
    size_t len = rk_dvvset_encode(&s, bytes);
    rk_dvvset back;
    assert_int_equal(rk_dvvset_decode(bytes, len, &back), RK_ECORRUPT);
    s.type_tag = RK_POLICY_TAG_VALUES;
    rk_dvvset_deinit(&s);
}

static void test_every_bucket_policy_has_a_table(void **state)
{
    (void)state;
    assert_string_equal(rk_policy_of(RK_POLICY_LWW)->name, "lww");
    assert_string_equal(rk_policy_of(RK_POLICY_SIBLINGS)->name, "siblings");
    for (int policy = RK_POLICY_LWW; policy <= RK_POLICY_SIBLINGS; policy++) {
        const rk_policy *p = rk_policy_of((uint8_t)policy);
        assert_string_equal(p->name, rk_bucket_policy_name((uint8_t)policy));
        assert_non_null(p->apply);
        assert_non_null(p->merge);
        assert_non_null(p->merge_delta);
        assert_non_null(p->read);
        assert_non_null(p->hash);
        assert_non_null(p->is_reapable);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lww_put_supersedes_what_it_holds),
        cmocka_unit_test(test_merge_of_concurrent_writes_by_policy),
        cmocka_unit_test(test_siblings_context_decides_what_is_superseded),
        cmocka_unit_test(test_del_answers_whether_a_value_was_live),
        cmocka_unit_test(test_lww_append_grows_the_value),
        cmocka_unit_test(test_lww_append_stops_at_max_value_bytes),
        cmocka_unit_test(test_siblings_refuses_append_and_changes_nothing),
        cmocka_unit_test(test_siblings_max_refuses_one_more),
        cmocka_unit_test(test_getdel_answers_what_it_deleted),
        cmocka_unit_test(test_reads_answer_by_kind),
        cmocka_unit_test(test_hash_covers_values),
        cmocka_unit_test(test_type_tags_keep_types_apart),
        cmocka_unit_test(test_decode_refuses_an_unknown_tag),
        cmocka_unit_test(test_every_bucket_policy_has_a_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
