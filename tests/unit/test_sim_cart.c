/* test_sim_cart.c — the cart checkers (src/sim/check_cart.h) over small synthetic histories
 * written by hand: an acknowledged add missing at the end is lost, unless a remove observed it
 * (reply 1) or may have (unknown outcome); a remove that saw nothing (reply 0) or was refused
 * excuses nothing; an add that was never acknowledged is never required; an observed remove
 * whose member is back is a resurrection; keys whose final read failed are not judged; bad
 * histories are refused. No simulation runs here: the same functions would judge a history
 * recorded from real processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/common.h"
#include "../../src/sim/check_cart.h"

#define CART_KEYS 2u
#define CART_FINAL_MAX 8u

/* A history under construction: ops appended in order, final reads per key. */
typedef struct cart_fixture {
    rk_cart_op ops[16];
    size_t op_count;
    const uint8_t *members[CART_KEYS][CART_FINAL_MAX];
    size_t member_lens[CART_KEYS][CART_FINAL_MAX];
    rk_cart_final finals[CART_KEYS];
} cart_fixture;

static void cart_init(cart_fixture *f)
{
    memset(f, 0, sizeof(*f));
    for (uint32_t k = 0; k < CART_KEYS; k++) {
        f->finals[k].read = true;
        f->finals[k].members = f->members[k];
        f->finals[k].member_lens = f->member_lens[k];
    }
}

static void cart_op(cart_fixture *f, uint8_t kind, uint32_t key, const char *member,
                    uint8_t outcome, int64_t reply)
{
    assert_true(f->op_count < sizeof(f->ops) / sizeof(f->ops[0]));
    f->ops[f->op_count++] = (rk_cart_op){.kind = kind, .outcome = outcome, .key = key,
                                         .member = (const uint8_t *)member,
                                         .member_len = member != NULL ? strlen(member) : 0,
                                         .reply = reply};
}

static void cart_final(cart_fixture *f, uint32_t key, const char *member)
{
    rk_cart_final *final = &f->finals[key];
    assert_true(final->member_count < CART_FINAL_MAX);
    f->members[key][final->member_count] = (const uint8_t *)member;
    f->member_lens[key][final->member_count] = strlen(member);
    final->member_count++;
}

static rk_cart_verdict cart_judge(const cart_fixture *f)
{
    rk_cart_history h = {.ops = f->ops, .op_count = f->op_count, .finals = f->finals,
                         .key_count = CART_KEYS};
    rk_cart_verdict v;
    assert_int_equal(rk_cart_check(&h, &v), 0);
    return v;
}

/* Jepsen's set rule: an acknowledged add that nothing removed must be in the final read. */
static void test_acked_add_absent_is_lost(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 0, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SADD, 0, "m2", RK_CART_OK, 1);
    cart_final(&f, 0, "m2");
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.acked_adds, 2);
    assert_int_equal(v.lost_adds, 1);
    assert_int_equal(v.resurrected_removes, 0);
}

/* An add present at the end is not lost, whatever else the key holds. */
static void test_acked_add_present_is_kept(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 0, "m1", RK_CART_OK, 1);
    cart_final(&f, 0, "m9");
    cart_final(&f, 0, "m1");
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.lost_adds, 0);
    assert_int_equal(v.resurrected_removes, 0);
}

/* A remove answered 1 observed the member and removed it: its absence is excused. */
static void test_observed_remove_excuses_absence(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 0, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SMEMBERS, 0, NULL, RK_CART_OK, 0);
    cart_op(&f, RK_CART_SREM, 0, "m1", RK_CART_OK, 1);
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.acked_removes, 1);
    assert_int_equal(v.lost_adds, 0);
    assert_int_equal(v.resurrected_removes, 0);
}

/* A remove answered 0 saw no such member and removed nothing: the absence is still a loss. */
static void test_remove_that_saw_nothing_excuses_nothing(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 0, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SREM, 0, "m1", RK_CART_OK, 0);
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.acked_removes, 0);
    assert_int_equal(v.lost_adds, 1);
}

/* A remove that timed out may have observed and removed the member: excused. */
static void test_unknown_remove_excuses_absence(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 1, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SREM, 1, "m1", RK_CART_UNKNOWN, 0);
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.lost_adds, 0);
    assert_int_equal(v.resurrected_removes, 0);
}

/* A refused remove never reached a node: it excuses nothing. */
static void test_refused_remove_excuses_nothing(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 0, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SREM, 0, "m1", RK_CART_REFUSED, 0);
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.lost_adds, 1);
}

/* Adds that were refused or timed out are never required at the end. */
static void test_unacked_add_is_never_required(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 0, "m1", RK_CART_UNKNOWN, 0);
    cart_op(&f, RK_CART_SADD, 0, "m2", RK_CART_REFUSED, 0);
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.acked_adds, 0);
    assert_int_equal(v.lost_adds, 0);
}

/* Dynamo's cart: a remove observed the member, a concurrent version still held it, and the
 * union brought it back. Each observing remove counts, and the add is not lost. */
static void test_observed_remove_present_is_resurrected(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 0, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SREM, 0, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SREM, 0, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SREM, 0, "m1", RK_CART_OK, 0);
    cart_final(&f, 0, "m1");
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.resurrected_removes, 2);
    assert_int_equal(v.lost_adds, 0);
}

/* An unknown remove whose member is present is no resurrection: it may never have applied. */
static void test_unknown_remove_present_is_no_resurrection(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 0, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SREM, 0, "m1", RK_CART_UNKNOWN, 0);
    cart_final(&f, 0, "m1");
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.resurrected_removes, 0);
}

