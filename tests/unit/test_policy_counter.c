/* test_policy_counter.c — the `counter` and `map` policies (src/core/policy_counter.c,
 * policy_map.c, policy_fields.c) over thousands of random histories, then case by case.
 *
 * A history runs on PROP_REPLICAS replicas, each one node holding one state. A step merges one
 * replica into another, or writes at one as its coordinator does (coord_put.c): the read at R
 * merges a random subset of the others into a copy of its state, and the table applies the op
 * to that view with own_base its state from before the read, its lineage (a constant per node)
 * and no handback floor: INCRBY and DEL; HINCRBY, HSET, HDEL and DEL of three fields. An oracle
 * knows only the events and what each saw (its view): a counter is its bases plus the
 * increments no remove of it (HDEL, DEL, HSET) saw; registers and bases stay until a write that
 * saw them removes them. Every reply and refusal, and each replica's reads after every step,
 * must be the oracle's; at the end merge is commutative, associative and idempotent, and the
 * replicas merged read as the oracle over all events: no increment lost, none counted twice.
 * Each property prints its seed; RK_SEED=<n> replays it. The cases pin issue 13's lost and
 * stale copies, the handback floor, riak_dt#98, the limits and bugs the fuzzer found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/core/policy_fields.h"
#include "cart_fixture.h"
#include "test_seed.h"

#define PROP_ROUNDS 3000u
#define PROP_REPLICAS 4u
#define PROP_STEPS 56u
#define PROP_EVENTS_MAX 64u         /* event ids are bits of a uint64_t */
#define PROP_FIELDS 3u
#define PROP_ALL_FIELDS 7u
#define PROP_COUNTER_FIELD 2u       /* the counter policy's one field, named "" */
#define PROP_TEXT_BYTES 32u
_Static_assert(PROP_STEPS <= PROP_EVENTS_MAX, "every step may be a write");
_Static_assert(PROP_TEXT_BYTES > RK_FIELD_DECIMAL_BYTES, "a decimal fits");

static const char *const prop_fields[PROP_FIELDS] = {"a", "b", ""};
/* HSET's values: the integers HINCRBY starts a counter from (a base), then text it refuses. */
static const char *const prop_values[] = {"7", "-3", "0", "x", ""};
static const int64_t prop_integers[] = {7, -3, 0};
#define PROP_VALUE_COUNT (sizeof(prop_values) / sizeof(prop_values[0]))
#define PROP_INTEGER_COUNT (sizeof(prop_integers) / sizeof(prop_integers[0]))

/* A write. Registers and bases are named by the event that minted their dot: an HSET's register
 * (a base once an HINCRBY converted it, keeping its dot), or an increment of 0's base of 0. */
typedef struct prop_event {
    rk_op_kind kind;
    uint8_t fields;                 /* the fields it writes, a mask (DEL: all) */
    uint8_t values[PROP_FIELDS];    /* HSET: the value per field it sets */
    int64_t amount;                 /* INCRBY, HINCRBY: its increment */
    uint64_t observed;              /* event ids its coordinator's view held */
    uint64_t removed[PROP_FIELDS];  /* per field, the registers and bases it removed */
    int32_t converted;              /* HINCRBY: the HSET whose register became a base, or -1 */
    bool fresh_base;                /* an increment of 0 of a field that did not exist */
} prop_event;

typedef struct prop_world {
    uint8_t policy;                 /* RK_POLICY_COUNTER or RK_POLICY_MAP */
    rk_dvvset states[PROP_REPLICAS];        /* replica i is node i + 1 */
    uint64_t known[PROP_REPLICAS];          /* event ids each state reflects */
    prop_event events[PROP_EVENTS_MAX];
    uint32_t event_count;
} prop_world;

static uint64_t prop_below(uint64_t *rng, uint64_t bound)
{
    return test_rng_next(rng) % bound;
}

/* Entries of `kind` under field `name` in `state`. */
static uint32_t prop_entries(const rk_dvvset *state, const char *name, uint8_t kind)
{
    uint32_t count = 0;
    rk_field_entry e;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        if (rk_fields_parse(&state->siblings[i], &e) && e.kind == kind &&
            rk_fields_named(&e, (const uint8_t *)name, strlen(name))) {
            count++;
        }
    }
    return count;
}

/* Whether an event among `known` that observed increment e reset it in field f (HSET, HDEL,
 * DEL of the field: a remove takes exactly the increments its view held). */
static bool prop_reset(const prop_world *w, uint64_t known, uint32_t e, uint32_t f)
{
    for (uint32_t r = 0; r < w->event_count; r++) {
        const prop_event *ev = &w->events[r];
        bool removes = ev->kind == RK_OP_DEL ||
                       ((ev->fields >> f & 1u) != 0 &&
                        (ev->kind == RK_OP_HSET || ev->kind == RK_OP_HDEL));
        if (removes && (known >> r & 1u) != 0 && (ev->observed >> e & 1u) != 0) {
            return true;
        }
    }
    return false;
}

/* Whether an event among `known` removed (`converted` false) or converted the register or base
 * of field f that event e minted. */
static bool prop_touched(const prop_world *w, uint64_t known, uint32_t e, uint32_t f,
                         bool converted)
{
    for (uint32_t r = 0; r < w->event_count; r++) {
        const prop_event *ev = &w->events[r];
        bool touched = converted ? ev->converted == (int32_t)e && (ev->fields >> f & 1u) != 0
                                 : (ev->removed[f] >> e & 1u) != 0;
        if (touched && (known >> r & 1u) != 0) {
            return true;
        }
    }
    return false;
}

