/* clock.c — the dot floor, the run and LWW stamps (clock.h). */
#include "clock.h"

#include <string.h>

static const uint8_t clock_epoch_key[] = "epoch";
static const uint8_t clock_run_key[] = "run";

#define CLOCK_KEY_LEN(key) (sizeof(key) - 1u)

static void clock_put_u64(uint8_t *out, uint64_t value)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(value >> (8 * i));
    }
}

static uint64_t clock_get_u64(const uint8_t *bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < 8; i++) {
        value |= (uint64_t)bytes[i] << (8 * i);
    }
    return value;
}

/* An 8-byte record of RK_DB_META into *out (0 when absent). 0, RK_ECORRUPT or a store error. */
static int clock_read_u64(const rk_env *env, const uint8_t *key, size_t key_len, uint64_t *out)
{
    *out = 0;
    rk_buf buf = {0};
    int rc = rk_store_get(env->store, RK_DB_META, key, key_len, &buf);
    if (rc == RK_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    if (buf.len == 8) {
        *out = clock_get_u64(buf.data);
    } else {
        rc = RK_ECORRUPT;
    }
    rk_store_buf_free(&buf);
    return rc;
}

int rk_clock_start(rk_clock *c, rk_local *local, const rk_env *env)
{
    memset(c, 0, sizeof(*c));
    uint64_t stored_epoch = 0;
    uint64_t stored_run = 0;
    int rc = clock_read_u64(env, clock_epoch_key, CLOCK_KEY_LEN(clock_epoch_key), &stored_epoch);
    if (rc == 0) {
        rc = clock_read_u64(env, clock_run_key, CLOCK_KEY_LEN(clock_run_key), &stored_run);
    }
    if (rc != 0) {
        return rc;
    }
    /* Compared without adding: a stored UINT64_MAX would wrap epoch + 1 to 0. */
    if (stored_epoch >= (1ull << (64 - RK_EPOCH_SHIFT)) - 1) {
        return RK_ETOOBIG;
    }
    c->epoch = stored_epoch + 1;
    /* Stores from before the run record used the epoch in coordinator ids: start above both.
     * Only the low 16 bits reach an id, so a wrap of the 64-bit count is harmless. */
    c->run = (stored_run > stored_epoch ? stored_run : stored_epoch) + 1;
    uint8_t epoch_bytes[8];
    uint8_t run_bytes[8];
    clock_put_u64(epoch_bytes, c->epoch);
    clock_put_u64(run_bytes, c->run);
    rk_batch_op ops[2] = {
        {.kind = RK_BATCH_PUT,
         .db = RK_DB_META,
         .key = clock_epoch_key,
         .key_len = CLOCK_KEY_LEN(clock_epoch_key),
         .value = epoch_bytes,
         .value_len = sizeof(epoch_bytes)},
        {.kind = RK_BATCH_PUT,
         .db = RK_DB_META,
         .key = clock_run_key,
         .key_len = CLOCK_KEY_LEN(clock_run_key),
         .value = run_bytes,
         .value_len = sizeof(run_bytes)},
    };
    rc = rk_local_write_records(local, ops, 2, &c->epoch_seq);
    if (rc != 0) {
        memset(c, 0, sizeof(*c));
        return rc;
    }
    env->sync(env->ctx, c->epoch_seq);
    return 0;
}

bool rk_clock_ready(const rk_clock *c, uint64_t durable_seq)
{
    return durable_seq >= c->epoch_seq;
}

uint64_t rk_clock_dot_floor(const rk_clock *c, bool fallback)
{
    RK_ASSERT(c->epoch > 0);
    uint64_t floor = c->epoch << RK_EPOCH_SHIFT;
    if (fallback && c->fallback_dot_last + 1 > floor) {
        floor = c->fallback_dot_last + 1;
    }
    return floor;
}

void rk_clock_fallback_minted(rk_clock *c, uint64_t counter)
{
    RK_ASSERT(counter > c->fallback_dot_last);
    c->fallback_dot_last = counter;
}

uint64_t rk_clock_stamp_above(rk_clock *c, uint64_t wall_us, uint64_t floor_us)
{
    uint64_t last_us = c->stamp_last_us > floor_us ? c->stamp_last_us : floor_us;
    if (wall_us > last_us) {
        c->stamp_last_us = wall_us;
    } else if (last_us < UINT64_MAX) {
        c->stamp_last_us = last_us + 1;
    } else {
        c->stamp_last_us = UINT64_MAX; /* nothing is above it; wrapping to 0 would go back */
    }
    return c->stamp_last_us;
}
