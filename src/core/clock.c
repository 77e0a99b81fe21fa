/* clock.c — the dot floor and LWW stamps (clock.h). */
#include "clock.h"

#include <string.h>

static const uint8_t clock_epoch_key[] = "epoch";

int rk_clock_start(rk_clock *c, rk_local *local, const rk_env *env)
{
    memset(c, 0, sizeof(*c));
    rk_buf buf = {0};
    uint64_t epoch = 0;
    int rc = rk_store_get(env->store, RK_DB_META, clock_epoch_key, sizeof(clock_epoch_key) - 1,
                          &buf);
    if (rc == 0) {
        if (buf.len != 8) {
            rk_store_buf_free(&buf);
            return RK_ECORRUPT;
        }
        for (int i = 0; i < 8; i++) {
            epoch |= (uint64_t)buf.data[i] << (8 * i);
        }
        rk_store_buf_free(&buf);
    } else if (rc != RK_ENOTFOUND) {
        return rc;
    }
    /* Compared without adding: a stored UINT64_MAX would wrap epoch + 1 to 0. */
    if (epoch >= (1ull << (64 - RK_EPOCH_SHIFT)) - 1) {
        return RK_ETOOBIG;
    }
    c->epoch = epoch + 1;
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++) {
        bytes[i] = (uint8_t)(c->epoch >> (8 * i));
    }
    rk_batch_op op = {.kind = RK_BATCH_PUT,
                      .db = RK_DB_META,
                      .key = clock_epoch_key,
                      .key_len = sizeof(clock_epoch_key) - 1,
                      .value = bytes,
                      .value_len = sizeof(bytes)};
    rc = rk_local_write_records(local, &op, 1, &c->epoch_seq);
    if (rc != 0) {
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