typedef struct prop_field {
    rk_field_sum counter;
    bool counter_live;              /* an increment no remove took, or a base */
    int32_t shown;                  /* the HSET whose register a read shows, or -1 */
    uint64_t registers;             /* the registers there, and the bases */
    uint64_t bases;
} prop_field;

/* Field f as the events among `known` leave it. */
static prop_field prop_oracle(const prop_world *w, uint64_t known, uint32_t f)
{
    prop_field v = {.shown = -1};
    for (uint32_t e = 0; e < w->event_count; e++) {
        const prop_event *ev = &w->events[e];
        if ((known >> e & 1u) == 0 || (ev->fields >> f & 1u) == 0) {
            continue;
        }
        bool increment = ev->kind == RK_OP_INCRBY || ev->kind == RK_OP_HINCRBY;
        if (increment && !prop_reset(w, known, e, f)) {
            v.counter += ev->amount;
            v.counter_live = v.counter_live || ev->amount != 0;
        }
        if ((!ev->fresh_base && ev->kind != RK_OP_HSET) || prop_touched(w, known, e, f, false)) {
            continue;
        }
        if (ev->fresh_base || prop_touched(w, known, e, f, true)) {
            v.bases |= 1ull << e;
            v.counter += ev->fresh_base ? 0 : prop_integers[ev->values[f]];
            v.counter_live = true;
        } else {
            v.registers |= 1ull << e;
            v.shown = (int32_t)e;   /* events are numbered as stamped: the later shows */
        }
    }
    return v;
}

/* What HGET (GET of a counter) of field f answers by the oracle: true with its text. */
static bool prop_expect(const prop_world *w, uint64_t known, uint32_t f, char *text)
{
    prop_field v = prop_oracle(w, known, f);
    if (v.counter_live) {
        assert_true(rk_fields_sum_fits(v.counter));
        rk_fields_decimal((int64_t)v.counter, text);
    } else if (v.shown >= 0) {
        snprintf(text, PROP_TEXT_BYTES, "%s", prop_values[w->events[v.shown].values[f]]);
    }
    return v.counter_live || v.shown >= 0;
}

/* HGET of field `name` (GET of a counter): true with its text, false for nil. */
static bool prop_get(uint8_t policy, const rk_dvvset *state, const char *name, char *text)
{
    rk_policy_read read;
    cart_answer(policy, state, policy == RK_POLICY_COUNTER ? RK_REQ_GET : RK_REQ_READ,
                RK_READ_HGET, (const uint8_t *)name, strlen(name), &read);
    bool found = read.reply.kind == RK_REPLY_VALUE;
    assert_true(found || read.reply.kind == RK_REPLY_NIL);
    snprintf(text, PROP_TEXT_BYTES, "%.*s", (int)read.reply.value_len,
             found && read.reply.value_len > 0 ? (const char *)read.reply.value : "");
    rk_policy_read_deinit(&read);
    return found;
}

/* The integer a read with no argument answers (EXISTS, HLEN). */
static int64_t prop_read(uint8_t policy, const rk_dvvset *state, rk_request_kind kind,
                         rk_read_kind op)
{
    rk_policy_read read;
    cart_answer(policy, state, kind, op, NULL, 0, &read);
    assert_int_equal(read.reply.kind, RK_REPLY_INT);
    rk_policy_read_deinit(&read);
    return read.reply.integer;
}

/* Every read of `state` against the oracle over `known`: each field, EXISTS, a map's HLEN. */
static void prop_check_reads(const prop_world *w, const rk_dvvset *state, uint64_t known)
{
    uint8_t p = w->policy;
    uint32_t existing = 0;
    for (uint32_t f = p == RK_POLICY_COUNTER ? PROP_COUNTER_FIELD : 0; f < PROP_FIELDS; f++) {
        char expected[PROP_TEXT_BYTES];
        char got[PROP_TEXT_BYTES];
        bool expect = prop_expect(w, known, f, expected);
        bool found = prop_get(p, state, prop_fields[f], got);
        assert_string_equal(found ? got : "(nil)", expect ? expected : "(nil)");
        existing += expect ? 1 : 0;
    }
    assert_int_equal(prop_read(p, state, RK_REQ_EXISTS, 0), existing > 0 ? 1 : 0);
    if (p == RK_POLICY_MAP) {
        assert_int_equal(prop_read(p, state, RK_REQ_READ, RK_READ_HLEN), existing);
    }
}

/* Pick `w`'s next op into *ev (kind, fields, values, the increment) and its argument into
 * `arg`; returns the argument's length. */
