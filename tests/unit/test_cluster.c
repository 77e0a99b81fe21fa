/* test_cluster.c — the cluster metadata of one node (src/core/cluster.c, cluster_codec.c;
 * docs/membership.md); merge across copies is test_cluster_merge.c's. Covers: a bootstrap (ring
 * claimed over valid members, seen_ring, the cluster id independent of member order); the codec
 * (a round trip gives the same bytes at rest and while a plan moves with some units done; every
 * single byte flipped and every truncation refused with RK_ECORRUPT; bytes with a good checksum
 * and bad content refused or decoded to the same bytes); the refusals of staging and commit,
 * with the exact RK_EBUSY message; the units of a join against an independent recomputation
 * from rk_ring_preflist (every (partition, node) that gains keys, and nothing else), then unit
 * by unit to the flip; a leave and a force-remove. Helpers: cluster_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/hash.h"
#include "cluster_fixture.h"

/* Three members with 4 and 5 staged to join, committed by node 1: plan 1, moving. */
static rk_cluster_meta *test_boot_joining_two(void)
{
    rk_cluster_meta *m = test_boot(3);
    test_stage_join_ok(m, 1, 4);
    test_stage_join_ok(m, 1, 5);
    test_commit_ok(m, 1);
    assert_true(m->moving);
    return m;
}

/* A join of `id` staged by node 1, refused with RK_EINVAL and, unless NULL, `message_want`. */
static void test_stage_join_refused(rk_cluster_meta *m, rk_node_id id, const char *message_want)
{
    char message[TEST_MESSAGE_BYTES];
    rk_member_addr addr = test_addr(id);
    assert_int_equal(rk_cluster_stage_join(m, 1, &addr, message, sizeof(message)), RK_EINVAL);
    if (message_want != NULL) {
        assert_string_equal(message, message_want);
    }
}

/* ---- bootstrap ---------------------------------------------------------------------------- */

static void test_bootstrap_claims_the_ring_over_valid_members(void **state)
{
    (void)state;
    rk_cluster_meta *m = test_boot(3);

    assert_int_equal(m->member_count, 3);
    assert_int_equal(m->ring.partition_count, TEST_Q);
    assert_int_equal(m->ring.member_count, 3);
    assert_true(m->ring.version > 0);
    assert_false(m->moving);
    assert_int_equal(m->staged_count, 0);
    assert_int_equal(m->gone_count, 0);
    assert_int_equal(rk_cluster_units_left(m), 0);
    uint32_t owned_total = 0;
    for (uint32_t i = 0; i < 3; i++) {
        const rk_cmember *cm = &m->members[i];
        assert_int_equal(cm->addr.id, i + 1);
        assert_int_equal(cm->state, RK_CMEMBER_VALID);
        assert_int_equal(cm->seen_ring, m->ring.version);
        uint32_t owned = rk_ring_owned_count(&m->ring, cm->addr.id);
        assert_true(owned >= TEST_Q / 3);
        assert_true(owned <= TEST_Q / 3 + 1);
        owned_total += owned;
    }
    assert_int_equal(owned_total, TEST_Q);
    test_meta_free(m);
}

static void test_bootstrap_members_in_any_order_give_one_cluster(void **state)
{
    (void)state;
    rk_member_addr a[3] = {test_addr(5), test_addr(9), test_addr(2)};
    rk_member_addr b[3] = {test_addr(2), test_addr(5), test_addr(9)};
    rk_member_addr c[3] = {test_addr(9), test_addr(2), test_addr(5)};
    rk_member_addr other[3] = {test_addr(2), test_addr(5), test_addr(10)};
    uint64_t id = rk_cluster_id_of(a, 3);
    assert_int_not_equal(id, 0);
    assert_true(id == rk_cluster_id_of(b, 3));
    assert_true(id == rk_cluster_id_of(c, 3));
    assert_false(id == rk_cluster_id_of(other, 3));

    rk_cluster_meta *ma = test_meta_new();
    rk_cluster_meta *mc = test_meta_new();
    assert_int_equal(rk_cluster_bootstrap(ma, id, TEST_Q, a, 3, TEST_N), 0);
    assert_int_equal(rk_cluster_bootstrap(mc, id, TEST_Q, c, 3, TEST_N), 0);
    assert_true(test_same_bytes(ma, mc));
    test_meta_free(ma);
    test_meta_free(mc);
}

