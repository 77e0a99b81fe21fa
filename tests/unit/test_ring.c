/* test_ring.c — the partition ring (src/core/ring.c, issue 4). Covers: init and argument
 * checks on both sides of each limit; the balance bound for every member count 1..64 on rings
 * of 8..1024 partitions; the target_n_val rule (every N consecutive partitions distinct, the
 * wrap-around included) wherever rk_ring_target_n_achievable says it can hold, and that the
 * predicate matches an exhaustive search on small rings; the best effort where it cannot;
 * preference lists (distinct, primaries first, fallbacks after, skipping repeated owners);
 * rebalance on join and leave (what moves, and how much beyond the minimum); the byte format
 * (round trip, truncation, bit flips, random bytes, invalid fields under a valid checksum); and
 * determinism. Owner counts and windows are checked here by direct oracles over rk_ring_owner,
 * not by the module's own counters.
 *
 * Property tests draw from a local xorshift seeded by the clock; the seed is printed and
 * RK_SEED=<n> replays it. */
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
#include <time.h>

#include "../../src/core/hash.h"
#include "../../src/core/ring.h"

#define TEST_SIZES_COUNT 5u
#define TEST_TARGET_N_MAX 5u
#define TEST_RANDOM_RINGS 300u
#define TEST_RANDOM_STEPS 12u
#define TEST_RANDOM_BUFFERS 20000u
#define TEST_SEARCH_PARTITIONS 16u

static const uint32_t test_sizes[TEST_SIZES_COUNT] = {8, 16, 64, 256, 1024};

/* ---- helpers ------------------------------------------------------------------------------ */

static uint32_t test_rng_below(uint64_t *state, uint32_t bound)
{
    return (uint32_t)(test_rng_next(state) % bound);
}

static rk_ring *test_ring_new(uint32_t partition_count)
{
    rk_ring *ring = malloc(sizeof(*ring));
    assert_non_null(ring);
    memset(ring, 0xa5, sizeof(*ring)); /* init must not rely on zeroed memory */
    assert_int_equal(rk_ring_init(ring, partition_count), 0);
    return ring;
}

/* Node ids spread out and not in claim order, so index and id are not confused. */
static void test_ids(rk_node_id *ids, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        ids[i] = 1000u + 37u * ((i * 29u) % 101u);
    }
}

static uint32_t test_member_slot(const rk_node_id *members, uint32_t member_count, rk_node_id id)
{
    for (uint32_t i = 0; i < member_count; i++) {
        if (members[i] == id) {
            return i;
        }
    }
    fail_msg("node %u is not a member", id);
    return 0;
}

/* Owner counts through the public API, checked against the balance bound. */
static void test_assert_balanced(const rk_ring *ring, const rk_node_id *members,
                                 uint32_t member_count)
{
    uint32_t partition_count = ring->partition_count;
    uint32_t count[RK_RING_NODES_MAX] = {0};
    for (uint32_t p = 0; p < partition_count; p++) {
        count[test_member_slot(members, member_count, rk_ring_owner(ring, p))]++;
    }
    uint32_t floor_count = partition_count / member_count;
    uint32_t ceil_count = (partition_count + member_count - 1u) / member_count;
    for (uint32_t i = 0; i < member_count; i++) {
        if (count[i] < floor_count || count[i] > ceil_count) {
            fail_msg("Q=%u S=%u: node %u owns %u, expected %u..%u", partition_count, member_count,
                     members[i], count[i], floor_count, ceil_count);
        }
        assert_int_equal(rk_ring_owned_count(ring, members[i]), count[i]);
    }
}

/* Windows of target_n partitions that repeat an owner, by brute force. */
static uint32_t test_violations(const rk_ring *ring, uint32_t target_n)
{
    uint32_t partition_count = ring->partition_count;
    uint32_t violations = 0;
    for (uint32_t start = 0; start < partition_count; start++) {
        bool repeats = false;
        for (uint32_t i = 0; i < target_n && !repeats; i++) {
            for (uint32_t j = i + 1; j < target_n && !repeats; j++) {
                uint32_t a = (start + i) % partition_count;
                uint32_t b = (start + j) % partition_count;
                repeats = a == b || rk_ring_owner(ring, a) == rk_ring_owner(ring, b);
            }
        }
        violations += repeats ? 1u : 0u;
    }
    return violations;
}

static size_t test_encode(const rk_ring *ring, uint8_t *out)
{
    int len = rk_ring_encode(ring, out, RK_RING_ENCODED_BYTES_MAX);
    assert_true(len > 0);
    return (size_t)len;
}

/* Re-sign an encoded ring after a test edits it, so that only the edited field is wrong. */
static void test_resign(uint8_t *bytes, size_t len)
{
    uint32_t checksum = (uint32_t)rk_hash_key(bytes, len - RK_RING_CHECKSUM_BYTES);
    for (uint32_t i = 0; i < 4; i++) {
        bytes[len - RK_RING_CHECKSUM_BYTES + i] = (uint8_t)(checksum >> (8u * i));
    }
}

/* A ring decoded from hand-written owners (one letter per partition, 'A' = ids[0]). */
static rk_ring *test_ring_from(const char *owners, const rk_node_id *ids, uint32_t member_count)
{
    uint32_t partition_count = (uint32_t)strlen(owners);
    uint8_t bytes[RK_RING_HEADER_BYTES + RK_RING_NODES_MAX * 4u + 256u + RK_RING_CHECKSUM_BYTES];
    size_t len = 0;
    bytes[len++] = RK_RING_FORMAT_V1;
    bytes[len++] = (uint8_t)__builtin_ctz(partition_count);
    bytes[len++] = (uint8_t)member_count;
    bytes[len++] = 0;
    for (uint32_t i = 0; i < 8; i++) {
        bytes[len++] = i == 0 ? 7 : 0; /* version 7 */
    }
    for (uint32_t i = 0; i < member_count; i++) {
        for (uint32_t b = 0; b < 4; b++) {
            bytes[len++] = (uint8_t)(ids[i] >> (8u * b));
        }
    }
    for (uint32_t p = 0; p < partition_count; p++) {
        bytes[len++] = (uint8_t)(owners[p] - 'A');
    }
    len += RK_RING_CHECKSUM_BYTES;
    test_resign(bytes, len);
    rk_ring *ring = test_ring_new(partition_count);
    assert_int_equal(rk_ring_decode(ring, bytes, len), 0);
    return ring;
}

/* ---- init and arguments ------------------------------------------------------------------- */

/* Q must be a power of two from 1 to 65536; anything else is refused. */
static void test_init_accepts_powers_of_two_up_to_the_limit(void **state)
{
    (void)state;
    rk_ring *ring = malloc(sizeof(*ring));
    assert_non_null(ring);
    const uint32_t bad[] = {0, 3, 6, 100, 65535, 65537, 131072, UINT32_MAX};
    for (uint32_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(rk_ring_init(ring, bad[i]), RK_EINVAL);
    }
    const uint32_t good[] = {1, 2, 64, 1024, RK_RING_PARTITIONS_MAX};
    for (uint32_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(rk_ring_init(ring, good[i]), 0);
        assert_int_equal(ring->partition_count, good[i]);
        assert_int_equal(ring->member_count, 0);
        assert_int_equal(ring->version, 0);
        assert_int_equal(rk_ring_violations(ring, 3), 0);
    }
    free(ring);
}