static size_t prop_pick_op(const prop_world *w, uint64_t *rng, prop_event *ev, uint8_t *arg)
{
    uint32_t roll = (uint32_t)prop_below(rng, 20);
    ev->amount = (int64_t)prop_below(rng, 19) - 9;
    if (w->policy == RK_POLICY_COUNTER || roll >= 18) {
        ev->kind = w->policy == RK_POLICY_COUNTER && roll < 16 ? RK_OP_INCRBY : RK_OP_DEL;
        ev->fields = ev->kind == RK_OP_DEL ? PROP_ALL_FIELDS : 1u << PROP_COUNTER_FIELD;
        rk_op_increment_encode(ev->amount, arg);
        return ev->kind == RK_OP_INCRBY ? RK_OP_INCREMENT_BYTES : 0;
    }
    const uint8_t *members[4];
    size_t lens[4];
    uint32_t count = 0;
    uint8_t increment[RK_OP_INCREMENT_BYTES];
    ev->kind = roll < 8 ? RK_OP_HINCRBY : roll < 13 ? RK_OP_HSET : RK_OP_HDEL;
    uint32_t f = (uint32_t)prop_below(rng, PROP_FIELDS);
    uint32_t fields = ev->kind != RK_OP_HINCRBY && prop_below(rng, 2) == 0 ? 2 : 1;
    for (uint32_t i = 0; i < fields; i++) {
        uint32_t g = (f + i * (1 + (uint32_t)prop_below(rng, PROP_FIELDS - 1))) % PROP_FIELDS;
        ev->fields |= (uint8_t)(1u << g);
        members[count] = (const uint8_t *)prop_fields[g];
        lens[count++] = strlen(prop_fields[g]);
        if (ev->kind == RK_OP_HSET) {
            ev->values[g] = (uint8_t)prop_below(rng, PROP_VALUE_COUNT);
            members[count] = (const uint8_t *)prop_values[ev->values[g]];
            lens[count++] = strlen(prop_values[ev->values[g]]);
        }
    }
    if (ev->kind == RK_OP_HINCRBY) {
        rk_op_increment_encode(ev->amount, increment);
        members[count] = increment;
        lens[count++] = sizeof(increment);
    }
    return cart_list(members, lens, count, arg, CART_LIST_BYTES_MAX);
}

/* What `ev` does at a view holding `known`: the reply in *reply_out, and what it removes,
 * converts or creates; false when it must be refused (HINCRBY of a text register). */
static bool prop_expect_reply(const prop_world *w, uint64_t known, prop_event *ev,
                              int64_t *reply_out)
{
    uint32_t existing = 0;
    rk_field_sum counter = 0;
    bool increment = ev->kind == RK_OP_INCRBY || ev->kind == RK_OP_HINCRBY;
    for (uint32_t f = 0; f < PROP_FIELDS; f++) {
        if ((ev->fields >> f & 1u) == 0) {
            continue;
        }
        prop_field v = prop_oracle(w, known, f);
        existing += v.counter_live || v.shown >= 0 ? 1 : 0;
        counter = v.counter + ev->amount;
        /* A remove takes what it saw; an increment, the registers (the counter shows). */
        ev->removed[f] = v.registers | (increment ? 0 : v.bases);
        if (increment && !v.counter_live && v.shown >= 0) {
            uint8_t value = w->events[v.shown].values[f];
            if (value >= PROP_INTEGER_COUNT) {
                return false;   /* "hash value is not an integer" */
            }
            ev->converted = v.shown;
            ev->removed[f] = v.registers & ~(1ull << v.shown);
            counter += prop_integers[value];
        } else if (increment && !v.counter_live) {
            ev->fresh_base = ev->amount == 0;   /* the field exists, at 0, as in Redis */
        }
    }
    if (increment) {
        *reply_out = (int64_t)counter;
    } else if (ev->kind == RK_OP_HSET) {
        *reply_out = __builtin_popcount(ev->fields) - (int64_t)existing;
    } else {
        *reply_out = ev->kind == RK_OP_HDEL ? existing : existing > 0 ? 1 : 0;
    }
    return true;
}

/* A write at replica `index` as its coordinator makes it; its reply or refusal must be the
 * oracle's. A refusal keeps nothing, not even the read's merge (coord_put.c). */
static void prop_write(prop_world *w, uint32_t index, uint64_t *rng)
{
    rk_dvvset view;
    assert_int_equal(rk_dvvset_copy(&w->states[index], &view), 0);
    uint64_t known = w->known[index];
    for (uint32_t o = 0; o < PROP_REPLICAS; o++) {
        if (o != index && prop_below(rng, 2) == 0) {
            assert_int_equal(rk_policy_merge(w->policy, &view, &w->states[o]), 0);
            known |= w->known[o];
        }
    }
    prop_event ev = {.observed = known, .converted = -1};
    uint8_t arg[CART_LIST_BYTES_MAX];
    size_t arg_len = prop_pick_op(w, rng, &ev, arg);
    int64_t expected = 0;
    bool accepted = prop_expect_reply(w, known, &ev, &expected);
    rk_policy_write write = cart_write(ev.kind, arg, arg_len, index + 1, 0);
    write.stamp_us = 1 + w->event_count;    /* later than every register's */
    write.lineage = 0x11ea9e00u + index;
    write.own_base = &w->states[index];
    rk_policy_applied applied = {.integer = 0};
    char message[CART_MESSAGE_BYTES] = "";
    int rc = rk_policy_of(w->policy)->apply(&write, &view, &applied, message, sizeof(message));
    if (!accepted) {
        assert_int_equal(rc, RK_EINVAL);
        assert_string_equal(message, "hash value is not an integer");
    } else if (rc == RK_ETOOBIG && applied.actors_full) {
        const char *name = prop_fields[__builtin_ctz(ev.fields)];
        assert_int_equal(prop_entries(&view, name, RK_FIELD_KIND_COUNTER), RK_FIELD_ACTORS_MAX);
    } else if (rc != 0) {
        fail_msg("%s at replica %u: %s (%s)", rk_op_name(ev.kind), index, rk_strerror(rc),
                 message);
    }
    if (rc != 0) {
        rk_dvvset_deinit(&view);
        return;
    }
    assert_int_equal(applied.integer, expected);
    assert_true(rk_dvvset_valid(&view));
    assert_true(applied.actor_minted == 0 ||
                (applied.dot.node == index + 1 && applied.dot.counter == applied.actor_minted));
    uint32_t e = w->event_count++;
    w->events[e] = ev;
    rk_dvvset_deinit(&w->states[index]);
    w->states[index] = view;
    w->known[index] = known | 1ull << e;
}

