/* transfer_resume.c — a receiver's progress survives a crash (issue 16 item 1): after each
 * batch the unit's cursor (the last key received) and counts go to RK_DB_META in a record
 * written after the batch's objects, so once the record is durable the objects are too (a
 * store's writes become durable in order). A restarted receiver reads the record of each unit
 * it still receives and asks for the keys after the cursor; batches stored again merge
 * harmlessly. A unit's record goes when it is done; a sweep removes those of older plans. */
#include <stdlib.h>
#include <string.h>

#include "parts.h"
#include "transfer.h"

#define RESUME_PREFIX "xfer:"
#define RESUME_PREFIX_BYTES 5u
#define RESUME_KEY_BYTES (RESUME_PREFIX_BYTES + 8u + 4u)
#define RESUME_SWEEP_MAX 1024u

static void resume_key(uint64_t plan, uint32_t unit, uint8_t out[RESUME_KEY_BYTES])
{
    memcpy(out, RESUME_PREFIX, RESUME_PREFIX_BYTES);
    for (int i = 0; i < 8; i++) {
        out[RESUME_PREFIX_BYTES + i] = (uint8_t)(plan >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; i++) {
        out[RESUME_PREFIX_BYTES + 8 + i] = (uint8_t)(unit >> (24 - 8 * i));
    }
}

int rk_transfer_resume_save(rk_node *n, const rk_xfer *x)
{
    uint8_t key[RESUME_KEY_BYTES];
    uint8_t value[16 + RK_KEY_BYTES_MAX];
    resume_key(n->transfer.plan, x->unit, key);
    rk_le64_put(value, x->keys);
    rk_le64_put(value + 8, x->bytes);
    memcpy(value + 16, x->cursor, x->cursor_len);
    rk_batch_op op = {.kind = RK_BATCH_PUT,
                      .db = RK_DB_META,
                      .key = key,
                      .key_len = sizeof(key),
                      .value = value,
                      .value_len = 16u + x->cursor_len};
    uint64_t seq = 0;
    return rk_local_write_records(&n->local, &op, 1, &seq);
}

void rk_transfer_resume_load(rk_node *n, rk_xfer *x)
{
    uint8_t key[RESUME_KEY_BYTES];
    resume_key(n->transfer.plan, x->unit, key);
    rk_buf found = {0};
    if (rk_store_get(n->env->store, RK_DB_META, key, sizeof(key), &found) != 0) {
        return;
    }
    if (found.len >= 16 && found.len <= 16u + RK_KEY_BYTES_MAX) {
        x->keys = rk_le64_get(found.data);
        x->bytes = rk_le64_get(found.data + 8);
        x->cursor_len = (uint16_t)(found.len - 16);
        memcpy(x->cursor, found.data + 16, x->cursor_len);
        x->has_cursor = true;
        n->stats.transfers_resumed++;
    }
    rk_store_buf_free(&found);
}

void rk_transfer_resume_drop(rk_node *n, uint32_t unit)
{
    uint8_t key[RESUME_KEY_BYTES];
    resume_key(n->transfer.plan, unit, key);
    rk_batch_op op = {.kind = RK_BATCH_DEL, .db = RK_DB_META, .key = key, .key_len = sizeof(key)};
    uint64_t seq = 0;
    (void)rk_local_write_records(&n->local, &op, 1, &seq);
}

typedef struct resume_sweep {
    uint64_t keep_plan;
    uint32_t count;
    uint8_t keys[RESUME_SWEEP_MAX][RESUME_KEY_BYTES];
} resume_sweep;

static int resume_sweep_one(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
                            size_t value_len)
{
    (void)value;
    (void)value_len;
    resume_sweep *s = ctx;
    if (key_len != RESUME_KEY_BYTES) {
        return 0;
    }
    uint64_t plan = 0;
    for (int i = 0; i < 8; i++) {
        plan = plan << 8 | key[RESUME_PREFIX_BYTES + i];
    }
    if (plan == s->keep_plan) {
        return 0;
    }
    memcpy(s->keys[s->count++], key, RESUME_KEY_BYTES);
    return s->count == RESUME_SWEEP_MAX ? 1 : 0;
}

void rk_transfer_resume_sweep(rk_node *n)
{
    resume_sweep *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return;
    }
    s->keep_plan = n->transfer.plan;
    const uint8_t start[] = RESUME_PREFIX;
    const uint8_t end[] = "xfer;"; /* ';' follows ':' */
    if (rk_store_iterate(n->env->store, RK_DB_META, start, RESUME_PREFIX_BYTES, end,
                         RESUME_PREFIX_BYTES, resume_sweep_one, s) >= 0) {
        for (uint32_t i = 0; i < s->count; i++) {
            rk_batch_op op = {.kind = RK_BATCH_DEL,
                              .db = RK_DB_META,
                              .key = s->keys[i],
                              .key_len = RESUME_KEY_BYTES};
            uint64_t seq = 0;
            (void)rk_local_write_records(&n->local, &op, 1, &seq);
        }
    }
    free(s);
}