/* Bad member lists and target_n are refused on both sides of each limit; the ring stays. */
static void test_claim_rejects_bad_arguments_and_keeps_the_ring(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX + 1];
    test_ids(ids, RK_RING_NODES_MAX + 1);
    rk_ring *ring = test_ring_new(64);
    assert_int_equal(rk_ring_claim(ring, ids, 3, 3), 0);
    uint8_t before[RK_RING_ENCODED_BYTES_MAX];
    uint8_t after[RK_RING_ENCODED_BYTES_MAX];
    size_t before_len = test_encode(ring, before);

    assert_int_equal(rk_ring_claim(ring, NULL, 3, 3), RK_EINVAL);
    assert_int_equal(rk_ring_claim(ring, ids, 0, 3), RK_EINVAL);
    assert_int_equal(rk_ring_claim(ring, ids, RK_RING_NODES_MAX + 1, 3), RK_ETOOBIG);
    assert_int_equal(rk_ring_claim(ring, ids, 3, 0), RK_EINVAL);
    assert_int_equal(rk_ring_claim(ring, ids, 3, RK_RING_TARGET_N_MAX + 1), RK_ETOOBIG);
    rk_node_id duplicate[3] = {5, 9, 5};
    assert_int_equal(rk_ring_claim(ring, duplicate, 3, 3), RK_EINVAL);
    size_t after_len = test_encode(ring, after);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);

    /* The limits themselves are accepted. */
    assert_int_equal(rk_ring_claim(ring, ids, RK_RING_NODES_MAX, RK_RING_TARGET_N_MAX), 0);
    test_assert_balanced(ring, ring->members, RK_RING_NODES_MAX);
    assert_int_equal(rk_ring_claim(ring, ids, 1, 1), 0);
    assert_int_equal(ring->member_count, 1);

    rk_ring *unset = malloc(sizeof(*unset));
    assert_non_null(unset);
    memset(unset, 0, sizeof(*unset));
    assert_int_equal(rk_ring_claim(unset, ids, 3, 3), RK_EINVAL);
    free(unset);
    free(ring);
}

/* ---- claim -------------------------------------------------------------------------------- */

/* No member owns more than ceil(Q/S) or fewer than floor(Q/S), for every S up to the limit;
 * members are sorted, every claim bumps the version. */
static void test_claim_balances_every_member_count(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX];
    test_ids(ids, RK_RING_NODES_MAX);
    for (uint32_t q = 0; q < TEST_SIZES_COUNT; q++) {
        rk_ring *ring = test_ring_new(test_sizes[q]);
        for (uint32_t member_count = 1; member_count <= RK_RING_NODES_MAX; member_count++) {
            uint64_t version = ring->version;
            assert_int_equal(rk_ring_claim(ring, ids, member_count, 3), 0);
            assert_int_equal(ring->version, version + 1u);
            test_assert_balanced(ring, ids, member_count);
            rk_node_id listed[RK_RING_NODES_MAX];
            assert_int_equal(rk_ring_members(ring, listed, RK_RING_NODES_MAX), member_count);
            for (uint32_t i = 1; i < member_count; i++) {
                assert_true(listed[i - 1] < listed[i]);
            }
        }
        free(ring);
    }
}

/* Wherever the predicate says the rule can hold (N in 1..5, every S), every window of N
 * partitions, the Q - N + 1 plain ones and the N - 1 that wrap, has distinct owners; where it
 * says it cannot, some window repeats. rk_ring_violations agrees with the brute force. */
static void test_claim_keeps_target_n_val_wherever_achievable(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX];
    test_ids(ids, RK_RING_NODES_MAX);
    uint32_t achievable_count = 0;
    uint32_t impossible_count = 0;
    for (uint32_t q = 0; q < TEST_SIZES_COUNT; q++) {
        rk_ring *ring = test_ring_new(test_sizes[q]);
        for (uint32_t member_count = 1; member_count <= RK_RING_NODES_MAX; member_count++) {
            for (uint32_t target_n = 1; target_n <= TEST_TARGET_N_MAX; target_n++) {
                assert_int_equal(rk_ring_claim(ring, ids, member_count, target_n), 0);
                uint32_t violations = test_violations(ring, target_n);
                assert_int_equal(rk_ring_violations(ring, target_n), violations);
                if (rk_ring_target_n_achievable(test_sizes[q], member_count, target_n)) {
                    if (violations != 0) {
                        fail_msg("Q=%u S=%u N=%u: %u windows repeat an owner", test_sizes[q],
                                 member_count, target_n, violations);
                    }
                    achievable_count++;
                } else {
                    assert_true(violations > 0);
                    impossible_count++;
                }
            }
        }
        free(ring);
    }
    assert_true(achievable_count > 0);
    assert_true(impossible_count > 0);
}

/* The documented cases: the default ring on three nodes cannot keep N = 3, and the best a
 * balanced ring can do there is two breaking windows (one member owns 22 of 64 partitions and
 * needs 66 to space them three apart); on four nodes it can. */
static void test_claim_reports_the_default_ring_on_three_nodes(void **state)
{
    (void)state;
    rk_node_id ids[4] = {10, 20, 30, 40};
    assert_false(rk_ring_target_n_achievable(64, 3, 3));
    assert_true(rk_ring_target_n_achievable(64, 4, 3));
    assert_false(rk_ring_target_n_achievable(8, 3, 3));
    assert_true(rk_ring_target_n_achievable(8, 3, 2));
    assert_false(rk_ring_target_n_achievable(64, 2, 3)); /* fewer members than N */
    assert_false(rk_ring_target_n_achievable(4, 8, 5));  /* a window longer than the ring */
    rk_ring *ring = test_ring_new(RK_RING_PARTITIONS_DEFAULT);
    assert_int_equal(rk_ring_claim(ring, ids, 3, 3), 0);
    assert_int_equal(rk_ring_violations(ring, 3), 2);
    assert_int_equal(rk_ring_violations(ring, 2), 0);
    assert_int_equal(rk_ring_claim(ring, ids, 4, 3), 0);
    assert_int_equal(rk_ring_violations(ring, 3), 0);
    assert_int_equal(rk_ring_violations(ring, 4), 0);
    free(ring);
}

/* Depth-first search over balanced owner sequences of a small ring, members numbered by first
 * appearance (which removes the S! relabellings). Finds the fewest breaking windows; with
 * stop_at_zero it prunes prefixes that already break a window and stops at the first clean
 * ring. Iterative, with the stack in `sequence`. */