static void prop_step(prop_world *w, uint64_t *rng)
{
    uint32_t index = (uint32_t)prop_below(rng, PROP_REPLICAS);
    if (prop_below(rng, 100) < 60) {
        prop_write(w, index, rng);
    } else {
        uint32_t from = (index + 1 + (uint32_t)prop_below(rng, PROP_REPLICAS - 1)) %
                        PROP_REPLICAS;
        assert_int_equal(rk_policy_merge(w->policy, &w->states[index], &w->states[from]), 0);
        w->known[index] |= w->known[from];
    }
    prop_check_reads(w, &w->states[index], w->known[index]);
}

/* a and b hold one state: equal, and so equal hashes for anti-entropy. */
static void prop_assert_same(uint8_t policy, const rk_dvvset *a, const rk_dvvset *b)
{
    assert_true(rk_dvvset_equal(a, b));
    assert_true(rk_policy_of(policy)->hash(a) == rk_policy_of(policy)->hash(b));
}

/* Merge is commutative (a b, b a), associative ((a b) c, a (b c)) and idempotent (a a). */
static void prop_check_laws(uint8_t policy, const rk_dvvset *a, const rk_dvvset *b,
                            const rk_dvvset *c)
{
    rk_dvvset m[6];     /* m[k] = into[k] merged with from[k], in this order */
    const rk_dvvset *into[6] = {a, b, &m[0], b, a, a};
    const rk_dvvset *from[6] = {b, a, c, c, &m[3], a};
    for (int k = 0; k < 6; k++) {
        assert_int_equal(rk_dvvset_copy(into[k], &m[k]), 0);
        assert_int_equal(rk_policy_merge(policy, &m[k], from[k]), 0);
        assert_true(rk_dvvset_valid(&m[k]));
    }
    prop_assert_same(policy, &m[0], &m[1]);
    prop_assert_same(policy, &m[2], &m[4]);
    prop_assert_same(policy, &m[5], a);
    for (int k = 0; k < 6; k++) {
        rk_dvvset_deinit(&m[k]);
    }
}

/* One random history under `policy`. */
static void prop_history(uint8_t policy, uint64_t *rng)
{
    prop_world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->policy = policy;
    uint32_t steps = 1 + (uint32_t)prop_below(rng, PROP_STEPS);
    for (uint32_t s = 0; s < steps; s++) {
        prop_step(w, rng);
    }
    rk_dvvset *r = w->states;
    prop_check_laws(policy, &r[0], &r[1], &r[2]);
    prop_check_laws(policy, &r[2], &r[0], &r[1]);
    rk_dvvset joined;
    rk_dvvset_init(&joined);
    uint64_t known = 0;
    for (uint32_t i = 0; i < PROP_REPLICAS; i++) {
        assert_int_equal(rk_policy_merge(policy, &joined, &r[i]), 0);
        known |= w->known[i];
    }
    /* Every increment applied, less exactly those a remove observed: nothing lost. */
    prop_check_reads(w, &joined, known);
    for (uint32_t i = 0; i < PROP_REPLICAS; i++) {
        assert_int_equal(rk_policy_merge(policy, &r[i], &joined), 0);   /* each converges */
        prop_assert_same(policy, &r[i], &joined);
        rk_dvvset_deinit(&r[i]);
    }
    rk_dvvset_deinit(&joined);
    free(w);
}

static void test_counter_histories_match_the_oracle_and_merge_laws(void **state)
{
    uint64_t rng = test_seed("test_policy_counter counter histories");
    for (uint32_t round = 0; round < PROP_ROUNDS; round++) {
        prop_history(RK_POLICY_COUNTER, &rng);
    }
}

static void test_map_histories_match_the_oracle_and_merge_laws(void **state)
{
    uint64_t rng = test_seed("test_policy_counter map histories");
    for (uint32_t round = 0; round < PROP_ROUNDS; round++) {
        prop_history(RK_POLICY_MAP, &rng);
    }
}

/* ---- cases ----------------------------------------------------------------------------- */

#define CASE_STATES 4u      /* each case's states: empty at its start and after case_reset */

/* A coordinator as coord_put.c describes it to the table. */
typedef struct case_coord {
    rk_node_id node;
    uint64_t lineage;
    uint64_t dot_floor;
    uint64_t handback_floor;
} case_coord;
static const case_coord case_a = {.node = 1, .lineage = 1};     /* nodes A and B */
static const case_coord case_b = {.node = 2, .lineage = 2};

static int case_setup(void **state)
{
    *state = calloc(CASE_STATES, sizeof(rk_dvvset));    /* zeroed, as rk_dvvset_init leaves one */
    return *state != NULL ? 0 : -1;
}

