/* test_policy_cart.c — properties of the collection policies (`union`, Dynamo's cart, and `set`,
 * Riak's ORSWOT: src/core/policy_union.c, policy_set.c) over thousands of random histories.
 *
 * A history runs on PROP_REPLICAS replicas, each one node (its id is the coordinator of the
 * writes applied there) holding one state: a step is a write (SADD, SREM or DEL of random
 * members, some of them binary with NUL bytes) applied at a random replica as the bucket's
 * table applies it, a merge of one replica's state into another's (rk_policy_merge, as read
 * repair, handoff and a write's read at R do), or a restart (the node's dot floor moves to its
 * next epoch, clock.h, leaving a gap in the histories). Beside the states runs an oracle that
 * knows only the events and which events each one observed (the replica's causal past when it
 * ran):
 *
 *   set    a member is present iff some add of it was observed by no remove of it (SREM of it,
 *          or DEL): removes delete exactly the adds they observed, concurrent adds survive;
 *   union  each write's version is its op applied to the union of the versions it observed
 *          that no other observed version superseded; the key holds the union of the versions
 *          no known event observed.
 *
 * Every replica's SMEMBERS after every step, and every reply count, must match the oracle. At
 * the end: merge is commutative, associative and idempotent (rk_dvvset_equal, and for union
 * the SMEMBERS answers too); every state round-trips through the store encoding and a union
 * version's member list through the element-list codec; and the states recorded after every
 * write, delivered to a fresh replica in their causal order, reversed or shuffled, give one
 * state, equal to the merge of the final replicas. Each property prints its seed; RK_SEED=<n>
 * replays it. The named cases (the lesson of the issue, limits, types, reads) are in
 * test_policy_cart_cases.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cart_fixture.h"
#include "test_seed.h"

#define PROP_ROUNDS 2000u
#define PROP_REPLICAS 4u
#define PROP_STEPS 56u
#define PROP_EVENTS_MAX 64u         /* event ids are bits of a uint64_t */
#define PROP_RESTARTS_MAX 2u        /* per replica: the set's clock stays far under its bound */
#define PROP_ARGS_MAX 4u
_Static_assert(PROP_STEPS <= PROP_EVENTS_MAX, "every step may be a write");

/* The members writes pick from: the empty member, NUL bytes, prefixes of one another, a high
 * byte; bit i of a member mask is prop_members[i]. */
static const struct {
    const char *bytes;
    size_t len;
} prop_members[] = {
    {"", 0}, {"\0", 1}, {"\0a", 2}, {"a", 1}, {"a\0", 2}, {"ab", 2}, {"pen", 3}, {"\xff", 1},
};
#define PROP_MEMBER_COUNT (sizeof(prop_members) / sizeof(prop_members[0]))

typedef struct prop_event {
    rk_op_kind kind;
    uint32_t args;          /* member mask */
    uint64_t observed;      /* event ids in the causal past of this one */
    uint32_t version;       /* union: the member mask of the version it wrote */
} prop_event;

typedef struct prop_replica {
    rk_dvvset state;
    uint64_t known;         /* event ids this replica's state reflects */
    uint64_t epoch;
    uint32_t restarts;
} prop_replica;

typedef struct prop_world {
    uint8_t policy;         /* RK_POLICY_UNION or RK_POLICY_SET */
    prop_replica replicas[PROP_REPLICAS];
    prop_event events[PROP_EVENTS_MAX];
    uint32_t event_count;
    rk_dvvset written[PROP_EVENTS_MAX];     /* the writing replica's state after each event */
} prop_world;

static uint64_t prop_below(uint64_t *rng, uint64_t bound)
{
    return test_rng_next(rng) % bound;
}

/* ---- the oracle ------------------------------------------------------------------------ */

/* set: the members some add among `known` gives that no remove among `known` observed. */
static uint32_t prop_set_members(const prop_world *w, uint64_t known)
{
    uint32_t members = 0;
    for (uint32_t e = 0; e < w->event_count; e++) {
        if ((known >> e & 1) == 0 || w->events[e].kind != RK_OP_SADD) {
            continue;
        }
        uint32_t alive = w->events[e].args;
        for (uint32_t r = 0; r < w->event_count; r++) {
            const prop_event *rem = &w->events[r];
            if ((known >> r & 1) != 0 && (rem->observed >> e & 1) != 0) {
                alive &= rem->kind == RK_OP_DEL ? 0u : rem->kind == RK_OP_SREM ? ~rem->args
                                                                                 : ~0u;
            }
        }
        members |= alive;
    }
    return members;
}