static uint32_t test_search_min_violations(uint32_t partition_count, uint32_t member_count,
                                           uint32_t target_n, bool stop_at_zero)
{
    uint32_t sequence[TEST_SEARCH_PARTITIONS];
    uint32_t count[RK_RING_NODES_MAX] = {0};
    uint32_t floor_count = partition_count / member_count;
    uint32_t ceil_count = (partition_count + member_count - 1u) / member_count;
    uint32_t best = UINT32_MAX;
    uint32_t depth = 0;
    uint32_t used = 0; /* members seen in sequence[0..depth) */
    uint32_t used_at[TEST_SEARCH_PARTITIONS + 1];
    sequence[0] = UINT32_MAX;
    used_at[0] = 0;
    while (true) {
        /* Advance sequence[depth] to its next admissible value, or backtrack. */
        uint32_t next = sequence[depth] == UINT32_MAX ? 0 : sequence[depth] + 1u;
        if (sequence[depth] != UINT32_MAX) {
            count[sequence[depth]]--;
        }
        used = used_at[depth];
        bool placed = false;
        for (uint32_t m = next; m < member_count && m <= used; m++) {
            if (count[m] >= ceil_count) {
                continue;
            }
            bool clash = false;
            for (uint32_t back = 1; stop_at_zero && back < target_n && back <= depth; back++) {
                clash |= sequence[depth - back] == m;
            }
            if (clash) {
                continue;
            }
            sequence[depth] = m;
            count[m]++;
            placed = true;
            break;
        }
        if (!placed) {
            if (depth == 0) {
                break;
            }
            depth--;
            continue;
        }
        uint32_t used_after = sequence[depth] == used ? used + 1u : used;
        if (depth + 1u < partition_count) {
            depth++;
            used_at[depth] = used_after;
            sequence[depth] = UINT32_MAX;
            continue;
        }
        bool balanced = true;
        for (uint32_t m = 0; m < member_count; m++) {
            balanced &= count[m] >= floor_count;
        }
        if (!balanced) {
            continue;
        }
        uint32_t violations = 0;
        for (uint32_t start = 0; start < partition_count; start++) {
            bool repeats = false;
            for (uint32_t i = 0; i < target_n; i++) {
                for (uint32_t j = i + 1; j < target_n; j++) {
                    uint32_t a = (start + i) % partition_count;
                    uint32_t b = (start + j) % partition_count;
                    repeats |= a == b || sequence[a] == sequence[b];
                }
            }
            violations += repeats ? 1u : 0u;
        }
        best = violations < best ? violations : best;
        if (stop_at_zero && best == 0) {
            break;
        }
    }
    return best;
}

/* rk_ring_target_n_achievable is exactly "some balanced ring keeps the rule", by exhaustive
 * search on rings of 8 and 16 partitions, S up to 8, N up to 5. */
static void test_achievable_matches_exhaustive_search(void **state)
{
    (void)state;
    const uint32_t sizes[2] = {8, 16};
    for (uint32_t q = 0; q < 2; q++) {
        for (uint32_t member_count = 1; member_count <= 8; member_count++) {
            for (uint32_t target_n = 1; target_n <= TEST_TARGET_N_MAX; target_n++) {
                uint32_t best = test_search_min_violations(sizes[q], member_count, target_n, true);
                bool found = best == 0;
                if (found != rk_ring_target_n_achievable(sizes[q], member_count, target_n)) {
                    fail_msg("Q=%u S=%u N=%u: search %s a clean ring", sizes[q], member_count,
                             target_n, found ? "found" : "found no");
                }
            }
        }
    }
}

/* Where the rule cannot hold, the claim breaks no more windows than the best balanced ring,
 * by exhaustive search over every balanced ring of 8 partitions (S up to 5, N up to 5). */
static void test_claim_breaks_fewest_windows_on_small_rings(void **state)
{
    (void)state;
    rk_node_id ids[8];
    test_ids(ids, 8);
    rk_ring *ring = test_ring_new(8);
    for (uint32_t member_count = 1; member_count <= 5; member_count++) {
        for (uint32_t target_n = 1; target_n <= TEST_TARGET_N_MAX; target_n++) {
            assert_int_equal(rk_ring_claim(ring, ids, member_count, target_n), 0);
            uint32_t best = test_search_min_violations(8, member_count, target_n, false);
            uint32_t got = rk_ring_violations(ring, target_n);
            if (got != best) {
                fail_msg("Q=8 S=%u N=%u: claim breaks %u windows, the best ring %u", member_count,
                         target_n, got, best);
            }
        }
    }
    free(ring);
}

/* The same members in any order give the same bytes. */
static void test_claim_is_deterministic_in_member_order(void **state)
{
    (void)state;
    uint64_t seed = test_seed("test_ring");
    rk_node_id ids[RK_RING_NODES_MAX];
    test_ids(ids, RK_RING_NODES_MAX);
    rk_ring *first = test_ring_new(256);
    rk_ring *second = test_ring_new(256);
    uint8_t first_bytes[RK_RING_ENCODED_BYTES_MAX];
    uint8_t second_bytes[RK_RING_ENCODED_BYTES_MAX];
    for (uint32_t round = 0; round < 50; round++) {
        uint32_t member_count = 1 + test_rng_below(&seed, RK_RING_NODES_MAX);
        uint32_t target_n = 1 + test_rng_below(&seed, TEST_TARGET_N_MAX);
        rk_node_id shuffled[RK_RING_NODES_MAX];
        memcpy(shuffled, ids, sizeof(rk_node_id) * member_count);
        for (uint32_t i = member_count; i > 1; i--) {
            uint32_t j = test_rng_below(&seed, i);
            rk_node_id t = shuffled[i - 1];
            shuffled[i - 1] = shuffled[j];
            shuffled[j] = t;
        }
        assert_int_equal(rk_ring_init(first, 256), 0);
        assert_int_equal(rk_ring_init(second, 256), 0);
        assert_int_equal(rk_ring_claim(first, ids, member_count, target_n), 0);
        assert_int_equal(rk_ring_claim(second, shuffled, member_count, target_n), 0);
        size_t first_len = test_encode(first, first_bytes);
        size_t second_len = test_encode(second, second_bytes);
        assert_int_equal(first_len, second_len);
        assert_memory_equal(first_bytes, second_bytes, first_len);
        assert_memory_equal(first, second, sizeof(*first));
    }
    free(first);
    free(second);
}

/* ---- preference lists --------------------------------------------------------------------- */

/* For every partition: all members, each once; the first is the partition's owner; the
 * primaries are the first min(n, S) distinct owners clockwise (a direct walk); and with the
 * rule in force they are exactly the owners of the n partitions from here. */
