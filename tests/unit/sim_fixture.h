/* sim_fixture.h — cmocka-side scenario helpers over the simulator's stepping fixture
 * (src/sim/fixture.h), for tests that drive whole core nodes: fx_new, fx_set, fx_get, fx_down,
 * fx_up, fx_advance, and checks on what one node holds. Header-only: each test file is its own
 * program. Include after <cmocka.h>; the test links rk_sim (CMakeLists.txt).
 *
 * The fixture of the running test is kept in fx_live so that fx_teardown frees it even when an
 * assertion failed halfway. */
#ifndef RK_TEST_SIM_FIXTURE_H
#define RK_TEST_SIM_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../src/core/bucket.h"
#include "../../src/core/dvvset.h"
#include "../../src/core/elems.h"
#include "../../src/sim/fixture.h"
#include "../../src/sim/sim.h"

/* A request is answered within this much virtual time or never: past every deadline. */
#define FX_WAIT_MS 60000u

typedef rk_fixture_reply fx_reply;

static rk_fixture *fx_live;

/* A world from `c`; fails the test if the core refuses it. */
static inline rk_fixture *fx_new_with(const rk_fixture_config *c)
{
    rk_fixture *fx = NULL;
    assert_null(fx_live);
    assert_int_equal(rk_fixture_new(c, &fx), 0);
    fx_live = fx;
    return fx;
}

/* The default world: five nodes, N=3 R=W=2, sync batch. */
static inline rk_fixture *fx_new(void)
{
    rk_fixture_config c;
    rk_fixture_config_default(&c);
    return fx_new_with(&c);
}

static inline void fx_free(rk_fixture *fx)
{
    if (fx_live == fx) {
        fx_live = NULL;
    }
    rk_fixture_free(fx);
}

static inline int fx_teardown(void **state)
{
    (void)state;
    if (fx_live != NULL) {
        fx_free(fx_live);
    }
    return 0;
}

static inline rk_node *fx_node(rk_fixture *fx, rk_node_id id)
{
    rk_node *n = rk_fixture_node(fx, id);
    assert_non_null(n);
    return n;
}

static inline const rk_node_stats *fx_stats(rk_fixture *fx, rk_node_id id)
{
    const rk_node_stats *s = rk_fixture_stats(fx, id);
    assert_non_null(s);
    return s;
}

/* ---- sending ---------------------------------------------------------------------------------- */

/* Send a request to `id` without waiting; its handle. `value` and `context` may be NULL, r and
 * w 0 for the bucket's. */
static inline int64_t fx_send_full(rk_fixture *fx, rk_node_id id, rk_request_kind kind,
                                   const char *key, const char *value, const char *context,
                                   uint32_t r, uint32_t w, uint8_t sloppy)
{
    rk_request req = {.kind = kind,
                      .key = (const uint8_t *)key,
                      .key_len = strlen(key),
                      .value = (const uint8_t *)value,
                      .value_len = value != NULL ? strlen(value) : 0,
                      .context = context,
                      .context_len = context != NULL ? strlen(context) : 0,
                      .r = r,
                      .w = w,
                      .sloppy = sloppy};
    int64_t handle = rk_fixture_request(fx, id, &req);
    assert_true(handle > 0);
    return handle;
}

static inline int64_t fx_send(rk_fixture *fx, rk_node_id id, rk_request_kind kind,
                              const char *key, const char *value, uint32_t r, uint8_t sloppy)
{
    return fx_send_full(fx, id, kind, key, value, NULL, r, 0, sloppy);
}

static inline int64_t fx_send_set(rk_fixture *fx, rk_node_id id, const char *key,
                                  const char *value, uint8_t sloppy)
{
    return fx_send(fx, id, RK_REQ_PUT, key, value, 0, sloppy);
}

/* The reply to `handle`, running the world until it comes; fails the test if it never does,
 * or if the request was answered twice. */
static inline const fx_reply *fx_wait(rk_fixture *fx, int64_t handle)
{
    const fx_reply *r = rk_fixture_wait(fx, handle, FX_WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->answers, 1);
    return r;
}

/* The reply to `handle` after the world went quiet (rk_fixture_pump); fails if none. */
static inline const fx_reply *fx_pumped(rk_fixture *fx, int64_t handle)
{
    assert_int_equal(rk_fixture_pump(fx), 0);
    const fx_reply *r = rk_fixture_reply_get(fx, handle);
    assert_non_null(r);
    assert_int_equal(r->answers, 1);
    return r;
}