/* union: the members of the versions among `known` that no event among `known` observed. */
static uint32_t prop_union_members(const prop_world *w, uint64_t known)
{
    uint32_t members = 0;
    for (uint32_t e = 0; e < w->event_count; e++) {
        if ((known >> e & 1) == 0) {
            continue;
        }
        bool superseded = false;
        for (uint32_t later = 0; later < w->event_count && !superseded; later++) {
            superseded = (known >> later & 1) != 0 && (w->events[later].observed >> e & 1) != 0;
        }
        members |= superseded ? 0u : w->events[e].version;
    }
    return members;
}

static uint32_t prop_oracle(const prop_world *w, uint64_t known)
{
    return w->policy == RK_POLICY_SET ? prop_set_members(w, known)
                                      : prop_union_members(w, known);
}

/* ---- reading a state ------------------------------------------------------------------- */

/* SMEMBERS of `state` as a member mask (every member must be one of prop_members). */
static uint32_t prop_smembers(uint8_t policy, const rk_dvvset *state)
{
    rk_policy_read read;
    cart_answer(policy, state, RK_REQ_READ, RK_READ_SMEMBERS, NULL, 0, &read);
    cart_check_sorted_unique(&read.reply);
    uint32_t mask = 0;
    for (uint32_t i = 0; i < read.reply.value_count; i++) {
        uint32_t m = 0;
        while (m < PROP_MEMBER_COUNT &&
               cart_bytes_cmp(read.reply.values[i], read.reply.value_lens[i],
                              (const uint8_t *)prop_members[m].bytes, prop_members[m].len) != 0) {
            m++;
        }
        assert_true(m < PROP_MEMBER_COUNT);
        mask |= 1u << m;
    }
    rk_policy_read_deinit(&read);
    return mask;
}

/* ---- steps ----------------------------------------------------------------------------- */

/* A random element list of 1 to PROP_ARGS_MAX members, a member possibly twice; its distinct
 * members as a mask in *args_out. */
static size_t prop_args(uint64_t *rng, uint8_t *out, size_t out_bytes, uint32_t *args_out)
{
    const uint8_t *members[PROP_ARGS_MAX];
    size_t lens[PROP_ARGS_MAX];
    uint32_t count = 1 + (uint32_t)prop_below(rng, PROP_ARGS_MAX);
    *args_out = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t m = (uint32_t)prop_below(rng, PROP_MEMBER_COUNT);
        members[i] = (const uint8_t *)prop_members[m].bytes;
        lens[i] = prop_members[m].len;
        *args_out |= 1u << m;
    }
    return cart_list(members, lens, count, out, out_bytes);
}

static uint32_t prop_popcount(uint32_t mask)
{
    return (uint32_t)__builtin_popcount(mask);
}

/* A write at replica `index`; its reply must be Redis's count against what the oracle says
 * the replica held. */
static void prop_write(prop_world *w, uint32_t index, uint64_t *rng)
{
    prop_replica *r = &w->replicas[index];
    uint32_t roll = (uint32_t)prop_below(rng, 20);
    rk_op_kind kind = roll < 11 ? RK_OP_SADD : roll < 18 ? RK_OP_SREM : RK_OP_DEL;
    uint8_t list[CART_LIST_BYTES_MAX];
    uint32_t args = 0;
    size_t len = kind != RK_OP_DEL ? prop_args(rng, list, sizeof(list), &args) : 0;
    rk_policy_write write = cart_write(kind, kind != RK_OP_DEL ? list : NULL, len, index + 1,
                                       r->epoch << 40);
    uint32_t before = prop_oracle(w, r->known);
    int64_t reply = -1;
    char message[CART_MESSAGE_BYTES];
    int rc = cart_try(w->policy, &r->state, &write, &reply, message);
    if (rc != 0) {
        fail_msg("%s at replica %u: %s (%s)", rk_op_name(kind), index, rk_strerror(rc), message);
    }
    uint32_t expected = kind == RK_OP_SADD   ? prop_popcount(args & ~before)
                        : kind == RK_OP_SREM ? prop_popcount(args & before)
                                             : (before != 0 ? 1u : 0u);
    assert_int_equal(reply, expected);

    uint32_t e = w->event_count++;
    prop_event *ev = &w->events[e];
    *ev = (prop_event){.kind = kind, .args = args, .observed = r->known};
    ev->version = kind == RK_OP_SADD ? before | args : kind == RK_OP_SREM ? before & ~args : 0;
    r->known |= 1ull << e;
    assert_int_equal(rk_dvvset_copy(&r->state, &w->written[e]), 0);
}

