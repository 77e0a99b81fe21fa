/* test_sim_counter.c — the cart's quantities (issue 13). First the counter checker
 * (rk_counter_check, src/sim/check_cart.h) over small histories written by hand: a final value
 * must lie in [acknowledged sum + unknown decrements, acknowledged sum + unknown increments];
 * refused increments did not happen; an absent counter reads 0; a counter nobody changed must
 * read 0; a value that is no decimal int64 is out of range; fields are told apart per key;
 * unread keys are not judged; sums never wrap; bad histories are refused. So the checker is
 * seen failing on each rule. Then short simulations of the cart under `counter` and `map`
 * with every fault: nothing out of range, nothing failed (tests/sim/run.sh replays them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../src/core/bucket.h"
#include "../../src/core/common.h"
#include "../../src/sim/check_cart.h"
#include "../../src/sim/sim.h"

#define COUNTER_KEYS 2u
#define COUNTER_FINAL_MAX 4u

/* A history under construction: ops appended in order, final reads per key. */
typedef struct counter_fixture {
    rk_counter_op ops[16];
    size_t op_count;
    const uint8_t *fields[COUNTER_KEYS][COUNTER_FINAL_MAX];
    size_t field_lens[COUNTER_KEYS][COUNTER_FINAL_MAX];
    const uint8_t *values[COUNTER_KEYS][COUNTER_FINAL_MAX];
    size_t value_lens[COUNTER_KEYS][COUNTER_FINAL_MAX];
    rk_counter_final finals[COUNTER_KEYS];
} counter_fixture;

static void counter_init(counter_fixture *f)
{
    memset(f, 0, sizeof(*f));
    for (uint32_t k = 0; k < COUNTER_KEYS; k++) {
        f->finals[k] = (rk_counter_final){.read = true, .fields = f->fields[k],
                                          .field_lens = f->field_lens[k],
                                          .values = f->values[k],
                                          .value_lens = f->value_lens[k]};
    }
}

/* An INCRBY (field "") or HINCRBY of `field` on `key`. */
static void counter_op(counter_fixture *f, uint32_t key, const char *field, int64_t increment,
                       uint8_t outcome)
{
    assert_true(f->op_count < sizeof(f->ops) / sizeof(f->ops[0]));
    f->ops[f->op_count++] = (rk_counter_op){.outcome = outcome, .key = key,
                                            .field = (const uint8_t *)field,
                                            .field_len = strlen(field), .increment = increment};
}

/* `field` of `key` read as `value` at the end. */
static void counter_final(counter_fixture *f, uint32_t key, const char *field, const char *value)
{
    rk_counter_final *final = &f->finals[key];
    assert_true(final->field_count < COUNTER_FINAL_MAX);
    f->fields[key][final->field_count] = (const uint8_t *)field;
    f->field_lens[key][final->field_count] = strlen(field);
    f->values[key][final->field_count] = (const uint8_t *)value;
    f->value_lens[key][final->field_count] = strlen(value);
    final->field_count++;
}

static rk_counter_verdict counter_judge(const counter_fixture *f)
{
    rk_counter_history h = {.ops = f->ops, .op_count = f->op_count, .finals = f->finals,
                            .key_count = COUNTER_KEYS};
    rk_counter_verdict v;
    assert_int_equal(rk_counter_check(&h, &v), 0);
    return v;
}

/* Every acknowledged increment and decrement is in the final value: in range. */
static void test_acked_sum_is_in_range(void **state)
{
    (void)state;
    counter_fixture f;
    counter_init(&f);
    counter_op(&f, 0, "", 5, RK_CART_OK);
    counter_op(&f, 0, "", -3, RK_CART_OK);
    counter_op(&f, 0, "", 4, RK_CART_OK);
    counter_final(&f, 0, "", "6");
    rk_counter_verdict v = counter_judge(&f);
    assert_int_equal(v.counters, 1);
    assert_int_equal(v.acked_increments, 3);
    assert_int_equal(v.out_of_range, 0);
    assert_false(v.example);
}

/* A final value below the acknowledged sum lost an increment: out of range, and reported. */
static void test_lost_increment_is_out_of_range(void **state)
{
    (void)state;
    counter_fixture f;
    counter_init(&f);
    counter_op(&f, 0, "", 5, RK_CART_OK);
    counter_op(&f, 0, "", 2, RK_CART_OK);
    counter_final(&f, 0, "", "5");
    rk_counter_verdict v = counter_judge(&f);
    assert_int_equal(v.out_of_range, 1);
    assert_true(v.example);
    assert_int_equal(v.example_key, 0);
    assert_int_equal(v.example_field_len, 0);
    assert_int_equal(v.example_low, 7);
    assert_int_equal(v.example_high, 7);
    assert_memory_equal(v.example_value, "5", 1);
}

/* An increment counted twice (or a decrement lost) lands above every sum the history
 * allows. */
