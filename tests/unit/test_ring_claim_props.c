/* test_ring_claim_props.c — claim and rebalance as properties over a grid (issue 15). Owns the
 * sweep over cluster sizes S = 1..64 and ring sizes Q = 8, 16, ..., 1024 for N = 2, 3 and 5: a
 * fresh claim, one join S -> S+1, one leave S -> S-1 of a member picked by a seeded PRNG, and
 * a chain of joins and leaves with fresh ids. Every ring is checked for balance (floor(Q/S) or
 * ceil(Q/S) each), the target_n_val rule wherever rk_ring_target_n_achievable says it can hold
 * (and a broken window wherever it says none can), departed members owning nothing, the version
 * one up per change, and moved_count_out against a count of changed owners. Owner counts and
 * windows come from rk_ring_owner here, not from the module's counters. Joins are held to the
 * newcomer's share; leaves are measured; the worst ratios are printed. The hand-picked cases,
 * argument checks and byte format stay in test_ring.c.
 *
 * The whole grid takes about 0.2 s plain and 0.7 s under ASan with slow asserts (measured), so
 * nothing is sampled. The PRNG seed is fixed so runs compare; RK_SEED=<n> picks another and is
 * printed.
 *
 * Known exceptions to the properties, seen in this sweep and consistent with ring.h
 * (ring_claim.c left alone); the test checks what holds around them:
 *   - a rebalance to S <= N mends no window (ring.h, rk_ring_rebalance's contract), so a leave
 *     S = 3 -> 2 with N = 2 breaks windows on every Q (2 of 8 up to 340 of 1024) though a
 *     balanced ring of 2 can keep the rule; harmless, as every preference list names both;
 *   - a join that makes the rule achievable where it was not (S = N = 3 or 5 -> S + 1) repairs
 *     the windows first and may move several shares: Q = 1024, N = 5, S = 5 -> 6 moved 845
 *     partitions against a share of 171. Such joins are bounded only by Q. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_seed.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/ring.h"

#define PROPS_Q_MIN 8u
#define PROPS_Q_MAX 1024u
#define PROPS_SEED_DEFAULT 0x15c1a1f5ull /* issue 15; fixed so every run sees the same cases */
#define PROPS_CHAIN_START 3u             /* members a chain starts from */
#define PROPS_CHAIN_JOINS 2u             /* members joined, then removed, per round */
#define PROPS_CHAIN_ROUNDS 5u

/* ---- helpers ------------------------------------------------------------------------------ */

static rk_ring *props_ring_new(uint32_t partition_count)
{
    rk_ring *ring = malloc(sizeof(*ring));
    assert_non_null(ring);
    assert_int_equal(rk_ring_init(ring, partition_count), 0);
    return ring;
}

/* Ids spread out and not in claim order, so member index and id are not confused. */
static void props_ids(rk_node_id *ids, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        ids[i] = 7u + 131u * ((i * 37u) % 97u);
    }
}

