/* store.c — the dispatch layer of store.h: picks the engine at open and checks every argument
 * once here (key lengths, batch sizes, sub-database numbers, op kinds), so engines may assert
 * what this layer refused instead of checking it again. Owns no data; engines own theirs. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void store_set_err(char *err, size_t err_len, const char *text)
{
    if (err != NULL && err_len > 0) {
        snprintf(err, err_len, "%s", text);
    }
}

int rk_store_open(const rk_store_options *opts, rk_store **out, char *err, size_t err_len)
{
    RK_ASSERT(out != NULL);
    *out = NULL;
    store_set_err(err, err_len, "");
    const char *engine = opts != NULL && opts->engine != NULL ? opts->engine : "lmdb";
    if (strcmp(engine, "mem") == 0) {
        return rk_store_mem_open(out);
    }
    if (strcmp(engine, "lmdb") == 0) {
        if (opts == NULL || opts->dir == NULL) {
            store_set_err(err, err_len, "lmdb needs a data directory");
            return RK_EINVAL;
        }
        return rk_store_lmdb_open(opts, out, err, err_len);
    }
    if (strcmp(engine, "rocksdb") == 0) {
        if (opts == NULL || opts->dir == NULL) {
            store_set_err(err, err_len, "rocksdb needs a data directory");
            return RK_EINVAL;
        }
        return rk_store_rocksdb_open(opts, out, err, err_len);
    }
    if (err != NULL && err_len > 0) {
        snprintf(err, err_len, "unknown store engine \"%s\": expected lmdb, rocksdb or mem",
                 engine);
    }
    return RK_EINVAL;
}

static bool store_db_ok(rk_db db)
{
    return (unsigned)db < RK_DB_COUNT;
}

static bool store_key_ok(const uint8_t *key, size_t key_len)
{
    return key != NULL && key_len >= 1 && key_len <= RK_LMDB_KEY_BYTES_MAX;
}

/* A bound of an iteration may be empty (it sorts first) but must fit LMDB's key limit. */
static bool store_bound_ok(const uint8_t *bound, size_t bound_len)
{
    if (bound == NULL) {
        return bound_len == 0;
    }
    return bound_len <= RK_LMDB_KEY_BYTES_MAX;
}

int rk_store_get(rk_store *s, rk_db db, const uint8_t *key, size_t key_len, rk_buf *out)
{
    RK_ASSERT(s != NULL);
    RK_ASSERT(out != NULL);
    out->data = NULL;
    out->len = 0;
    if (!store_db_ok(db) || !store_key_ok(key, key_len)) {
        return RK_EINVAL;
    }
    return s->ops->get(s, db, key, key_len, out);
}

int rk_store_write(rk_store *s, const rk_batch_op *ops, size_t op_count, uint64_t *seq_out)
{
    RK_ASSERT(s != NULL);
    RK_ASSERT(seq_out != NULL);
    *seq_out = 0;
    if (ops == NULL || op_count == 0 || op_count > RK_BATCH_OPS_MAX) {
        return RK_EINVAL;
    }
    for (size_t i = 0; i < op_count; i++) {
        const rk_batch_op *op = &ops[i];
        if (!store_db_ok(op->db) || !store_key_ok(op->key, op->key_len)) {
            return RK_EINVAL;
        }
        if (op->kind == RK_BATCH_PUT) {
            if (op->value == NULL && op->value_len != 0) {
                return RK_EINVAL;
            }
            if (op->value_len > RK_VALUE_BYTES_MAX) {
                return RK_ETOOBIG;
            }
        } else if (op->kind != RK_BATCH_DEL) {
            return RK_EINVAL;
        }
    }
    return s->ops->write(s, ops, op_count, seq_out);
}

int rk_store_put(rk_store *s, rk_db db, const uint8_t *key, size_t key_len,
                 const uint8_t *value, size_t value_len, uint64_t *seq_out)
{
    rk_batch_op op = {
        .kind = RK_BATCH_PUT,
        .db = db,
        .key = key,
        .key_len = key_len,
        .value = value,
        .value_len = value_len,
    };
    return rk_store_write(s, &op, 1, seq_out);
}

int rk_store_del(rk_store *s, rk_db db, const uint8_t *key, size_t key_len, uint64_t *seq_out)
{
    rk_batch_op op = {
        .kind = RK_BATCH_DEL,
        .db = db,
        .key = key,
        .key_len = key_len,
    };
    return rk_store_write(s, &op, 1, seq_out);
}

int rk_store_iterate(rk_store *s, rk_db db, const uint8_t *start, size_t start_len,
                     const uint8_t *end, size_t end_len, rk_store_iter_fn fn, void *ctx)
{
    RK_ASSERT(s != NULL);
    if (!store_db_ok(db) || fn == NULL) {
        return RK_EINVAL;
    }
    if (!store_bound_ok(start, start_len) || !store_bound_ok(end, end_len)) {
        return RK_EINVAL;
    }
    return s->ops->iterate(s, db, start, start_len, end, end_len, fn, ctx);
}

int rk_store_sync(rk_store *s, uint64_t seq)
{
    RK_ASSERT(s != NULL);
    return s->ops->sync(s, seq);
}

int rk_store_checkpoint(rk_store *s)
{
    RK_ASSERT(s != NULL);
    return s->ops->checkpoint != NULL ? s->ops->checkpoint(s) : 0;
}

uint64_t rk_store_durable_seq(rk_store *s)
{
    RK_ASSERT(s != NULL);
    return s->ops->durable_seq(s);
}

bool rk_store_is_durable(const rk_store *s)
{
    RK_ASSERT(s != NULL);
    return s->ops->durable;
}

const char *rk_store_engine_name(const rk_store *s)
{
    RK_ASSERT(s != NULL);
    return s->ops->name;
}

const char *rk_store_last_error(rk_store *s)
{
    RK_ASSERT(s != NULL);
    if (s->ops->last_error == NULL) {
        return "";
    }
    const char *text = s->ops->last_error(s);
    return text != NULL ? text : "";
}

void rk_store_close(rk_store *s)
{
    if (s != NULL) {
        s->ops->close(s);
    }
}

void rk_store_buf_free(rk_buf *buf)
{
    if (buf != NULL) {
        free(buf->data);
        buf->data = NULL;
        buf->len = 0;
    }
}
