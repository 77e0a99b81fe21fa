/* test_wire_msg.c — the core's messages on the wire, in one step each way (rk_wire_encode_msg,
 * rk_wire_decode; src/net/wire_msg.c). Every rk_msg kind goes rk_msg -> frame bytes -> rk_msg
 * and must come back field for field (bytes compared, not pointers); response statuses keep
 * their exact RK_E* code, show the right coarse Status to a reader of the proto, and degrade
 * sensibly when a peer sends only the Status; what the core must not trust is refused with
 * RK_ECORRUPT and a reason (kinds out of range, quorums above RK_N_MAX, error codes outside the
 * table, unknown flags, versions that do not fit), and a core bug (unknown kind, a status that
 * is not an RK_E* code) is refused on the way out with RK_EINVAL. Envelopes no encoder of ours
 * would send are built with the generated protobuf-c API. Each decode sees an exact-size heap
 * copy of the frame, so ASan catches overreads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/bucket.h"
#include "../../src/core/node.h"
#include "../../src/net/wire.h"
#include "../../src/net/wire_pb.h"
#include "ringkv.pb-c.h"
#include "test_frame.h"

static const uint8_t test_key[] = "cart:alice";
static const uint8_t test_object[] = {0x00, 0x01, 0xff, 'o', 'b', 'j', '\r', '\n'};
static const uint8_t test_value[] = {'v', 0x00, 'a', 'l'};
static const uint8_t test_context[] = "AQDAdnLO";
static const uint8_t test_message[] = "TIMEOUT: needed W=2, 1 answered";

static const uint32_t test_indices[] = {0, 31, 7};
static const uint64_t test_hashes[] = {UINT64_MAX, 1};
static const rk_msg_bytes test_keys[] = {{.len = 10, .data = test_key}, {.len = 0, .data = NULL}};
static const rk_msg_bytes test_objects[] = {{.len = 0, .data = NULL},
                                            {.len = sizeof(test_object), .data = test_object}};

#define TEST_KEY(m)     (m).key = test_key, (m).key_len = sizeof(test_key) - 1
#define TEST_OBJECT(m)  (m).object = test_object, (m).object_len = sizeof(test_object)

/* One sample per kind, with every field the kind carries set to something not zero. */
static void sample(rk_msg_kind kind, rk_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->req_id = 0x0123456789abcdefull;
    switch (kind) {
    case RK_MSG_GET_REQ:
        TEST_KEY(*m);
        m->flags = RK_MSG_GET_PRIMARY;
        return;
    case RK_MSG_GET_RESP:
        TEST_OBJECT(*m);
        return;
    case RK_MSG_PUT_REQ:
        TEST_KEY(*m);
        TEST_OBJECT(*m);
        m->flags = RK_MSG_PUT_REPAIR | RK_MSG_PUT_HANDOFF | RK_MSG_PUT_PLANNED;
        m->hint_owner = 0xfffffffeu;
        return;
    case RK_MSG_PUT_RESP:
        m->status = RK_ENOSPC;
        return;
    case RK_MSG_FWD_REQ:
        TEST_KEY(*m);
        m->req_kind = RK_REQ_VPUT;
        m->value = test_value;
        m->value_len = sizeof(test_value);
        m->context = test_context;
        m->context_len = sizeof(test_context) - 1;
        m->r = 1;
        m->w = RK_N_MAX;
        m->sloppy = RK_SLOPPY_OFF;
        return;
    case RK_MSG_FWD_RESP:
        m->req_kind = RK_REPLY_ERROR;
        m->status = RK_ETIMEDOUT;
        m->integer = -7;
        m->message = test_message;
        m->message_len = sizeof(test_message) - 1;
        return;
    case RK_MSG_BUCKET_SET:
        m->key = test_key;
        m->key_len = 4;
        TEST_OBJECT(*m);
        m->version = 1ull << 40;
        return;
    case RK_MSG_BUCKET_ACK:
        m->integer = INT64_MAX;
        m->status = RK_EIO;
        return;
    case RK_MSG_AAE_REQ:
        m->partition = 63;
        m->level = RK_AAE_SEGMENTS;
        m->indices = test_indices;
        m->index_count = 3;
        return;
    case RK_MSG_AAE_RESP:
        m->partition = 7;
        m->level = RK_AAE_OBJECTS;
        m->status = RK_EBUSY;
        m->hashes = test_hashes;
        m->hash_count = 2;
        m->values = test_keys;
        m->value_count = 2;
        m->objects = test_objects;
        m->object_count = 2;
        return;
    case RK_MSG_EPOCH:
        m->flags = RK_MSG_EPOCH_ASK;
        m->version = 1ull << 20;
        return;
    case RK_MSG_EPOCH_RESP:
        m->version = 77;
        return;
    case RK_MSG_CLUSTER:
        m->req_id = 0; /* gossip carries no request id */
        m->flags = RK_MSG_CLUSTER_REPLY;
        TEST_OBJECT(*m);
        return;
    }
    fail_msg("kind %d has no sample", (int)kind);
}