/* SADD / SREM (op) of one `member` on key through `id`, pumped to its reply. */
static inline const fx_reply *fx_member_write(rk_fixture *fx, rk_node_id id, rk_op_kind op,
                                              const char *key, const char *member)
{
    const uint8_t *elems[1] = {(const uint8_t *)member};
    size_t lens[1] = {strlen(member)};
    uint8_t arg[64];
    assert_true(rk_elems_encoded_len(lens, 1) <= sizeof(arg));
    size_t len = rk_elems_encode(elems, lens, 1, arg);
    rk_request req = {.kind = RK_REQ_WRITE,
                      .op = (uint8_t)op,
                      .key = (const uint8_t *)key,
                      .key_len = strlen(key),
                      .value = arg,
                      .value_len = len};
    int64_t handle = rk_fixture_request(fx, id, &req);
    assert_true(handle > 0);
    return fx_pumped(fx, handle);
}

/* SET key value through `id`, pumped to its reply. */
static inline const fx_reply *fx_set(rk_fixture *fx, rk_node_id id, const char *key,
                                     const char *value, uint8_t sloppy)
{
    return fx_pumped(fx, fx_send_set(fx, id, key, value, sloppy));
}

/* GET key (R = r, 0 for the bucket's) through `id`, pumped to its reply. */
static inline const fx_reply *fx_get(rk_fixture *fx, rk_node_id id, const char *key, uint32_t r,
                                     uint8_t sloppy)
{
    return fx_pumped(fx, fx_send(fx, id, RK_REQ_GET, key, NULL, r, sloppy));
}

/* RK.BUCKET SET bucket prop value through `id`; every member acknowledged it. */
static inline void fx_bucket_set(rk_fixture *fx, rk_node_id id, const char *bucket,
                                 const char *prop, const char *value, uint32_t nodes)
{
    int64_t handle = rk_fixture_bucket_set(fx, id, bucket, prop, value);
    assert_true(handle > 0);
    const fx_reply *r = fx_pumped(fx, handle);
    assert_int_equal(r->kind, RK_REPLY_INT);
    assert_int_equal(r->integer, nodes);
}

/* ---- scenario --------------------------------------------------------------------------------- */

static inline void fx_down(rk_fixture *fx, rk_node_id id)
{
    rk_fixture_down(fx, id);
}

static inline void fx_up(rk_fixture *fx, rk_node_id id)
{
    rk_fixture_up(fx, id);
}

static inline void fx_advance(rk_fixture *fx, uint64_t ms)
{
    rk_fixture_advance(fx, ms);
}

static inline void fx_pump(rk_fixture *fx)
{
    assert_int_equal(rk_fixture_pump(fx), 0);
}

/* SIGTERM, its clean-stop mark durable, and a restart on the same store (which keeps the
 * epoch). */
static inline void fx_stop_restart(rk_fixture *fx, rk_node_id id)
{
    assert_int_equal(rk_fixture_stop(fx, id), 0);
    rk_fixture_restart(fx, id);
}

/* kill -9 and a restart on the same store. */
static inline void fx_crash_restart(rk_fixture *fx, rk_node_id id)
{
    rk_fixture_crash(fx, id);
    rk_fixture_restart(fx, id);
}

/* ---- the cluster -------------------------------------------------------------------------------- */

/* Hint records held by every live node. */
static inline uint64_t fx_hints_everywhere(rk_fixture *fx)
{
    uint64_t sum = 0;
    for (uint32_t slot = 0; slot < rk_fixture_node_count(fx); slot++) {
        const rk_node_stats *s = rk_fixture_stats(fx, rk_fixture_id_at(fx, slot));
        sum += s != NULL ? s->hints_pending : 0;
    }
    return sum;
}

/* Take every node but `live` down (or bring them back up). */
static inline void fx_down_all_but(rk_fixture *fx, rk_node_id live)
{
    for (uint32_t slot = 0; slot < rk_fixture_node_count(fx); slot++) {
        rk_node_id id = rk_fixture_id_at(fx, slot);
        if (id != live) {
            fx_down(fx, id);
        }
    }
}

static inline void fx_up_all_but(rk_fixture *fx, rk_node_id live)
{
    for (uint32_t slot = 0; slot < rk_fixture_node_count(fx); slot++) {
        rk_node_id id = rk_fixture_id_at(fx, slot);
        if (id != live) {
            fx_up(fx, id);
        }
    }
}

/* A key and its extended preference list: p[] its primaries, f[] the fallbacks in ring order
 * (f[0] stands in for the first primary seen down, f[1] for the second). */
typedef struct fx_key {
    char name[32];
    rk_node_id p[RK_N_MAX];
    rk_node_id f[RK_SIM_NODES_MAX];
} fx_key;