static rk_dvvset *case_reset(void **state)
{
    rk_dvvset *s = *state;
    for (uint32_t i = 0; i < CASE_STATES; i++) {
        rk_dvvset_deinit(&s[i]);
    }
    return s;
}

static int case_teardown(void **state)
{
    free(case_reset(state));
    return 0;
}

/* *to = a copy of `from` (*to freed first). */
static void case_copy(rk_dvvset *to, const rk_dvvset *from)
{
    rk_dvvset_deinit(to);
    assert_int_equal(rk_dvvset_copy(from, to), 0);
}

static char case_message[CART_MESSAGE_BYTES];
/* Apply `kind` to `view` as `c` with own_base `base` (INCRBY `delta`; HINCRBY `field` `delta`;
 * HSET `field` `value`; HDEL `field`; DEL): it must return `rc`, and if that is an error leave
 * `view` as it was. What it applied; its message in case_message. */
static rk_policy_applied case_op(uint8_t policy, rk_dvvset *view, const rk_dvvset *base,
                                 const case_coord *c, rk_op_kind kind, const char *field,
                                 const char *value, int64_t delta, int rc)
{
    uint8_t increment[RK_OP_INCREMENT_BYTES];
    rk_op_increment_encode(delta, increment);
    const uint8_t *members[2] = {(const uint8_t *)field, increment};
    size_t lens[2] = {strlen(field), sizeof(increment)};
    if (kind == RK_OP_HSET) {
        members[1] = (const uint8_t *)value;
        lens[1] = strlen(value);
    }
    uint8_t list[CART_LIST_BYTES_MAX];
    const uint8_t *arg = kind == RK_OP_INCRBY ? increment : kind == RK_OP_DEL ? NULL : list;
    size_t len = kind == RK_OP_INCRBY ? sizeof(increment) : 0;
    if (arg == list) {
        len = cart_list(members, lens, kind == RK_OP_HDEL ? 1 : 2, list, sizeof(list));
    }
    rk_policy_write w = cart_write(kind, arg, len, c->node, c->dot_floor);
    w.lineage = c->lineage;
    w.handback_floor = c->handback_floor;
    w.own_base = base;
    rk_policy_applied applied = {.integer = 0};
    rk_dvvset before;
    assert_int_equal(rk_dvvset_copy(view, &before), 0);
    case_message[0] = '\0';
    int got = rk_policy_of(policy)->apply(&w, view, &applied, case_message, sizeof(case_message));
    if (got != rc) {
        fail_msg("%s returned %d, not %d (%s)", rk_op_name(kind), got, rc, case_message);
    }
    assert_true(rc == 0 || rk_dvvset_equal(view, &before));
    rk_dvvset_deinit(&before);
    return applied;
}

/* The cases count in field "" of a counter (INCRBY), "f" of a map (HINCRBY f). */
static rk_op_kind case_increment(uint8_t policy)
{
    return policy == RK_POLICY_COUNTER ? RK_OP_INCRBY : RK_OP_HINCRBY;
}

static const char *case_field(uint8_t policy)
{
    return policy == RK_POLICY_COUNTER ? "" : "f";
}

/* An increment that must succeed: the dot of the actor it minted, 0 if it advanced one. */
static uint64_t case_incr(uint8_t policy, rk_dvvset *view, const rk_dvvset *base,
                          const case_coord *c, int64_t delta)
{
    return case_op(policy, view, base, c, case_increment(policy), "f", NULL, delta, 0).actor_minted;
}

/* GET (counter) or HGET f (map) of `state`, and of `other` unless NULL, must read `expected`. */
static void case_expect(uint8_t policy, const rk_dvvset *state, const rk_dvvset *other,
                        const char *expected)
{
    const rk_dvvset *states[2] = {state, other};
    for (int i = 0; i < 2 && states[i] != NULL; i++) {
        char text[PROP_TEXT_BYTES];
        assert_true(prop_get(policy, states[i], case_field(policy), text));
        assert_string_equal(text, expected);
    }
}

/* Issue 13: A increments 5 and B holds it; A's store is wiped, so A has no copy of the key
 * (own_base NULL, as coord_put.c passes when its local read finds nothing, or an empty one), a
 * new lineage and a new birth epoch (its store floor, clock.h). A increments 3 after a read at R
 * that reached B, or missed it (the quorums met only in A): either way it starts a fresh actor
 * above its old store's dots, and merged, both read 8. */
static void test_wiped_coordinator_loses_no_increment(void **state)
{
    for (uint32_t variant = 0; variant < 6; variant++) {
        uint8_t policy = variant < 3 ? RK_POLICY_COUNTER : RK_POLICY_MAP;
        rk_dvvset *s = case_reset(state);   /* A, B, and an empty state */
        case_coord before = {.node = 1, .lineage = 1, .dot_floor = 5ull << 40};
        case_coord wiped = {.node = 1, .lineage = 2, .dot_floor = 9ull << 40};
        assert_true(case_incr(policy, &s[0], NULL, &before, 5) != 0);
        assert_int_equal(rk_policy_merge(policy, &s[1], &s[0]), 0);
        rk_dvvset_deinit(&s[0]);
        if (variant % 3 != 2) {
            assert_int_equal(rk_policy_merge(policy, &s[0], &s[1]), 0);     /* the read */
        }
        assert_true(case_incr(policy, &s[0], variant % 3 == 1 ? &s[2] : NULL, &wiped, 3) != 0);
        assert_int_equal(rk_policy_merge(policy, &s[1], &s[0]), 0);
        assert_int_equal(rk_policy_merge(policy, &s[0], &s[1]), 0);
        case_expect(policy, &s[0], &s[1], "8");
        assert_int_equal(prop_entries(&s[0], case_field(policy), RK_FIELD_KIND_COUNTER), 2);
    }
}