/* RK_SEED, else the fixed default; printed either way so a failure names its stream. */
static uint64_t props_seed(const char *what)
{
    const char *env = getenv("RK_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : PROPS_SEED_DEFAULT;
    if (seed == 0) {
        seed = 1;
    }
    print_message("%s: RK_SEED=%llu\n", what, (unsigned long long)seed);
    return seed;
}

static uint32_t props_slot(const rk_ring *ring, rk_node_id id)
{
    for (uint32_t i = 0; i < ring->member_count; i++) {
        if (ring->members[i] == id) {
            return i;
        }
    }
    fail_msg("node %u is not a member", id);
    return 0;
}

/* Balance through the public API: each member owns floor(Q/S) or ceil(Q/S). */
static void props_assert_balanced(const rk_ring *ring, const char *what, uint32_t target_n)
{
    uint32_t partition_count = ring->partition_count;
    uint32_t member_count = ring->member_count;
    uint32_t count[RK_RING_NODES_MAX] = {0};
    for (uint32_t p = 0; p < partition_count; p++) {
        count[props_slot(ring, rk_ring_owner(ring, p))]++;
    }
    uint32_t floor_count = partition_count / member_count;
    uint32_t ceil_count = (partition_count + member_count - 1u) / member_count;
    for (uint32_t i = 0; i < member_count; i++) {
        if (count[i] < floor_count || count[i] > ceil_count) {
            fail_msg("%s Q=%u S=%u N=%u: node %u owns %u, expected %u..%u", what, partition_count,
                     member_count, target_n, ring->members[i], count[i], floor_count, ceil_count);
        }
        assert_int_equal(rk_ring_owned_count(ring, ring->members[i]), count[i]);
    }
}

/* Windows of target_n consecutive partitions (wrap included) that repeat an owner, by a mask of
 * the member indexes seen; cross-checked against rk_ring_violations. */
static uint32_t props_violations(const rk_ring *ring, uint32_t target_n)
{
    uint32_t partition_count = ring->partition_count;
    uint32_t violations = 0;
    for (uint32_t start = 0; start < partition_count; start++) {
        uint64_t seen = 0;
        bool repeats = target_n > partition_count;
        for (uint32_t i = 0; i < target_n && !repeats; i++) {
            uint32_t slot = props_slot(ring, rk_ring_owner(ring, (start + i) % partition_count));
            repeats = (seen >> slot) & 1u;
            seen |= 1ull << slot;
        }
        violations += repeats ? 1u : 0u;
    }
    assert_int_equal(rk_ring_violations(ring, target_n), violations);
    return violations;
}

/* Where the rule can hold it must: every window distinct. Where it cannot, some window repeats
 * (ring.h: no balanced table keeps it then, and the ring is balanced). Known exception: a
 * rebalance to S <= N mends no window (ring.h), so `rebalanced` rings of S <= N are held to
 * balance only; measured, this lets through leaves 3 -> 2 with N = 2. */
static void props_assert_rule(const rk_ring *ring, const char *what, uint32_t target_n,
                              bool rebalanced)
{
    uint32_t violations = props_violations(ring, target_n);
    bool achievable =
        rk_ring_target_n_achievable(ring->partition_count, ring->member_count, target_n);
    bool exempt = rebalanced && ring->member_count <= target_n;
    if (achievable && !exempt && violations != 0) {
        fail_msg("%s Q=%u S=%u N=%u: %u windows repeat an owner where the rule can hold", what,
                 ring->partition_count, ring->member_count, target_n, violations);
    }
    if (!achievable && violations == 0) {
        fail_msg("%s Q=%u S=%u N=%u: no window repeats where the predicate says one must", what,
                 ring->partition_count, ring->member_count, target_n);
    }
}

/* Whether `id` is one of `ids`. */
static bool props_has(const rk_node_id *ids, uint32_t count, rk_node_id id)
{
    for (uint32_t i = 0; i < count; i++) {
        if (ids[i] == id) {
            return true;
        }
    }
    return false;
}

/* Partitions whose owner differs: the oracle for moved_count_out. */
static uint32_t props_moved(const rk_ring *before, const rk_ring *after)
{
    uint32_t moved = 0;
    for (uint32_t p = 0; p < before->partition_count; p++) {
        moved += rk_ring_owner(before, p) != rk_ring_owner(after, p) ? 1u : 0u;
    }
    return moved;
}

/* Rebalance `ring` to `members` into `next` and check what every rebalance owes: success, the
 * version one up, moved_count_out true, balance, the rule, members gone owning nothing. Returns
 * the partitions moved. */
static uint32_t props_rebalance(const rk_ring *ring, const rk_node_id *members,
                                uint32_t member_count, uint32_t target_n, rk_ring *next,
                                const char *what)
{
    uint32_t moved = UINT32_MAX;
    assert_int_equal(rk_ring_rebalance(ring, members, member_count, target_n, next, &moved), 0);
    assert_int_equal(next->member_count, member_count);
    assert_int_equal(next->version, ring->version + 1u);
    assert_int_equal(moved, props_moved(ring, next));
    props_assert_balanced(next, what, target_n);
    props_assert_rule(next, what, target_n, true);
    for (uint32_t i = 0; i < ring->member_count; i++) {
        if (!props_has(members, member_count, ring->members[i])) {
            assert_int_equal(rk_ring_owned_count(next, ring->members[i]), 0);
        }
    }
    return moved;
}

/* A nonzero id from the PRNG that none of `taken` has: anywhere in the id order, so a new
 * member lands first, last or between the others. */
static rk_node_id props_fresh_id(const rk_node_id *taken, uint32_t taken_count, uint64_t *rng)
{
    while (true) {
        rk_node_id id = (rk_node_id)test_rng_next(rng);
        if (id != 0 && !props_has(taken, taken_count, id)) {
            return id;
        }
    }
}

/* The worst moves against a share of the ring, and where it was seen. */
typedef struct props_worst {
    double ratio;
    uint32_t partition_count;
    uint32_t member_count;
    uint32_t target_n;
    uint32_t moved;
} props_worst;

static void props_worst_note(props_worst *worst, uint32_t moved, double share,
                             uint32_t partition_count, uint32_t member_count, uint32_t target_n)
{
    double ratio = (double)moved / share;
    if (ratio > worst->ratio) {
        *worst = (props_worst){ratio, partition_count, member_count, target_n, moved};
    }
}

static void props_worst_print(const char *what, const props_worst *worst, const char *share)
{
    print_message("%s: worst moves / %s = %.3f (Q=%u S=%u N=%u moved %u)\n", what, share,
                  worst->ratio, worst->partition_count, worst->member_count, worst->target_n,
                  worst->moved);
}

static const uint32_t props_target_ns[] = {2, 3, 5};
#define PROPS_TARGET_NS_COUNT (sizeof(props_target_ns) / sizeof(props_target_ns[0]))

/* `ids` but the one at `skip_index`, in order, into `out`. Returns how many: count - 1. */
static uint32_t props_without(const rk_node_id *ids, uint32_t count, uint32_t skip_index,
                              rk_node_id *out)
{
    uint32_t out_count = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (i != skip_index) {
            out[out_count++] = ids[i];
        }
    }
    return out_count;
}