static void test_bootstrap_refuses_bad_lists(void **state)
{
    (void)state;
    rk_member_addr dup[2] = {test_addr(4), test_addr(4)};
    rk_member_addr zero[2] = {test_addr(4), test_addr(0)};
    rk_cluster_meta *m = test_meta_new();
    assert_int_equal(rk_cluster_bootstrap(m, 7, TEST_Q, dup, 2, TEST_N), RK_EINVAL);
    assert_int_equal(rk_cluster_bootstrap(m, 7, TEST_Q, zero, 2, TEST_N), RK_EINVAL);
    assert_int_equal(rk_cluster_bootstrap(m, 7, TEST_Q, dup, 0, TEST_N), RK_EINVAL);
    assert_int_equal(rk_cluster_bootstrap(m, 0, TEST_Q, dup, 1, TEST_N), RK_EINVAL);
    test_meta_free(m);
}

/* ---- codec -------------------------------------------------------------------------------- */

/* Every single byte flipped (low bit and whole byte) and every truncation is refused. */
static void test_check_corruption_refused(const uint8_t *bytes, int len)
{
    uint8_t *bad = test_buf();
    rk_cluster_meta *d = test_meta_new();
    for (int i = 0; i < len; i++) {
        static const uint8_t masks[2] = {0x01, 0xff};
        for (uint32_t k = 0; k < 2; k++) {
            memcpy(bad, bytes, (size_t)len);
            bad[i] ^= masks[k];
            int rc = rk_cluster_decode(d, bad, (size_t)len);
            if (rc != RK_ECORRUPT) {
                fail_msg("byte %d ^ 0x%02x of %d: decode gave %d", i, masks[k], len, rc);
            }
            assert_null(d->units);
        }
    }
    for (int cut = 0; cut < len; cut++) {
        assert_int_equal(rk_cluster_decode(d, bytes, (size_t)cut), RK_ECORRUPT);
    }
    assert_int_equal(rk_cluster_decode(d, NULL, 0), RK_ECORRUPT);
    test_meta_free(d);
    free(bad);
}

/* With the checksum rewritten, every single byte changed still decodes to something that
 * encodes to the same bytes, or is refused: content is validated, not only the checksum. */
static void test_check_rechecksummed(const uint8_t *bytes, int len)
{
    uint8_t *bad = test_buf();
    uint8_t *again = test_buf();
    rk_cluster_meta *d = test_meta_new();
    size_t body = (size_t)len - 4;
    uint32_t accepted = 0;
    for (size_t i = 0; i < body; i++) {
        for (uint32_t v = 0; v < 256; v += 51) {
            memcpy(bad, bytes, (size_t)len);
            bad[i] = (uint8_t)(bad[i] ^ (v == 0 ? 0x80 : v));
            rk_le32_put(bad + body, (uint32_t)rk_hash_key(bad, body));
            int rc = rk_cluster_decode(d, bad, (size_t)len);
            if (rc != 0) {
                assert_int_equal(rc, RK_ECORRUPT);
                continue;
            }
            accepted++;
            int len2 = rk_cluster_encode(d, again, RK_CLUSTER_ENCODED_BYTES_MAX);
            assert_int_equal(len2, len);
            if (memcmp(again, bad, (size_t)len) != 0) {
                fail_msg("byte %zu ^ 0x%02x decoded but encodes to other bytes", i, v);
            }
            rk_cluster_meta_deinit(d);
        }
    }
    assert_true(accepted > 0); /* ids, stamps, ports: plenty of bytes are free */
    test_meta_free(d);
    free(again);
    free(bad);
}

/* m round-trips, and its bytes refuse every corruption and survive every re-checksummed change
 * (the two checks above). Returns the decoded copy, owned: test_meta_free it. */
static rk_cluster_meta *test_check_codec(const rk_cluster_meta *m)
{
    uint8_t *buf = test_buf();
    int len = test_encode(m, buf);
    rk_cluster_meta *d = test_round_trip(buf, len);
    test_check_corruption_refused(buf, len);
    test_check_rechecksummed(buf, len);
    free(buf);
    return d;
}