/* Issue 13: A's copy is restored stale (from before its second increment) while B holds A's
 * actor newer. The read reaches B, so the merged actor differs from A's copy: A starts a fresh
 * actor rather than advance the old one from its stale sums (which the maximum would drop). */
static void test_stale_restored_coordinator_starts_a_fresh_actor(void **state)
{
    for (uint8_t policy = RK_POLICY_COUNTER; policy <= RK_POLICY_MAP; policy++) {
        rk_dvvset *s = case_reset(state);   /* A, B, A's copy restored stale */
        uint64_t first = case_incr(policy, &s[0], NULL, &case_a, 5);
        case_copy(&s[2], &s[0]);
        assert_int_equal(case_incr(policy, &s[0], &s[2], &case_a, 2), 0);  /* in place */
        assert_int_equal(rk_policy_merge(policy, &s[1], &s[0]), 0);
        case_copy(&s[0], &s[2]);
        assert_int_equal(rk_policy_merge(policy, &s[0], &s[1]), 0);
        assert_true(case_incr(policy, &s[0], &s[2], &case_a, 1) > first);
        assert_int_equal(prop_entries(&s[0], case_field(policy), RK_FIELD_KIND_COUNTER), 2);
        assert_int_equal(rk_policy_merge(policy, &s[1], &s[0]), 0);
        assert_int_equal(rk_policy_merge(policy, &s[1], &s[2]), 0);
        case_expect(policy, &s[0], &s[1], "8");
    }
}

/* A fallback's actors minted at or below its handback floor lived in a copy it handed back and
 * deleted: though its copy holds one exactly as merged, it mints a fresh actor; one minted
 * above the floor it advances in place. Both sides of the floor. */
static void test_fallback_does_not_advance_an_actor_at_its_handback_floor(void **state)
{
    for (uint8_t policy = RK_POLICY_COUNTER; policy <= RK_POLICY_MAP; policy++) {
        for (uint64_t below = 0; below < 2; below++) {
            rk_dvvset *s = case_reset(state);   /* the fallback's copy, and its base */
            case_coord fallback = {.node = 2, .lineage = 7, .dot_floor = (1ull << 40) + 7};
            uint64_t dot = case_incr(policy, &s[0], NULL, &fallback, 4);
            assert_true(dot >= fallback.dot_floor);
            fallback.handback_floor = dot - below;
            fallback.dot_floor = dot + 1;
            case_copy(&s[1], &s[0]);
            uint64_t minted = case_incr(policy, &s[0], &s[1], &fallback, 1);
            assert_true(below == 0 ? minted > dot : minted == 0);
            assert_int_equal(prop_entries(&s[0], case_field(policy), RK_FIELD_KIND_COUNTER),
                             below == 0 ? 2 : 1);
            case_expect(policy, &s[0], NULL, "5");
        }
    }
}

/* riak_dt#98: B removes the field (HDEL; DEL of a counter) after seeing A's +5 while A adds 2:
 * merged, the field holds exactly the +2 the remove did not see, on both sides. */
static void test_remove_concurrent_with_an_increment_keeps_exactly_the_unseen_one(void **state)
{
    for (uint8_t policy = RK_POLICY_COUNTER; policy <= RK_POLICY_MAP; policy++) {
        rk_dvvset *s = case_reset(state);   /* A, B, A's own copy */
        case_incr(policy, &s[0], NULL, &case_a, 5);
        assert_int_equal(rk_policy_merge(policy, &s[1], &s[0]), 0);
        rk_op_kind remove = policy == RK_POLICY_COUNTER ? RK_OP_DEL : RK_OP_HDEL;
        assert_int_equal(case_op(policy, &s[1], &s[1], &case_b, remove, "f", NULL, 0, 0).integer,
                         1);
        case_copy(&s[2], &s[0]);
        assert_int_equal(case_incr(policy, &s[0], &s[2], &case_a, 2), 0);
        assert_int_equal(rk_policy_merge(policy, &s[1], &s[0]), 0);
        assert_int_equal(rk_policy_merge(policy, &s[0], &s[1]), 0);
        case_expect(policy, &s[0], &s[1], "2");
    }
}

/* HSET f x on one side, HINCRBY f 1 on the other: the merge keeps both entries under f, and
 * HGET and HLEN show one field f, the counter. */
static void test_concurrent_hset_and_hincrby_keep_both_and_hget_shows_the_counter(void **state)
{
    rk_dvvset *s = case_reset(state);
    case_op(RK_POLICY_MAP, &s[0], NULL, &case_a, RK_OP_HSET, "f", "x", 0, 0);
    case_op(RK_POLICY_MAP, &s[1], NULL, &case_b, RK_OP_HINCRBY, "f", NULL, 1, 0);
    assert_int_equal(rk_policy_merge(RK_POLICY_MAP, &s[0], &s[1]), 0);
    assert_int_equal(rk_policy_merge(RK_POLICY_MAP, &s[1], &s[0]), 0);
    assert_int_equal(prop_entries(&s[0], "f", RK_FIELD_KIND_REGISTER), 1);
    assert_int_equal(prop_entries(&s[0], "f", RK_FIELD_KIND_COUNTER), 1);
    case_expect(RK_POLICY_MAP, &s[0], NULL, "1");
    assert_int_equal(prop_read(RK_POLICY_MAP, &s[0], RK_REQ_READ, RK_READ_HLEN), 1);
}