static void assert_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    assert_int_equal(a_len, b_len);
    if (a_len > 0) {
        assert_memory_equal(a, b, a_len);
    }
}

static void assert_same_msg(const rk_msg *want, const rk_msg *got)
{
    assert_int_equal(got->kind, want->kind);
    assert_int_equal(got->req_id, want->req_id);
    assert_int_equal(got->status, want->status);
    assert_int_equal(got->flags, want->flags);
    assert_bytes(want->key, want->key_len, got->key, got->key_len);
    assert_bytes(want->object, want->object_len, got->object, got->object_len);
    assert_int_equal(got->req_kind, want->req_kind);
    assert_bytes(want->value, want->value_len, got->value, got->value_len);
    assert_bytes(want->context, want->context_len, got->context, got->context_len);
    assert_int_equal(got->r, want->r);
    assert_int_equal(got->w, want->w);
    assert_int_equal(got->integer, want->integer);
    assert_bytes(want->message, want->message_len, got->message, got->message_len);
    assert_int_equal(got->version, want->version);
    assert_int_equal(got->hint_owner, want->hint_owner);
    assert_int_equal(got->sloppy, want->sloppy);
    assert_int_equal(got->op, want->op);
    assert_int_equal(got->value_count, want->value_count);
    for (uint32_t i = 0; i < want->value_count; i++) {
        assert_bytes(want->values[i].data, want->values[i].len, got->values[i].data,
                     got->values[i].len);
    }
    assert_int_equal(got->partition, want->partition);
    assert_int_equal(got->level, want->level);
    assert_int_equal(got->index_count, want->index_count);
    for (uint32_t i = 0; i < want->index_count; i++) {
        assert_int_equal(got->indices[i], want->indices[i]);
    }
    assert_int_equal(got->hash_count, want->hash_count);
    for (uint32_t i = 0; i < want->hash_count; i++) {
        assert_int_equal(got->hashes[i], want->hashes[i]);
    }
    assert_int_equal(got->object_count, want->object_count);
    for (uint32_t i = 0; i < want->object_count; i++) {
        assert_bytes(want->objects[i].data, want->objects[i].len, got->objects[i].data,
                     got->objects[i].len);
    }
}

/* Decode the `len` bytes of one whole frame at `bytes` into *in (owned: rk_wire_in_deinit).
 * Returns rk_wire_decode's result; the reason, if any, is copied into `why` (may be NULL). */
static int decode_frame_bytes(const uint8_t *bytes, size_t len, rk_wire_in *in, char *why)
{
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, bytes, len);
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    rk_wire_frame frame;
    size_t consumed = 0;
    assert_int_equal(rk_wire_decode_frame(&d, copy, len, &frame, &consumed), 1);
    assert_int_equal(consumed, len);
    int rc = rk_wire_decode(&d, &frame, in);
    free(copy);                 /* a decoded frame owns its bytes */
    if (why != NULL) {
        snprintf(why, 160, "%s", d.error);
    }
    return rc;
}

/* rk_msg -> frame -> rk_msg; the message in owner->msg borrows from *owner. */
static void msg_round_trip(const rk_msg *m, rk_wire_in *owner)
{
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    if (rk_wire_encode_msg(&o, m) != 0) {
        fail_msg("encode: %s", o.error);
    }
    assert_int_equal(o.frame_count, 1);
    char why[160];
    if (decode_frame_bytes(o.data, o.len, owner, why) != 0) {
        fail_msg("decode: %s", why);
    }
    assert_int_equal(owner->ctl.type, RK_WIRE_MSG);
    rk_wire_out_deinit(&o);
}

