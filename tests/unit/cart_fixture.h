/* cart_fixture.h — cmocka-side helpers for tests of the collection policies (`union`, `set`,
 * src/core/policy.h) on hand-built states without a node: member lists in the element-list
 * encoding (elems.h), a coordinator's write through the bucket's table (and a string's through
 * lww, for the tests of other types), and the reads answered as rk_policy_answer answers them,
 * with SMEMBERS checked sorted bytewise and unique on every call. Header-only: each test file
 * is its own program. Include after <cmocka.h>. */
#ifndef RK_TEST_CART_FIXTURE_H
#define RK_TEST_CART_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/bucket.h"
#include "../../src/core/elems.h"
#include "../../src/core/policy.h"

#define CART_LIST_BYTES_MAX 1024u   /* every list a test builds by hand fits */
#define CART_MESSAGE_BYTES 160u

/* members[0..count) (lens in parallel) as one element list into out; returns its length. */
static inline size_t cart_list(const uint8_t *const *members, const size_t *lens, uint32_t count,
                               uint8_t *out, size_t out_bytes)
{
    size_t len = rk_elems_encoded_len(lens, count);
    assert_true(len <= out_bytes);
    assert_int_equal(rk_elems_encode(members, lens, count, out), len);
    return len;
}

/* The comma-separated printable members of `csv` as one element list into out. */
static inline size_t cart_list_csv(const char *csv, uint8_t *out, size_t out_bytes)
{
    const uint8_t *members[32];
    size_t lens[32];
    uint32_t count = 0;
    const char *at = csv;
    while (*at != '\0') {
        const char *comma = strchr(at, ',');
        size_t len = comma != NULL ? (size_t)(comma - at) : strlen(at);
        assert_true(count < 32);
        members[count] = (const uint8_t *)at;
        lens[count] = len;
        count++;
        at += len + (comma != NULL ? 1 : 0);
    }
    return cart_list(members, lens, count, out, out_bytes);
}

/* A write of `kind` with the element list `list` through `coordinator` at dot floor `floor`. */
static inline rk_policy_write cart_write(rk_op_kind kind, const uint8_t *list, size_t list_len,
                                         rk_node_id coordinator, uint64_t floor)
{
    return (rk_policy_write){.op = {.kind = kind, .arg = list, .arg_len = list_len},
                             .coordinator = coordinator,
                             .dot_floor = floor,
                             .stamp_us = 1,
                             .siblings_max = RK_DVVSET_SIBLINGS_DEFAULT,
                             .value_bytes_max = RK_VALUE_BYTES_DEFAULT};
}

/* Apply `w` with bucket policy `policy`'s table, as a coordinator does: only to a state the
 * policy holds (coord_put.c answers WRONGTYPE before the table sees any other). The rc, the
 * reply in *reply_out and the message in `message` (CART_MESSAGE_BYTES). */
static inline int cart_try(uint8_t policy, rk_dvvset *state, const rk_policy_write *w,
                           int64_t *reply_out, char *message)
{
    const rk_policy *table = rk_policy_of(policy);
    message[0] = '\0';
    if (!rk_policy_holds(table, state)) {
        return rk_policy_wrongtype(message, CART_MESSAGE_BYTES);
    }
    rk_policy_applied applied;
    memset(&applied, 0, sizeof(applied));
    int rc = table->apply(w, state, &applied, message, CART_MESSAGE_BYTES);
    if (rc == 0) {
        assert_int_equal(applied.reply_kind, RK_REPLY_INT);
        assert_true(rk_dvvset_valid(state));
        *reply_out = applied.integer;
    }
    return rc;
}

/* `kind` of the members in `csv` (NULL for DEL) through `coordinator`: it must succeed;
 * returns the reply count. */
static inline int64_t cart_do(uint8_t policy, rk_dvvset *state, rk_op_kind kind, const char *csv,
                              rk_node_id coordinator)
{
    uint8_t list[CART_LIST_BYTES_MAX];
    size_t len = csv != NULL ? cart_list_csv(csv, list, sizeof(list)) : 0;
    rk_policy_write w = cart_write(kind, csv != NULL ? list : NULL, len, coordinator, 0);
    int64_t reply = -1;
    char message[CART_MESSAGE_BYTES];
    int rc = cart_try(policy, state, &w, &reply, message);
    if (rc != 0) {
        fail_msg("%s %s at node %u: %s (%s)", rk_op_name(kind), csv != NULL ? csv : "",
                 coordinator, rk_strerror(rc), message);
    }
    return reply;
}

/* A string's write (PUT of `value`, or DEL with NULL) through the lww table at `node`: it must
 * succeed. */
static inline void cart_lww(rk_dvvset *state, rk_op_kind kind, const char *value, rk_node_id node)
{
    rk_policy_write w = cart_write(kind, (const uint8_t *)value, value != NULL ? strlen(value) : 0,
                                   node, 0);
    rk_policy_applied applied;
    memset(&applied, 0, sizeof(applied));
    char message[CART_MESSAGE_BYTES];
    int rc = rk_policy_of(RK_POLICY_LWW)->apply(&w, state, &applied, message, sizeof(message));
    if (rc != 0) {
        fail_msg("lww %s: %s (%s)", rk_op_name(kind), rk_strerror(rc), message);
    }
}

/* rk_policy_answer of a read (`kind`, and for RK_REQ_READ `op` with its argument) into *out;
 * free with rk_policy_read_deinit. */
static inline void cart_answer(uint8_t policy, const rk_dvvset *state, rk_request_kind kind,
                               rk_read_kind op, const uint8_t *arg, size_t arg_len,
                               rk_policy_read *out)
{
    rk_policy_query q = {.kind = kind, .op = (uint8_t)op, .arg = arg, .arg_len = arg_len};
    rk_policy_answer(policy, state, &q, out);
}

/* Bytewise order, the shorter first on a common prefix: Redis clients compare SMEMBERS so. */
static inline int cart_bytes_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t common = a_len < b_len ? a_len : b_len;
    int order = common > 0 ? memcmp(a, b, common) : 0;
    if (order != 0) {
        return order;
    }
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

/* Check an SMEMBERS answer is a set reply sorted bytewise with no member twice. */
static inline void cart_check_sorted_unique(const rk_reply *reply)
{
    assert_int_equal(reply->kind, RK_REPLY_SET);
    for (uint32_t i = 1; i < reply->value_count; i++) {
        assert_true(cart_bytes_cmp(reply->values[i - 1], reply->value_lens[i - 1],
                                   reply->values[i], reply->value_lens[i]) < 0);
    }
}

/* SMEMBERS of printable members joined by ',' into buf (checked sorted and unique). */
static inline const char *cart_members(uint8_t policy, const rk_dvvset *state, char *buf,
                                       size_t size)
{
    rk_policy_read read;
    cart_answer(policy, state, RK_REQ_READ, RK_READ_SMEMBERS, NULL, 0, &read);
    cart_check_sorted_unique(&read.reply);
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < read.reply.value_count; i++) {
        used += (size_t)snprintf(buf + used, size - used, "%s%.*s", i > 0 ? "," : "",
                                 (int)read.reply.value_lens[i],
                                 (const char *)read.reply.values[i]);
        assert_true(used < size);
    }
    rk_policy_read_deinit(&read);
    return buf;
}

#endif