/* Both ends of int64: an increment to INT64_MAX or INT64_MIN is taken; one more is refused with
 * Redis's text and leaves the state as it was. */
static void test_increment_past_int64_is_refused_and_changes_nothing(void **state)
{
    for (uint8_t policy = RK_POLICY_COUNTER; policy <= RK_POLICY_MAP; policy++) {
        for (int64_t sign = -1; sign <= 1; sign += 2) {
            rk_dvvset *s = case_reset(state);   /* the key, and its copy */
                case_incr(policy, &s[0], NULL, &case_a, sign > 0 ? INT64_MAX : INT64_MIN);
            const char *end = sign > 0 ? "9223372036854775807" : "-9223372036854775808";
            case_expect(policy, &s[0], NULL, end);
            case_copy(&s[1], &s[0]);
            case_op(policy, &s[0], &s[1], &case_a, case_increment(policy), "f", NULL, sign,
                    RK_EINVAL);
            assert_string_equal(case_message, "increment or decrement would overflow");
        }
    }
}

/* A field holds at most RK_FIELD_ACTORS_MAX actors: the last is created; one more is refused
 * (RK_ETOOBIG, actors_full) leaving the state as it was; an actor already there advances. */
static void test_actor_bound_refuses_one_more_actor_only(void **state)
{
    for (uint8_t policy = RK_POLICY_COUNTER; policy <= RK_POLICY_MAP; policy++) {
        rk_dvvset *s = case_reset(state);   /* the key, and its copy */
        for (rk_node_id node = 1; node <= RK_FIELD_ACTORS_MAX; node++) {
            case_coord c = {.node = node, .lineage = node};
            assert_true(case_incr(policy, &s[0], NULL, &c, 1) != 0);
        }
        case_coord one_more = {.node = RK_FIELD_ACTORS_MAX + 1, .lineage = 99};
        assert_true(case_op(policy, &s[0], NULL, &one_more, case_increment(policy), "f", NULL, 1,
                            RK_ETOOBIG)
                        .actors_full);
        case_coord last = {.node = RK_FIELD_ACTORS_MAX, .lineage = RK_FIELD_ACTORS_MAX};
        case_copy(&s[1], &s[0]);
        assert_int_equal(case_incr(policy, &s[0], &s[1], &last, 1), 0);
        case_expect(policy, &s[0], NULL, "33");
    }
}

/* HINCRBY of a register that is not an integer is refused as Redis refuses it, changing
 * nothing; of one that is, it starts the counter from it and drops the register. */
static void test_hincrby_of_a_register_needs_an_integer(void **state)
{
    rk_dvvset *s = case_reset(state);
    case_op(RK_POLICY_MAP, &s[0], NULL, &case_a, RK_OP_HSET, "f", "x", 0, 0);
    case_op(RK_POLICY_MAP, &s[0], NULL, &case_a, RK_OP_HSET, "g", "7", 0, 0);
    case_copy(&s[1], &s[0]);
    case_op(RK_POLICY_MAP, &s[0], &s[1], &case_a, RK_OP_HINCRBY, "f", NULL, 1, RK_EINVAL);
    assert_string_equal(case_message, "hash value is not an integer");
    assert_int_equal(case_op(RK_POLICY_MAP, &s[0], &s[1], &case_a, RK_OP_HINCRBY, "g", NULL, 1, 0)
                         .integer, 8);
    assert_int_equal(prop_entries(&s[0], "g", RK_FIELD_KIND_REGISTER), 0);
    assert_int_equal(prop_entries(&s[0], "g", RK_FIELD_KIND_COUNTER), 1);
}

/* A sibling whose bytes are not an entry (a kind no entry has, RP above P, a name longer than
 * the sibling) makes the merge fail with RK_ECORRUPT whichever side holds it, changing nothing;
 * a write to it is refused too. */
static void test_merge_with_a_damaged_entry_is_refused_and_changes_nothing(void **state)
{
    rk_dvvset *s = case_reset(state);   /* a good state, another replica's, a target, a bad one */
    case_op(RK_POLICY_MAP, &s[0], NULL, &case_a, RK_OP_HSET, "f", "x", 0, 0);
    case_op(RK_POLICY_MAP, &s[0], NULL, &case_a, RK_OP_HINCRBY, "g", NULL, 3, 0);
    case_op(RK_POLICY_MAP, &s[1], NULL, &case_b, RK_OP_HINCRBY, "g", NULL, 1, 0);
    for (int damage = 0; damage < 3; damage++) {
        rk_dvvset *bad = &s[3];
        case_copy(bad, &s[0]);
        rk_sibling *actor = &bad->siblings[1];   /* dot order: the register, then the actor */
        uint8_t *sums = actor->value + actor->value_len - RK_FIELD_ACTOR_BYTES;
        /* The actor's kind, its RP (to P + 1), the register's name length. */
        uint8_t *bytes[3] = {&actor->value[0], &sums[24], &bad->siblings[0].value[1]};
        *bytes[damage] = damage == 0 ? 'z' : damage == 1 ? (uint8_t)(sums[8] + 1) : 0xff;
        case_copy(&s[2], &s[1]);
        assert_int_equal(rk_policy_merge(RK_POLICY_MAP, &s[2], bad), RK_ECORRUPT);
        assert_true(rk_dvvset_equal(&s[2], &s[1]));
        case_copy(&s[2], bad);
        assert_int_equal(rk_policy_merge(RK_POLICY_MAP, &s[2], &s[1]), RK_ECORRUPT);
        assert_true(rk_dvvset_equal(&s[2], bad));
        case_op(RK_POLICY_MAP, &s[2], NULL, &case_a, RK_OP_HINCRBY, "g", NULL, 1, RK_ECORRUPT);
    }
}