/* Frame a hand-built envelope and decode it. */
static int decode_envelope(const Ringkv__Envelope *env, rk_wire_in *in, char *why)
{
    size_t payload_len = ringkv__envelope__get_packed_size(env);
    size_t len = RK_WIRE_HEADER_BYTES + payload_len;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    test_frame_header(buf, payload_len);
    assert_int_equal(ringkv__envelope__pack(env, buf + RK_WIRE_HEADER_BYTES), payload_len);
    int rc = decode_frame_bytes(buf, len, in, why);
    free(buf);
    return rc;
}

/* The envelope rk_wire_encode_msg wrote for `m`, unpacked by protobuf-c itself, as a reader
 * of the proto sees it (free with ringkv__envelope__free_unpacked). */
static Ringkv__Envelope *encode_and_unpack(const rk_msg *m)
{
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    assert_int_equal(rk_wire_encode_msg(&o, m), 0);
    Ringkv__Envelope *env = ringkv__envelope__unpack(NULL, o.len - RK_WIRE_HEADER_BYTES,
                                                     o.data + RK_WIRE_HEADER_BYTES);
    assert_non_null(env);
    rk_wire_out_deinit(&o);
    return env;
}

/* ---- round trips -------------------------------------------------------------------------- */

/* Every kind of msg.h comes back field for field through real frame bytes. */
static void test_every_kind_round_trips(void **state)
{
    (void)state;
    for (int kind = 1; kind <= RK_MSG_KIND_MAX; kind++) {
        rk_msg m;
        sample((rk_msg_kind)kind, &m);
        rk_wire_in owner;
        msg_round_trip(&m, &owner);
        assert_same_msg(&m, &owner.msg);
        rk_wire_in_deinit(&owner);
        assert_null(owner.unpacked);
    }
}

/* The encoder packs an envelope's body in place (wire.c, wire_env_pack) instead of through
 * ringkv__envelope__pack, which copies a large submessage once more: the bytes must be the
 * very ones protobuf-c writes, for every kind and for objects whose length takes one, two and
 * three varint bytes (the body's length prefix grows with them). */
/* A frame encoded once and copied to another buffer (rk_peers_send_many) is the same bytes
 * and decodes to the same message; a copy over the other buffer's limit is refused whole. */
static void test_copied_frame_is_the_same_message(void **state)
{
    (void)state;
    rk_msg first, m;
    sample(RK_MSG_GET_REQ, &first);
    sample(RK_MSG_PUT_REQ, &m);
    static uint8_t big_object[RK_WIRE_FRAME_BYTES_MIN];    /* a frame past the least limit */
    m.object = big_object;
    m.object_len = sizeof(big_object);
    rk_wire_out src, dst, small;
    assert_int_equal(rk_wire_out_init(&src, NULL), 0);
    assert_int_equal(rk_wire_out_init(&dst, NULL), 0);
    assert_int_equal(rk_wire_encode_msg(&src, &first), 0);
    assert_int_equal(rk_wire_encode_msg(&src, &m), 0);
    assert_int_equal(rk_wire_out_copy_frame(&dst, &src, 1), 0);
    assert_int_equal(dst.frame_count, 1);
    assert_bytes(dst.data, dst.len, src.data + src.frame_off[1], rk_wire_out_frame_bytes(&src, 1));
    rk_wire_in back;
    assert_int_equal(decode_frame_bytes(dst.data, dst.len, &back, NULL), 0);
    assert_same_msg(&m, &back.msg);
    rk_wire_in_deinit(&back);

    rk_wire_limits limits = {.frame_bytes_max = RK_WIRE_FRAME_BYTES_MIN};
    assert_int_equal(rk_wire_out_init(&small, &limits), 0);
    assert_int_equal(rk_wire_out_copy_frame(&small, &src, 1), RK_ETOOBIG);
    assert_int_equal(small.len, 0);
    assert_int_equal(small.frame_count, 0);
    assert_non_null(strstr(small.error, "over the limit"));
    rk_wire_out_deinit(&small);
    rk_wire_out_deinit(&dst);
    rk_wire_out_deinit(&src);
}