static void test_codec_round_trip_at_rest(void **state)
{
    (void)state;
    rk_cluster_meta *m = test_boot(3);
    rk_cluster_saw(m, 2, m->ring.version + 3);
    test_stage_join_ok(m, 1, 40);
    test_stage_leave_ok(m, 1, 3, false);
    rk_cluster_meta *d = test_check_codec(m);
    assert_int_equal(d->staged_count, 2);
    assert_int_equal(d->members[1].seen_ring, m->ring.version + 3);
    assert_false(d->moving);
    test_meta_free(d);
    test_meta_free(m);
}

static void test_codec_round_trip_while_moving_with_some_units_done(void **state)
{
    (void)state;
    rk_cluster_meta *m = test_boot_joining_two();
    assert_true(m->unit_count > 9);
    for (uint32_t i = 0; i < m->unit_count; i += 3) {
        assert_true(rk_cluster_unit_done(m, i));
    }
    rk_cluster_meta *d = test_check_codec(m);
    assert_true(d->moving);
    assert_int_equal(d->plan, m->plan);
    assert_int_equal(d->unit_count, m->unit_count);
    assert_memory_equal(d->units, m->units, m->unit_count * sizeof(m->units[0]));
    assert_int_equal(rk_cluster_units_left(d), rk_cluster_units_left(m));
    for (uint32_t i = 0; i < m->unit_count; i++) {
        assert_int_equal(rk_cluster_unit_is_done(d, i), i % 3 == 0);
    }
    test_meta_free(d);
    test_meta_free(m);
}

/* The done bitmap has bits past the last unit; a peer setting one sends an object that is equal
 * to one without it, but other bytes: refused, so equal objects stay equal bytes. */
static void test_codec_refuses_done_bits_past_the_last_unit(void **state)
{
    (void)state;
    rk_cluster_meta *m = test_boot_joining_two();
    assert_int_not_equal(m->unit_count % 8u, 0); /* 75 units: the last byte has spare bits */
    uint8_t *buf = test_buf();
    int len = test_encode(m, buf);
    size_t body = (size_t)len - 4;
    buf[body - 1] |= 0x80; /* the bitmap is last before the checksum */
    rk_le32_put(buf + body, (uint32_t)rk_hash_key(buf, body));
    rk_cluster_meta *d = test_meta_new();
    assert_int_equal(rk_cluster_decode(d, buf, (size_t)len), RK_ECORRUPT);
    test_meta_free(d);
    test_meta_free(m);
    free(buf);
}

/* ---- staging and commit refusals ---------------------------------------------------------- */

static void test_stage_join_refuses_an_id_in_use(void **state)
{
    (void)state;
    rk_cluster_meta *m = test_boot(3);
    uint64_t version = m->version;
    test_stage_join_refused(m, 2, "node id 2 is in use in this cluster");
    test_stage_join_refused(m, 0, NULL);
    /* A staged joiner is in use too. */
    test_stage_join_ok(m, 1, 8);
    test_stage_join_refused(m, 8, NULL);
    assert_int_equal(m->staged_count, 1);
    assert_int_equal(m->version, version + 1);
    test_meta_free(m);
}

static void test_stage_join_refuses_an_id_gone_after_clear(void **state)
{
    (void)state;
    rk_cluster_meta *m = test_boot(3);
    test_stage_join_ok(m, 1, 10);
    assert_non_null(rk_cluster_member(m, 10));
    rk_cluster_stage_clear(m, 1);
    assert_int_equal(m->staged_count, 0);
    assert_null(rk_cluster_member(m, 10));
    assert_true(rk_cluster_gone(m, 10));
    test_stage_join_refused(m, 10,
                            "node id 10 was used in this cluster before; give the node a new id");
    test_meta_free(m);
}

static void test_stage_join_refuses_an_id_gone_after_member_left(void **state)
{
    (void)state;
    rk_cluster_meta *m = test_boot(4);
    test_stage_leave_ok(m, 1, 4, false);
    test_commit_ok(m, 1);
    test_finish(m);
    rk_cluster_member_left(m, 4);
    assert_true(rk_cluster_gone(m, 4));
    test_stage_join_refused(m, 4,
                            "node id 4 was used in this cluster before; give the node a new id");
    test_meta_free(m);
}