/* A deleted string (its tombstone kept) is taken over by a counter or a map, as by a set
 * (policy.h): the increment counts from nothing. */
static void test_a_deleted_string_is_taken_over_by_a_counter_or_map(void **state)
{
    for (uint8_t policy = RK_POLICY_COUNTER; policy <= RK_POLICY_MAP; policy++) {
        rk_dvvset *s = case_reset(state);
        cart_lww(&s[0], RK_OP_PUT, "v", case_a.node);
        cart_lww(&s[0], RK_OP_DEL, NULL, case_a.node);
        case_incr(policy, &s[0], NULL, &case_b, 1);
        case_expect(policy, &s[0], NULL, "1");
    }
}

/* A peer's FWD_REQ carries an op's argument as it is (op.h): HSET, HDEL and HINCRBY of one
 * shorter than an element list's head are refused (RK_EINVAL), never walked. */
static void test_map_write_of_an_argument_too_short_is_refused(void **state)
{
    for (rk_op_kind kind = RK_OP_HSET; kind <= RK_OP_HINCRBY; kind++) {
        rk_policy_write w = cart_write(kind, (const uint8_t *)"ab", 2, case_a.node, 0);
        rk_policy_applied applied = {.integer = 0};
        assert_int_equal(rk_policy_of(RK_POLICY_MAP)->apply(&w, case_reset(state), &applied,
                                                             case_message, CART_MESSAGE_BYTES),
                         RK_EINVAL);
    }
}

/* Two copies of one actor whose siblings differ in stamp (a damaged peer's: actors are minted
 * with none) merge to one state either way round, or anti-entropy would never settle. */
static void test_merge_of_an_actor_is_commutative_in_its_stamp(void **state)
{
    rk_dvvset *s = case_reset(state);
    case_incr(RK_POLICY_MAP, &s[0], NULL, &case_a, 1);
    case_copy(&s[1], &s[0]);
    s[1].siblings[0].timestamp_us = 5;
    case_copy(&s[2], &s[0]);
    assert_int_equal(rk_policy_merge(RK_POLICY_MAP, &s[2], &s[1]), 0);
    assert_int_equal(rk_policy_merge(RK_POLICY_MAP, &s[1], &s[0]), 0);
    assert_true(rk_dvvset_equal(&s[1], &s[2]));
}

/* A map's clock, never pruned, holds at most RK_SET_CLOCK_ENTRIES_MAX entries on a write, as a
 * set's does: a coordinator in it still writes; a new one is refused (RK_ETOOBIG, clock_full). */
static void test_map_clock_bound_refuses_a_new_coordinator_only(void **state)
{
    rk_dvvset *s = case_reset(state);
    for (rk_node_id node = 1; node <= RK_SET_CLOCK_ENTRIES_MAX + 1; node++) {
        case_coord c = {.node = node > RK_SET_CLOCK_ENTRIES_MAX ? 1 : node, .lineage = node};
        case_op(RK_POLICY_MAP, &s[0], NULL, &c, RK_OP_HSET, "f", "x", 0, 0);
    }
    case_coord one_more = {.node = RK_SET_CLOCK_ENTRIES_MAX + 1, .lineage = 99};
    assert_true(case_op(RK_POLICY_MAP, &s[0], NULL, &one_more, RK_OP_HINCRBY, "g", NULL, 1,
                        RK_ETOOBIG)
                    .clock_full);
}

#define CASE(test) cmocka_unit_test_setup_teardown(test, case_setup, case_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_histories_match_the_oracle_and_merge_laws),
        cmocka_unit_test(test_map_histories_match_the_oracle_and_merge_laws),
        CASE(test_wiped_coordinator_loses_no_increment),
        CASE(test_stale_restored_coordinator_starts_a_fresh_actor),
        CASE(test_fallback_does_not_advance_an_actor_at_its_handback_floor),
        CASE(test_remove_concurrent_with_an_increment_keeps_exactly_the_unseen_one),
        CASE(test_concurrent_hset_and_hincrby_keep_both_and_hget_shows_the_counter),
        CASE(test_increment_past_int64_is_refused_and_changes_nothing),
        CASE(test_actor_bound_refuses_one_more_actor_only),
        CASE(test_hincrby_of_a_register_needs_an_integer),
        CASE(test_merge_with_a_damaged_entry_is_refused_and_changes_nothing),
        CASE(test_a_deleted_string_is_taken_over_by_a_counter_or_map),
        CASE(test_map_write_of_an_argument_too_short_is_refused),
        CASE(test_merge_of_an_actor_is_commutative_in_its_stamp),
        CASE(test_map_clock_bound_refuses_a_new_coordinator_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