/* The first key "<bucket_prefix>k<i>" whose preference list names every node, the default n of
 * them primaries, with p[0] == want_p1 when want_p1 != 0. Every node must agree on the list. */
static inline void fx_key_find(rk_fixture *fx, const char *bucket_prefix, rk_node_id want_p1,
                               fx_key *out)
{
    uint32_t nodes = rk_fixture_node_count(fx);
    uint32_t n = rk_fixture_node_config(fx)->default_n;
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < 1000; i++) {
        snprintf(out->name, sizeof(out->name), "%sk%u", bucket_prefix, i);
        rk_node_id list[RK_SIM_NODES_MAX];
        uint32_t primaries = 0;
        uint32_t count = rk_node_preflist(fx_node(fx, 1), (const uint8_t *)out->name,
                                          strlen(out->name), list, RK_SIM_NODES_MAX, &primaries);
        assert_int_equal(count, nodes);
        assert_int_equal(primaries, n);
        if (want_p1 != 0 && list[0] != want_p1) {
            continue;
        }
        for (rk_node_id id = 2; id <= nodes; id++) {
            rk_node_id other[RK_SIM_NODES_MAX];
            uint32_t other_primaries = 0;
            assert_int_equal(rk_node_preflist(fx_node(fx, id), (const uint8_t *)out->name,
                                              strlen(out->name), other, RK_SIM_NODES_MAX,
                                              &other_primaries),
                             count);
            assert_memory_equal(other, list, count * sizeof(list[0]));
        }
        memcpy(out->p, list, n * sizeof(list[0]));
        memcpy(out->f, list + n, (count - n) * sizeof(list[0]));
        return;
    }
    fail_msg("no key found");
}

/* ---- what one node holds ---------------------------------------------------------------------- */

/* Bytes of `id`'s own copy of key (0 when it has none). */
static inline size_t fx_local_len(rk_fixture *fx, rk_node_id id, const char *key)
{
    rk_buf buf;
    assert_int_equal(rk_fixture_local_get(fx, id, key, &buf), 0);
    size_t len = buf.len;
    rk_store_buf_free(&buf);
    return len;
}

/* Live siblings of `id`'s own copy of key; *has set when `value` is one of them. */
static inline uint32_t fx_local_live(rk_fixture *fx, rk_node_id id, const char *key,
                                     const char *value, bool *has)
{
    rk_buf buf;
    assert_int_equal(rk_fixture_local_get(fx, id, key, &buf), 0);
    *has = false;
    if (buf.len == 0) {
        return 0;
    }
    rk_dvvset set;
    assert_int_equal(rk_dvvset_decode(buf.data, buf.len, &set), 0);
    rk_store_buf_free(&buf);
    uint32_t live = 0;
    for (uint32_t i = 0; i < set.sibling_count; i++) {
        const rk_sibling *s = &set.siblings[i];
        if (!s->tombstone) {
            live++;
            *has = *has || (s->value_len == strlen(value) &&
                            memcmp(s->value, value, s->value_len) == 0);
        }
    }
    rk_dvvset_deinit(&set);
    return live;
}

/* True when `id`'s own copy of key holds exactly one live sibling, equal to `value`. */
static inline bool fx_local_is(rk_fixture *fx, rk_node_id id, const char *key, const char *value)
{
    bool has = false;
    return fx_local_live(fx, id, key, value, &has) == 1 && has;
}

/* `id`'s own copy of key, decoded into *set (rk_dvvset_deinit it); fails if it has none. */
static inline void fx_local_decode(rk_fixture *fx, rk_node_id id, const char *key, rk_dvvset *set)
{
    rk_buf buf;
    assert_int_equal(rk_fixture_local_get(fx, id, key, &buf), 0);
    assert_true(buf.len > 0);
    assert_int_equal(rk_dvvset_decode(buf.data, buf.len, set), 0);
    rk_store_buf_free(&buf);
}

/* The dot of the only sibling `id` stores under key. */
static inline rk_dot fx_local_dot(rk_fixture *fx, rk_node_id id, const char *key)
{
    rk_dvvset set;
    fx_local_decode(fx, id, key, &set);
    assert_int_equal(set.sibling_count, 1);
    rk_dot dot = set.siblings[0].dot;
    rk_dvvset_deinit(&set);
    return dot;
}

/* The reply is a value equal to `value`. */
static inline void fx_assert_value(const fx_reply *r, const char *value)
{
    assert_int_equal(r->kind, RK_REPLY_VALUE);
    assert_int_equal(r->value_len, strlen(value));
    assert_memory_equal(r->value, value, r->value_len);
}

#endif