static void test_stage_leave_refuses_a_non_member_and_the_last_member(void **state)
{
    (void)state;
    char message[TEST_MESSAGE_BYTES];
    rk_cluster_meta *m = test_boot(2);
    assert_int_equal(rk_cluster_stage_leave(m, 1, 9, false, message, sizeof(message)),
                     RK_ENOTFOUND);
    assert_string_equal(message, "node 9 is not a member of this cluster");
    test_stage_leave_ok(m, 1, 2, false);
    assert_int_equal(rk_cluster_stage_leave(m, 1, 1, false, message, sizeof(message)), RK_EINVAL);
    assert_string_equal(message, "node 1 is the last member; a cluster keeps one");
    assert_int_equal(rk_cluster_stage_leave(m, 1, 1, true, message, sizeof(message)), RK_EINVAL);
    assert_int_equal(m->staged_count, 1);
    test_meta_free(m);

    m = test_boot(1);
    assert_int_equal(rk_cluster_stage_leave(m, 1, 1, false, message, sizeof(message)), RK_EINVAL);
    assert_int_equal(m->staged_count, 0);
    test_meta_free(m);
}

static void test_stage_leave_refuses_a_staged_joiner(void **state)
{
    (void)state;
    char message[TEST_MESSAGE_BYTES];
    rk_cluster_meta *m = test_boot(3);
    test_stage_join_ok(m, 1, 6);
    assert_int_equal(rk_cluster_stage_leave(m, 1, 6, false, message, sizeof(message)), RK_EINVAL);
    assert_int_equal(m->staged_count, 1);
    test_meta_free(m);
}

/* The staged list is fixed-size; a peer's list may be full of ids that are no longer members
 * (a decoded copy is all it takes): a leave of a member not on it is refused, not written past
 * the array. */
static void test_stage_leave_refuses_past_the_staged_limit(void **state)
{
    (void)state;
    char message[TEST_MESSAGE_BYTES];
    rk_cluster_meta *m = test_boot(3);
    for (uint32_t i = 0; i < RK_CLUSTER_STAGED_MAX; i++) {
        m->staged[i] = (rk_cstaged){.id = 1000 + i, .action = RK_CSTAGE_LEAVE};
    }
    m->staged_count = RK_CLUSTER_STAGED_MAX;
    m->staged_version = m->version;
    rk_cluster_meta *d = test_reencoded(m);
    assert_int_equal(rk_cluster_stage_leave(d, 1, 2, false, message, sizeof(message)), RK_ETOOBIG);
    char want[TEST_MESSAGE_BYTES];
    snprintf(want, sizeof(want), "%u changes are staged; the most is %u", RK_CLUSTER_STAGED_MAX,
             RK_CLUSTER_STAGED_MAX);
    assert_string_equal(message, want);
    assert_int_equal(d->staged_count, RK_CLUSTER_STAGED_MAX);
    /* One below the limit still takes it. */
    d->staged_count--;
    assert_int_equal(rk_cluster_stage_leave(d, 1, 2, false, message, sizeof(message)), 0);
    assert_int_equal(d->staged_count, RK_CLUSTER_STAGED_MAX);
    assert_int_equal(d->staged[RK_CLUSTER_STAGED_MAX - 1].id, 2);
    test_meta_free(d);
    test_meta_free(m);
}

static void test_commit_refuses_nothing_staged(void **state)
{
    (void)state;
    char message[TEST_MESSAGE_BYTES];
    rk_cluster_meta *m = test_boot(3);
    uint64_t version = m->version;
    assert_int_equal(rk_cluster_commit(m, 1, TEST_N, message, sizeof(message)), RK_EINVAL);
    assert_string_equal(message, "no changes staged");
    assert_int_equal(m->version, version);
    assert_int_equal(m->plan, 0);
    test_meta_free(m);
}

static void test_commit_refuses_while_moving_and_says_how_much_is_left(void **state)
{
    (void)state;
    char message[TEST_MESSAGE_BYTES];
    char want[TEST_MESSAGE_BYTES];
    rk_cluster_meta *m = test_boot(3);
    test_stage_join_ok(m, 1, 4);
    test_commit_ok(m, 1);
    uint32_t total = test_check_units(m);
    assert_true(total > 2);
    rk_cluster_unit_done(m, 0);
    rk_cluster_unit_done(m, total - 1);
    test_stage_join_ok(m, 1, 5);
    rk_cluster_meta *before = test_copy(m);
    assert_int_equal(rk_cluster_commit(m, 1, TEST_N, message, sizeof(message)), RK_EBUSY);
    snprintf(want, sizeof(want), "transfers of plan 1 running: %u of %u partitions left", total - 2,
             total);
    assert_string_equal(message, want);
    /* Refused: nothing changed. */
    assert_true(test_same_bytes(m, before));
    test_meta_free(before);
    test_meta_free(m);
}

