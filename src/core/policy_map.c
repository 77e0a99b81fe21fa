/* policy_map.c — the `map` policy: a key of named fields behind Redis's hash commands (HSET,
 * HGET, HMGET, HDEL, HGETALL, HINCRBY, HLEN, HEXISTS, DEL), each field a last-writer-wins
 * register or a counter (policy_fields.h), in the manner of Riak's maps (riak_dt_map), with
 * removal that removes exactly what the read at R observed.
 *
 * A field name may hold a register and a counter at once: HSET f x concurrent with HINCRBY f 1
 * leaves both, and reads show the counter (a quantity is what a cart keeps). Done one after the
 * other they behave as in Redis: HSET over a counter removes what it saw of the counter, and
 * HINCRBY over a register holding an integer starts the counter from it and removes the
 * register; over a register holding anything else it is refused as in Redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elems.h"
#include "policy_fields.h"

/* The element list `arg`, checked: its count in *count_out, a multiple of `per` and at least
 * `per`. 0 or RK_EINVAL with a message. */
static int map_args(const rk_op *op, uint32_t per, uint32_t *count_out, char *message,
                    size_t message_bytes)
{
    uint32_t count = 0;
    int rc = rk_policy_coll_arg(op->arg, op->arg_len, &count, message, message_bytes);
    if (rc == 0 && count % per != 0) {
        snprintf(message, message_bytes, "wrong number of arguments");
        rc = RK_EINVAL;
    }
    *count_out = count;
    return rc;
}

/* HSET (field, value pairs: how many fields are new) and HDEL (fields: how many existed). */
static int map_fields_write(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                            char *message, size_t message_bytes)
{
    bool set = w->op.kind == RK_OP_HSET;
    uint32_t count = 0;
    int rc = map_args(&w->op, set ? 2 : 1, &count, message, message_bytes);
    if (rc != 0) {
        return rc;      /* a peer's argument is checked before it is walked */
    }
    rk_elems_iter it;
    rk_elems_iter_init(&it, w->op.arg, w->op.arg_len);
    const uint8_t *name = NULL;
    size_t name_len = 0;
    const uint8_t *value = NULL;
    size_t value_len = 0;
    while (rc == 0 && rk_elems_next(&it, &name, &name_len) &&
           (!set || rk_elems_next(&it, &value, &value_len))) {
        bool existed = set ? rk_fields_live(state, name, name_len)
                           : rk_fields_remove(state, name, name_len);
        if (set) {
            rc = rk_fields_set_register(w, state, name, name_len, value, value_len, out, message,
                                        message_bytes);
        }
        out->integer += existed == set ? 0 : 1;
    }
    return rc;
}

static int map_hincrby(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                       char *message, size_t message_bytes)
{
    uint32_t count = 0;
    int rc = map_args(&w->op, 2, &count, message, message_bytes);
    const uint8_t *name = NULL;
    size_t name_len = 0;
    const uint8_t *increment = NULL;
    size_t increment_len = 0;
    if (rc == 0) {
        rk_elems_iter it;
        rk_elems_iter_init(&it, w->op.arg, w->op.arg_len);
        (void)rk_elems_next(&it, &name, &name_len);
        (void)rk_elems_next(&it, &increment, &increment_len);
    }
    if (rc == 0 && (count != 2 || increment_len != RK_OP_INCREMENT_BYTES)) {
        snprintf(message, message_bytes, "HINCRBY takes a field and an 8-byte increment");
        rc = RK_EINVAL;
    }
    if (rc != 0) {
        return rc;
    }
    int64_t delta = rk_op_increment_decode(increment);
    bool counter_live = false;
    rk_field_sum value = rk_fields_counter(state, name, name_len, &counter_live);
    rk_field_entry reg;
    const rk_sibling *shown = counter_live ? NULL : rk_fields_register(state, name, name_len, &reg);
    int64_t base = 0;       /* what a register the counter starts from holds */
    if (shown != NULL && !rk_parse_int64(reg.value, reg.value_len, &base)) {
        snprintf(message, message_bytes, "hash value is not an integer");
        return RK_EINVAL;
    }
    rk_field_sum result = value + base + delta;
    if (!rk_fields_sum_fits(result)) {
        return rk_fields_overflow(message, message_bytes);
    }
    if (shown != NULL) {
        rc = rk_fields_register_to_base(state, shown, base);    /* counted once, by its dot */
    } else {
        rk_fields_drop_registers(state, name, name_len);        /* the counter shows: they go */
    }
    if (rc == 0 && delta != 0) {
        rc = rk_fields_increment(w, state, name, name_len, delta, out, message, message_bytes);
    } else if (rc == 0 && !counter_live && shown == NULL) {
        rc = rk_fields_add_base(w, state, name, name_len, out, message, message_bytes);
    }
    if (rc == RK_ENOMEM) {
        snprintf(message, message_bytes, "out of memory");
    }
    out->integer = (int64_t)result;
    return rc;
}