static void prop_step(prop_world *w, uint64_t *rng)
{
    uint32_t index = (uint32_t)prop_below(rng, PROP_REPLICAS);
    prop_replica *r = &w->replicas[index];
    uint32_t roll = (uint32_t)prop_below(rng, 100);
    if (roll < 60) {
        prop_write(w, index, rng);
    } else if (roll < 96) {
        uint32_t from = (index + 1 + (uint32_t)prop_below(rng, PROP_REPLICAS - 1)) %
                        PROP_REPLICAS;
        assert_int_equal(rk_policy_merge(w->policy, &r->state, &w->replicas[from].state), 0);
        r->known |= w->replicas[from].known;
    } else if (r->restarts < PROP_RESTARTS_MAX) {
        r->restarts++;
        r->epoch++;
    }
    assert_int_equal(prop_smembers(w->policy, &r->state), prop_oracle(w, r->known));
}

/* ---- the laws -------------------------------------------------------------------------- */

/* *out = a merged with b (copies; a and b unchanged). */
static void prop_merged(uint8_t policy, const rk_dvvset *a, const rk_dvvset *b, rk_dvvset *out)
{
    assert_int_equal(rk_dvvset_copy(a, out), 0);
    assert_int_equal(rk_policy_merge(policy, out, b), 0);
    assert_true(rk_dvvset_valid(out));
}

static void prop_assert_same(uint8_t policy, const rk_dvvset *a, const rk_dvvset *b)
{
    assert_true(rk_dvvset_equal(a, b));
    assert_int_equal(prop_smembers(policy, a), prop_smembers(policy, b));
    const rk_policy *table = rk_policy_of(policy);
    assert_true(table->hash(a) == table->hash(b));
}

static void prop_check_laws(uint8_t policy, const rk_dvvset *a, const rk_dvvset *b,
                            const rk_dvvset *c)
{
    rk_dvvset ab;
    rk_dvvset ba;
    rk_dvvset ab_c;
    rk_dvvset bc;
    rk_dvvset a_bc;
    rk_dvvset aa;
    prop_merged(policy, a, b, &ab);
    prop_merged(policy, b, a, &ba);
    prop_assert_same(policy, &ab, &ba);
    prop_merged(policy, &ab, c, &ab_c);
    prop_merged(policy, b, c, &bc);
    prop_merged(policy, a, &bc, &a_bc);
    prop_assert_same(policy, &ab_c, &a_bc);
    prop_merged(policy, a, a, &aa);
    prop_assert_same(policy, &aa, a);
    rk_dvvset_deinit(&ab);
    rk_dvvset_deinit(&ba);
    rk_dvvset_deinit(&ab_c);
    rk_dvvset_deinit(&bc);
    rk_dvvset_deinit(&a_bc);
    rk_dvvset_deinit(&aa);
}

/* ---- encodings ------------------------------------------------------------------------- */

/* A union version's bytes are one element list of sorted unique members: checked, walked and
 * encoded again, the same bytes. */
static void prop_check_version_list(const rk_sibling *s)
{
    uint32_t count = 0;
    assert_int_equal(rk_elems_check(s->value, s->value_len, &count), 0);
    assert_true(count > 0);     /* a version with no member is a tombstone */
    const uint8_t **members = calloc(count, sizeof(*members));
    size_t *lens = calloc(count, sizeof(*lens));
    assert_non_null(members);
    assert_non_null(lens);
    rk_elems_iter it;
    rk_elems_iter_init(&it, s->value, s->value_len);
    uint32_t walked = 0;
    while (walked <= count && rk_elems_next(&it, &members[walked], &lens[walked])) {
        assert_true(walked == 0 || cart_bytes_cmp(members[walked - 1], lens[walked - 1],
                                                  members[walked], lens[walked]) < 0);
        walked++;
    }
    assert_int_equal(walked, count);
    assert_int_equal(rk_elems_encoded_len(lens, count), s->value_len);
    uint8_t *again = malloc(s->value_len);
    assert_non_null(again);
    assert_int_equal(rk_elems_encode(members, lens, count, again), s->value_len);
    assert_memory_equal(again, s->value, s->value_len);
    free(again);
    free(lens);
    free(members);
}