/* Units are computed for n <= RK_N_MAX (the decoder refuses more): a larger n_max is refused
 * before anything changes, never committed as bytes no node can read. */
static void test_commit_refuses_n_max_above_the_limit(void **state)
{
    (void)state;
    char message[TEST_MESSAGE_BYTES];
    rk_cluster_meta *m = test_boot(3);
    test_stage_join_ok(m, 1, 4);
    rk_cluster_meta *before = test_copy(m);
    assert_int_equal(rk_cluster_commit(m, 1, RK_N_MAX + 1, message, sizeof(message)), RK_EINVAL);
    assert_true(test_same_bytes(m, before));
    /* At the limit it commits, and the bytes decode. */
    assert_int_equal(rk_cluster_commit(m, 1, RK_N_MAX, message, sizeof(message)), 0);
    test_meta_free(test_reencoded(m));
    test_meta_free(before);
    test_meta_free(m);
}

/* ---- join: units and the flip ------------------------------------------------------------- */

static void test_join_units_are_exactly_the_gains_and_flip_after_the_last(void **state)
{
    (void)state;
    rk_cluster_meta *m = test_boot(3);
    uint64_t ring_version = m->ring.version;
    test_stage_join_ok(m, 1, 4);
    test_stage_join_ok(m, 1, 5);
    test_commit_ok(m, 1);

    assert_true(m->moving);
    assert_int_equal(m->plan, 1);
    assert_int_equal(m->plan_origin, 1);
    assert_int_equal(m->plan_n, TEST_N);
    assert_int_equal(m->staged_count, 0);
    assert_int_equal(m->ring.version, ring_version);
    assert_int_equal(m->next.version, ring_version + 1);
    assert_int_equal(m->next.member_count, 5);
    for (rk_node_id id = 1; id <= 5; id++) {
        uint32_t owned = rk_ring_owned_count(&m->next, id);
        assert_true(owned >= TEST_Q / 5);
        assert_true(owned <= TEST_Q / 5 + 1);
    }
    assert_int_equal(rk_ring_owned_count(&m->ring, 4), 0);
    assert_int_equal(rk_cluster_member(m, 4)->state, RK_CMEMBER_JOINING);
    assert_int_equal(rk_cluster_member(m, 5)->state, RK_CMEMBER_JOINING);

    uint32_t count = test_check_units(m);
    assert_true(count > 0);
    assert_int_equal(rk_cluster_units_left(m), count);
    rk_ring next = m->next;
    for (uint32_t i = 0; i < count; i++) {
        assert_false(rk_cluster_flip(m));
        assert_true(m->moving);
        assert_true(rk_cluster_unit_done(m, i));
        assert_false(rk_cluster_unit_done(m, i)); /* once */
        assert_int_equal(rk_cluster_units_left(m), count - i - 1);
    }
    assert_false(rk_cluster_unit_done(m, count)); /* past the end */
    assert_true(rk_cluster_flip(m));
    assert_false(rk_cluster_flip(m));
    assert_false(m->moving);
    assert_int_equal(m->unit_count, 0);
    assert_null(m->units);
    assert_memory_equal(&m->ring, &next, sizeof(next));
    for (uint32_t i = 0; i < m->member_count; i++) {
        assert_int_equal(m->members[i].state, RK_CMEMBER_VALID);
    }
    /* The flipped object decodes, and a new plan can be committed. */
    test_meta_free(test_reencoded(m));
    test_meta_free(m);
}

/* ---- leave and force-remove --------------------------------------------------------------- */