/* Members are matched per key and by their whole bytes: m1 on another key, or m10, is not m1;
 * a remove on another key excuses nothing here. */
static void test_members_match_by_key_and_whole_bytes(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 0, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SREM, 1, "m1", RK_CART_OK, 1);
    cart_final(&f, 0, "m10");
    cart_final(&f, 1, "m1");
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.lost_adds, 1);
    assert_int_equal(v.resurrected_removes, 1);
}

/* A key whose final read failed is not judged, and says so. */
static void test_unread_key_is_not_judged(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    cart_op(&f, RK_CART_SADD, 0, "m1", RK_CART_OK, 1);
    cart_op(&f, RK_CART_SADD, 1, "m2", RK_CART_OK, 1);
    f.finals[0].read = false;
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.keys_unread, 1);
    assert_int_equal(v.acked_adds, 2);
    assert_int_equal(v.lost_adds, 1);   /* m2 on key 1 only */
}

/* An empty history (and an empty member, which Redis allows) is judged like any other. */
static void test_empty_history_and_empty_member(void **state)
{
    (void)state;
    cart_fixture f;
    cart_init(&f);
    rk_cart_verdict v = cart_judge(&f);
    assert_int_equal(v.lost_adds, 0);
    assert_int_equal(v.keys_unread, 0);
    cart_op(&f, RK_CART_SADD, 0, "", RK_CART_OK, 1);
    cart_final(&f, 1, "");
    v = cart_judge(&f);
    assert_int_equal(v.lost_adds, 1);
    cart_final(&f, 0, "");
    v = cart_judge(&f);
    assert_int_equal(v.lost_adds, 0);
}

/* Bad histories are refused, not judged: a key out of range, an SADD without a member, an
 * unknown kind or outcome. */
static void test_bad_history_is_refused(void **state)
{
    (void)state;
    rk_cart_verdict v;
    for (int bad = 0; bad < 4; bad++) {
        cart_fixture f;
        cart_init(&f);
        cart_op(&f, RK_CART_SADD, 1, "m1", RK_CART_OK, 1);   /* the last key: fine */
        rk_cart_op *op = &f.ops[0];
        rk_cart_history h = {.ops = f.ops, .op_count = 1, .finals = f.finals,
                             .key_count = CART_KEYS};
        assert_int_equal(rk_cart_check(&h, &v), 0);
        if (bad == 0) {
            op->key = CART_KEYS;
        } else if (bad == 1) {
            op->member = NULL;
        } else if (bad == 2) {
            op->kind = RK_CART_SMEMBERS + 1;
        } else {
            op->outcome = RK_CART_FAILED + 1;
        }
        assert_int_equal(rk_cart_check(&h, &v), RK_EINVAL);
    }
}

/* Many members in shuffled order: the sort groups each member's ops and finds it at the end.
 * Members i % 3 == 0 are removed (reply 1), i % 3 == 1 are kept, i % 3 == 2 vanish; every
 * fifth removed one comes back. */
static void test_many_members_in_any_order(void **state)
{
    (void)state;
    enum { COUNT = 600 };
    static char names[COUNT][8];
    static rk_cart_op ops[2 * COUNT];
    static const uint8_t *members[COUNT];
    static size_t lens[COUNT];
    size_t op_count = 0;
    uint32_t member_count = 0;
    for (uint32_t j = 0; j < COUNT; j++) {
        uint32_t i = (j * 7919u) % COUNT;   /* a permutation: 7919 is coprime to COUNT */
        snprintf(names[i], sizeof(names[i]), "m%u", i);
        const uint8_t *m = (const uint8_t *)names[i];
        size_t len = strlen(names[i]);
        ops[op_count++] = (rk_cart_op){.kind = RK_CART_SADD, .outcome = RK_CART_OK, .member = m,
                                       .member_len = len, .reply = 1};
        if (i % 3 == 0) {
            ops[op_count++] = (rk_cart_op){.kind = RK_CART_SREM, .outcome = RK_CART_OK,
                                           .member = m, .member_len = len, .reply = 1};
        }
        if (i % 3 == 1 || (i % 3 == 0 && i % 5 == 0)) {
            members[member_count] = m;
            lens[member_count++] = len;
        }
    }
    rk_cart_final final = {.read = true, .members = members, .member_lens = lens,
                           .member_count = member_count};
    rk_cart_history h = {.ops = ops, .op_count = op_count, .finals = &final, .key_count = 1};
    rk_cart_verdict v;
    assert_int_equal(rk_cart_check(&h, &v), 0);
    assert_int_equal(v.acked_adds, COUNT);
    assert_int_equal(v.acked_removes, COUNT / 3);
    assert_int_equal(v.lost_adds, COUNT / 3);
    assert_int_equal(v.resurrected_removes, COUNT / 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acked_add_absent_is_lost),
        cmocka_unit_test(test_acked_add_present_is_kept),
        cmocka_unit_test(test_observed_remove_excuses_absence),
        cmocka_unit_test(test_remove_that_saw_nothing_excuses_nothing),
        cmocka_unit_test(test_unknown_remove_excuses_absence),
        cmocka_unit_test(test_refused_remove_excuses_nothing),
        cmocka_unit_test(test_unacked_add_is_never_required),
        cmocka_unit_test(test_observed_remove_present_is_resurrected),
        cmocka_unit_test(test_unknown_remove_present_is_no_resurrection),
        cmocka_unit_test(test_members_match_by_key_and_whole_bytes),
        cmocka_unit_test(test_unread_key_is_not_judged),
        cmocka_unit_test(test_empty_history_and_empty_member),
        cmocka_unit_test(test_bad_history_is_refused),
        cmocka_unit_test(test_many_members_in_any_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
