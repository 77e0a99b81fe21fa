/* test_damage.c — a stored object damaged on disk (a flipped bit: its checksum fails) reads as
 * missing to replicas and reads, refuses a write coordinated from it, is counted (INFO aae
 * aae_damaged_objects), is repaired from the other replicas by read repair or by the next
 * write another node coordinates, and is never sent to them (issue 17, item 2:
 * damage is repaired, never spread). On whole core nodes (tests/unit/sim_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_fixture.h"

/* Whether `id`'s copy of key decodes (an intact object). */
static bool damage_copy_intact(rk_fixture *fx, rk_node_id id, const char *key)
{
    rk_buf buf;
    assert_int_equal(rk_fixture_local_get(fx, id, key, &buf), 0);
    bool intact = buf.len > 0 && rk_dvvset_frame_ok(buf.data, buf.len);
    rk_store_buf_free(&buf);
    return intact;
}

/* p2's copy damaged: a read at R = 3 through p1 still answers the value (p2 counts as a replica
 * without the key), read repair writes p2 an intact copy, and p2 counted the damage. */
static void test_damaged_copy_reads_as_missing_and_is_read_repaired(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    assert_int_equal(fx_set(fx, k.p[0], k.name, "v1", RK_SLOPPY_BUCKET)->kind, RK_REPLY_OK);
    fx_pump(fx);
    assert_true(rk_fixture_damage(fx, k.p[1]) >= 1);
    const fx_reply *r = fx_get(fx, k.p[0], k.name, 3, RK_SLOPPY_BUCKET);
    fx_assert_value(r, "v1");
    fx_pump(fx);
    assert_true(fx_stats(fx, k.p[1])->aae_damaged_objects >= 1);
    assert_true(damage_copy_intact(fx, k.p[1], k.name));
    assert_true(fx_local_is(fx, k.p[1], k.name, "v1"));
    fx_free(fx);
}

/* A coordinator whose own copy is damaged refuses the write (it lost the key's history and could
 * mint a dot again, which replicas would take for one they saw), sending nothing; a read
 * through it answers from the others and repairs its copy, and the write then succeeds. A
 * replica whose copy is damaged takes a write as if it had none. The damaged bytes reach no
 * other node: every copy decodes at the end. */
static void test_damaged_coordinator_refuses_until_a_read_repairs_it(void **state)
{
    (void)state;
    rk_fixture *fx = fx_new();
    fx_key k;
    fx_key_find(fx, "", 0, &k);
    fx_set(fx, k.p[0], k.name, "v1", RK_SLOPPY_BUCKET);
    fx_pump(fx);
    rk_fixture_damage(fx, k.p[0]);
    rk_fixture_damage(fx, k.p[1]);
    const fx_reply *r = fx_set(fx, k.p[0], k.name, "v2", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_ERROR);
    assert_non_null(strstr(r->message, "damaged"));
    fx_assert_value(fx_get(fx, k.p[0], k.name, 3, RK_SLOPPY_BUCKET), "v1");
    fx_pump(fx);
    assert_true(damage_copy_intact(fx, k.p[0], k.name));
    r = fx_set(fx, k.p[0], k.name, "v2", RK_SLOPPY_BUCKET);
    assert_int_equal(r->kind, RK_REPLY_OK);
    fx_pump(fx);
    for (uint32_t i = 0; i < 3; i++) {
        assert_true(damage_copy_intact(fx, k.p[i], k.name));
    }
    fx_assert_value(fx_get(fx, k.f[0], k.name, 3, RK_SLOPPY_BUCKET), "v2");
    assert_true(fx_stats(fx, k.p[0])->aae_damaged_objects >= 1);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_damaged_copy_reads_as_missing_and_is_read_repaired,
                                  fx_teardown),
        cmocka_unit_test_teardown(test_damaged_coordinator_refuses_until_a_read_repairs_it,
                                  fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