static void test_leave_hands_everything_off_then_member_left_makes_it_gone(void **state)
{
    (void)state;
    char message[TEST_MESSAGE_BYTES];
    rk_cluster_meta *m = test_boot(5);
    test_stage_leave_ok(m, 1, 2, false);
    test_stage_leave_ok(m, 1, 5, false);
    test_commit_ok(m, 1);
    assert_true(m->moving);
    assert_int_equal(m->next.member_count, 3);
    for (rk_node_id id = 1; id <= 5; id++) {
        bool leaving = id == 2 || id == 5;
        assert_int_equal(rk_cluster_member(m, id)->state,
                         leaving ? RK_CMEMBER_LEAVING : RK_CMEMBER_VALID);
        if (leaving) {
            assert_int_equal(rk_ring_owned_count(&m->next, id), 0);
        }
    }
    test_check_units(m);
    for (uint32_t u = 0; u < m->unit_count; u++) {
        assert_int_not_equal(m->units[u].receiver, 2);
        assert_int_not_equal(m->units[u].receiver, 5);
        assert_true(m->units[u].source_count > 0);
    }
    /* A leaving member cannot be staged to leave again. */
    assert_int_equal(rk_cluster_stage_leave(m, 1, 2, false, message, sizeof(message)), RK_EINVAL);
    test_finish(m);
    assert_int_equal(rk_ring_owned_count(&m->ring, 2), 0);
    assert_int_equal(rk_ring_owned_count(&m->ring, 5), 0);
    assert_int_equal(rk_cluster_member(m, 2)->state, RK_CMEMBER_LEAVING);
    rk_cluster_member_left(m, 2);
    rk_cluster_member_left(m, 5);
    assert_null(rk_cluster_member(m, 2));
    assert_null(rk_cluster_member(m, 5));
    assert_true(rk_cluster_gone(m, 2));
    assert_true(rk_cluster_gone(m, 5));
    assert_int_equal(m->member_count, 3);
    test_meta_free(test_reencoded(m));
    test_meta_free(m);
}

static void test_force_remove_is_never_a_source(void **state)
{
    (void)state;
    rk_cluster_meta *m = test_boot(5);
    test_stage_leave_ok(m, 1, 3, true);
    assert_int_equal(m->staged[0].action, RK_CSTAGE_REMOVE);
    test_commit_ok(m, 1);
    assert_true(m->moving);
    assert_true(rk_cluster_gone(m, 3));
    assert_null(rk_cluster_member(m, 3));
    assert_int_equal(rk_ring_owned_count(&m->next, 3), 0);
    assert_true(rk_ring_owned_count(&m->ring, 3) > 0);
    test_check_units(m);
    uint32_t from_survivors = 0;
    for (uint32_t u = 0; u < m->unit_count; u++) {
        const rk_cluster_unit *unit = &m->units[u];
        assert_int_not_equal(unit->receiver, 3);
        assert_true(unit->source_count > 0);
        for (uint32_t s = 0; s < unit->source_count; s++) {
            assert_int_not_equal(unit->sources[s], 3);
        }
        from_survivors += rk_ring_owner(&m->ring, unit->partition) == 3 ? 1u : 0u;
    }
    assert_true(from_survivors > 0); /* its own partitions are among the units */
    /* Decoded elsewhere, the units are the same: the gone set is in the bytes. */
    rk_cluster_meta *d = test_reencoded(m);
    assert_int_equal(d->unit_count, m->unit_count);
    assert_memory_equal(d->units, m->units, m->unit_count * sizeof(m->units[0]));
    test_meta_free(d);
    test_meta_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bootstrap_claims_the_ring_over_valid_members),
        cmocka_unit_test(test_bootstrap_members_in_any_order_give_one_cluster),
        cmocka_unit_test(test_bootstrap_refuses_bad_lists),
        cmocka_unit_test(test_codec_round_trip_at_rest),
        cmocka_unit_test(test_codec_round_trip_while_moving_with_some_units_done),
        cmocka_unit_test(test_codec_refuses_done_bits_past_the_last_unit),
        cmocka_unit_test(test_stage_join_refuses_an_id_in_use),
        cmocka_unit_test(test_stage_join_refuses_an_id_gone_after_clear),
        cmocka_unit_test(test_stage_join_refuses_an_id_gone_after_member_left),
        cmocka_unit_test(test_stage_leave_refuses_a_non_member_and_the_last_member),
        cmocka_unit_test(test_stage_leave_refuses_a_staged_joiner),
        cmocka_unit_test(test_stage_leave_refuses_past_the_staged_limit),
        cmocka_unit_test(test_commit_refuses_nothing_staged),
        cmocka_unit_test(test_commit_refuses_while_moving_and_says_how_much_is_left),
        cmocka_unit_test(test_commit_refuses_n_max_above_the_limit),
        cmocka_unit_test(test_join_units_are_exactly_the_gains_and_flip_after_the_last),
        cmocka_unit_test(test_leave_hands_everything_off_then_member_left_makes_it_gone),
        cmocka_unit_test(test_force_remove_is_never_a_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
