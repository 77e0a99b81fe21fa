/* fuzz_policy.c — libFuzzer target for the collection policies (`union`, `set`:
 * src/core/policy_union.c, policy_set.c, policy_coll.c), the counter and map policies
 * (policy_counter.c, policy_map.c, policy_fields.c) and the element-list codec (elems.h) on
 * states no replica would send: any bytes that rk_dvvset_decode accepts are a state a damaged or
 * hostile peer could hand over, and merging it, answering from it and writing to it must never
 * crash, trip ASan or UBSan, or break an invariant.
 *
 * Input: [u8 control] then up to three sections [u16 LE length][bytes]: state A, state B, and
 * an argument (an SADD/SREM/SMISMEMBER element list, or SISMEMBER's member as it is). Control:
 *   bits 0-1  the bucket's policy (lww, siblings, union, set) for merges, answers and writes
 *   bit 2     raw: a state section is a whole store encoding; otherwise it is the body between
 *             the header and the checksum, which the harness writes (magic, format, tag; XXH3),
 *             so mutations reach the siblings instead of dying at the checksum
 *   bits 3-4  the write: SADD, SREM, DEL, SADD
 *   bit 5     A's tag when wrapped: union (0) or set (1)
 *   bits 6-7  B's tag when wrapped: A's, union, set, values
 * Checked: the argument's codec (check, walk, encode again: the same bytes); each decoded state
 * is valid and encodes to its bytes; every answer is of its kind (SMEMBERS sorted and unique,
 * SCARD its count, SISMEMBER and SMISMEMBER agreeing with it, TYPE none exactly when the key
 * does not exist (nothing is live; of a counter or map, no field exists), errors with a
 * message); A merged with B equals B merged with A when no pruning and no resolution is
 * involved, and a collection merged with itself is itself; a write the bucket's table takes
 * leaves a valid state of its type in which SADD's members are present, SREM's absent, and a
 * set's clock within RK_SET_CLOCK_ENTRIES_MAX after an add; EXISTS and GET of a collection
 * answer without leaking.
 *
 * Every input runs a second time as counter or map states (fuzz_fields): the same sections
 * wrapped with the tag of bit 5's policy (counter, map) for A and, by bits 6-7, A's, counter,
 * map or values for B; the write by bits 3-4 (counter: INCRBY of the argument's first 8 bytes,
 * INCRBY, DEL, INCRBY; map: HSET, HDEL, DEL, HINCRBY of the argument) as a coordinator whose own
 * copy (own_base) is none, A or B by the argument's length. Checked: a merge fails (RK_ECORRUPT
 * when an entry does not parse, RK_ETOOBIG, RK_EWRONGTYPE) leaving the state unchanged, or is
 * the same either way round, and A merged into itself is A; the reads agree (HGETALL sorted and
 * unique, each pair what HGET and HEXISTS answer; HLEN, HKEYS and HVALS its pairs; HMGET what
 * HGET answers; EXISTS and TYPE whether a field exists; GET of a counter its sum in decimal, an
 * error past int64, or nil); a write the table takes leaves valid entries and a reply a read
 * then shows (INCRBY and HINCRBY the value, HSET each field's value, HDEL and DEL nothing), and
 * the old state merged into the new changes nothing (a write only inflates). Build and run:
 * scripts/test-all.sh (make fuzz). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "../../src/core/bucket.h"
#include "../../src/core/elems.h"
#include "../../src/core/policy.h"
#include "../../src/core/policy_fields.h"

#define FUZZ_NAME "fuzz_policy"
#include "fuzz_log.h"

#define FUZZ_SECTIONS 3u
#define FUZZ_MESSAGE_BYTES 160u

typedef struct fuzz_input {
    uint8_t control;
    uint8_t policy;
    bool raw;
    rk_op_kind op;
    uint8_t tags[2];
    const uint8_t *sections[FUZZ_SECTIONS];
    size_t lens[FUZZ_SECTIONS];
} fuzz_input;

static void fuzz_parse(const uint8_t *data, size_t size, fuzz_input *in)
{
    memset(in, 0, sizeof(*in));
    uint8_t control = data[0];
    in->control = control;
    static const rk_op_kind ops[4] = {RK_OP_SADD, RK_OP_SREM, RK_OP_DEL, RK_OP_SADD};
    static const uint8_t b_tags[4] = {0, RK_POLICY_TAG_UNION, RK_POLICY_TAG_SET,
                                      RK_POLICY_TAG_VALUES};
    in->policy = control & 3u;
    in->raw = (control & 4u) != 0;
    in->op = ops[(control >> 3) & 3u];
    in->tags[0] = (control & 0x20u) != 0 ? RK_POLICY_TAG_SET : RK_POLICY_TAG_UNION;
    in->tags[1] = (control >> 6) == 0 ? in->tags[0] : b_tags[control >> 6];
    size_t at = 1;
    for (uint32_t i = 0; i < FUZZ_SECTIONS && size - at >= 2; i++) {
        size_t len = (size_t)data[at] | (size_t)data[at + 1] << 8;
        at += 2;
        len = len < size - at ? len : size - at;
        in->sections[i] = data + at;
        in->lens[i] = len;
        at += len;
    }
}

/* ---- the element-list codec ------------------------------------------------------------ */

