/* clock.c — the dot floor, the clean-stop mark and LWW stamps (clock.h). */
#include "clock.h"

#include <string.h>
#include <xxhash.h>

static const uint8_t clock_epoch_key[] = "epoch";
static const uint8_t clock_run_key[] = "run";
static const uint8_t clock_store_id_key[] = "store-id";
static const uint8_t clock_mark_key[] = RK_CLOCK_MARK_KEY;
static const uint8_t clock_store_floor_key[] = "store-floor-epoch";

#define CLOCK_KEY_LEN(key) (sizeof(key) - 1u)
#define CLOCK_MARK_BODY_BYTES (RK_CLOCK_MARK_BYTES - 8u)

_Static_assert(CLOCK_MARK_BODY_BYTES == 1u + 8u + 8u, "format, epoch, fallback_dot_last");

/* What rk_clock_start found of a clean-stop mark. */
typedef struct clock_mark {
    bool present;
    bool intact;                /* its bytes pass the length, format and checksum checks */
    bool valid;                 /* intact, and a mark this store's epoch could have left */
    uint64_t epoch;
    uint64_t fallback_dot_last;
} clock_mark;


void rk_clock_mark_encode(uint64_t epoch, uint64_t fallback_dot_last,
                          uint8_t out[RK_CLOCK_MARK_BYTES])
{
    out[0] = RK_CLOCK_MARK_FORMAT;
    rk_le64_put(out + 1, epoch);
    rk_le64_put(out + 9, fallback_dot_last);
    rk_le64_put(out + CLOCK_MARK_BODY_BYTES, XXH3_64bits(out, CLOCK_MARK_BODY_BYTES));
}

/* Judge the mark's bytes against the stored epoch. A mark is valid only if a clean stop of this
 * very epoch could have written it: its epoch is the stored one (usable, not 0), and its
 * fallback counter is 0 or at least that epoch's floor (every fallback dot of the epoch is) and
 * leaves room above it. */
static void clock_mark_judge(const uint8_t *bytes, size_t len, uint64_t stored_epoch,
                             clock_mark *mark)
{
    if (len != RK_CLOCK_MARK_BYTES || bytes[0] != RK_CLOCK_MARK_FORMAT ||
        rk_le64_get(bytes + CLOCK_MARK_BODY_BYTES) != XXH3_64bits(bytes, CLOCK_MARK_BODY_BYTES)) {
        return;
    }
    mark->intact = true;
    mark->epoch = rk_le64_get(bytes + 1);
    mark->fallback_dot_last = rk_le64_get(bytes + 9);
    bool epoch_ok = mark->epoch == stored_epoch && mark->epoch >= 1 && mark->epoch <= RK_EPOCH_LAST;
    bool fallback_ok = mark->fallback_dot_last == 0 ||
                       (mark->fallback_dot_last >= (mark->epoch << RK_EPOCH_SHIFT) &&
                        mark->fallback_dot_last < UINT64_MAX);
    mark->valid = epoch_ok && fallback_ok;
}