static void test_preflist_lists_distinct_primaries_then_fallbacks(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX];
    test_ids(ids, RK_RING_NODES_MAX);
    const uint32_t member_counts[] = {1, 2, 3, 4, 5, 7, 8, 13, 64};
    for (uint32_t q = 0; q < TEST_SIZES_COUNT; q++) {
        uint32_t partition_count = test_sizes[q];
        rk_ring *ring = test_ring_new(partition_count);
        for (uint32_t m = 0; m < sizeof(member_counts) / sizeof(member_counts[0]); m++) {
            uint32_t member_count = member_counts[m];
            for (uint32_t n = 1; n <= TEST_TARGET_N_MAX; n++) {
                assert_int_equal(rk_ring_claim(ring, ids, member_count, n), 0);
                bool rule = rk_ring_violations(ring, n) == 0;
                for (uint32_t p = 0; p < partition_count; p++) {
                    rk_node_id list[RK_RING_NODES_MAX];
                    uint32_t primary_count = UINT32_MAX;
                    int written =
                        rk_ring_preflist(ring, p, n, list, RK_RING_NODES_MAX, &primary_count);
                    assert_int_equal(written, member_count);
                    assert_int_equal(primary_count, n < member_count ? n : member_count);
                    assert_int_equal(list[0], rk_ring_owner(ring, p));
                    uint64_t seen = 0;
                    for (int i = 0; i < written; i++) {
                        uint32_t slot = test_member_slot(ids, member_count, list[i]);
                        assert_false(seen & (1ull << slot));
                        seen |= 1ull << slot;
                    }
                    /* The walk: distinct owners clockwise, in order. */
                    uint32_t walked = 0;
                    for (uint32_t i = 0; i < partition_count && walked < primary_count; i++) {
                        rk_node_id owner = rk_ring_owner(ring, (p + i) % partition_count);
                        bool listed = false;
                        for (uint32_t k = 0; k < walked; k++) {
                            listed |= list[k] == owner;
                        }
                        if (!listed) {
                            assert_int_equal(list[walked], owner);
                            walked++;
                        }
                        if (rule && i < n) {
                            assert_int_equal(list[i], owner);
                        }
                    }
                    assert_int_equal(walked, primary_count);
                }
            }
        }
        free(ring);
    }
}

/* Dynamo 4.3: a node owning neighbouring partitions appears once; the next distinct owner
 * takes the second place. */
static void test_preflist_skips_repeated_owner(void **state)
{
    (void)state;
    rk_node_id ids[2] = {11, 22};
    rk_ring *ring = test_ring_from("AABB", ids, 2); /* node 11 owns partitions 0 and 1 */
    rk_node_id list[RK_RING_NODES_MAX];
    uint32_t primary_count = 0;
    assert_int_equal(rk_ring_preflist(ring, 0, 2, list, RK_RING_NODES_MAX, &primary_count), 2);
    assert_int_equal(primary_count, 2);
    assert_int_equal(list[0], 11);
    assert_int_equal(list[1], 22);
    assert_int_equal(rk_ring_preflist(ring, 3, 2, list, RK_RING_NODES_MAX, NULL), 2);
    assert_int_equal(list[0], 22);
    assert_int_equal(list[1], 11);
    assert_int_equal(rk_ring_violations(ring, 2), 2);
    free(ring);
}

/* With fewer members than n, the list holds every member, all primaries. */
static void test_preflist_with_fewer_members_than_n(void **state)
{
    (void)state;
    rk_node_id ids[2] = {7, 3};
    rk_ring *ring = test_ring_new(64);
    assert_int_equal(rk_ring_claim(ring, ids, 2, 3), 0);
    rk_node_id list[RK_RING_NODES_MAX];
    uint32_t primary_count = 0;
    assert_int_equal(rk_ring_preflist(ring, 5, 3, list, RK_RING_NODES_MAX, &primary_count), 2);
    assert_int_equal(primary_count, 2);
    assert_int_not_equal(list[0], list[1]);
    free(ring);
}

/* A single node owns everything and is the whole list. */
static void test_preflist_on_a_single_node(void **state)
{
    (void)state;
    rk_node_id id = 42;
    rk_ring *ring = test_ring_new(RK_RING_PARTITIONS_DEFAULT);
    assert_int_equal(rk_ring_claim(ring, &id, 1, 3), 0);
    for (uint32_t p = 0; p < RK_RING_PARTITIONS_DEFAULT; p++) {
        assert_int_equal(rk_ring_owner(ring, p), 42);
        rk_node_id list[RK_RING_NODES_MAX];
        uint32_t primary_count = 0;
        assert_int_equal(rk_ring_preflist(ring, p, 3, list, RK_RING_NODES_MAX, &primary_count), 1);
        assert_int_equal(primary_count, 1);
        assert_int_equal(list[0], 42);
    }
    assert_int_equal(rk_ring_violations(ring, 1), 0);
    assert_int_equal(rk_ring_violations(ring, 2), RK_RING_PARTITIONS_DEFAULT);
    free(ring);
}

/* A short out array gets the head of the list: primaries first. */
static void test_preflist_stops_at_out_count_max(void **state)
{
    (void)state;
    rk_node_id ids[8];
    test_ids(ids, 8);
    rk_ring *ring = test_ring_new(64);
    assert_int_equal(rk_ring_claim(ring, ids, 8, 3), 0);
    rk_node_id full[RK_RING_NODES_MAX];
    assert_int_equal(rk_ring_preflist(ring, 9, 3, full, RK_RING_NODES_MAX, NULL), 8);
    for (uint32_t max = 1; max <= 8; max++) {
        rk_node_id list[8];
        uint32_t primary_count = 0;
        assert_int_equal(rk_ring_preflist(ring, 9, 3, list, max, &primary_count), max);
        assert_int_equal(primary_count, max < 3 ? max : 3);
        assert_memory_equal(list, full, sizeof(rk_node_id) * max);
    }
    free(ring);
}

/* More members than partitions: the members owning nothing are still fallbacks, after the
 * owners. */
static void test_preflist_lists_members_owning_nothing_last(void **state)
{
    (void)state;
    rk_node_id ids[12];
    test_ids(ids, 12);
    rk_ring *ring = test_ring_new(8);
    assert_int_equal(rk_ring_claim(ring, ids, 12, 3), 0);
    test_assert_balanced(ring, ids, 12);
    for (uint32_t p = 0; p < 8; p++) {
        rk_node_id list[RK_RING_NODES_MAX];
        uint32_t primary_count = 0;
        assert_int_equal(rk_ring_preflist(ring, p, 3, list, RK_RING_NODES_MAX, &primary_count), 12);
        assert_int_equal(primary_count, 3);
        for (uint32_t i = 0; i < 12; i++) {
            assert_int_equal(rk_ring_owned_count(ring, list[i]), i < 8 ? 1 : 0);
        }
    }
    free(ring);
}

/* n of 0 or above the limit, a partition past the end, no room: RK_EINVAL. An unclaimed ring
 * has an empty list. */