/* One case of a join or leave sweep: `ring` and `next` have Q partitions (the step claims
 * `ring` over S members, then rebalances it into `next`); N is the target. */
typedef void props_step_fn(rk_ring *ring, rk_ring *next, uint32_t s, uint32_t n, void *ctx);

/* Runs `step` over every Q, N, and S from s_first to s_last, Q outermost and S innermost: a
 * fixed order, so one seed gives the same cases. */
static void props_sweep(uint32_t s_first, uint32_t s_last, props_step_fn *step, void *ctx)
{
    for (uint32_t q = PROPS_Q_MIN; q <= PROPS_Q_MAX; q *= 2u) {
        rk_ring *ring = props_ring_new(q);
        rk_ring *next = props_ring_new(q);
        for (uint32_t k = 0; k < PROPS_TARGET_NS_COUNT; k++) {
            for (uint32_t s = s_first; s <= s_last; s++) {
                step(ring, next, s, props_target_ns[k], ctx);
            }
        }
        free(ring);
        free(next);
    }
}

/* ---- claim -------------------------------------------------------------------------------- */

/* A fresh claim of S members is balanced, keeps the rule wherever it can hold (and breaks some
 * window where it cannot), lists its members ascending and bumps the version. */
static void test_claim_is_balanced_and_keeps_the_rule_where_achievable(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX];
    props_ids(ids, RK_RING_NODES_MAX);
    uint32_t case_count = 0;
    for (uint32_t q = PROPS_Q_MIN; q <= PROPS_Q_MAX; q *= 2u) {
        rk_ring *ring = props_ring_new(q);
        for (uint32_t k = 0; k < PROPS_TARGET_NS_COUNT; k++) {
            uint32_t n = props_target_ns[k];
            for (uint32_t s = 1; s <= RK_RING_NODES_MAX; s++) {
                uint64_t version = ring->version;
                assert_int_equal(rk_ring_claim(ring, ids, s, n), 0);
                assert_int_equal(ring->version, version + 1u);
                assert_int_equal(ring->member_count, s);
                for (uint32_t i = 1; i < s; i++) {
                    assert_true(ring->members[i - 1] < ring->members[i]);
                }
                props_assert_balanced(ring, "claim", n);
                props_assert_rule(ring, "claim", n, false);
                case_count++;
            }
        }
        free(ring);
    }
    print_message("claim: %u cases\n", case_count);
}

/* ---- one join ----------------------------------------------------------------------------- */

/* One join, sorted by what ring.h promises about its moves. */
typedef enum props_join_kind {
    PROPS_JOIN_RULE_KEPT,  /* the rule can hold before and after: exactly floor(Q/(S+1)) */
    PROPS_JOIN_RULE_NEVER, /* it can hold neither before nor after: balance only */
    PROPS_JOIN_RULE_GAINED /* it can hold only after: repair first, moves unbounded */
} props_join_kind;

static props_join_kind props_join_classify(uint32_t partition_count, uint32_t member_count,
                                           uint32_t target_n)
{
    bool before = rk_ring_target_n_achievable(partition_count, member_count, target_n);
    bool after = rk_ring_target_n_achievable(partition_count, member_count + 1u, target_n);
    /* More members never make it harder: ceil(Q/S) only shrinks as S grows. */
    assert_true(!before || after);
    if (before) {
        return PROPS_JOIN_RULE_KEPT;
    }
    return after ? PROPS_JOIN_RULE_GAINED : PROPS_JOIN_RULE_NEVER;
}