static void test_encoding_is_protobuf_c_bytes(void **state)
{
    (void)state;
    static const size_t object_lens[] = {0, 100, 127, 128, 200, 16383, 16384, 70000};
    uint8_t *object = malloc(70000);
    assert_non_null(object);
    for (size_t i = 0; i < 70000; i++) {
        object[i] = (uint8_t)(i * 7u);
    }
    for (int kind = 1; kind <= RK_MSG_KIND_MAX; kind++) {
        for (size_t j = 0; j < sizeof(object_lens) / sizeof(object_lens[0]); j++) {
            rk_msg m;
            sample((rk_msg_kind)kind, &m);
            if (kind == RK_MSG_PUT_REQ || kind == RK_MSG_GET_RESP) {
                m.object = object;
                m.object_len = object_lens[j];
            }
            Ringkv__Envelope env;
            rk_wire_pb_body body;
            char why[RK_WIRE_ERROR_BYTES_MAX];
            int rc = rk_wire_pb_from_msg(&env, &body, &m, why, sizeof(why));
            if (rc != 0) {
                fail_msg("kind %d: %s", kind, why);
            }
            size_t expected_len = ringkv__envelope__get_packed_size(&env);
            uint8_t *expected = malloc(expected_len);
            assert_non_null(expected);
            assert_int_equal(ringkv__envelope__pack(&env, expected), expected_len);

            rk_wire_out o;
            assert_int_equal(rk_wire_out_init(&o, NULL), 0);
            assert_int_equal(rk_wire_encode_msg(&o, &m), 0);
            assert_int_equal(o.len, RK_WIRE_HEADER_BYTES + expected_len);
            assert_memory_equal(o.data + RK_WIRE_HEADER_BYTES, expected, expected_len);
            rk_wire_out_deinit(&o);
            free(expected);
        }
    }
    free(object);
}

/* A forwarded write's answer carries any reply: a value, and the strings of an array, a map
 * and a set, empty ones included, come back string for string. */
static void test_fwd_resp_strings_round_trip(void **state)
{
    (void)state;
    static const rk_msg_bytes strings[4] = {{.len = 5, .data = (const uint8_t *)"apple"},
                                            {.len = 1, .data = (const uint8_t *)"3"},
                                            {.len = 0, .data = NULL},
                                            {.len = 2, .data = (const uint8_t *)"\0x"}};
    static const struct {
        rk_reply_kind kind;
        uint32_t count;
    } cases[] = {{RK_REPLY_VALUE, 1}, {RK_REPLY_ARRAY, 3}, {RK_REPLY_MAP, 4},
                 {RK_REPLY_SET, 4},   {RK_REPLY_ARRAY, 0}, {RK_REPLY_NIL, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rk_msg m;
        memset(&m, 0, sizeof(m));
        m.kind = RK_MSG_FWD_RESP;
        m.req_id = 7;
        m.req_kind = cases[i].kind;
        m.values = cases[i].count > 0 ? strings : NULL;
        m.value_count = cases[i].count;
        rk_wire_in owner;
        msg_round_trip(&m, &owner);
        assert_same_msg(&m, &owner.msg);
        rk_wire_in_deinit(&owner);
    }
}

/* Zero and empty fields survive too: a get of nothing found, an ok put, a blind forwarded
 * write with no context, a bucket push nobody waits on. */
static void test_zero_fields_round_trip(void **state)
{
    (void)state;
    rk_msg cases[5];
    memset(cases, 0, sizeof(cases));
    cases[0].kind = RK_MSG_GET_RESP;
    cases[1].kind = RK_MSG_PUT_RESP;
    cases[2].kind = RK_MSG_FWD_REQ;
    cases[2].req_kind = RK_REQ_PUT;
    TEST_KEY(cases[2]);
    cases[3].kind = RK_MSG_BUCKET_SET;
    TEST_OBJECT(cases[3]);
    cases[4].kind = RK_MSG_FWD_RESP;
    cases[4].req_kind = RK_REPLY_OK;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rk_wire_in owner;
        msg_round_trip(&cases[i], &owner);
        assert_same_msg(&cases[i], &owner.msg);
        rk_wire_in_deinit(&owner);
    }
}

/* An empty key is a Redis key like any other: a forwarded request may carry one. */
static void test_fwd_req_with_empty_key_round_trips(void **state)
{
    (void)state;
    rk_msg m;
    sample(RK_MSG_FWD_REQ, &m);
    m.key = NULL;
    m.key_len = 0;
    rk_wire_in owner;
    msg_round_trip(&m, &owner);
    assert_same_msg(&m, &owner.msg);
    rk_wire_in_deinit(&owner);
}