/* The store encoding gives the state back (copied and as a view) and the same bytes again. */
static void prop_check_round_trip(uint8_t policy, const rk_dvvset *state)
{
    size_t len = rk_dvvset_encoded_len(state);
    uint8_t *bytes = malloc(len);
    assert_non_null(bytes);
    assert_int_equal(rk_dvvset_encode(state, bytes), len);
    assert_int_equal(bytes[2], state->type_tag);
    rk_dvvset back;
    assert_int_equal(rk_dvvset_decode(bytes, len, &back), 0);
    prop_assert_same(policy, &back, state);
    uint8_t *again = malloc(len);
    assert_non_null(again);
    assert_int_equal(rk_dvvset_encoded_len(&back), len);
    assert_int_equal(rk_dvvset_encode(&back, again), len);
    assert_memory_equal(again, bytes, len);
    rk_dvvset view;
    assert_int_equal(rk_dvvset_decode_view(bytes, len, &view), 0);
    assert_true(rk_dvvset_equal(&view, state));
    rk_dvvset_deinit(&view);
    for (uint32_t i = 0; policy == RK_POLICY_UNION && i < state->sibling_count; i++) {
        if (!state->siblings[i].tombstone) {
            prop_check_version_list(&state->siblings[i]);
        }
    }
    rk_dvvset_deinit(&back);
    free(again);
    free(bytes);
}

/* ---- delivery orders ------------------------------------------------------------------- */

/* A fresh replica merges the recorded states in order[0..count); into *out. */
static void prop_deliver(const prop_world *w, const uint32_t *order, uint32_t count,
                         rk_dvvset *out)
{
    rk_dvvset_init(out);
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(rk_policy_merge(w->policy, out, &w->written[order[i]]), 0);
    }
}

static void prop_check_delivery(const prop_world *w, const rk_dvvset *joined, uint64_t *rng)
{
    uint32_t count = w->event_count;
    uint32_t causal[PROP_EVENTS_MAX];
    uint32_t reversed[PROP_EVENTS_MAX];
    uint32_t shuffled[PROP_EVENTS_MAX];
    for (uint32_t i = 0; i < count; i++) {
        causal[i] = i;      /* events were numbered as they ran: a causal order */
        reversed[i] = count - 1 - i;
        shuffled[i] = i;
    }
    for (uint32_t i = count; i > 1; i--) {
        uint32_t j = (uint32_t)prop_below(rng, i);
        uint32_t t = shuffled[i - 1];
        shuffled[i - 1] = shuffled[j];
        shuffled[j] = t;
    }
    const uint32_t *orders[] = {causal, reversed, shuffled};
    for (uint32_t k = 0; k < 3; k++) {
        rk_dvvset got;
        prop_deliver(w, orders[k], count, &got);
        prop_assert_same(w->policy, &got, joined);
        rk_dvvset_deinit(&got);
    }
}

/* ---- one history ----------------------------------------------------------------------- */

static void prop_world_init(prop_world *w, uint8_t policy)
{
    memset(w, 0, sizeof(*w));
    w->policy = policy;
    for (uint32_t i = 0; i < PROP_REPLICAS; i++) {
        rk_dvvset_init(&w->replicas[i].state);
        w->replicas[i].epoch = 1;   /* as a node's first start leaves it (clock.c) */
    }
}

static void prop_world_deinit(prop_world *w)
{
    for (uint32_t i = 0; i < PROP_REPLICAS; i++) {
        rk_dvvset_deinit(&w->replicas[i].state);
    }
    for (uint32_t e = 0; e < w->event_count; e++) {
        rk_dvvset_deinit(&w->written[e]);
    }
}