static void test_double_count_is_above_range(void **state)
{
    (void)state;
    counter_fixture f;
    counter_init(&f);
    counter_op(&f, 0, "", 3, RK_CART_OK);
    counter_op(&f, 0, "", 2, RK_CART_UNKNOWN);
    counter_final(&f, 0, "", "5");
    assert_int_equal(counter_judge(&f).out_of_range, 0);    /* the unknown one applied */
    f.values[0][0] = (const uint8_t *)"8";
    f.value_lens[0][0] = 1;
    rk_counter_verdict v = counter_judge(&f);
    assert_int_equal(v.out_of_range, 1);
    assert_int_equal(v.example_low, 3);
    assert_int_equal(v.example_high, 5);
}

/* Unknown decrements lower the floor and unknown increments raise the ceiling, each on its
 * own side: acked 5, unknown -3 and +4 allow [2, 9] and nothing outside. */
static void test_unknown_increments_widen_each_side(void **state)
{
    (void)state;
    const char *inside[] = {"2", "5", "9", "6"};
    const char *outside[] = {"1", "10", "-3"};
    for (size_t i = 0; i < 7; i++) {
        counter_fixture f;
        counter_init(&f);
        counter_op(&f, 1, "", 5, RK_CART_OK);
        counter_op(&f, 1, "", -3, RK_CART_UNKNOWN);
        counter_op(&f, 1, "", 4, RK_CART_UNKNOWN);
        counter_final(&f, 1, "", i < 4 ? inside[i] : outside[i - 4]);
        rk_counter_verdict v = counter_judge(&f);
        assert_int_equal(v.unknown_increments, 2);
        assert_int_equal(v.out_of_range, i < 4 ? 0 : 1);
    }
}

/* A refused increment did not happen: a value that holds it is out of range. */
static void test_refused_increment_did_not_happen(void **state)
{
    (void)state;
    counter_fixture f;
    counter_init(&f);
    counter_op(&f, 0, "", 1, RK_CART_OK);
    counter_op(&f, 0, "", 4, RK_CART_REFUSED);
    counter_final(&f, 0, "", "5");
    rk_counter_verdict v = counter_judge(&f);
    assert_int_equal(v.acked_increments, 1);
    assert_int_equal(v.out_of_range, 1);
}

/* An absent counter (nil, no field) reads 0: fine when the increments cancel, not otherwise. */
static void test_absent_counter_reads_zero(void **state)
{
    (void)state;
    counter_fixture f;
    counter_init(&f);
    counter_op(&f, 0, "", 2, RK_CART_OK);
    counter_op(&f, 0, "", -2, RK_CART_OK);
    assert_int_equal(counter_judge(&f).out_of_range, 0);
    counter_op(&f, 0, "", 1, RK_CART_OK);
    rk_counter_verdict v = counter_judge(&f);
    assert_int_equal(v.out_of_range, 1);
    assert_null(v.example_value);
}

/* A counter at the end that no increment named must read 0: nobody changed it. */
static void test_counter_nobody_changed_reads_zero(void **state)
{
    (void)state;
    counter_fixture f;
    counter_init(&f);
    counter_final(&f, 1, "item9", "0");
    assert_int_equal(counter_judge(&f).out_of_range, 0);
    counter_final(&f, 1, "item8", "3");
    rk_counter_verdict v = counter_judge(&f);
    assert_int_equal(v.counters, 2);
    assert_int_equal(v.out_of_range, 1);
    assert_memory_equal(v.example_field, "item8", 5);
}

/* Map fields are counters of their own, matched per key and by whole bytes: item1 is not
 * item10, and item1 of key 0 is not item1 of key 1. */
static void test_fields_match_by_key_and_whole_bytes(void **state)
{
    (void)state;
    counter_fixture f;
    counter_init(&f);
    counter_op(&f, 0, "item1", 2, RK_CART_OK);
    counter_op(&f, 0, "item10", 3, RK_CART_OK);
    counter_op(&f, 1, "item1", 4, RK_CART_OK);
    counter_final(&f, 0, "item10", "3");
    counter_final(&f, 0, "item1", "2");
    counter_final(&f, 1, "item1", "4");
    rk_counter_verdict v = counter_judge(&f);
    assert_int_equal(v.counters, 3);
    assert_int_equal(v.out_of_range, 0);
    f.values[0][0] = (const uint8_t *)"2";      /* item10 reads item1's value */
    v = counter_judge(&f);
    assert_int_equal(v.out_of_range, 1);
    assert_memory_equal(v.example_field, "item10", 6);
}

/* A value that is no decimal int64 is out of range, and the extremes of int64 parse. */
static void test_value_must_be_a_decimal_int64(void **state)
{
    (void)state;
    const char *bad[] = {"", "-", "+1", "1x", " 1", "9223372036854775808",
                         "-9223372036854775809", "12345678901234567890"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        counter_fixture f;
        counter_init(&f);
        counter_op(&f, 0, "", 1, RK_CART_UNKNOWN);
        counter_final(&f, 0, "", bad[i]);
        rk_counter_verdict v = counter_judge(&f);
        assert_int_equal(v.out_of_range, 1);
    }
    counter_fixture f;
    counter_init(&f);
    counter_op(&f, 0, "", INT64_MIN, RK_CART_OK);
    counter_op(&f, 1, "", INT64_MAX, RK_CART_OK);
    counter_final(&f, 0, "", "-9223372036854775808");
    counter_final(&f, 1, "", "9223372036854775807");
    assert_int_equal(counter_judge(&f).out_of_range, 0);
}