static void test_preflist_rejects_bad_arguments(void **state)
{
    (void)state;
    rk_node_id ids[3] = {1, 2, 3};
    rk_ring *ring = test_ring_new(16);
    rk_node_id list[RK_RING_NODES_MAX];
    uint32_t primary_count = 99;
    assert_int_equal(rk_ring_preflist(ring, 0, 3, list, RK_RING_NODES_MAX, &primary_count), 0);
    assert_int_equal(primary_count, 0);
    assert_int_equal(rk_ring_claim(ring, ids, 3, 3), 0);
    assert_int_equal(rk_ring_preflist(ring, 0, 0, list, RK_RING_NODES_MAX, NULL), RK_EINVAL);
    assert_int_equal(
        rk_ring_preflist(ring, 0, RK_RING_TARGET_N_MAX + 1, list, RK_RING_NODES_MAX, NULL),
        RK_EINVAL);
    assert_int_equal(rk_ring_preflist(ring, 0, RK_RING_TARGET_N_MAX, list, RK_RING_NODES_MAX, NULL),
                     3);
    assert_int_equal(rk_ring_preflist(ring, 16, 3, list, RK_RING_NODES_MAX, NULL), RK_EINVAL);
    assert_int_equal(rk_ring_preflist(ring, 15, 3, list, RK_RING_NODES_MAX, NULL), 3);
    assert_int_equal(rk_ring_preflist(ring, 0, 3, NULL, RK_RING_NODES_MAX, NULL), RK_EINVAL);
    assert_int_equal(rk_ring_preflist(ring, 0, 3, list, 0, NULL), RK_EINVAL);
    free(ring);
}

/* A position's partition is its top log2(Q) bits. */
static void test_partition_of_takes_the_top_bits(void **state)
{
    (void)state;
    rk_ring *ring = test_ring_new(64);
    assert_int_equal(rk_ring_partition_of(ring, 0), 0);
    assert_int_equal(rk_ring_partition_of(ring, UINT64_MAX), 63);
    assert_int_equal(rk_ring_partition_of(ring, 1ull << 58), 1);
    assert_int_equal(rk_ring_partition_of(ring, (1ull << 58) - 1u), 0);
    assert_int_equal(rk_ring_init(ring, 1), 0);
    assert_int_equal(rk_ring_partition_of(ring, UINT64_MAX), 0);
    free(ring);
}

/* ---- violations --------------------------------------------------------------------------- */

/* ABCABCAB: with N = 3 the windows starting at partitions 6 (A B A) and 7 (B A B) wrap round
 * and repeat; no plain window does. Windows of 4 over three members all repeat, and so does
 * any window longer than the ring. */
static void test_violations_count_windows_across_the_wrap(void **state)
{
    (void)state;
    rk_node_id ids[3] = {5, 6, 7};
    rk_ring *ring = test_ring_from("ABCABCAB", ids, 3);
    assert_int_equal(ring->version, 7);
    assert_int_equal(rk_ring_violations(ring, 1), 0);
    assert_int_equal(rk_ring_violations(ring, 2), 0);
    assert_int_equal(rk_ring_violations(ring, 3), 2);
    assert_int_equal(test_violations(ring, 3), 2);
    assert_int_equal(rk_ring_violations(ring, 4), 8);
    assert_int_equal(rk_ring_violations(ring, 9), 8);
    free(ring);
}

/* ---- rebalance ---------------------------------------------------------------------------- */

/* Same members: nothing moves, the version still advances. */
static void test_rebalance_with_same_members_moves_nothing(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX];
    test_ids(ids, RK_RING_NODES_MAX);
    for (uint32_t q = 0; q < TEST_SIZES_COUNT; q++) {
        rk_ring *ring = test_ring_new(test_sizes[q]);
        rk_ring *next = test_ring_new(test_sizes[q]);
        for (uint32_t member_count = 1; member_count <= RK_RING_NODES_MAX; member_count += 7) {
            assert_int_equal(rk_ring_claim(ring, ids, member_count, 3), 0);
            uint32_t moved = UINT32_MAX;
            assert_int_equal(rk_ring_rebalance(ring, ids, member_count, 3, next, &moved), 0);
            assert_int_equal(moved, 0);
            assert_memory_equal(next->owner_index, ring->owner_index, test_sizes[q]);
            assert_int_equal(next->version, ring->version + 1u);
        }
        free(ring);
        free(next);
    }
}

/* Joining one node to a ring that keeps the rule, where the rule can still hold: only the
 * new node gains partitions, floor(Q/(S+1)) of them, the minimum balance needs (measured:
 * never more, for every Q here, N 1..5, S 1..63, the new id lowest, middle or highest). The
 * rule still holds. */
static void test_rebalance_join_moves_only_the_new_nodes_share(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX];
    test_ids(ids, RK_RING_NODES_MAX);
    const rk_node_id newcomers[3] = {1, 2500, 90000};
    for (uint32_t q = 0; q < TEST_SIZES_COUNT; q++) {
        uint32_t partition_count = test_sizes[q];
        rk_ring *ring = test_ring_new(partition_count);
        rk_ring *next = test_ring_new(partition_count);
        for (uint32_t n = 1; n <= TEST_TARGET_N_MAX; n++) {
            for (uint32_t member_count = 1; member_count < RK_RING_NODES_MAX; member_count++) {
                if (!rk_ring_target_n_achievable(partition_count, member_count, n) ||
                    !rk_ring_target_n_achievable(partition_count, member_count + 1u, n)) {
                    continue;
                }
                for (uint32_t k = 0; k < 3; k++) {
                    rk_node_id members[RK_RING_NODES_MAX];
                    memcpy(members, ids, sizeof(rk_node_id) * member_count);
                    members[member_count] = newcomers[k];
                    assert_int_equal(rk_ring_claim(ring, members, member_count, n), 0);
                    uint32_t moved = 0;
                    assert_int_equal(
                        rk_ring_rebalance(ring, members, member_count + 1u, n, next, &moved), 0);
                    test_assert_balanced(next, members, member_count + 1u);
                    assert_int_equal(test_violations(next, n), 0);
                    uint32_t share = partition_count / (member_count + 1u);
                    if (moved != share) {
                        fail_msg("Q=%u N=%u S=%u+1: moved %u, share %u", partition_count, n,
                                 member_count, moved, share);
                    }
                    for (uint32_t p = 0; p < partition_count; p++) {
                        if (rk_ring_owner(next, p) != rk_ring_owner(ring, p)) {
                            assert_int_equal(rk_ring_owner(next, p), newcomers[k]);
                        }
                    }
                }
            }
        }
        free(ring);
        free(next);
    }
}

/* Members a freed partition cannot go to without breaking the rule: those owning a partition
 * fewer than n steps from every partition of the leaver. What each of them must gain to reach
 * floor(Q/S) has to come from a partition that is not free, one extra move each: a lower bound
 * on the moves beyond the leaver's own. */
static uint32_t test_leave_extra_bound(const rk_ring *ring, rk_node_id leaver, uint32_t n,
                                       uint32_t member_count_after)
{
    uint32_t partition_count = ring->partition_count;
    uint32_t bound = 0;
    for (uint32_t i = 0; i < ring->member_count; i++) {
        rk_node_id y = ring->members[i];
        if (y == leaver) {
            continue;
        }
        uint32_t clean = 0;
        for (uint32_t p = 0; p < partition_count; p++) {
            if (rk_ring_owner(ring, p) != leaver) {
                continue;
            }
            bool near = false;
            for (uint32_t d = 1; d < n; d++) {
                near |= rk_ring_owner(ring, (p + d) % partition_count) == y;
                near |= rk_ring_owner(ring, (p + partition_count - d) % partition_count) == y;
            }
            clean += near ? 0u : 1u;
        }
        uint32_t owned = rk_ring_owned_count(ring, y);
        uint32_t need = partition_count / member_count_after;
        uint32_t gain = need > owned ? need - owned : 0;
        bound += gain > clean ? gain - clean : 0;
    }
    return bound;
}