/* Read and judge the clean-stop mark. 0 (absent or not, valid or not) or a store error. */
static int clock_read_mark(const rk_env *env, uint64_t stored_epoch, clock_mark *mark)
{
    memset(mark, 0, sizeof(*mark));
    rk_buf buf = {0};
    int rc = rk_store_get(env->store, RK_DB_META, clock_mark_key, CLOCK_KEY_LEN(clock_mark_key),
                          &buf);
    if (rc == RK_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    mark->present = true;
    clock_mark_judge(buf.data, buf.len, stored_epoch, mark);
    rk_store_buf_free(&buf);
    return 0;
}

/* This start's epoch from the stored one and the mark: kept after a clean stop, else bumped
 * (from the mark's epoch if an intact mark names a higher one: the floor never goes back).
 * 0 or RK_ETOOBIG. */
static int clock_next_epoch(rk_clock *c, uint64_t stored_epoch, const clock_mark *mark)
{
    if (mark->valid) {
        c->epoch = stored_epoch;
        c->epoch_kept = true;
        c->fallback_dot_last = mark->fallback_dot_last;
        return 0;
    }
    if (stored_epoch == 0 && !mark->intact) {
        c->epoch = rk_clock_birth_epoch(c);   /* a new store starts where no other one did */
        c->store_new = true;
        return 0;
    }
    uint64_t base = mark->intact && mark->epoch > stored_epoch ? mark->epoch : stored_epoch;
    /* Compared without adding: a stored UINT64_MAX would wrap base + 1 to 0. */
    if (base >= RK_EPOCH_LAST) {
        return RK_ETOOBIG;
    }
    c->epoch = base + 1;
    return 0;
}

/* rk_clock_start and rk_clock_start_learning: `may_learn` leaves a new store's epoch unwritten
 * and the clock learning. */
static int clock_start(rk_clock *c, rk_local *local, const rk_env *env, bool may_learn)
{
    memset(c, 0, sizeof(*c));
    uint64_t stored_epoch = 0;
    uint64_t stored_run = 0;
    clock_mark mark;
    int rc =
        rk_local_meta_u64(env, clock_epoch_key, CLOCK_KEY_LEN(clock_epoch_key), &stored_epoch);
    if (rc == 0) {
        rc = rk_local_meta_u64(env, clock_run_key, CLOCK_KEY_LEN(clock_run_key), &stored_run);
    }
    if (rc == 0) {
        rc = rk_local_meta_u64(env, clock_store_id_key, CLOCK_KEY_LEN(clock_store_id_key),
                               &c->store_id);
    }
    bool new_store_id = rc == 0 && c->store_id == 0;
    while (rc == 0 && c->store_id == 0) {
        c->store_id = env->random(env->ctx);   /* a store's first start (or from before ids) */
    }
    if (rc == 0) {
        rc = rk_local_meta_u64(env, clock_store_floor_key, CLOCK_KEY_LEN(clock_store_floor_key),
                               &c->store_floor_epoch);
    }
    if (rc == 0) {
        rc = clock_read_mark(env, stored_epoch, &mark);
    }
    if (rc == 0) {
        rc = clock_next_epoch(c, stored_epoch, &mark);
    }
    if (rc != 0) {
        memset(c, 0, sizeof(*c));
        return rc;
    }
    /* Stores from before the run record used the epoch in coordinator ids: start above both.
     * Only the low 16 bits reach an id, so a wrap of the 64-bit count is harmless. */
    c->run = (stored_run > stored_epoch ? stored_run : stored_epoch) + 1;
    /* Every fallback dot of an earlier run is below this start's floor: no actor of theirs is
     * this run's lineage (the copy may have been handed back and deleted). */
    c->handback_floor = rk_clock_dot_floor(c, true) - 1;
    uint8_t epoch_bytes[8];
    uint8_t run_bytes[8];
    uint8_t store_id_bytes[8];
    rk_le64_put(epoch_bytes, c->epoch);
    rk_le64_put(run_bytes, c->run);
    rk_le64_put(store_id_bytes, c->store_id);
    /* One batch: the mark goes with the write that makes this start durable, so a crash of this
     * run can never find it again once a dot was minted. */
    rk_batch_op ops[4] = {
        {.kind = RK_BATCH_PUT,
         .db = RK_DB_META,
         .key = clock_run_key,
         .key_len = CLOCK_KEY_LEN(clock_run_key),
         .value = run_bytes,
         .value_len = sizeof(run_bytes)},
    };
    uint32_t op_count = 1;
    /* A learning store leaves its epoch unwritten: a start after a crash while learning finds
     * the store still new and learns again, instead of bumping a birth epoch nobody checked. */
    c->learning = may_learn && c->store_new;
    if (!c->learning) {
        ops[op_count++] = (rk_batch_op){.kind = RK_BATCH_PUT,
                                        .db = RK_DB_META,
                                        .key = clock_epoch_key,
                                        .key_len = CLOCK_KEY_LEN(clock_epoch_key),
                                        .value = epoch_bytes,
                                        .value_len = sizeof(epoch_bytes)};
    }
    if (mark.present) {
        ops[op_count++] = (rk_batch_op){.kind = RK_BATCH_DEL,
                                        .db = RK_DB_META,
                                        .key = clock_mark_key,
                                        .key_len = CLOCK_KEY_LEN(clock_mark_key)};
    }
    if (new_store_id) {
        ops[op_count++] = (rk_batch_op){.kind = RK_BATCH_PUT,
                                        .db = RK_DB_META,
                                        .key = clock_store_id_key,
                                        .key_len = CLOCK_KEY_LEN(clock_store_id_key),
                                        .value = store_id_bytes,
                                        .value_len = sizeof(store_id_bytes)};
    }
    rc = rk_local_write_records(local, ops, op_count, &c->epoch_seq);
    if (rc != 0) {
        memset(c, 0, sizeof(*c));
        return rc;
    }
    env->sync(env->ctx, c->epoch_seq);
    return 0;
}

int rk_clock_start(rk_clock *c, rk_local *local, const rk_env *env)
{
    return clock_start(c, local, env, false);
}

int rk_clock_start_learning(rk_clock *c, rk_local *local, const rk_env *env)
{
    return clock_start(c, local, env, true);
}

bool rk_clock_learning(const rk_clock *c)
{
    return c->learning;
}

int rk_clock_learned(rk_clock *c, rk_local *local, const rk_env *env, uint64_t seen_epoch)
{
    RK_ASSERT(c->learning);
    RK_ASSERT(c->stop_seq == 0);
    /* Compared without adding: seen_epoch + 1 could wrap. */
    if (seen_epoch >= RK_EPOCH_LAST) {
        return RK_ETOOBIG;
    }
    uint64_t epoch = rk_clock_birth_epoch(c);
    if (seen_epoch + 1 > epoch) {
        epoch = seen_epoch + 1;
    }
    uint8_t epoch_bytes[8];
    rk_le64_put(epoch_bytes, epoch);
    /* The same value twice: the epoch moves on at later starts, the store's floor stays (the
     * dots of durable_before_send writes sit on it, rk_clock_store_floor). */
    rk_batch_op ops[2] = {
        {.kind = RK_BATCH_PUT,
         .db = RK_DB_META,
         .key = clock_epoch_key,
         .key_len = CLOCK_KEY_LEN(clock_epoch_key),
         .value = epoch_bytes,
         .value_len = sizeof(epoch_bytes)},
        {.kind = RK_BATCH_PUT,
         .db = RK_DB_META,
         .key = clock_store_floor_key,
         .key_len = CLOCK_KEY_LEN(clock_store_floor_key),
         .value = epoch_bytes,
         .value_len = sizeof(epoch_bytes)},
    };
    uint64_t seq = 0;
    int rc = rk_local_write_records(local, ops, 2, &seq);
    if (rc != 0) {
        return rc;
    }
    c->epoch = epoch;
    c->store_floor_epoch = epoch;
    c->epoch_seq = seq;
    c->learning = false;
    /* Nothing was minted yet: the floor of every earlier fallback dot is the new epoch's. */
    c->handback_floor = rk_clock_dot_floor(c, true) - 1;
    env->sync(env->ctx, seq);
    return 0;
}

bool rk_clock_ready(const rk_clock *c, uint64_t durable_seq)
{
    return durable_seq >= c->epoch_seq && c->stop_seq == 0 && !c->learning;
}

bool rk_clock_stopping(const rk_clock *c)
{
    return c->stop_seq != 0;
}

int rk_clock_stop(rk_clock *c, rk_local *local, const rk_env *env, uint64_t durable_seq)
{
    RK_ASSERT(c->epoch > 0);
    if (c->stop_seq != 0) {
        return RK_EINVAL;
    }
    if (c->sync_failed) {
        return RK_EIO;
    }
    /* Every dot this run minted was written locally before it left the node; with every write
     * durable, none can be lost, and none is minted after the mark. */
    if (local->written_seq > durable_seq) {
        env->sync(env->ctx, local->written_seq);
        return RK_EBUSY;
    }
    RK_ASSERT(durable_seq >= c->epoch_seq);
    if (c->learning) {
        /* Nothing was minted and no epoch stored: no mark, so the next start finds the store
         * new and learns again. Stopped once this start's own write is durable (it is). */
        RK_ASSERT(c->epoch_seq > 0);
        c->stop_seq = c->epoch_seq;
        return 0;
    }
    uint8_t bytes[RK_CLOCK_MARK_BYTES];
    rk_clock_mark_encode(c->epoch, c->fallback_dot_last, bytes);
    rk_batch_op op = {.kind = RK_BATCH_PUT,
                      .db = RK_DB_META,
                      .key = clock_mark_key,
                      .key_len = CLOCK_KEY_LEN(clock_mark_key),
                      .value = bytes,
                      .value_len = sizeof(bytes)};
    uint64_t seq = 0;
    int rc = rk_local_write_records(local, &op, 1, &seq);
    if (rc != 0) {
        return rc;
    }
    RK_ASSERT(seq > durable_seq);
    c->stop_seq = seq;
    env->sync(env->ctx, seq);
    return 0;
}

int rk_clock_stop_status(const rk_clock *c, uint64_t durable_seq)
{
    RK_ASSERT(c->stop_seq != 0);
    if (c->stop_lost) {
        return RK_EIO;
    }
    return durable_seq >= c->stop_seq ? 0 : RK_EBUSY;
}

void rk_clock_on_sync_failed(rk_clock *c, uint64_t durable_seq)
{
    c->sync_failed = true;
    if (c->stop_seq != 0 && durable_seq < c->stop_seq) {
        c->stop_lost = true;
    }
}

bool rk_clock_bump(rk_clock *c, rk_local *local, const rk_env *env, uint64_t durable_seq)
{
    if (c->bump_epoch == 0) {
        if (c->epoch >= RK_EPOCH_LAST || c->learning || c->stop_seq != 0) {
            return false;
        }
        uint8_t epoch_bytes[8];
        rk_le64_put(epoch_bytes, c->epoch + 1);
        rk_batch_op op = {.kind = RK_BATCH_PUT,
                          .db = RK_DB_META,
                          .key = clock_epoch_key,
                          .key_len = CLOCK_KEY_LEN(clock_epoch_key),
                          .value = epoch_bytes,
                          .value_len = sizeof(epoch_bytes)};
        if (rk_local_write_records(local, &op, 1, &c->bump_seq) != 0) {
            return false;
        }
        c->bump_epoch = c->epoch + 1;
        env->sync(env->ctx, c->bump_seq);
        return false;
    }
    if (durable_seq < c->bump_seq) {
        return false;
    }
    c->epoch = c->bump_epoch;
    c->bump_epoch = 0;
    return true;
}

uint64_t rk_clock_dot_floor(const rk_clock *c, bool fallback)
{
    RK_ASSERT(c->epoch > 0);
    RK_ASSERT(c->stop_seq == 0);    /* a dot minted after the mark would make it a lie */
    uint64_t floor = c->epoch << RK_EPOCH_SHIFT;
    if (fallback) {
        /* The upper half of the epoch's range: since membership changes, a node may coordinate
         * as a fallback a key it minted for as a primary in this epoch (from the floor up, per
         * key), without that copy's history; the halves keep the two apart. */
        floor |= RK_EPOCH_FALLBACK_BIT;
        if (c->fallback_dot_last + 1 > floor) {
            floor = c->fallback_dot_last + 1;
        }
    }
    return floor;
}

void rk_clock_fallback_minted(rk_clock *c, uint64_t counter)
{
    RK_ASSERT(c->stop_seq == 0);
    RK_ASSERT(counter > c->fallback_dot_last);
    c->fallback_dot_last = counter;
}

uint64_t rk_clock_birth_epoch(const rk_clock *c)
{
    RK_ASSERT(c->store_id != 0);
    return 1u + (c->store_id >> 32) % RK_EPOCH_BIRTH_SPAN;
}

uint64_t rk_clock_store_floor(const rk_clock *c)
{
    if (c->store_floor_epoch != 0) {
        return c->store_floor_epoch << RK_EPOCH_SHIFT;   /* learned (rk_clock_learned) */
    }
    return rk_clock_birth_epoch(c) << RK_EPOCH_SHIFT;
}

uint64_t rk_clock_lineage(const rk_clock *c, bool durable_first)
{
    RK_ASSERT(c->store_id != 0);
    if (durable_first) {
        return c->store_id;
    }
    uint8_t bytes[16];
    rk_le64_put(bytes, c->store_id);
    rk_le64_put(bytes + 8, c->epoch);
    uint64_t lineage = XXH3_64bits(bytes, sizeof(bytes));
    return lineage != 0 ? lineage : 1;
}

void rk_clock_on_handback(rk_clock *c)
{
    if (c->fallback_dot_last > c->handback_floor) {
        c->handback_floor = c->fallback_dot_last;
    }
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