/* One member (a fresh id, anywhere in the id order) joins a claimed ring of S: balanced, the
 * rule where it can hold, and the moves held to the newcomer's share. Balance alone forces at
 * least floor(Q/(S+1)) moves: the newcomer owned nothing and must reach its floor. The slack
 * allowed above that is zero. Where the rule holds before and after, ring.h says a join "moved
 * exactly floor(Q/(S+1))", so that is asserted exactly. Where it can hold neither before nor
 * after, the join mostly lands on S + 1 <= N members, which ring.h says "only balances" with
 * "the minimum balance needs"; the rest are Q < N * N (Q = 8, N = 5, S = 5, 6), where repair may
 * move more but was measured not to: at most ceil(Q/(S+1)) for all of them. Where the join makes
 * the rule achievable (S = N, not a power of two) ring.h puts the rule before fewer moves and
 * gives no bound; those are counted and printed only (known: up to 4.95 shares, see the top). */
typedef struct props_join_run {
    uint64_t rng;
    rk_node_id ids[RK_RING_NODES_MAX];
    props_worst worst;         /* every join */
    props_worst worst_bounded; /* joins where ring.h bounds the moves */
    uint32_t case_count;
    uint32_t gained_over_count;
} props_join_run;

static void props_join_step(rk_ring *ring, rk_ring *next, uint32_t s, uint32_t n, void *ctx)
{
    props_join_run *run = ctx;
    uint32_t q = ring->partition_count;
    rk_node_id members[RK_RING_NODES_MAX];
    memcpy(members, run->ids, sizeof(rk_node_id) * s);
    assert_int_equal(rk_ring_claim(ring, members, s, n), 0);
    rk_node_id newcomer = props_fresh_id(members, s, &run->rng);
    members[s] = newcomer;
    uint32_t moved = props_rebalance(ring, members, s + 1u, n, next, "join");
    uint32_t floor_share = q / (s + 1u);
    uint32_t ceil_share = (q + s) / (s + 1u);
    double share = (double)q / (double)(s + 1u);
    props_join_kind kind = props_join_classify(q, s, n);
    assert_true(moved >= floor_share);
    assert_true(rk_ring_owned_count(next, newcomer) >= floor_share);
    props_worst_note(&run->worst, moved, share, q, s, n);
    run->case_count++;
    if (kind == PROPS_JOIN_RULE_GAINED) {
        if (moved > ceil_share) {
            run->gained_over_count++;
            print_message("join Q=%u S=%u+1 N=%u makes the rule achievable: moved "
                          "%u, share %u..%u (known, not asserted)\n",
                          q, s, n, moved, floor_share, ceil_share);
        }
        return;
    }
    props_worst_note(&run->worst_bounded, moved, share, q, s, n);
    if (kind == PROPS_JOIN_RULE_KEPT && moved != floor_share) {
        fail_msg("join Q=%u S=%u+1 N=%u: moved %u, share %u, the rule held before "
                 "and after",
                 q, s, n, moved, floor_share);
    }
    if (moved > ceil_share) {
        fail_msg("join Q=%u S=%u+1 N=%u: moved %u, share %u..%u", q, s, n, moved, floor_share,
                 ceil_share);
    }
}

static void test_join_moves_the_newcomers_share(void **state)
{
    (void)state;
    props_join_run run = {.rng = props_seed("join")};
    props_ids(run.ids, RK_RING_NODES_MAX);
    props_sweep(1, RK_RING_NODES_MAX - 1u, props_join_step, &run);
    print_message("join: %u cases, %u rule-gaining joins above ceil(Q/(S+1))\n", run.case_count,
                  run.gained_over_count);
    props_worst_print("join (all)", &run.worst, "(Q/(S+1))");
    props_worst_print("join (rule kept or never achievable)", &run.worst_bounded, "(Q/(S+1))");
}

/* ---- one leave ---------------------------------------------------------------------------- */

/* A member picked by the PRNG leaves a claimed ring of S: balanced, the rule where it can
 * hold (S - 1 > N, see props_assert_rule), the leaver owns nothing and at least its partitions
 * moved. ring.h bounds no leave (a chain of one more move per partition gained, and with fewer
 * than about 2N members left the ring is largely rewritten), so the moves are measured against
 * Q/S, the leaver's share: over every case, over S <= Q (with S > Q the share is below one
 * partition and one move reads as a large ratio), and over S <= Q with S - 1 >= 2N. */