static int map_apply(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                     char *message, size_t message_bytes)
{
    rk_op_kind kind = w->op.kind;
    if (kind != RK_OP_HSET && kind != RK_OP_HDEL && kind != RK_OP_HINCRBY && kind != RK_OP_DEL) {
        return rk_policy_wrongtype(message, message_bytes);
    }
    /* The caller applies to a copy and keeps it only on success, so an error part-way through
     * a multi-field HSET changes nothing. A deleted key of another type becomes an empty map
     * (its tombstones go, its history stays) before the entries are checked. */
    rk_fields_take_over(state, RK_POLICY_TAG_MAP);
    if (!rk_fields_valid(state)) {
        snprintf(message, message_bytes, "the stored map is damaged");
        return RK_ECORRUPT;
    }
    out->reply_kind = RK_REPLY_INT;
    out->integer = 0;
    switch (kind) {
    case RK_OP_HSET:
    case RK_OP_HDEL:
        return map_fields_write(w, state, out, message, message_bytes);
    case RK_OP_HINCRBY:
        return map_hincrby(w, state, out, message, message_bytes);
    default:
        out->integer = rk_fields_remove(state, NULL, 0) ? 1 : 0;
        return 0;
    }
}

/* ---- reads ---------------------------------------------------------------------------------- */

/* What one field reads as: a counter's decimal text (written into `text`), a register's bytes,
 * or nothing. */
static bool map_field_value(const rk_dvvset *state, const uint8_t *name, size_t name_len,
                            char text[RK_FIELD_DECIMAL_BYTES + 1], const uint8_t **value_out,
                            size_t *len_out)
{
    bool counter_live = false;
    rk_field_sum sum = rk_fields_counter(state, name, name_len, &counter_live);
    if (counter_live) {
        /* Concurrent increments past int64 saturate in the text rather than wrap. */
        int64_t shown = rk_fields_sum_fits(sum) ? (int64_t)sum : sum < 0 ? INT64_MIN : INT64_MAX;
        *len_out = rk_fields_decimal(shown, text);
        *value_out = (const uint8_t *)text;
        return true;
    }
    rk_field_entry e;
    if (rk_fields_register(state, name, name_len, &e) != NULL) {
        *value_out = e.value;
        *len_out = e.value_len;
        return true;
    }
    return false;
}

static void map_error(rk_policy_read *out, int error, const char *text)
{
    snprintf(out->message, sizeof(out->message), "%s", text);
    out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = error, .message = out->message};
}

/* The names of the fields that exist, sorted bytewise and unique, into heap arrays the answer
 * keeps (*names_out, *lens_out); returns the count, or -1 when out of memory. */
static int64_t map_live_names(const rk_dvvset *state, const uint8_t ***names_out,
                              size_t **lens_out)
{
    uint32_t total = state->sibling_count;
    const uint8_t **names = malloc((total > 0 ? total : 1) * sizeof(*names));
    size_t *lens = malloc((total > 0 ? total : 1) * sizeof(*lens));
    if (names == NULL || lens == NULL) {
        free(names);
        free(lens);
        return -1;
    }
    uint32_t count = 0;
    rk_field_entry e;
    for (uint32_t i = 0; i < total; i++) {
        if (rk_fields_parse(&state->siblings[i], &e)) {
            names[count] = e.name;
            lens[count] = e.name_len;
            count++;
        }
    }
    count = rk_policy_coll_sort_unique(names, lens, count);
    uint32_t live = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (rk_fields_live(state, names[i], lens[i])) {
            names[live] = names[i];
            lens[live] = lens[i];
            live++;
        }
    }
    *names_out = names;
    *lens_out = lens;
    return live;
}

/* HGETALL (field, value, ...), HKEYS, HVALS and HLEN. */
static void map_read_all(const rk_dvvset *state, const rk_policy_query *q, rk_policy_read *out)
{
    const uint8_t **names = NULL;
    size_t *lens = NULL;
    int64_t count = map_live_names(state, &names, &lens);
    if (count < 0) {
        map_error(out, RK_ENOMEM, "out of memory");
        return;
    }
    if (q->op == RK_READ_HLEN) {
        out->reply = (rk_reply){.kind = RK_REPLY_INT, .integer = count};
        free(names);
        free(lens);
        return;
    }
    size_t slots = (size_t)count * 2;
    out->heap_values = malloc((slots > 0 ? slots : 1) * sizeof(*out->heap_values));
    out->heap_lens = malloc((slots > 0 ? slots : 1) * sizeof(*out->heap_lens));
    out->heap_text = malloc((count > 0 ? (size_t)count : 1) * (RK_FIELD_DECIMAL_BYTES + 1));
    if (out->heap_values == NULL || out->heap_lens == NULL || out->heap_text == NULL) {
        free(names);
        free(lens);
        map_error(out, RK_ENOMEM, "out of memory");
        return;
    }
    bool keys = q->op != RK_READ_HVALS;
    bool values = q->op != RK_READ_HKEYS;
    uint32_t written = 0;
    for (int64_t i = 0; i < count; i++) {
        char *text = out->heap_text + i * (RK_FIELD_DECIMAL_BYTES + 1);
        if (keys) {
            out->heap_values[written] = names[i];
            out->heap_lens[written] = lens[i];
            written++;
        }
        if (values) {
            bool found = map_field_value(state, names[i], lens[i], text,
                                         &out->heap_values[written], &out->heap_lens[written]);
            RK_ASSERT(found);   /* the names are of fields that exist */
            written++;
        }
    }
    free(names);
    free(lens);
    out->reply = (rk_reply){.kind = keys && values ? RK_REPLY_MAP : RK_REPLY_ARRAY,
                            .value_count = written,
                            .values = out->heap_values,
                            .value_lens = out->heap_lens};
}

