/* test_env.h — a fake rk_env for unit tests of core parts that ask the world for time, timers
 * and syncs (coord_table, local, durable, clock): the test sets the clock by hand and reads back
 * what was asked of it (timers set, syncs requested); nothing completes by itself. Sends and
 * replies fail the test: the parts under test never make them. Header-only, like test_seed.h:
 * each test file is its own program. Include after <cmocka.h>. */
#ifndef RK_TEST_ENV_H
#define RK_TEST_ENV_H

#include <stdint.h>
#include <string.h>

#include "../../src/core/env.h"

typedef struct test_env {
    rk_env env;
    uint64_t now_ms;
    uint64_t wall_us;
    uint32_t timer_count; /* set_timer calls */
    uint64_t timer_at_ms; /* the last one's */
    uint64_t timer_id;
    uint32_t sync_count; /* sync requests */
    uint64_t sync_seq;   /* the last one's */
} test_env;

static inline uint64_t test_env_now_ms(void *ctx)
{
    return ((test_env *)ctx)->now_ms;
}

static inline uint64_t test_env_wall_us(void *ctx)
{
    return ((test_env *)ctx)->wall_us;
}

static inline uint64_t test_env_random(void *ctx)
{
    (void)ctx;
    return 4;
}

static inline void test_env_send(void *ctx, rk_node_id to, const rk_msg *m)
{
    (void)ctx;
    (void)to;
    (void)m;
    fail_msg("no part under test sends messages");
}

static inline void test_env_set_timer(void *ctx, uint64_t at_ms, uint64_t timer_id)
{
    test_env *f = ctx;
    f->timer_count++;
    f->timer_at_ms = at_ms;
    f->timer_id = timer_id;
}

static inline void test_env_reply(void *ctx, uint64_t client_req, const rk_reply *r)
{
    (void)ctx;
    (void)client_req;
    (void)r;
    fail_msg("no part under test replies to clients");
}

static inline void test_env_sync(void *ctx, uint64_t seq)
{
    test_env *f = ctx;
    f->sync_count++;
    f->sync_seq = seq;
}

/* A fake env over `store` (borrowed; may be NULL for parts that never touch it). */
static inline void test_env_init(test_env *f, rk_store *store)
{
    memset(f, 0, sizeof(*f));
    f->env = (rk_env){.ctx = f,
                      .now_ms = test_env_now_ms,
                      .wall_us = test_env_wall_us,
                      .random = test_env_random,
                      .send = test_env_send,
                      .set_timer = test_env_set_timer,
                      .reply = test_env_reply,
                      .sync = test_env_sync,
                      .store = store};
}

#endif