/* Both ends of every range the decoder checks come back. */
static void test_range_limits_round_trip(void **state)
{
    (void)state;
    static uint8_t key[RK_KEY_BYTES_MAX];
    rk_msg m;
    sample(RK_MSG_GET_REQ, &m);
    m.key = key;
    m.key_len = sizeof(key);
    rk_wire_in owner;
    msg_round_trip(&m, &owner);
    assert_same_msg(&m, &owner.msg);
    rk_wire_in_deinit(&owner);

    sample(RK_MSG_FWD_REQ, &m);
    m.req_kind = RK_REQ_WRITE;     /* the largest kind forwarded */
    m.op = RK_OP_KIND_MAX;
    m.r = RK_N_MAX;
    m.w = 0;
    m.sloppy = 0;
    msg_round_trip(&m, &owner);
    assert_same_msg(&m, &owner.msg);
    rk_wire_in_deinit(&owner);

    sample(RK_MSG_FWD_RESP, &m);
    m.req_kind = RK_REPLY_SET;
    m.status = -(RK_ERROR_COUNT - 1);
    msg_round_trip(&m, &owner);
    assert_same_msg(&m, &owner.msg);
    rk_wire_in_deinit(&owner);
}

/* ---- statuses ----------------------------------------------------------------------------- */

/* Each response status keeps its exact code, and the coarse Status says the right thing to
 * a reader that only knows the proto. */
static void test_status_keeps_code_and_coarse_status(void **state)
{
    (void)state;
    rk_msg m;
    sample(RK_MSG_GET_RESP, &m);
    Ringkv__Envelope *env = encode_and_unpack(&m);
    assert_int_equal(env->get_resp->status, RK_WIRE_STATUS_OK);
    ringkv__envelope__free_unpacked(env, NULL);

    m.object = NULL;
    m.object_len = 0;
    env = encode_and_unpack(&m);
    assert_int_equal(env->get_resp->status, RK_WIRE_STATUS_NOT_FOUND);
    ringkv__envelope__free_unpacked(env, NULL);

    sample(RK_MSG_PUT_RESP, &m);
    m.status = RK_EBUSY;
    env = encode_and_unpack(&m);
    assert_int_equal(env->put_resp->status, RK_WIRE_STATUS_BUSY);
    assert_int_equal(env->put_resp->error, RK_EBUSY);
    ringkv__envelope__free_unpacked(env, NULL);
    m.status = RK_EIO;
    env = encode_and_unpack(&m);
    assert_int_equal(env->put_resp->status, RK_WIRE_STATUS_FAILED);
    ringkv__envelope__free_unpacked(env, NULL);

    for (int code = -1; code > -RK_ERROR_COUNT; code--) {
        m.status = code;
        rk_wire_in owner;
        msg_round_trip(&m, &owner);
        assert_int_equal(owner.msg.status, code);
        rk_wire_in_deinit(&owner);
    }
}

/* A peer that sends only a Status (no error code), or a Status this version does not know,
 * still gives the core a failure it can act on. */
