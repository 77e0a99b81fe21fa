/* fuzz_policy.c — libFuzzer target for the collection policies (`union`, `set`:
 * src/core/policy_union.c, policy_set.c, policy_coll.c) and the element-list codec (elems.h) on
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
 * SCARD its count, SISMEMBER and SMISMEMBER agreeing with it, TYPE none exactly when nothing is
 * live, errors with a message); A merged with B equals B merged with A when no pruning and no
 * resolution is involved, and a collection merged with itself is itself; a write the bucket's
 * table takes leaves a valid state of its type in which SADD's members are present, SREM's
 * absent, and a set's clock within RK_SET_CLOCK_ENTRIES_MAX after an add; EXISTS and GET of a
 * collection answer without leaking. Build and run: scripts/test-all.sh (make fuzz). */
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

#define FUZZ_NAME "fuzz_policy"
#include "fuzz_log.h"

#define FUZZ_SECTIONS 3u
#define FUZZ_MESSAGE_BYTES 160u

typedef struct fuzz_input {
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
    uint32_t count = 0;
    if (arg == NULL || rk_elems_check(arg, arg_len, &count) != 0 || count == 0 ||
        count > RK_COLL_MEMBERS_MAX) {
        FUZZ_CHECK(r.reply.kind == RK_REPLY_ERROR);
    } else {
        FUZZ_CHECK(r.reply.kind == RK_REPLY_INTS);
        FUZZ_CHECK(r.reply.value_count == count);
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
    rk_policy_read r;
    fuzz_answer(policy, s, RK_REQ_READ, RK_READ_TYPE, NULL, 0, &r);
    FUZZ_CHECK(r.reply.kind == RK_REPLY_STATUS);
    FUZZ_CHECK((r.reply.value_len == 4 && memcmp(r.reply.value, "none", 4) == 0) == !live);
    rk_policy_read_deinit(&r);

    rk_policy_read members;
    fuzz_answer(policy, s, RK_REQ_READ, RK_READ_SMEMBERS, NULL, 0, &members);
    if (members.reply.kind != RK_REPLY_SET) {
        FUZZ_CHECK(members.reply.kind == RK_REPLY_ERROR);
        FUZZ_CHECK(members.reply.error == RK_EWRONGTYPE);
        rk_policy_read_deinit(&members);
        fuzz_check_key_reads(policy, s, live);
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
    FUZZ_CHECK(rc == 0 || rc == RK_EWRONGTYPE || rc == RK_ETOOBIG);
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
    FUZZ_CHECK(rc_ab == rc_ba);
    /* Equal either way round unless version.h had to prune, lww resolved values, or both are
     * empty (whose tags merging does not settle: a known bug, test_policy_cart_cases.c). */
    bool resolves = policy == RK_POLICY_LWW &&
                    (!fuzz_collection_tag(a->type_tag) || !fuzz_collection_tag(b->type_tag));
    bool pruned = rk_vv_union_count(&a->history, &b->history) > RK_VV_ENTRIES_MAX;
    if (rc_ab == 0 && !resolves && !pruned && !(fuzz_empty(&ab) && fuzz_empty(&ba))) {
        FUZZ_CHECK(rk_dvvset_equal(&ab, &ba));
    }
    if (rc_ab == 0) {
        fuzz_check_answers(policy, &ab, arg, arg_len);
    }
    rk_dvvset_deinit(&ab);
    rk_dvvset_deinit(&ba);
    if (fuzz_collection_tag(a->type_tag)) {
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

/* A coordinator's write of `in->op` with the argument to a copy of `s`, if the bucket's table
 * holds it (coord_put.c answers WRONGTYPE otherwise). */
static void fuzz_check_write(const fuzz_input *in, const rk_dvvset *s)
{
    const rk_policy *table = rk_policy_of(in->policy);
    if (!rk_policy_holds(table, s)) {
        return;
    }
    rk_dvvset copy;
    FUZZ_CHECK(rk_dvvset_copy(s, &copy) == 0);
    const uint8_t *arg = in->op == RK_OP_DEL ? NULL : in->sections[2];
    size_t arg_len = in->op == RK_OP_DEL ? 0 : in->lens[2];
    rk_policy_write w = {.op = {.kind = in->op, .arg = arg, .arg_len = arg_len},
                         .coordinator = 1u + (uint32_t)(arg_len % 5u),
                         .dot_floor = arg_len % 3u == 0 ? 0 : 1ull << 40,
                         .stamp_us = 1,
                         .siblings_max = RK_DVVSET_SIBLINGS_DEFAULT,
                         .value_bytes_max = RK_VALUE_BYTES_DEFAULT};
    rk_policy_applied applied;
    memset(&applied, 0, sizeof(applied));
    char message[FUZZ_MESSAGE_BYTES] = "";
    int rc = table->apply(&w, &copy, &applied, message, sizeof(message));
    free(applied.value);
    if (rc != 0) {
        FUZZ_CHECK(rc < 0);
        FUZZ_CHECK(message[0] != '\0');
        rk_dvvset_deinit(&copy);
        return;
    }
    FUZZ_CHECK(rk_dvvset_valid(&copy));
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
    return 0;
}