/* Sums are exact: two acknowledged INT64_MAX increments allow no int64 at all (a wrapped -2
 * is out of range), and the report saturates instead of wrapping. */
static void test_sums_never_wrap(void **state)
{
    (void)state;
    counter_fixture f;
    counter_init(&f);
    counter_op(&f, 0, "", INT64_MAX, RK_CART_OK);
    counter_op(&f, 0, "", INT64_MAX, RK_CART_OK);
    counter_final(&f, 0, "", "-2");
    rk_counter_verdict v = counter_judge(&f);
    assert_int_equal(v.out_of_range, 1);
    assert_true(v.example_low == INT64_MAX);
    assert_true(v.example_high == INT64_MAX);
}

/* A key whose final read failed is not judged, and says so. */
static void test_unread_key_is_not_judged(void **state)
{
    (void)state;
    counter_fixture f;
    counter_init(&f);
    counter_op(&f, 0, "", 3, RK_CART_OK);
    counter_op(&f, 1, "item0", 3, RK_CART_OK);
    f.finals[0].read = false;
    rk_counter_verdict v = counter_judge(&f);
    assert_int_equal(v.keys_unread, 1);
    assert_int_equal(v.counters, 1);
    assert_int_equal(v.out_of_range, 1);    /* item0 of key 1 only */
    assert_int_equal(v.example_key, 1);
}

/* Bad histories are refused, not judged: a key out of range, a NULL field, a failed or an
 * unknown outcome. */
static void test_bad_history_is_refused(void **state)
{
    (void)state;
    rk_counter_verdict v;
    for (int bad = 0; bad < 4; bad++) {
        counter_fixture f;
        counter_init(&f);
        counter_op(&f, 1, "", 1, RK_CART_OK);     /* the last key: fine */
        rk_counter_history h = {.ops = f.ops, .op_count = 1, .finals = f.finals,
                                .key_count = COUNTER_KEYS};
        assert_int_equal(rk_counter_check(&h, &v), 0);
        rk_counter_op *op = &f.ops[0];
        if (bad == 0) {
            op->key = COUNTER_KEYS;
        } else if (bad == 1) {
            op->field = NULL;
        } else if (bad == 2) {
            op->outcome = RK_CART_FAILED;
        } else {
            op->outcome = 0;
        }
        assert_int_equal(rk_counter_check(&h, &v), RK_EINVAL);
    }
}

/* ---- whole simulations -------------------------------------------------------------------- */

static void counter_config(rk_sim_config *c, uint64_t seed, uint8_t policy)
{
    rk_sim_config_default(c);
    c->seed = seed;
    c->ops = 400;
    c->workload = RK_SIM_WORKLOAD_CART;
    c->policy = policy;
    c->faults = RK_SIM_FAULT_ALL;
}

/* Counters and maps under every fault: each final value within what the history allows,
 * nothing failed, every final read answered; the set checkers print 0 here. */
static void test_counter_and_map_stay_in_range(void **state)
{
    (void)state;
    const uint8_t policies[] = {RK_POLICY_COUNTER, RK_POLICY_MAP};
    for (size_t p = 0; p < 2; p++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            rk_sim_config c;
            counter_config(&c, seed, policies[p]);
            assert_null(rk_sim_config_mismatch(&c));
            rk_sim_result r;
            assert_int_equal(rk_sim_run(&c, &r), 0);
            assert_int_equal(r.counter_out_of_range, 0);
            assert_false(r.failed);
            assert_true(r.converged);
            assert_int_equal(r.final_reads_failed, 0);
            assert_true(r.acked_increments > 0);
            assert_int_equal(r.lost_adds, 0);
            assert_int_equal(r.resurrected_removes, 0);
            assert_int_equal(r.lost_acked_writes, 0);   /* the value checkers do not run */
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acked_sum_is_in_range),
        cmocka_unit_test(test_lost_increment_is_out_of_range),
        cmocka_unit_test(test_double_count_is_above_range),
        cmocka_unit_test(test_unknown_increments_widen_each_side),
        cmocka_unit_test(test_refused_increment_did_not_happen),
        cmocka_unit_test(test_absent_counter_reads_zero),
        cmocka_unit_test(test_counter_nobody_changed_reads_zero),
        cmocka_unit_test(test_fields_match_by_key_and_whole_bytes),
        cmocka_unit_test(test_value_must_be_a_decimal_int64),
        cmocka_unit_test(test_sums_never_wrap),
        cmocka_unit_test(test_unread_key_is_not_judged),
        cmocka_unit_test(test_bad_history_is_refused),
        cmocka_unit_test(test_counter_and_map_stay_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