/* A node leaving a ring that keeps the rule, where the rule can still hold: all its
 * partitions move, the leaver owns nothing, and the rule holds after (when more than N members
 * remain; with N or fewer every list names every member and only balance counts). Beyond the
 * leaver's partitions only what the rule needs moves: with N = 1 nothing; otherwise at most twice
 * the lower bound above plus 4N. Measured (Q = 8..1024, N = 2..5, S - 1 >= 2N): at most the bound
 * times two plus 2.2N, in total about 1.5 times the bound (3024 against 1950). When fewer
 * than 2N members remain, a freed partition has at most one or two members it can go to and
 * the ring is mostly rewritten from the claim layout (Q = 1024, N = 3, S = 5 - 1: 358 beyond the
 * leaver's 205); those are checked for balance and the rule only. */
static void test_rebalance_leave_moves_its_partitions_and_what_n_val_needs(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX];
    test_ids(ids, RK_RING_NODES_MAX);
    uint32_t extra_total = 0;
    uint32_t bound_total = 0;
    for (uint32_t q = 0; q < TEST_SIZES_COUNT; q++) {
        uint32_t partition_count = test_sizes[q];
        rk_ring *ring = test_ring_new(partition_count);
        rk_ring *next = test_ring_new(partition_count);
        for (uint32_t n = 1; n <= TEST_TARGET_N_MAX; n++) {
            for (uint32_t member_count = 2; member_count <= RK_RING_NODES_MAX; member_count++) {
                if (!rk_ring_target_n_achievable(partition_count, member_count, n) ||
                    !rk_ring_target_n_achievable(partition_count, member_count - 1u, n)) {
                    continue;
                }
                assert_int_equal(rk_ring_claim(ring, ids, member_count, n), 0);
                uint32_t leaver_index = member_count / 2u;
                rk_node_id leaver = ids[leaver_index];
                rk_node_id rest[RK_RING_NODES_MAX];
                uint32_t rest_count = 0;
                for (uint32_t i = 0; i < member_count; i++) {
                    if (i != leaver_index) {
                        rest[rest_count++] = ids[i];
                    }
                }
                uint32_t owned = rk_ring_owned_count(ring, leaver);
                uint32_t moved = 0;
                assert_int_equal(rk_ring_rebalance(ring, rest, rest_count, n, next, &moved), 0);
                test_assert_balanced(next, rest, rest_count);
                if (rest_count > n) {
                    assert_int_equal(test_violations(next, n), 0);
                }
                assert_int_equal(rk_ring_owned_count(next, leaver), 0);
                assert_true(moved >= owned);
                uint32_t extra = moved - owned;
                if (n == 1) {
                    assert_int_equal(extra, 0);
                    continue;
                }
                if (rest_count < 2u * n) {
                    continue;
                }
                uint32_t bound = test_leave_extra_bound(ring, leaver, n, rest_count);
                if (extra > 2u * bound + 4u * n) {
                    fail_msg("Q=%u N=%u S=%u-1: moved %u beyond the leaver's %u, bound %u",
                             partition_count, n, member_count, extra, owned, bound);
                }
                extra_total += extra;
                bound_total += bound;
            }
        }
        free(ring);
        free(next);
    }
    print_message("test_ring: leave moved %u beyond the leavers' partitions, lower bound %u\n",
                  extra_total, bound_total);
}

/* Partitions whose owner differs between two rings: the oracle for moved_count_out. */
static uint32_t test_moved(const rk_ring *before, const rk_ring *after)
{
    uint32_t moved = 0;
    for (uint32_t p = 0; p < before->partition_count; p++) {
        moved += rk_ring_owner(before, p) != rk_ring_owner(after, p) ? 1u : 0u;
    }
    return moved;
}

/* Random joins, leaves and replacements with random ids on random ring sizes: every ring stays
 * balanced, keeps the rule whenever it can and S > N, gives departed nodes nothing, reports its
 * moves truly, advances its version by one and survives encode/decode byte for byte. */
static void test_rebalance_keeps_balance_and_rule_through_random_changes(void **state)
{
    (void)state;
    uint64_t seed = test_seed("test_ring");
    rk_ring *ring = test_ring_new(8);
    rk_ring *next = test_ring_new(8);
    rk_ring *decoded = test_ring_new(8);
    uint8_t bytes[RK_RING_ENCODED_BYTES_MAX];
    uint8_t again[RK_RING_ENCODED_BYTES_MAX];
    for (uint32_t round = 0; round < TEST_RANDOM_RINGS; round++) {
        uint32_t partition_count = test_sizes[test_rng_below(&seed, TEST_SIZES_COUNT)];
        uint32_t n = 1 + test_rng_below(&seed, TEST_TARGET_N_MAX);
        rk_node_id members[RK_RING_NODES_MAX];
        uint32_t member_count = 1 + test_rng_below(&seed, 40);
        for (uint32_t i = 0; i < member_count; i++) {
            members[i] = (rk_node_id)(i * 1000u + test_rng_below(&seed, 1000));
        }
        assert_int_equal(rk_ring_init(ring, partition_count), 0);
        assert_int_equal(rk_ring_claim(ring, members, member_count, n), 0);
        for (uint32_t step = 0; step < TEST_RANDOM_STEPS; step++) {
            uint32_t action = test_rng_below(&seed, 3);
            uint32_t k = 1 + test_rng_below(&seed, 3);
            for (uint32_t i = 0; i < k; i++) {
                if ((action == 0 || action == 2) && member_count > 1) {
                    uint32_t victim = test_rng_below(&seed, member_count);
                    members[victim] = members[--member_count];
                }
                if ((action == 1 || action == 2) && member_count < RK_RING_NODES_MAX) {
                    rk_node_id joiner = 100000u + round * 1000u + step * 10u + i;
                    members[member_count++] = joiner;
                }
            }
            uint32_t moved = UINT32_MAX;
            assert_int_equal(rk_ring_rebalance(ring, members, member_count, n, next, &moved), 0);
            assert_int_equal(next->version, ring->version + 1u);
            test_assert_balanced(next, members, member_count);
            assert_int_equal(moved, test_moved(ring, next));
            uint32_t violations = test_violations(next, n);
            assert_int_equal(rk_ring_violations(next, n), violations);
            if (rk_ring_target_n_achievable(partition_count, member_count, n) && member_count > n &&
                violations != 0) {
                fail_msg("Q=%u N=%u S=%u: %u windows repeat after a rebalance", partition_count, n,
                         member_count, violations);
            }
            for (uint32_t i = 0; i < ring->member_count; i++) {
                bool stays = false;
                for (uint32_t j = 0; j < member_count; j++) {
                    stays |= members[j] == ring->members[i];
                }
                if (!stays) {
                    assert_int_equal(rk_ring_owned_count(next, ring->members[i]), 0);
                }
            }
            size_t len = test_encode(next, bytes);
            assert_int_equal(rk_ring_decode(decoded, bytes, len), 0);
            assert_int_equal(test_encode(decoded, again), len);
            assert_memory_equal(bytes, again, len);
            memcpy(ring, next, sizeof(*ring));
        }
    }
    free(ring);
    free(next);
    free(decoded);
}