static void fuzz_elems(const uint8_t *bytes, size_t len)
{
    uint32_t count = 0;
    if (bytes == NULL || rk_elems_check(bytes, len, &count) != 0) {
        return;
    }
    const uint8_t **members = malloc((count > 0 ? count : 1) * sizeof(*members));
    size_t *lens = malloc((count > 0 ? count : 1) * sizeof(*lens));
    FUZZ_CHECK(members != NULL && lens != NULL);
    rk_elems_iter it;
    rk_elems_iter_init(&it, bytes, len);
    uint32_t walked = 0;
    while (walked < count && rk_elems_next(&it, &members[walked], &lens[walked])) {
        FUZZ_CHECK(members[walked] >= bytes);
        FUZZ_CHECK(members[walked] + lens[walked] <= bytes + len);
        walked++;
    }
    FUZZ_CHECK(walked == count);
    const uint8_t *extra = NULL;
    size_t extra_len = 0;
    FUZZ_CHECK(!rk_elems_next(&it, &extra, &extra_len));
    FUZZ_CHECK(rk_elems_encoded_len(lens, count) == len);
    uint8_t *again = malloc(len);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(rk_elems_encode(members, lens, count, again) == len);
    FUZZ_CHECK(memcmp(again, bytes, len) == 0);
    free(again);
    free(lens);
    free(members);
}

/* ---- states from bytes ----------------------------------------------------------------- */

/* The store encoding of section `i`: as it is (raw), or wrapped in a header of `tag` and its
 * checksum. Owned by the caller (free); NULL for a missing section. */
static uint8_t *fuzz_state_bytes(const fuzz_input *in, uint32_t i, size_t *len_out)
{
    if (in->sections[i] == NULL) {
        return NULL;
    }
    size_t body = in->lens[i];
    size_t len = in->raw ? body : RK_DVVSET_HEAD_BYTES + body + RK_DVVSET_CHECKSUM_BYTES;
    uint8_t *bytes = malloc(len > 0 ? len : 1);     /* exact size: ASan sees any overread */
    FUZZ_CHECK(bytes != NULL);
    if (in->raw) {
        memcpy(bytes, in->sections[i], body);
    } else {
        bytes[0] = RK_DVVSET_MAGIC;
        bytes[1] = RK_DVVSET_FORMAT;
        bytes[2] = in->tags[i];
        bytes[3] = 0;
        memcpy(bytes + RK_DVVSET_HEAD_BYTES, in->sections[i], body);
        uint64_t sum = XXH3_64bits(bytes, RK_DVVSET_HEAD_BYTES + body);
        for (size_t k = 0; k < RK_DVVSET_CHECKSUM_BYTES; k++) {
            bytes[RK_DVVSET_HEAD_BYTES + body + k] = (uint8_t)(sum >> (8 * k));
        }
    }
    *len_out = len;
    return bytes;
}

/* Decode section `i` into *out: true when it is a state (valid, encoding to its own bytes). */
static bool fuzz_state(const fuzz_input *in, uint32_t i, rk_dvvset *out)
{
    size_t len = 0;
    uint8_t *bytes = fuzz_state_bytes(in, i, &len);
    rk_dvvset_init(out);
    if (bytes == NULL) {
        return false;
    }
    int rc = rk_dvvset_decode(bytes, len, out);
    FUZZ_CHECK(rc == 0 || rc == RK_ECORRUPT);
    if (rc == 0) {
        FUZZ_CHECK(rk_dvvset_valid(out));
        FUZZ_CHECK(rk_dvvset_encoded_len(out) == len);
        uint8_t *again = malloc(len);
        FUZZ_CHECK(again != NULL);
        FUZZ_CHECK(rk_dvvset_encode(out, again) == len);
        FUZZ_CHECK(memcmp(again, bytes, len) == 0);
        free(again);
    }
    free(bytes);
    return rc == 0;
}

static bool fuzz_empty(const rk_dvvset *s)
{
    return s->sibling_count == 0 && s->history.entry_count == 0;
}

/* Whether `tag` is a collection's (merged by its own table whatever the bucket). */
static bool fuzz_collection_tag(uint8_t tag)
{
    return tag == RK_POLICY_TAG_UNION || tag == RK_POLICY_TAG_SET;
}

/* Whether `tag` is a counter's or a map's (merged by policy_fields.c whatever the bucket). */
static bool fuzz_fields_tag(uint8_t tag)
{
    return tag == RK_POLICY_TAG_COUNTER || tag == RK_POLICY_TAG_MAP;
}