typedef struct props_leave_run {
    uint64_t rng;
    rk_node_id ids[RK_RING_NODES_MAX];
    props_worst worst;        /* every leave */
    props_worst worst_owning; /* S <= Q */
    props_worst worst_wide;   /* S <= Q and S - 1 >= 2N */
    uint32_t case_count;
} props_leave_run;

static void props_leave_step(rk_ring *ring, rk_ring *next, uint32_t s, uint32_t n, void *ctx)
{
    props_leave_run *run = ctx;
    uint32_t q = ring->partition_count;
    assert_int_equal(rk_ring_claim(ring, run->ids, s, n), 0);
    uint32_t leaver_index = (uint32_t)(test_rng_next(&run->rng) % s);
    rk_node_id leaver = run->ids[leaver_index];
    rk_node_id rest[RK_RING_NODES_MAX];
    uint32_t rest_count = props_without(run->ids, s, leaver_index, rest);
    uint32_t owned = rk_ring_owned_count(ring, leaver);
    uint32_t moved = props_rebalance(ring, rest, rest_count, n, next, "leave");
    assert_true(moved >= owned);
    double share = (double)q / (double)s;
    props_worst_note(&run->worst, moved, share, q, s, n);
    if (s <= q) {
        props_worst_note(&run->worst_owning, moved, share, q, s, n);
    }
    if (s <= q && rest_count >= 2u * n) {
        props_worst_note(&run->worst_wide, moved, share, q, s, n);
    }
    run->case_count++;
}

static void test_leave_keeps_balance_and_rule(void **state)
{
    (void)state;
    props_leave_run run = {.rng = props_seed("leave")};
    props_ids(run.ids, RK_RING_NODES_MAX);
    props_sweep(2, RK_RING_NODES_MAX, props_leave_step, &run);
    print_message("leave: %u cases\n", run.case_count);
    props_worst_print("leave (all)", &run.worst, "(Q/S)");
    props_worst_print("leave (S <= Q)", &run.worst_owning, "(Q/S)");
    props_worst_print("leave (S <= Q, S-1 >= 2N)", &run.worst_wide, "(Q/S)");
}

/* ---- a chain of changes ------------------------------------------------------------------- */

/* From 3 members, two fresh ids join one at a time and then the same two leave, five rounds:
 * every step balanced, the rule where it can hold, the version one up each time. */
static void test_chain_of_joins_and_leaves_keeps_balance_and_rule(void **state)
{
    (void)state;
    uint64_t rng = props_seed("chain");
    for (uint32_t q = PROPS_Q_MIN; q <= PROPS_Q_MAX; q *= 2u) {
        rk_ring *ring = props_ring_new(q);
        rk_ring *next = props_ring_new(q);
        for (uint32_t k = 0; k < PROPS_TARGET_NS_COUNT; k++) {
            uint32_t n = props_target_ns[k];
            rk_node_id members[RK_RING_NODES_MAX];
            for (uint32_t i = 0; i < PROPS_CHAIN_START; i++) {
                members[i] = props_fresh_id(members, i, &rng);
            }
            assert_int_equal(rk_ring_init(ring, q), 0);
            assert_int_equal(rk_ring_claim(ring, members, PROPS_CHAIN_START, n), 0);
            props_assert_balanced(ring, "chain", n);
            props_assert_rule(ring, "chain", n, false);
            for (uint32_t round = 0; round < PROPS_CHAIN_ROUNDS; round++) {
                uint32_t member_count = PROPS_CHAIN_START;
                for (uint32_t j = 0; j < PROPS_CHAIN_JOINS; j++) {
                    members[member_count] = props_fresh_id(members, member_count, &rng);
                    member_count++;
                    props_rebalance(ring, members, member_count, n, next, "chain join");
                    memcpy(ring, next, sizeof(*ring));
                }
                for (uint32_t j = 0; j < PROPS_CHAIN_JOINS; j++) {
                    member_count--; /* the later joiner leaves first, then the earlier */
                    props_rebalance(ring, members, member_count, n, next, "chain leave");
                    memcpy(ring, next, sizeof(*ring));
                }
            }
            assert_int_equal(ring->version, 1u + PROPS_CHAIN_ROUNDS * PROPS_CHAIN_JOINS * 2u);
        }
        free(ring);
        free(next);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_is_balanced_and_keeps_the_rule_where_achievable),
        cmocka_unit_test(test_join_moves_the_newcomers_share),
        cmocka_unit_test(test_leave_keeps_balance_and_rule),
        cmocka_unit_test(test_chain_of_joins_and_leaves_keeps_balance_and_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