/* HMGET: per field its value, or a NULL entry (nil). */
static void map_read_hmget(const rk_dvvset *state, const rk_policy_query *q, rk_policy_read *out)
{
    uint32_t count = 0;
    if (rk_policy_coll_arg(q->arg, q->arg_len, &count, out->message, sizeof(out->message)) != 0) {
        out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = RK_EINVAL,
                                .message = out->message};
        return;
    }
    out->heap_values = calloc(count, sizeof(*out->heap_values));
    out->heap_lens = calloc(count, sizeof(*out->heap_lens));
    out->heap_text = malloc((size_t)count * (RK_FIELD_DECIMAL_BYTES + 1));
    if (out->heap_values == NULL || out->heap_lens == NULL || out->heap_text == NULL) {
        map_error(out, RK_ENOMEM, "out of memory");
        return;
    }
    rk_elems_iter it;
    rk_elems_iter_init(&it, q->arg, q->arg_len);
    const uint8_t *name = NULL;
    size_t name_len = 0;
    for (uint32_t i = 0; rk_elems_next(&it, &name, &name_len); i++) {
        char *text = out->heap_text + (size_t)i * (RK_FIELD_DECIMAL_BYTES + 1);
        if (!map_field_value(state, name, name_len, text, &out->heap_values[i],
                             &out->heap_lens[i])) {
            out->heap_values[i] = NULL;
        }
    }
    out->reply = (rk_reply){.kind = RK_REPLY_ARRAY,
                            .value_count = count,
                            .values = out->heap_values,
                            .value_lens = out->heap_lens};
}

static bool map_exists(const rk_dvvset *state);

static void map_read(const rk_dvvset *state, const rk_policy_query *q, rk_policy_read *out)
{
    memset(&out->reply, 0, sizeof(out->reply));
    if (q->kind == RK_REQ_GET && !map_exists(state)) {
        out->reply.kind = RK_REPLY_NIL;     /* a key that does not exist, as Redis answers */
        return;
    }
    if (q->kind != RK_REQ_READ) {
        map_error(out, RK_EWRONGTYPE, RK_POLICY_WRONGTYPE_MESSAGE);    /* GET, RK.GET */
        return;
    }
    switch ((rk_read_kind)q->op) {
    case RK_READ_HGET:
    case RK_READ_HEXISTS: {
        _Static_assert(sizeof(out->token) > RK_FIELD_DECIMAL_BYTES, "a decimal fits the token");
        const uint8_t *value = NULL;
        size_t len = 0;
        bool found = map_field_value(state, q->arg, q->arg_len, out->token, &value, &len);
        if (q->op == RK_READ_HEXISTS) {
            out->reply = (rk_reply){.kind = RK_REPLY_INT, .integer = found ? 1 : 0};
        } else if (found) {
            out->reply = (rk_reply){.kind = RK_REPLY_VALUE, .value = value, .value_len = len};
        } else {
            out->reply.kind = RK_REPLY_NIL;
        }
        return;
    }
    case RK_READ_HMGET:
        map_read_hmget(state, q, out);
        return;
    case RK_READ_HGETALL:
    case RK_READ_HKEYS:
    case RK_READ_HVALS:
    case RK_READ_HLEN:
        map_read_all(state, q, out);
        return;
    default:
        map_error(out, RK_EWRONGTYPE, RK_POLICY_WRONGTYPE_MESSAGE);    /* a set's reads */
        return;
    }
}

static bool map_exists(const rk_dvvset *state)
{
    rk_field_entry e;
    for (uint32_t i = 0; i < state->sibling_count; i++) {
        if (rk_fields_parse(&state->siblings[i], &e) &&
            (e.kind != RK_FIELD_KIND_COUNTER || e.p != e.rp || e.n != e.rn)) {
            return true;    /* a register, a base, or an increment no remove saw */
        }
    }
    return false;
}

const rk_policy rk_policy_map = {
    .name = "map",
    .type_tag = RK_POLICY_TAG_MAP,
    .type_name = "hash",
    .read_before_write = true,
    .durable_before_send = true,
    .advances_actors = true,
    .exists = map_exists,
    .apply = map_apply,
    .merge = rk_fields_merge,
    .merge_delta = rk_fields_merge,
    .read = map_read,
    .hash = rk_policy_values_hash,
    .is_reapable = rk_policy_values_reapable,
};