static void test_status_without_code_degrades(void **state)
{
    (void)state;
    const struct {
        uint32_t status;
        int32_t want;
    } cases[] = {
        {RK_WIRE_STATUS_OK, 0},
        {RK_WIRE_STATUS_NOT_FOUND, 0},
        {RK_WIRE_STATUS_FAILED, RK_EIO},
        {RK_WIRE_STATUS_BUSY, RK_EBUSY},
        {42, RK_EIO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Ringkv__Envelope env = RINGKV__ENVELOPE__INIT;
        Ringkv__PutResp put = RINGKV__PUT_RESP__INIT;
        env.body_case = RINGKV__ENVELOPE__BODY_PUT_RESP;
        env.put_resp = &put;
        put.req_id = 5;
        put.status = (Ringkv__Status)cases[i].status;
        rk_wire_in in;
        assert_int_equal(decode_envelope(&env, &in, NULL), 0);
        assert_int_equal(in.ctl.type, RK_WIRE_MSG);
        assert_int_equal(in.msg.kind, RK_MSG_PUT_RESP);
        assert_int_equal(in.msg.req_id, 5);
        assert_int_equal(in.msg.status, cases[i].want);
        rk_wire_in_deinit(&in);
    }
}

/* A failed get carries no object into the core, whatever bytes came along. */
static void test_failed_get_resp_drops_object(void **state)
{
    (void)state;
    Ringkv__Envelope env = RINGKV__ENVELOPE__INIT;
    Ringkv__GetResp get = RINGKV__GET_RESP__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_GET_RESP;
    env.get_resp = &get;
    get.status = RINGKV__STATUS__STATUS_FAILED;
    get.error = RK_EIO;
    get.object.data = (uint8_t *)(uintptr_t)test_object;
    get.object.len = sizeof(test_object);
    rk_wire_in in;
    assert_int_equal(decode_envelope(&env, &in, NULL), 0);
    assert_int_equal(in.msg.status, RK_EIO);
    assert_int_equal(in.msg.object_len, 0);
    assert_null(in.msg.object);
    rk_wire_in_deinit(&in);
}

/* ---- refusals on the way out -------------------------------------------------------------- */

static void assert_encode_refused(const rk_msg *m, const char *why_part)
{
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    assert_int_equal(rk_wire_encode_msg(&o, m), RK_EINVAL);
    if (strstr(o.error, why_part) == NULL) {
        fail_msg("reason [%s] lacks [%s]", o.error, why_part);
    }
    assert_int_equal(o.frame_count, 0);
    assert_int_equal(o.len, 0);
    rk_wire_out_deinit(&o);
}

/* A core bug does not reach the wire: an unknown kind, a status outside the error table, a
 * negative bucket version, unknown put flags, a quorum the peer would refuse. */
static void test_encode_refuses_core_bugs(void **state)
{
    (void)state;
    rk_msg m;
    sample(RK_MSG_PUT_RESP, &m);
    m.kind = (rk_msg_kind)(RK_MSG_KIND_MAX + 1);
    assert_encode_refused(&m, "message kind 14");
    m.kind = (rk_msg_kind)0;
    assert_encode_refused(&m, "message kind 0");

    sample(RK_MSG_PUT_RESP, &m);
    m.status = 1;
    assert_encode_refused(&m, "put_resp: error 1 is not an RK_E* code");
    m.status = -RK_ERROR_COUNT;
    assert_encode_refused(&m, "is not an RK_E* code");

    sample(RK_MSG_BUCKET_ACK, &m);
    m.integer = -1;
    assert_encode_refused(&m, "bucket_ack: version -1 is negative");

    sample(RK_MSG_PUT_REQ, &m);
    m.flags = 0x20;             /* bits 0 (repair) .. 3 (delta), 4 (chunk) are known */
    assert_encode_refused(&m, "put_req: flags 0x20 are unknown");

    sample(RK_MSG_FWD_REQ, &m);
    m.w = RK_N_MAX + 1;
    assert_encode_refused(&m, "W=9");
}

/* A forwarded error text longer than one log line is cut to RK_WIRE_REASON_BYTES_MAX, not
 * refused: the client still gets its error. */
static void test_long_fwd_message_is_cut(void **state)
{
    (void)state;
    uint8_t text[RK_WIRE_REASON_BYTES_MAX + 50];
    memset(text, 'x', sizeof(text));
    rk_msg m;
    sample(RK_MSG_FWD_RESP, &m);
    m.message = text;
    m.message_len = sizeof(text);
    rk_wire_in owner;
    msg_round_trip(&m, &owner);
    assert_int_equal(owner.msg.message_len, RK_WIRE_REASON_BYTES_MAX);
    assert_memory_equal(owner.msg.message, text, RK_WIRE_REASON_BYTES_MAX);
    rk_wire_in_deinit(&owner);
}

/* ---- refusals on the way in --------------------------------------------------------------- */

static void assert_refused(const Ringkv__Envelope *env, const char *why_part)
{
    rk_wire_in in;
    char why[160];
    assert_int_equal(decode_envelope(env, &in, why), RK_ECORRUPT);
    if (strstr(why, why_part) == NULL) {
        fail_msg("reason [%s] lacks [%s]", why, why_part);
    }
    assert_int_equal(in.ctl.type, RK_WIRE_NONE);
    assert_null(in.unpacked);
}

static void assert_accepted(const Ringkv__Envelope *env)
{
    rk_wire_in in;
    char why[160];
    if (decode_envelope(env, &in, why) != 0) {
        fail_msg("refused: %s", why);
    }
    assert_int_equal(in.ctl.type, RK_WIRE_MSG);
    rk_wire_in_deinit(&in);
}

/* What the core must not trust is refused with a reason naming the field and its value; both
 * sides of each range. */
static void test_decode_refuses_out_of_range(void **state)
{
    (void)state;
    Ringkv__Envelope env = RINGKV__ENVELOPE__INIT;
    Ringkv__FwdReq fwd = RINGKV__FWD_REQ__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_FWD_REQ;
    env.fwd_req = &fwd;
    fwd.kind = RK_REQ_WRITE + 1;   /* a read: never forwarded */
    assert_refused(&env, "request kind 9 is not 1 to 8");
    fwd.kind = RK_REQ_WRITE;
    fwd.op = RK_OP_KIND_MAX;
    assert_accepted(&env);
    fwd.op = 0;
    assert_refused(&env, "operation 0 with request kind 8");
    fwd.op = RK_OP_KIND_MAX + 1;
    char why_op[64];
    snprintf(why_op, sizeof(why_op), "operation %u with request kind 8", RK_OP_KIND_MAX + 1);
    assert_refused(&env, why_op);
    fwd.kind = RK_REQ_PUT;
    fwd.op = RK_OP_PUT;
    assert_refused(&env, "operation 1 with request kind 2");
    fwd.op = 0;
    fwd.kind = 0;
    assert_refused(&env, "request kind 0");
    fwd.kind = RK_REQ_GET;
    fwd.r = RK_N_MAX + 1;
    assert_refused(&env, "R=9");
    fwd.r = RK_N_MAX;
    fwd.w = RK_N_MAX;
    assert_accepted(&env);
    fwd.w = RK_N_MAX + 1;
    assert_refused(&env, "W=9");
    fwd.w = 0;
    fwd.sloppy = RK_SLOPPY_OFF + 1;
    assert_refused(&env, "sloppy 3 is not 0 to 2");

    Ringkv__FwdResp resp = RINGKV__FWD_RESP__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_FWD_RESP;
    env.fwd_resp = &resp;
    resp.reply_kind = RK_REPLY_SET + 1;   /* INTS, STATUS: read answers, never forwarded */
    assert_refused(&env, "reply kind 11 is not one of 1 to 10");
    resp.reply_kind = RK_REPLY_VERSIONS;
    assert_refused(&env, "reply kind 6 is not one of 1 to 10 other than 6");
    resp.reply_kind = RK_REPLY_SET;
    assert_accepted(&env);
    /* The strings each kind carries: a value one, a map pairs, an integer none. */
    ProtobufCBinaryData strings[3] = {{.len = 1, .data = (uint8_t *)"a"},
                                      {.len = 1, .data = (uint8_t *)"b"},
                                      {.len = 0, .data = NULL}};
    resp.values = strings;
    resp.n_values = 3;
    resp.reply_kind = RK_REPLY_MAP;
    assert_refused(&env, "reply kind 9 with 3 strings");
    resp.reply_kind = RK_REPLY_VALUE;
    assert_refused(&env, "reply kind 3 with 3 strings");
    resp.reply_kind = RK_REPLY_INT;
    assert_refused(&env, "reply kind 4 with 3 strings");
    resp.reply_kind = RK_REPLY_SET;
    assert_accepted(&env);
    resp.n_values = 2;
    resp.reply_kind = RK_REPLY_MAP;
    assert_accepted(&env);
    resp.n_values = 0;
    resp.values = NULL;
    resp.reply_kind = RK_REPLY_SET;
    uint8_t text[RK_WIRE_REASON_BYTES_MAX + 1];
    memset(text, 'x', sizeof(text));
    resp.message.data = text;
    resp.message.len = sizeof(text);
    assert_refused(&env, "fwd_resp: message is 201 bytes");

    Ringkv__BucketAck ack = RINGKV__BUCKET_ACK__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_BUCKET_ACK;
    env.bucket_ack = &ack;
    ack.version = (uint64_t)INT64_MAX + 1u;
    assert_refused(&env, "version 9223372036854775808");
    ack.version = (uint64_t)INT64_MAX;
    assert_accepted(&env);

    Ringkv__PutReq put = RINGKV__PUT_REQ__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_PUT_REQ;
    env.put_req = &put;
    put.flags = 0x20;
    assert_refused(&env, "put_req: flags 0x20 are unknown");
    put.flags = 0x1f; /* repair, handoff, planned, delta, chunk: every flag known */
    assert_accepted(&env);
    Ringkv__GetReq get = RINGKV__GET_REQ__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_GET_REQ;
    env.get_req = &get;
    get.flags = 0x4; /* bits 0 (asked as a primary) and 1 (members, test_wire_members.c) */
    assert_refused(&env, "get_req: flags 0x4 are unknown");
}

/* A peer cannot make the core print or act on an error code nobody defined, in any field
 * that carries one, even beside an OK status. */
static void test_decode_refuses_error_codes_outside_the_table(void **state)
{
    (void)state;
    Ringkv__Envelope env = RINGKV__ENVELOPE__INIT;
    Ringkv__PutResp put = RINGKV__PUT_RESP__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_PUT_RESP;
    env.put_resp = &put;
    put.status = RINGKV__STATUS__STATUS_FAILED;
    put.error = 5;
    assert_refused(&env, "put_resp: error 5 is not an RK_E* code");
    put.error = -RK_ERROR_COUNT;
    assert_refused(&env, "is not an RK_E* code");
    put.error = -(RK_ERROR_COUNT - 1);
    assert_accepted(&env);

    Ringkv__GetResp get = RINGKV__GET_RESP__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_GET_RESP;
    env.get_resp = &get;
    get.status = RINGKV__STATUS__STATUS_OK;
    get.error = 7;
    assert_refused(&env, "get_resp: error 7");

    Ringkv__FwdResp fwd = RINGKV__FWD_RESP__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_FWD_RESP;
    env.fwd_resp = &fwd;
    fwd.reply_kind = RK_REPLY_ERROR;
    fwd.error = -RK_ERROR_COUNT;
    assert_refused(&env, "fwd_resp: error");

    Ringkv__BucketAck ack = RINGKV__BUCKET_ACK__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_BUCKET_ACK;
    env.bucket_ack = &ack;
    ack.error = 1;
    assert_refused(&env, "bucket_ack: error 1");
}

/* Handshake and heartbeat frames are the runtime's: they decode as control messages and
 * leave the core message empty. */
static void test_control_messages_are_not_core_messages(void **state)
{
    (void)state;
    rk_wire_ctl ctl;
    rk_wire_hello_make(&ctl, "c", NULL, 2, 1);
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    assert_int_equal(rk_wire_encode_ctl(&o, &ctl), 0);
    ctl = (rk_wire_ctl){.type = RK_WIRE_HEARTBEAT};
    assert_int_equal(rk_wire_encode_ctl(&o, &ctl), 0);
    for (size_t i = 0; i < o.frame_count; i++) {
        rk_wire_in in;
        assert_int_equal(decode_frame_bytes(o.data + o.frame_off[i],
                                            rk_wire_out_frame_bytes(&o, i), &in, NULL),
                         0);
        assert_int_equal(in.ctl.type, i == 0 ? RK_WIRE_HELLO : RK_WIRE_HEARTBEAT);
        assert_int_equal(in.msg.kind, 0);
        rk_wire_in_deinit(&in);
    }
    /* A control message is not encoded through the core's path, nor the reverse. */
    rk_wire_ctl as_ctl = {.type = RK_WIRE_MSG};
    assert_int_equal(rk_wire_encode_ctl(&o, &as_ctl), RK_EINVAL);
    assert_string_equal(o.error, "msg is not a control message");
    rk_wire_out_deinit(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_round_trips),
        cmocka_unit_test(test_copied_frame_is_the_same_message),
        cmocka_unit_test(test_encoding_is_protobuf_c_bytes),
        cmocka_unit_test(test_fwd_resp_strings_round_trip),
        cmocka_unit_test(test_zero_fields_round_trip),
        cmocka_unit_test(test_fwd_req_with_empty_key_round_trips),
        cmocka_unit_test(test_range_limits_round_trip),
        cmocka_unit_test(test_status_keeps_code_and_coarse_status),
        cmocka_unit_test(test_status_without_code_degrades),
        cmocka_unit_test(test_failed_get_resp_drops_object),
        cmocka_unit_test(test_encode_refuses_core_bugs),
        cmocka_unit_test(test_long_fwd_message_is_cut),
        cmocka_unit_test(test_decode_refuses_out_of_range),
        cmocka_unit_test(test_decode_refuses_error_codes_outside_the_table),
        cmocka_unit_test(test_control_messages_are_not_core_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