static void prop_history(uint8_t policy, uint64_t *rng)
{
    prop_world *w = malloc(sizeof(*w));
    assert_non_null(w);
    prop_world_init(w, policy);
    uint32_t steps = 1 + (uint32_t)prop_below(rng, PROP_STEPS);
    for (uint32_t s = 0; s < steps; s++) {
        prop_step(w, rng);
    }
    const rk_dvvset *r0 = &w->replicas[0].state;
    const rk_dvvset *r1 = &w->replicas[1].state;
    const rk_dvvset *r2 = &w->replicas[2].state;
    prop_check_laws(policy, r0, r1, r2);
    prop_check_laws(policy, r2, r0, r1);

    rk_dvvset joined;
    rk_dvvset_init(&joined);
    uint64_t known = 0;
    for (uint32_t i = 0; i < PROP_REPLICAS; i++) {
        assert_int_equal(rk_policy_merge(policy, &joined, &w->replicas[i].state), 0);
        known |= w->replicas[i].known;
        prop_check_round_trip(policy, &w->replicas[i].state);
    }
    prop_check_round_trip(policy, &joined);
    assert_int_equal(prop_smembers(policy, &joined), prop_oracle(w, known));
    prop_check_delivery(w, &joined, rng);
    rk_dvvset_deinit(&joined);
    prop_world_deinit(w);
    free(w);
}

static void test_union_histories_match_the_oracle_and_merge_laws(void **state)
{
    (void)state;
    uint64_t rng = test_seed("test_policy_cart union histories");
    for (uint32_t round = 0; round < PROP_ROUNDS; round++) {
        prop_history(RK_POLICY_UNION, &rng);
    }
}

static void test_set_histories_match_the_oracle_and_merge_laws(void **state)
{
    (void)state;
    uint64_t rng = test_seed("test_policy_cart set histories");
    for (uint32_t round = 0; round < PROP_ROUNDS; round++) {
        prop_history(RK_POLICY_SET, &rng);
    }
}

/* ---- the element-list codec ------------------------------------------------------------ */

/* Random lists (binary, empty members, NUL bytes) encode, check with their count, walk back to
 * the same members; one byte fewer, one byte more, or a count off by one is refused. */
static void test_elems_round_trip_and_refuse_any_other_length(void **state)
{
    (void)state;
    uint64_t rng = test_seed("test_policy_cart elems");
    for (uint32_t round = 0; round < 5000; round++) {
        uint8_t pool[64];
        const uint8_t *members[8];
        size_t lens[8];
        uint32_t count = (uint32_t)prop_below(&rng, 9);
        for (size_t i = 0; i < sizeof(pool); i++) {
            pool[i] = (uint8_t)(prop_below(&rng, 3) == 0 ? 0 : test_rng_next(&rng));
        }
        for (uint32_t i = 0; i < count; i++) {
            lens[i] = (size_t)prop_below(&rng, 8);
            members[i] = pool + prop_below(&rng, sizeof(pool) - 8);
        }
        uint8_t bytes[4 + 8 * (4 + 8) + 1];
        size_t len = cart_list(members, lens, count, bytes, sizeof(bytes) - 1);
        uint32_t checked = UINT32_MAX;
        assert_int_equal(rk_elems_check(bytes, len, &checked), 0);
        assert_int_equal(checked, count);
        rk_elems_iter it;
        rk_elems_iter_init(&it, bytes, len);
        const uint8_t *m = NULL;
        size_t m_len = 0;
        for (uint32_t i = 0; i < count; i++) {
            assert_true(rk_elems_next(&it, &m, &m_len));
            assert_int_equal(m_len, lens[i]);
            assert_true(m_len == 0 || memcmp(m, members[i], m_len) == 0);
        }
        assert_false(rk_elems_next(&it, &m, &m_len));

        uint32_t unchanged = 77;
        assert_int_equal(rk_elems_check(bytes, len - 1, &unchanged), RK_ECORRUPT);
        bytes[len] = (uint8_t)test_rng_next(&rng);
        assert_int_equal(rk_elems_check(bytes, len + 1, &unchanged), RK_ECORRUPT);
        bytes[0] = (uint8_t)(count + 1);
        assert_int_equal(rk_elems_check(bytes, len, &unchanged), RK_ECORRUPT);
        if (count > 0) {
            bytes[0] = (uint8_t)(count - 1);
            assert_int_equal(rk_elems_check(bytes, len, &unchanged), RK_ECORRUPT);
        }
        assert_int_equal(unchanged, 77);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_union_histories_match_the_oracle_and_merge_laws),
        cmocka_unit_test(test_set_histories_match_the_oracle_and_merge_laws),
        cmocka_unit_test(test_elems_round_trip_and_refuse_any_other_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