/* ---- answers --------------------------------------------------------------------------- */

static void fuzz_answer(uint8_t policy, const rk_dvvset *s, rk_request_kind kind, rk_read_kind op,
                        const uint8_t *arg, size_t arg_len, rk_policy_read *out)
{
    rk_policy_query q = {.kind = kind, .op = (uint8_t)op, .arg = arg, .arg_len = arg_len};
    rk_policy_answer(policy, s, &q, out);
    if (out->reply.kind == RK_REPLY_ERROR) {
        FUZZ_CHECK(out->reply.error < 0);
        FUZZ_CHECK(out->reply.message != NULL && out->reply.message[0] != '\0');
    }
}

static int fuzz_bytes_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t common = a_len < b_len ? a_len : b_len;
    int order = common > 0 ? memcmp(a, b, common) : 0;
    return order != 0 ? order : a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

static bool fuzz_in_reply(const rk_reply *members, const uint8_t *m, size_t m_len)
{
    for (uint32_t i = 0; i < members->value_count; i++) {
        if (fuzz_bytes_cmp(members->values[i], members->value_lens[i], m, m_len) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether a read of the element list `arg` (SMISMEMBER, HMGET) answered `kind` with an entry per
 * element, as it must for a list of 1 to RK_COLL_MEMBERS_MAX; for any other, an error. */
static bool fuzz_list_answered(const rk_reply *reply, rk_reply_kind kind, const uint8_t *arg,
                               size_t arg_len)
{
    uint32_t count = 0;
    if (arg == NULL || rk_elems_check(arg, arg_len, &count) != 0 || count == 0 ||
        count > RK_COLL_MEMBERS_MAX) {
        FUZZ_CHECK(reply->kind == RK_REPLY_ERROR);
        return false;
    }
    FUZZ_CHECK(reply->kind == kind);
    FUZZ_CHECK(reply->value_count == count);
    return true;
}

/* SISMEMBER and SMISMEMBER of `arg` against the SMEMBERS answer `members`. */
static void fuzz_check_membership(uint8_t policy, const rk_dvvset *s, const rk_reply *members,
                                  const uint8_t *arg, size_t arg_len)
{
    rk_policy_read r;
    fuzz_answer(policy, s, RK_REQ_READ, RK_READ_SISMEMBER, arg, arg_len, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_INT);
    FUZZ_CHECK(r.reply.integer == (fuzz_in_reply(members, arg, arg_len) ? 1 : 0));
    rk_policy_read_deinit(&r);
    fuzz_answer(policy, s, RK_REQ_READ, RK_READ_SMISMEMBER, arg, arg_len, &r);
    if (fuzz_list_answered(&r.reply, RK_REPLY_INTS, arg, arg_len)) {
        rk_elems_iter it;
        rk_elems_iter_init(&it, arg, arg_len);
        const uint8_t *m = NULL;
        size_t m_len = 0;
        for (uint32_t i = 0; rk_elems_next(&it, &m, &m_len); i++) {
            FUZZ_CHECK(r.reply.integers[i] == (fuzz_in_reply(members, m, m_len) ? 1 : 0));
        }
    }
    rk_policy_read_deinit(&r);
}

/* EXISTS, GET and RK.GET: EXISTS says whether a read finds anything (for a collection, a
 * member: a union version whose bytes are not a member list is live but has none). */
static void fuzz_check_key_reads(uint8_t policy, const rk_dvvset *s, bool found)
{
    rk_policy_read r;
    fuzz_answer(policy, s, RK_REQ_EXISTS, 0, NULL, 0, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_INT);
    FUZZ_CHECK(r.reply.integer == (found ? 1 : 0));
    rk_policy_read_deinit(&r);
    fuzz_answer(policy, s, RK_REQ_GET, 0, NULL, 0, &r);
    rk_policy_read_deinit(&r);
    fuzz_answer(policy, s, RK_REQ_VGET, 0, NULL, 0, &r);
    rk_policy_read_deinit(&r);
}

/* Every read under bucket policy `policy`, each of its kind and agreeing with the others. */
static void fuzz_check_answers(uint8_t policy, const rk_dvvset *s, const uint8_t *arg,
                               size_t arg_len)
{
    bool live = rk_policy_live(s);
    /* A counter or map exists when a field does: one whose actors a DEL reset is live, not. */
    const rk_policy *held = rk_policy_of_state(policy, s);
    bool exists = live && (held->exists == NULL || held->exists(s));
    rk_policy_read r;
    fuzz_answer(policy, s, RK_REQ_READ, RK_READ_TYPE, NULL, 0, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_STATUS);
    FUZZ_CHECK((r.reply.value_len == 4 && memcmp(r.reply.value, "none", 4) == 0) == !exists);
    rk_policy_read_deinit(&r);

    rk_policy_read members;
    fuzz_answer(policy, s, RK_REQ_READ, RK_READ_SMEMBERS, NULL, 0, &members);
    if (members.reply.kind != RK_REPLY_SET) {
        FUZZ_CHECK(members.reply.kind == RK_REPLY_ERROR);
        FUZZ_CHECK(members.reply.error == RK_EWRONGTYPE);
        rk_policy_read_deinit(&members);
        fuzz_check_key_reads(policy, s, exists);
        return;
    }
    FUZZ_CHECK(RK_POLICY_IS_MERGE_TYPE(policy));
    const rk_reply *m = &members.reply;
    for (uint32_t i = 1; i < m->value_count; i++) {
        FUZZ_CHECK(fuzz_bytes_cmp(m->values[i - 1], m->value_lens[i - 1], m->values[i],
                                  m->value_lens[i]) < 0);
    }
    FUZZ_CHECK(m->value_count == 0 || live);
    fuzz_answer(policy, s, RK_REQ_READ, RK_READ_SCARD, NULL, 0, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_INT);
    FUZZ_CHECK(r.reply.integer == (int64_t)m->value_count);
    rk_policy_read_deinit(&r);
    fuzz_check_membership(policy, s, m, arg, arg_len);
    if (m->value_count > 0) {
        fuzz_check_membership(policy, s, m, m->values[0], m->value_lens[0]);
    }
    fuzz_check_key_reads(policy, s, m->value_count > 0);
    rk_policy_read_deinit(&members);
}

/* ---- merges ---------------------------------------------------------------------------- */

/* *out = a merged with b under `policy`; the rc. */
static int fuzz_merged(uint8_t policy, const rk_dvvset *a, const rk_dvvset *b, rk_dvvset *out)
{
    FUZZ_CHECK(rk_dvvset_copy(a, out) == 0);
    int rc = rk_policy_merge(policy, out, b);
    FUZZ_CHECK(rc == 0 || rc == RK_EWRONGTYPE || rc == RK_ETOOBIG || rc == RK_ECORRUPT);
    FUZZ_CHECK(rk_dvvset_valid(out));
    if (rc != 0) {
        FUZZ_CHECK(rk_dvvset_equal(out, a));
    }
    return rc;
}

static void fuzz_check_merges(uint8_t policy, const rk_dvvset *a, const rk_dvvset *b,
                              const uint8_t *arg, size_t arg_len)
{
    rk_dvvset ab;
    rk_dvvset ba;
    int rc_ab = fuzz_merged(policy, a, b, &ab);
    int rc_ba = fuzz_merged(policy, b, a, &ba);
    /* A counter or map with an entry that does not parse is refused by any merge that reads
     * it; merging nothing (an empty state) into it reads nothing. */
    bool corrupt = rc_ab == RK_ECORRUPT || rc_ba == RK_ECORRUPT;
    FUZZ_CHECK(rc_ab == rc_ba || (corrupt && (fuzz_empty(a) || fuzz_empty(b))));
    FUZZ_CHECK(!corrupt || !rk_fields_valid(a) || !rk_fields_valid(b));
    /* Equal either way round unless version.h had to prune, lww resolved values, or both are
     * empty (whose tags merging does not settle: a known bug, test_policy_cart_cases.c). */
    bool a_values = !fuzz_collection_tag(a->type_tag) && !fuzz_fields_tag(a->type_tag);
    bool b_values = !fuzz_collection_tag(b->type_tag) && !fuzz_fields_tag(b->type_tag);
    bool resolves = policy == RK_POLICY_LWW && (a_values || b_values);
    bool pruned = rk_vv_union_count(&a->history, &b->history) > RK_VV_ENTRIES_MAX;
    if (rc_ab == 0 && rc_ba == 0 && !resolves && !pruned && !(fuzz_empty(&ab) && fuzz_empty(&ba))) {
        FUZZ_CHECK(rk_dvvset_equal(&ab, &ba));
    }
    if (rc_ab == 0) {
        fuzz_check_answers(policy, &ab, arg, arg_len);
    }
    rk_dvvset_deinit(&ab);
    rk_dvvset_deinit(&ba);
    if (fuzz_collection_tag(a->type_tag) || fuzz_fields_tag(a->type_tag)) {
        rk_dvvset aa;
        if (fuzz_merged(policy, a, a, &aa) == 0) {
            FUZZ_CHECK(rk_dvvset_equal(&aa, a));
        }
        rk_dvvset_deinit(&aa);
    }
}

/* ---- writes ---------------------------------------------------------------------------- */

static bool fuzz_member_present(uint8_t policy, const rk_dvvset *s, const uint8_t *m,
                                size_t m_len)
{
    rk_policy_read r;
    fuzz_answer(policy, s, RK_REQ_READ, RK_READ_SISMEMBER, m, m_len, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_INT);
    bool present = r.reply.integer == 1;
    rk_policy_read_deinit(&r);
    return present;
}

/* Apply `w` with `table` to a copy of `s` in *copy: 0 with a valid copy, or the table's error
 * (negative, with a message), the copy then freed. */
static int fuzz_apply(const rk_policy *table, const rk_policy_write *w, const rk_dvvset *s,
                      rk_dvvset *copy, rk_policy_applied *applied)
{
    FUZZ_CHECK(rk_dvvset_copy(s, copy) == 0);
    memset(applied, 0, sizeof(*applied));
    char message[FUZZ_MESSAGE_BYTES] = "";
    int rc = table->apply(w, copy, applied, message, sizeof(message));
    free(applied->value);
    applied->value = NULL;
    if (rc != 0) {
        FUZZ_CHECK(rc < 0);
        FUZZ_CHECK(message[0] != '\0');
        rk_dvvset_deinit(copy);
        return rc;
    }
    FUZZ_CHECK(rk_dvvset_valid(copy));
    return 0;
}

/* A coordinator's write of `in->op` with the argument to a copy of `s`, if the bucket's table
 * holds it (coord_put.c answers WRONGTYPE otherwise). */
static void fuzz_check_write(const fuzz_input *in, const rk_dvvset *s)
{
    const rk_policy *table = rk_policy_of(in->policy);
    if (!rk_policy_holds(table, s)) {
        return;
    }
    const uint8_t *arg = in->op == RK_OP_DEL ? NULL : in->sections[2];
    size_t arg_len = in->op == RK_OP_DEL ? 0 : in->lens[2];
    rk_policy_write w = {.op = {.kind = in->op, .arg = arg, .arg_len = arg_len},
                         .coordinator = 1u + (uint32_t)(arg_len % 5u),
                         .dot_floor = arg_len % 3u == 0 ? 0 : 1ull << 40,
                         .stamp_us = 1,
                         .siblings_max = RK_DVVSET_SIBLINGS_DEFAULT,
                         .value_bytes_max = RK_VALUE_BYTES_DEFAULT};
    rk_dvvset copy;
    rk_policy_applied applied;
    if (fuzz_apply(table, &w, s, &copy, &applied) != 0) {
        return;
    }
    if (!RK_POLICY_IS_MERGE_TYPE(in->policy)) {
        FUZZ_CHECK(in->op == RK_OP_DEL);    /* lww and siblings take no set operation */
        rk_dvvset_deinit(&copy);
        return;
    }
    FUZZ_CHECK(copy.type_tag == table->type_tag);
    FUZZ_CHECK(applied.reply_kind == RK_REPLY_INT);
    FUZZ_CHECK(applied.integer >= 0);
    if (in->op == RK_OP_DEL) {
        FUZZ_CHECK(!rk_policy_live(&copy));
        FUZZ_CHECK(applied.integer <= 1);
    } else {
        uint32_t count = 0;
        FUZZ_CHECK(rk_elems_check(arg, arg_len, &count) == 0);
        FUZZ_CHECK(applied.integer <= (int64_t)count);
        rk_elems_iter it;
        rk_elems_iter_init(&it, arg, arg_len);
        const uint8_t *m = NULL;
        size_t m_len = 0;
        while (rk_elems_next(&it, &m, &m_len)) {
            FUZZ_CHECK(fuzz_member_present(in->policy, &copy, m, m_len) ==
                       (in->op == RK_OP_SADD));
        }
    }
    if (in->op == RK_OP_SADD && copy.type_tag == RK_POLICY_TAG_SET) {
        FUZZ_CHECK(copy.history.entry_count <= RK_SET_CLOCK_ENTRIES_MAX);
    }
    rk_dvvset_deinit(&copy);
}

/* ---- counter and map states ------------------------------------------------------------- */

static bool fuzz_value_is(const rk_reply *r, const uint8_t *bytes, size_t len)
{
    return r->kind == RK_REPLY_VALUE && r->value_len == len &&
           (len == 0 || memcmp(r->value, bytes, len) == 0);
}

/* HGET of `name`: true when it answers a value, with a copy of it in *text (free it). */
static bool fuzz_hget(const rk_dvvset *s, const uint8_t *name, size_t len, uint8_t **text,
                      size_t *text_len)
{
    rk_policy_read r;
    fuzz_answer(RK_POLICY_MAP, s, RK_REQ_READ, RK_READ_HGET, name, len, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_VALUE || r.reply.kind == RK_REPLY_NIL);
    bool found = r.reply.kind == RK_REPLY_VALUE;
    *text_len = found ? r.reply.value_len : 0;
    *text = malloc(*text_len > 0 ? *text_len : 1);
    FUZZ_CHECK(*text != NULL);
    if (*text_len > 0) {
        memcpy(*text, r.reply.value, *text_len);
    }
    rk_policy_read_deinit(&r);
    fuzz_answer(RK_POLICY_MAP, s, RK_REQ_READ, RK_READ_HEXISTS, name, len, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_INT);
    FUZZ_CHECK(r.reply.integer == (found ? 1 : 0));
    rk_policy_read_deinit(&r);
    return found;
}

/* HMGET of `arg` against HGET of each of its fields (or an error for a bad field list). */
static void fuzz_check_hmget(const rk_dvvset *s, const uint8_t *arg, size_t arg_len)
{
    rk_policy_read r;
    fuzz_answer(RK_POLICY_MAP, s, RK_REQ_READ, RK_READ_HMGET, arg, arg_len, &r);
    if (!fuzz_list_answered(&r.reply, RK_REPLY_ARRAY, arg, arg_len)) {
        rk_policy_read_deinit(&r);
        return;
    }
    rk_elems_iter it;
    rk_elems_iter_init(&it, arg, arg_len);
    const uint8_t *name = NULL;
    size_t name_len = 0;
    for (uint32_t i = 0; rk_elems_next(&it, &name, &name_len); i++) {
        uint8_t *text = NULL;
        size_t text_len = 0;
        bool found = fuzz_hget(s, name, name_len, &text, &text_len);
        FUZZ_CHECK((r.reply.values[i] != NULL) == found);
        FUZZ_CHECK(!found || (r.reply.value_lens[i] == text_len &&
                              (text_len == 0 || memcmp(r.reply.values[i], text, text_len) == 0)));
        free(text);
    }
    rk_policy_read_deinit(&r);
}

/* A map's reads against each other: HGETALL sorted and unique, each pair what HGET answers;
 * HLEN its count; EXISTS whether it has one; HGET, HEXISTS and HMGET of the argument. */
static void fuzz_check_map_reads(const rk_dvvset *s, const uint8_t *arg, size_t arg_len)
{
    rk_policy_read all;
    fuzz_answer(RK_POLICY_MAP, s, RK_REQ_READ, RK_READ_HGETALL, NULL, 0, &all);
    if (rk_policy_live(s) && s->type_tag != RK_POLICY_TAG_MAP) {
        FUZZ_CHECK(all.reply.kind == RK_REPLY_ERROR && all.reply.error == RK_EWRONGTYPE);
        rk_policy_read_deinit(&all);
        return;
    }
    const rk_reply *m = &all.reply;
    FUZZ_CHECK(m->kind == RK_REPLY_MAP);
    FUZZ_CHECK(m->value_count % 2 == 0);
    for (uint32_t i = 0; i < m->value_count; i += 2) {
        FUZZ_CHECK(i == 0 || fuzz_bytes_cmp(m->values[i - 2], m->value_lens[i - 2], m->values[i],
                                            m->value_lens[i]) < 0);
        uint8_t *text = NULL;
        size_t text_len = 0;
        FUZZ_CHECK(fuzz_hget(s, m->values[i], m->value_lens[i], &text, &text_len));
        FUZZ_CHECK(text_len == m->value_lens[i + 1]);
        FUZZ_CHECK(text_len == 0 || memcmp(text, m->values[i + 1], text_len) == 0);
        free(text);
    }
    rk_policy_read r;
    for (uint32_t half = 0; half < 2; half++) {     /* HKEYS the names, HVALS the values */
        fuzz_answer(RK_POLICY_MAP, s, RK_REQ_READ, half == 0 ? RK_READ_HKEYS : RK_READ_HVALS,
                    NULL, 0, &r);
        FUZZ_CHECK(r.reply.kind == RK_REPLY_ARRAY && r.reply.value_count == m->value_count / 2);
        for (uint32_t i = 0; i < r.reply.value_count; i++) {
            FUZZ_CHECK(fuzz_bytes_cmp(r.reply.values[i], r.reply.value_lens[i],
                                      m->values[2 * i + half], m->value_lens[2 * i + half]) == 0);
        }
        rk_policy_read_deinit(&r);
    }
    fuzz_answer(RK_POLICY_MAP, s, RK_REQ_READ, RK_READ_HLEN, NULL, 0, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_INT && r.reply.integer == m->value_count / 2);
    rk_policy_read_deinit(&r);
    fuzz_answer(RK_POLICY_MAP, s, RK_REQ_EXISTS, 0, NULL, 0, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_INT && r.reply.integer == (m->value_count > 0 ? 1 : 0));
    rk_policy_read_deinit(&r);
    rk_policy_read_deinit(&all);
    uint8_t *text = NULL;
    size_t text_len = 0;
    (void)fuzz_hget(s, arg, arg != NULL ? arg_len : 0, &text, &text_len);
    free(text);
    fuzz_check_hmget(s, arg, arg_len);
}

/* A counter's GET: the decimal of its sum while an increment no remove saw is left, an error
 * past int64, else nil; EXISTS says which. */
static void fuzz_check_counter_reads(const rk_dvvset *s)
{
    rk_policy_read r;
    fuzz_answer(RK_POLICY_COUNTER, s, RK_REQ_GET, 0, NULL, 0, &r);
    if (rk_policy_live(s) && s->type_tag != RK_POLICY_TAG_COUNTER) {
        FUZZ_CHECK(r.reply.kind == RK_REPLY_ERROR || r.reply.kind == RK_REPLY_VALUE);
        rk_policy_read_deinit(&r);
        return;
    }
    bool live = false;
    rk_field_sum sum = rk_fields_counter(s, NULL, 0, &live);
    char text[RK_FIELD_DECIMAL_BYTES + 1];
    if (live && rk_fields_sum_fits(sum)) {
        size_t len = rk_fields_decimal((int64_t)sum, text);
        FUZZ_CHECK(fuzz_value_is(&r.reply, (const uint8_t *)text, len));
    } else {
        FUZZ_CHECK(r.reply.kind == (live ? RK_REPLY_ERROR : RK_REPLY_NIL));
    }
    rk_policy_read_deinit(&r);
    fuzz_answer(RK_POLICY_COUNTER, s, RK_REQ_EXISTS, 0, NULL, 0, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_INT && r.reply.integer == (live ? 1 : 0));
    rk_policy_read_deinit(&r);
}

static void fuzz_check_fields_reads(uint8_t policy, const rk_dvvset *s, const uint8_t *arg,
                                    size_t arg_len)
{
    if (policy == RK_POLICY_MAP) {
        fuzz_check_map_reads(s, arg, arg_len);
    } else {
        fuzz_check_counter_reads(s);
    }
}

/* What a write the table took left: its reply what a read shows (INCRBY and HINCRBY the value,
 * or 0 with nothing left; HSET each field's last value; HDEL and DEL nothing). */
static void fuzz_check_fields_reply(const rk_op *op, const rk_dvvset *s, int64_t reply)
{
    char decimal[RK_FIELD_DECIMAL_BYTES + 1];
    size_t decimal_len = rk_fields_decimal(reply, decimal);
    uint8_t *text = NULL;
    size_t text_len = 0;
    if (op->kind == RK_OP_INCRBY) {
        rk_policy_read r;
        fuzz_answer(RK_POLICY_COUNTER, s, RK_REQ_GET, 0, NULL, 0, &r);
        FUZZ_CHECK(fuzz_value_is(&r.reply, (const uint8_t *)decimal, decimal_len) ||
                   (reply == 0 && r.reply.kind == RK_REPLY_NIL));
        rk_policy_read_deinit(&r);
        return;
    }
    if (op->kind == RK_OP_DEL) {
        FUZZ_CHECK(!rk_policy_of(RK_POLICY_MAP)->exists(s));
        return;
    }
    rk_elems_iter it;
    rk_elems_iter_init(&it, op->arg, op->arg_len);
    const uint8_t *name = NULL;
    size_t name_len = 0;
    while (rk_elems_next(&it, &name, &name_len)) {
        bool found = fuzz_hget(s, name, name_len, &text, &text_len);
        const uint8_t *value = NULL;
        size_t value_len = 0;
        if (op->kind == RK_OP_HDEL) {
            FUZZ_CHECK(!found);
        } else if (op->kind == RK_OP_HINCRBY) {
            FUZZ_CHECK(found ? text_len == decimal_len && memcmp(text, decimal, text_len) == 0
                             : reply == 0);
            free(text);
            return;
        } else {
            FUZZ_CHECK(rk_elems_next(&it, &value, &value_len));
            /* A later pair of the same field wins: check only the last of each. */
            rk_elems_iter rest = it;
            const uint8_t *later = NULL;
            size_t later_len = 0;
            bool again = false;
            for (uint32_t k = 0; rk_elems_next(&rest, &later, &later_len); k++) {
                again = again || (k % 2 == 0 && fuzz_bytes_cmp(later, later_len, name,
                                                               name_len) == 0);
            }
            FUZZ_CHECK(again || (found && text_len == value_len &&
                                 (value_len == 0 || memcmp(text, value, value_len) == 0)));
        }
        free(text);
    }
}

/* A coordinator's write of `op` to a copy of `s` (if the table holds it) with own copy `base`:
 * valid entries, the reply a read shows, and `s` merged into the result changes nothing. */
static void fuzz_fields_write(const fuzz_input *in, uint8_t policy, const rk_dvvset *s,
                              const rk_dvvset *base)
{
    const rk_policy *table = rk_policy_of(policy);
    if (!rk_policy_holds(table, s)) {
        return;
    }
    static const rk_op_kind counter_ops[4] = {RK_OP_INCRBY, RK_OP_INCRBY, RK_OP_DEL,
                                              RK_OP_INCRBY};
    static const rk_op_kind map_ops[4] = {RK_OP_HSET, RK_OP_HDEL, RK_OP_DEL, RK_OP_HINCRBY};
    uint32_t pick = (in->control >> 3) & 3u;
    rk_op op = {.kind = policy == RK_POLICY_MAP ? map_ops[pick] : counter_ops[pick],
                .arg = in->sections[2],
                .arg_len = in->lens[2]};
    uint8_t increment[RK_OP_INCREMENT_BYTES] = {0};
    if (op.kind == RK_OP_INCRBY) {
        if (op.arg_len > 0) {
            memcpy(increment, op.arg, op.arg_len < 8 ? op.arg_len : 8);
        }
        op = (rk_op){.kind = RK_OP_INCRBY, .arg = increment, .arg_len = sizeof(increment)};
    } else if (op.kind == RK_OP_DEL) {
        op = (rk_op){.kind = RK_OP_DEL};
    }
    rk_policy_write w = {.op = op,
                         .coordinator = 1u + (uint32_t)(in->lens[2] % 5u),
                         .dot_floor = in->lens[0] % 3u == 0 ? 0 : 1ull << 40,
                         .stamp_us = 1u + in->lens[1] % 7u,
                         .siblings_max = RK_DVVSET_SIBLINGS_DEFAULT,
                         .value_bytes_max = RK_VALUE_BYTES_DEFAULT,
                         .lineage = 1u + in->lens[0] % 2u,
                         .handback_floor = in->lens[1] % 3u == 0 ? 1ull << 40 : 0,
                         .own_base = base};
    rk_dvvset copy;
    rk_policy_applied applied;
    if (fuzz_apply(table, &w, s, &copy, &applied) != 0) {
        return;
    }
    FUZZ_CHECK(rk_fields_valid(&copy));
    FUZZ_CHECK(copy.type_tag == table->type_tag);
    FUZZ_CHECK(applied.reply_kind == RK_REPLY_INT);
    FUZZ_CHECK(applied.actor_minted == 0 || applied.actor_minted == applied.dot.counter);
    fuzz_check_fields_reply(&op, &copy, applied.integer);
    fuzz_check_fields_reads(policy, &copy, in->sections[2], in->lens[2]);
    /* A write only inflates: the old state merged in changes nothing. */
    rk_dvvset again;
    FUZZ_CHECK(fuzz_merged(policy, &copy, s, &again) == 0);
    FUZZ_CHECK(rk_dvvset_equal(&again, &copy));
    rk_dvvset_deinit(&again);
    rk_dvvset_deinit(&copy);
}

/* The input again as counter or map states (the header's second paragraph). */
static void fuzz_fields(const fuzz_input *in)
{
    static const uint8_t b_tags[4] = {0, RK_POLICY_TAG_COUNTER, RK_POLICY_TAG_MAP,
                                      RK_POLICY_TAG_VALUES};
    uint8_t control = in->control;
    fuzz_input fields = *in;
    uint8_t policy = (control & 0x20u) != 0 ? RK_POLICY_MAP : RK_POLICY_COUNTER;
    fields.tags[0] = rk_policy_of(policy)->type_tag;
    fields.tags[1] = (control >> 6) == 0 ? fields.tags[0] : b_tags[control >> 6];
    rk_dvvset a;
    rk_dvvset b;
    bool a_ok = fuzz_state(&fields, 0, &a);
    bool b_ok = fuzz_state(&fields, 1, &b);
    const uint8_t *arg = in->sections[2];
    size_t arg_len = in->lens[2];
    if (a_ok) {
        fuzz_check_fields_reads(policy, &a, arg, arg_len);
        const rk_dvvset *bases[3] = {NULL, &a, &b};
        fuzz_fields_write(&fields, policy, &a, bases[arg_len % 3]);
        fuzz_check_merges(policy, &a, &b, arg, arg_len);
        rk_dvvset merged;
        if (fuzz_merged(policy, &a, &b, &merged) == 0) {
            fuzz_check_fields_reads(policy, &merged, arg, arg_len);
        }
        rk_dvvset_deinit(&merged);
    }
    if (b_ok) {
        fuzz_check_fields_reads(policy, &b, arg, arg_len);
    }
    rk_dvvset_deinit(&a);
    rk_dvvset_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    fuzz_input in;
    fuzz_parse(data, size, &in);
    const uint8_t *arg = in.sections[2];
    size_t arg_len = in.lens[2];
    fuzz_elems(arg, arg_len);

    rk_dvvset a;
    rk_dvvset b;
    bool a_ok = fuzz_state(&in, 0, &a);
    bool b_ok = fuzz_state(&in, 1, &b);
    for (uint8_t policy = 0; policy <= RK_POLICY_MAX; policy++) {
        if (a_ok) {
            fuzz_check_answers(policy, &a, arg, arg_len);
        }
        if (b_ok) {
            fuzz_check_answers(policy, &b, arg, arg_len);
        }
    }
    if (a_ok) {
        fuzz_check_write(&in, &a);
        fuzz_check_merges(in.policy, &a, &b, arg, arg_len);     /* b empty when not decoded */
    }
    rk_dvvset_deinit(&a);
    rk_dvvset_deinit(&b);
    fuzz_fields(&in);
    return 0;
}