/* The same ring and members in any order give the same bytes. */
static void test_rebalance_is_deterministic(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX];
    test_ids(ids, RK_RING_NODES_MAX);
    rk_ring *ring = test_ring_new(1024);
    rk_ring *first = test_ring_new(1024);
    rk_ring *second = test_ring_new(1024);
    assert_int_equal(rk_ring_claim(ring, ids, 9, 3), 0);
    rk_node_id forward[8];
    rk_node_id backward[8];
    for (uint32_t i = 0; i < 8; i++) {
        forward[i] = ids[i + 1]; /* ids[0] leaves */
        backward[7 - i] = ids[i + 1];
    }
    uint32_t moved_first = 0;
    uint32_t moved_second = 0;
    assert_int_equal(rk_ring_rebalance(ring, forward, 8, 3, first, &moved_first), 0);
    assert_int_equal(rk_ring_rebalance(ring, backward, 8, 3, second, &moved_second), 0);
    assert_int_equal(moved_first, moved_second);
    assert_memory_equal(first, second, sizeof(*first));
    free(ring);
    free(first);
    free(second);
}

/* Bad arguments are refused as for claim and leave `next` alone; an unclaimed ring is
 * claimed fresh, with nothing to move. */
static void test_rebalance_rejects_bad_arguments_and_claims_an_empty_ring(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX + 1];
    test_ids(ids, RK_RING_NODES_MAX + 1);
    rk_ring *ring = test_ring_new(64);
    rk_ring *next = test_ring_new(64);
    rk_ring *copy = test_ring_new(64);
    assert_int_equal(rk_ring_claim(next, ids, 2, 2), 0);
    memcpy(copy, next, sizeof(*copy));
    uint32_t moved = 77;
    assert_int_equal(rk_ring_rebalance(ring, ids, 0, 3, next, &moved), RK_EINVAL);
    assert_int_equal(rk_ring_rebalance(ring, NULL, 3, 3, next, &moved), RK_EINVAL);
    assert_int_equal(rk_ring_rebalance(ring, ids, 3, 0, next, &moved), RK_EINVAL);
    assert_int_equal(rk_ring_rebalance(ring, ids, RK_RING_NODES_MAX + 1, 3, next, &moved),
                     RK_ETOOBIG);
    assert_int_equal(rk_ring_rebalance(ring, ids, 3, RK_RING_TARGET_N_MAX + 1, next, &moved),
                     RK_ETOOBIG);
    rk_node_id duplicate[2] = {4, 4};
    assert_int_equal(rk_ring_rebalance(ring, duplicate, 2, 1, next, &moved), RK_EINVAL);
    assert_int_equal(moved, 77);
    assert_memory_equal(next, copy, sizeof(*copy));

    assert_int_equal(rk_ring_rebalance(ring, ids, 5, 3, next, &moved), 0);
    assert_int_equal(moved, 0);
    assert_int_equal(next->version, 1);
    assert_int_equal(rk_ring_claim(copy, ids, 5, 3), 0);
    assert_memory_equal(next->owner_index, copy->owner_index, 64);
    assert_int_equal(rk_ring_rebalance(ring, ids, 5, 3, next, NULL), 0);
    free(ring);
    free(next);
    free(copy);
}

/* ---- encoding ----------------------------------------------------------------------------- */

/* Every size and member count decodes to the ring it came from, version included; an
 * unclaimed ring too. */
static void test_encode_decode_round_trip(void **state)
{
    (void)state;
    rk_node_id ids[RK_RING_NODES_MAX];
    test_ids(ids, RK_RING_NODES_MAX);
    uint8_t bytes[RK_RING_ENCODED_BYTES_MAX];
    rk_ring *decoded = test_ring_new(8);
    const uint32_t sizes[] = {1, 8, 64, 1024, RK_RING_PARTITIONS_MAX};
    for (uint32_t q = 0; q < sizeof(sizes) / sizeof(sizes[0]); q++) {
        rk_ring *ring = test_ring_new(sizes[q]);
        size_t len = test_encode(ring, bytes);
        assert_int_equal(len, RK_RING_HEADER_BYTES + RK_RING_CHECKSUM_BYTES);
        assert_int_equal(rk_ring_decode(decoded, bytes, len), 0);
        assert_memory_equal(decoded, ring, sizeof(*ring));
        const uint32_t member_counts[] = {1, 3, 64};
        for (uint32_t m = 0; m < 3; m++) {
            assert_int_equal(rk_ring_claim(ring, ids, member_counts[m], 3), 0);
            ring->version = 0x0123456789abcdefull + m;
            len = test_encode(ring, bytes);
            assert_int_equal(len, RK_RING_HEADER_BYTES + 4u * member_counts[m] + sizes[q] +
                                      RK_RING_CHECKSUM_BYTES);
            assert_int_equal(bytes[0], RK_RING_FORMAT_V1);
            assert_int_equal(bytes[4], 0xefu + m); /* little-endian version */
            assert_int_equal(rk_ring_decode(decoded, bytes, len), 0);
            assert_memory_equal(decoded, ring, sizeof(*ring));
        }
        free(ring);
    }
    free(decoded);
}

/* One byte short is refused with RK_ETOOBIG; the exact size is enough. */
static void test_encode_refuses_a_short_buffer(void **state)
{
    (void)state;
    rk_node_id ids[3] = {1, 2, 3};
    rk_ring *ring = test_ring_new(64);
    assert_int_equal(rk_ring_claim(ring, ids, 3, 3), 0);
    uint8_t bytes[RK_RING_ENCODED_BYTES_MAX];
    size_t len = test_encode(ring, bytes);
    assert_int_equal(rk_ring_encode(ring, bytes, len - 1u), RK_ETOOBIG);
    assert_int_equal(rk_ring_encode(ring, bytes, len), (int)len);
    assert_int_equal(rk_ring_encode(ring, NULL, len), RK_ETOOBIG);
    free(ring);
}

/* Every truncation and every single flipped bit is refused, and the target is left alone. */
static void test_decode_rejects_truncation_and_bit_flips(void **state)
{
    (void)state;
    rk_node_id ids[5] = {10, 20, 30, 40, 50};
    rk_ring *ring = test_ring_new(16);
    assert_int_equal(rk_ring_claim(ring, ids, 5, 3), 0);
    uint8_t bytes[RK_RING_ENCODED_BYTES_MAX];
    size_t len = test_encode(ring, bytes);
    rk_ring *target = test_ring_new(64);
    rk_ring *untouched = test_ring_new(64);
    assert_int_equal(rk_ring_claim(target, ids, 2, 2), 0);
    memcpy(untouched, target, sizeof(*target));
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(rk_ring_decode(target, bytes, cut), RK_ECORRUPT);
    }
    assert_int_equal(rk_ring_decode(target, NULL, len), RK_ECORRUPT);
    for (size_t bit = 0; bit < len * 8u; bit++) {
        bytes[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
        assert_int_equal(rk_ring_decode(target, bytes, len), RK_ECORRUPT);
        bytes[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
    }
    assert_memory_equal(target, untouched, sizeof(*target));
    assert_int_equal(rk_ring_decode(target, bytes, len), 0);
    free(ring);
    free(target);
    free(untouched);
}

/* Each field checked on its own, under a valid checksum: format, log2(Q), reserved byte,
 * member count, member order, owner index, balance, length. */
static void test_decode_rejects_invalid_fields_under_a_valid_checksum(void **state)
{
    (void)state;
    rk_node_id ids[4] = {10, 20, 30, 40};
    rk_ring *ring = test_ring_new(8);
    assert_int_equal(rk_ring_claim(ring, ids, 4, 2), 0);
    uint8_t good[RK_RING_ENCODED_BYTES_MAX];
    uint8_t bytes[RK_RING_ENCODED_BYTES_MAX + 8];
    size_t len = test_encode(ring, good);
    const size_t members_at = RK_RING_HEADER_BYTES;
    const size_t owners_at = members_at + 4u * 4u;
    rk_ring *target = test_ring_new(8);

    struct {
        size_t offset;
        uint8_t value;
        const char *what;
    } edits[] = {
        {0, 0, "format 0"},
        {0, 2, "format 2"},
        {1, 17, "2^17 partitions"},
        {1, 4, "16 partitions with 8 owner bytes"},
        {2, 65, "65 members"},
        {2, 3, "3 members with 4 ids"},
        {3, 1, "reserved byte"},
        {members_at + 4u, 10, "members 10, 10: not ascending"},
        {members_at + 4u, 5, "members 10, 5: descending"},
        {owners_at, 4, "owner index 4 of 4 members"},
        {owners_at, 0xff, "owner index 255"},
    };
    for (uint32_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        memcpy(bytes, good, len);
        bytes[edits[i].offset] = edits[i].value;
        test_resign(bytes, len);
        if (rk_ring_decode(target, bytes, len) != RK_ECORRUPT) {
            fail_msg("accepted %s", edits[i].what);
        }
    }
    /* Balance: node 10 takes a partition from another, owning 3 of 8 among 4 members. */
    memcpy(bytes, good, len);
    uint32_t p = 0;
    while (bytes[owners_at + p] == 0) {
        p++;
    }
    bytes[owners_at + p] = 0;
    test_resign(bytes, len);
    assert_int_equal(rk_ring_decode(target, bytes, len), RK_ECORRUPT);
    /* Trailing bytes, re-signed at the new end. */
    memcpy(bytes, good, len);
    bytes[len] = 0;
    test_resign(bytes, len + 1u);
    assert_int_equal(rk_ring_decode(target, bytes, len + 1u), RK_ECORRUPT);
    /* The untouched bytes still decode. */
    assert_int_equal(rk_ring_decode(target, good, len), 0);
    free(ring);
    free(target);
}

/* Random bytes of random lengths never decode; neither do random bodies behind a plausible
 * header of the right length. */
static void test_decode_rejects_random_bytes(void **state)
{
    (void)state;
    uint64_t seed = test_seed("test_ring");
    rk_ring *target = test_ring_new(8);
    uint8_t bytes[2048];
    for (uint32_t round = 0; round < TEST_RANDOM_BUFFERS; round++) {
        size_t len = test_rng_below(&seed, sizeof(bytes));
        for (size_t i = 0; i < len; i++) {
            bytes[i] = (uint8_t)test_rng_next(&seed);
        }
        if (round % 2 == 1 && len >= RK_RING_HEADER_BYTES) {
            uint32_t member_count = test_rng_below(&seed, 9);
            uint32_t partition_bits = test_rng_below(&seed, 9);
            bytes[0] = RK_RING_FORMAT_V1;
            bytes[1] = (uint8_t)partition_bits;
            bytes[2] = (uint8_t)member_count;
            bytes[3] = 0;
            len = RK_RING_HEADER_BYTES + 4u * member_count +
                  (member_count > 0 ? (1u << partition_bits) : 0) + RK_RING_CHECKSUM_BYTES;
        }
        assert_int_equal(rk_ring_decode(target, bytes, len), RK_ECORRUPT);
    }
    free(target);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_accepts_powers_of_two_up_to_the_limit),
        cmocka_unit_test(test_claim_rejects_bad_arguments_and_keeps_the_ring),
        cmocka_unit_test(test_claim_balances_every_member_count),
        cmocka_unit_test(test_claim_keeps_target_n_val_wherever_achievable),
        cmocka_unit_test(test_claim_reports_the_default_ring_on_three_nodes),
        cmocka_unit_test(test_achievable_matches_exhaustive_search),
        cmocka_unit_test(test_claim_breaks_fewest_windows_on_small_rings),
        cmocka_unit_test(test_claim_is_deterministic_in_member_order),
        cmocka_unit_test(test_preflist_lists_distinct_primaries_then_fallbacks),
        cmocka_unit_test(test_preflist_skips_repeated_owner),
        cmocka_unit_test(test_preflist_with_fewer_members_than_n),
        cmocka_unit_test(test_preflist_on_a_single_node),
        cmocka_unit_test(test_preflist_stops_at_out_count_max),
        cmocka_unit_test(test_preflist_lists_members_owning_nothing_last),
        cmocka_unit_test(test_preflist_rejects_bad_arguments),
        cmocka_unit_test(test_partition_of_takes_the_top_bits),
        cmocka_unit_test(test_violations_count_windows_across_the_wrap),
        cmocka_unit_test(test_rebalance_with_same_members_moves_nothing),
        cmocka_unit_test(test_rebalance_join_moves_only_the_new_nodes_share),
        cmocka_unit_test(test_rebalance_leave_moves_its_partitions_and_what_n_val_needs),
        cmocka_unit_test(test_rebalance_keeps_balance_and_rule_through_random_changes),
        cmocka_unit_test(test_rebalance_is_deterministic),
        cmocka_unit_test(test_rebalance_rejects_bad_arguments_and_claims_an_empty_ring),
        cmocka_unit_test(test_encode_decode_round_trip),
        cmocka_unit_test(test_encode_refuses_a_short_buffer),
        cmocka_unit_test(test_decode_rejects_truncation_and_bit_flips),
        cmocka_unit_test(test_decode_rejects_invalid_fields_under_a_valid_checksum),
        cmocka_unit_test(test_decode_rejects_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
