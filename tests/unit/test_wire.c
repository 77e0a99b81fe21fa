/* test_wire.c — the internode wire codec (src/net/wire.c): frames, limits and the handshake.
 * Every control message and every core message kind (rk_msg, encoded and decoded in one step;
 * test_wire_msg.c covers their fields and refusals in depth) goes through encode and decode
 * and must come back field for field; a stream of frames must decode to the
 * same transcript (messages and errors, as text) however it is split across reads, which is
 * checked at every byte boundary, byte by byte and on seeded random splits. Both sides of the
 * frame limit, bad headers, garbage and truncated payloads, out-of-range fields and the
 * decoder's allocation budget are checked, then the handshake check and its texts, and the
 * frame offsets the runtime uses to coalesce and interleave. Every decode call sees a fresh
 * exact-size heap copy, so ASan catches reads past the bytes received. Random cases print
 * their seed; RK_SEED=<n> replays them. Envelopes no encoder of ours would send are built with
 * the generated protobuf-c API. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/net/wire.h"
#include "ringkv.pb-c.h"
#include "test_frame.h"

#define TEST_GARBAGE_CASES     4000u
#define TEST_GARBAGE_BYTES_MAX 200u
#define TEST_STREAM_FRAMES     100u
/* rk_wire_hello_proof("s3cret", "test-cluster", 7, 0x0123456789abcdef), pinned. */
#define TEST_PROOF_HEX         "042584dbee205d5a9e6e6b0fd4b085f2"

static const rk_wire_limits test_small_limits = {.frame_bytes_max = RK_WIRE_FRAME_BYTES_MIN};

/* ---- helpers ------------------------------------------------------------------------------ */

/* What a decode run produced, as text: one line per message or error. */
typedef struct transcript {
    char *data;
    size_t len;
    size_t capacity;
} transcript;

static void transcript_addf(transcript *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void transcript_addf(transcript *t, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(line));
    if (t->capacity - t->len < (size_t)n + 1) {
        size_t capacity = t->capacity == 0 ? 256 : t->capacity;
        while (capacity - t->len < (size_t)n + 1) {
            capacity *= 2;
        }
        t->data = realloc(t->data, capacity);
        assert_non_null(t->data);
        t->capacity = capacity;
    }
    memcpy(t->data + t->len, line, (size_t)n + 1);
    t->len += (size_t)n;
}

static void transcript_deinit(transcript *t)
{
    free(t->data);
    memset(t, 0, sizeof(*t));
}

/* Short byte strings are shown whole, long ones by length and FNV-1a. */
static void transcript_bytes(transcript *t, const char *name, const uint8_t *data, size_t len)
{
    if (len <= 32) {
        transcript_addf(t, " %s=[", name);
        for (size_t i = 0; i < len; i++) {
            transcript_addf(t, "%02x", data[i]);
        }
        transcript_addf(t, "]");
        return;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ data[i]) * 0x100000001b3ull;
    }
    transcript_addf(t, " %s=%zu:%016llx", name, len, (unsigned long long)h);
}

/* Every field of a core message, as one line's worth of text. */
static void transcript_core(transcript *t, const rk_msg *m)
{
    transcript_addf(t, "%s req=%llu status=%d flags=%u req_kind=%u r=%u w=%u integer=%lld "
                    "version=%llu hint=%u sloppy=%u",
                    rk_wire_kind_name(m->kind), (unsigned long long)m->req_id, (int)m->status,
                    m->flags, m->req_kind, m->r, m->w, (long long)m->integer,
                    (unsigned long long)m->version, m->hint_owner, m->sloppy);
    transcript_bytes(t, "key", m->key, m->key_len);
    transcript_bytes(t, "object", m->object, m->object_len);
    transcript_bytes(t, "value", m->value, m->value_len);
    transcript_bytes(t, "context", m->context, m->context_len);
    transcript_bytes(t, "message", m->message, m->message_len);
}

/* A decoded frame (or a sample to encode: the same struct, nothing unpacked) as text. */
static void transcript_msg(transcript *t, const rk_wire_in *in)
{
    const rk_wire_ctl *m = &in->ctl;
    if (m->type == RK_WIRE_MSG) {
        transcript_core(t, &in->msg);
        transcript_addf(t, "\n");
        return;
    }
    transcript_addf(t, "%s", rk_wire_type_name(m->type));
    switch (m->type) {
    case RK_WIRE_HELLO:
        transcript_addf(t, " v=%u cluster=%s node=%u nonce=%llx proof=",
                        m->u.hello.protocol_version, m->u.hello.cluster, m->u.hello.node_id,
                        (unsigned long long)m->u.hello.nonce);
        if (m->u.hello.has_proof) {
            for (size_t i = 0; i < RK_WIRE_PROOF_BYTES; i++) {
                transcript_addf(t, "%02x", m->u.hello.proof[i]);
            }
        } else {
            transcript_addf(t, "none");
        }
        break;
    case RK_WIRE_HELLO_ACK:
        transcript_addf(t, " refusal=%u reason='%s'", m->u.hello_ack.refusal,
                        m->u.hello_ack.reason != NULL ? m->u.hello_ack.reason : "");
        break;
    case RK_WIRE_HEARTBEAT:
        transcript_addf(t, " seq=%llu sent_ms=%llu", (unsigned long long)m->u.heartbeat.seq,
                        (unsigned long long)m->u.heartbeat.sent_ms);
        break;
    default:
        break;
    }
    transcript_addf(t, "\n");
}

/* Sample messages, one per type and kind (index 0..10): the three control messages, then the
 * core's eight kinds, with bytes borrowed from static storage. A sample is an rk_wire_in with
 * nothing unpacked, so a sample and a decoded frame print alike. */
static const uint8_t sample_key[] = "cart:alice";
static const uint8_t sample_object[] = {0x01, 0x00, 0xff, 0x7f, 0x80, 'v', 'a', 'l', '\r', '\n'};
#define SAMPLE_COUNT 11u
#define SAMPLE_PUT_REQ 5u

static void sample_core(uint32_t index, rk_msg *m)
{
    m->kind = (rk_msg_kind)(index - 2u);
    switch (m->kind) {
    case RK_MSG_GET_REQ:
        m->req_id = 1ull << 40;
        m->key = sample_key;
        m->key_len = sizeof(sample_key) - 1;
        break;
    case RK_MSG_GET_RESP:
        m->req_id = 9;
        m->object = sample_object;
        m->object_len = sizeof(sample_object);
        break;
    case RK_MSG_PUT_REQ:
        m->req_id = 10;
        m->key = sample_key;
        m->key_len = sizeof(sample_key) - 1;
        m->object = sample_object;
        m->object_len = sizeof(sample_object);
        m->flags = RK_MSG_PUT_HANDOFF;
        m->hint_owner = UINT32_MAX;
        break;
    case RK_MSG_PUT_RESP:
        m->req_id = 10;
        m->status = RK_EBUSY;
        break;
    case RK_MSG_FWD_REQ:
        m->req_id = UINT64_MAX;
        m->req_kind = 6;
        m->key = sample_key;
        m->key_len = sizeof(sample_key) - 1;
        m->value = sample_object;
        m->value_len = sizeof(sample_object);
        m->context = (const uint8_t *)"AQDAdnLO";
        m->context_len = 8;
        m->r = 2;
        m->w = 3;
        m->sloppy = 2;
        break;
    case RK_MSG_FWD_RESP:
        m->req_id = 11;
        m->req_kind = 5;
        m->integer = INT64_MIN;
        m->status = RK_ETIMEDOUT;
        m->message = (const uint8_t *)"TIMEOUT need W=2";
        m->message_len = 16;
        break;
    case RK_MSG_BUCKET_SET:
        m->req_id = 12;
        m->key = sample_key;
        m->key_len = 4;
        m->object = sample_object;
        m->object_len = sizeof(sample_object);
        m->version = 1ull << 50;
        break;
    case RK_MSG_BUCKET_ACK:
        m->req_id = 12;
        m->status = RK_EIO;
        m->integer = 3;
        break;
    case RK_MSG_AAE_REQ:
    case RK_MSG_AAE_RESP:
    case RK_MSG_EPOCH:
    case RK_MSG_EPOCH_RESP:
    case RK_MSG_CLUSTER:
        fail_msg("the transcript's samples stop at bucket_ack; test_wire_msg.c has these");
        break;
    }
}

static void sample_msg(uint32_t index, rk_wire_in *m)
{
    memset(m, 0, sizeof(*m));
    switch (index) {
    case 0:
        rk_wire_hello_make(&m->ctl, "test-cluster", "s3cret", 7, 0x0123456789abcdefull);
        break;
    case 1:
        m->ctl.type = RK_WIRE_HELLO_ACK;
        m->ctl.u.hello_ack.refusal = RK_WIRE_REFUSAL_CLUSTER;
        m->ctl.u.hello_ack.reason = "cluster name 'a' != 'b'";
        break;
    case 2:
        m->ctl.type = RK_WIRE_HEARTBEAT;
        m->ctl.u.heartbeat.seq = 42;
        m->ctl.u.heartbeat.sent_ms = UINT64_MAX;
        break;
    default:
        assert_true(index < SAMPLE_COUNT);
        m->ctl.type = RK_WIRE_MSG;
        sample_core(index, &m->msg);
        break;
    }
}

/* Encode a sample as the runtime would: a core message or a control message. */
static int encode_in(rk_wire_out *o, const rk_wire_in *m)
{
    return m->ctl.type == RK_WIRE_MSG ? rk_wire_encode_msg(o, &m->msg)
                                      : rk_wire_encode_ctl(o, &m->ctl);
}

/* Decode `in` arriving in reads that end at cuts[] (increasing, last == len); each call sees a
 * fresh heap copy of what has arrived and not been consumed. */
static void decode_with_cuts(const rk_wire_limits *limits, const uint8_t *in, size_t len,
                             const size_t *cuts, size_t cut_count, transcript *t)
{
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, limits), 0);
    size_t off = 0;
    int rc = 0;
    for (size_t c = 0; c < cut_count && rc >= 0; c++) {
        for (;;) {
            size_t avail = cuts[c] - off;
            uint8_t *copy = malloc(avail == 0 ? 1 : avail);
            assert_non_null(copy);
            memcpy(copy, in + off, avail);
            rk_wire_frame frame;
            size_t consumed = 1;
            rc = rk_wire_decode_frame(&d, copy, avail, &frame, &consumed);
            if (rc == 1) {
                assert_int_equal(consumed, frame.frame_bytes);
                assert_true(consumed <= avail);
                rk_wire_in msg;
                rc = rk_wire_decode(&d, &frame, &msg);
                free(copy);         /* the message owns its bytes: the input may go */
                if (rc == 0) {
                    transcript_msg(t, &msg);
                    rk_wire_in_deinit(&msg);
                    off += consumed;
                    continue;
                }
                assert_int_equal(msg.ctl.type, RK_WIRE_NONE);
                assert_null(msg.unpacked);
            } else {
                free(copy);
                assert_int_equal(consumed, 0);
            }
            if (rc < 0) {
                assert_true(strlen(d.error) > 0);
                transcript_addf(t, "error %d: %s\n", rc, d.error);
            }
            break;
        }
    }
    transcript_addf(t, "end at %zu\n", off);
}

static void decode_one_shot(const rk_wire_limits *limits, const uint8_t *in, size_t len,
                            transcript *t)
{
    decode_with_cuts(limits, in, len, &len, 1, t);
}

/* Decode exactly one whole frame and expect success. */
static void decode_single(const rk_wire_limits *limits, const uint8_t *in, size_t len,
                          rk_wire_in *msg)
{
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, limits), 0);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, in, len);
    rk_wire_frame frame;
    size_t consumed = 0;
    assert_int_equal(rk_wire_decode_frame(&d, copy, len, &frame, &consumed), 1);
    assert_int_equal(consumed, len);
    int rc = rk_wire_decode(&d, &frame, msg);
    if (rc != 0) {
        print_error("decode: %s\n", d.error);
    }
    assert_int_equal(rc, 0);
    free(copy);
}

/* Decode one frame built around `payload` and return the decoder's result; text in d. */
static int decode_payload(rk_wire_decoder *d, const uint8_t *payload, size_t payload_len)
{
    size_t len = RK_WIRE_HEADER_BYTES + payload_len;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    test_frame_header(buf, payload_len);
    if (payload_len > 0) {
        memcpy(buf + RK_WIRE_HEADER_BYTES, payload, payload_len);
    }
    rk_wire_frame frame;
    size_t consumed = 0;
    int rc = rk_wire_decode_frame(d, buf, len, &frame, &consumed);
    assert_int_equal(rc, 1);
    rk_wire_in msg;
    rc = rk_wire_decode(d, &frame, &msg);
    rk_wire_in_deinit(&msg);
    free(buf);
    return rc;
}

/* Pack a hand-built envelope into a fresh buffer. */
static uint8_t *pack_envelope(const Ringkv__Envelope *env, size_t *len)
{
    *len = ringkv__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len == 0 ? 1 : *len);
    assert_non_null(buf);
    assert_int_equal(ringkv__envelope__pack(env, buf), *len);
    return buf;
}

static void assert_payload_refused(const Ringkv__Envelope *env, int code, const char *text)
{
    size_t len = 0;
    uint8_t *payload = pack_envelope(env, &len);
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    assert_int_equal(decode_payload(&d, payload, len), code);
    assert_string_equal(d.error, text);
    free(payload);
}

/* A put_req whose frame is exactly `frame_bytes`: varint lengths make this a search. */
static size_t put_object_len_for_frame(size_t frame_bytes)
{
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    uint8_t *object = calloc(frame_bytes, 1);
    assert_non_null(object);
    for (size_t object_len = frame_bytes; object_len > 0; object_len--) {
        rk_wire_in m;
        sample_msg(SAMPLE_PUT_REQ, &m);
        m.msg.object = object;
    m.msg.object_len = object_len;
        rk_wire_out_reset(&o);
        if (encode_in(&o, &m) == 0 && o.len == frame_bytes) {
            free(object);
            rk_wire_out_deinit(&o);
            return object_len;
        }
    }
    fail_msg("no put_req is exactly %zu bytes", frame_bytes);
    return 0;
}

/* ---- round trips -------------------------------------------------------------------------- */

/* Every message type comes back field for field, from a frame that holds only it. */
static void test_round_trip_every_type(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < SAMPLE_COUNT; i++) {
        rk_wire_in m;
        sample_msg(i, &m);
        rk_wire_out o;
        assert_int_equal(rk_wire_out_init(&o, NULL), 0);
        assert_int_equal(encode_in(&o, &m), 0);
        assert_int_equal(o.frame_count, 1);
        assert_int_equal(o.frame_off[0], 0);
        assert_int_equal(rk_wire_out_frame_bytes(&o, 0), o.len);

        rk_wire_in back;
        decode_single(NULL, o.data, o.len, &back);
        assert_int_equal(back.ctl.type, m.ctl.type);
        transcript want = {0};
        transcript got = {0};
        transcript_msg(&want, &m);
        transcript_msg(&got, &back);
        assert_string_equal(got.data, want.data);
        rk_wire_in_deinit(&back);
        assert_null(back.unpacked);
        transcript_deinit(&want);
        transcript_deinit(&got);
        rk_wire_out_deinit(&o);
    }
}

/* The header is [u32 length BE][version 1][flags 0]; the length counts what follows it. */
static void test_frame_header_layout(void **state)
{
    (void)state;
    rk_wire_in m;
    sample_msg(2, &m);
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    assert_int_equal(encode_in(&o, &m), 0);
    assert_true(o.len > RK_WIRE_HEADER_BYTES);
    uint32_t length = (uint32_t)o.data[0] << 24 | (uint32_t)o.data[1] << 16 |
                      (uint32_t)o.data[2] << 8 | o.data[3];
    assert_int_equal(length, o.len - RK_WIRE_LENGTH_BYTES);
    assert_int_equal(o.data[4], RK_WIRE_FRAME_VERSION);
    assert_int_equal(o.data[5], 0);
    /* Envelope field 3 (heartbeat), length-delimited. */
    assert_int_equal(o.data[6], (3 << 3) | 2);
    rk_wire_out_deinit(&o);
}

/* Zero fields, empty objects and a NULL reason travel as proto3 defaults and come back as
 * zeros, empty bytes and "". */
static void test_round_trip_zero_and_empty_fields(void **state)
{
    (void)state;
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    rk_wire_in m[4];
    memset(m, 0, sizeof(m));
    m[0].ctl.type = RK_WIRE_HEARTBEAT;
    m[1].ctl.type = RK_WIRE_MSG;
    m[1].msg.kind = RK_MSG_GET_RESP;
    m[2].ctl.type = RK_WIRE_HELLO_ACK;
    m[3].ctl.type = RK_WIRE_MSG;
    m[3].msg.kind = RK_MSG_PUT_RESP;
    transcript want = {0};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(encode_in(&o, &m[i]), 0);
        transcript_msg(&want, &m[i]);
    }
    transcript_addf(&want, "end at %zu\n", o.len);

    transcript t = {0};
    decode_one_shot(NULL, o.data, o.len, &t);
    assert_string_equal(t.data, want.data);
    assert_non_null(strstr(t.data, "hello_ack refusal=0 reason=''\n"));
    transcript_deinit(&t);
    transcript_deinit(&want);
    rk_wire_out_deinit(&o);
}

/* A value of the default max-value-bytes travels in a frame under the default limit. */
static void test_round_trip_default_max_value(void **state)
{
    (void)state;
    size_t object_len = RK_VALUE_BYTES_DEFAULT;
    uint8_t *object = malloc(object_len);
    assert_non_null(object);
    for (size_t i = 0; i < object_len; i++) {
        object[i] = (uint8_t)(i * 131u);
    }
    rk_wire_in m;
    sample_msg(SAMPLE_PUT_REQ, &m);
    m.msg.object = object;
    m.msg.object_len = object_len;
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    assert_int_equal(encode_in(&o, &m), 0);
    assert_true(o.len < RK_WIRE_FRAME_BYTES_DEFAULT);

    rk_wire_in back;
    decode_single(NULL, o.data, o.len, &back);
    assert_int_equal(back.msg.object_len, object_len);
    assert_memory_equal(back.msg.object, object, object_len);
    rk_wire_in_deinit(&back);
    rk_wire_out_deinit(&o);
    free(object);
}

/* ---- streams: many frames per read, any split --------------------------------------------- */

/* A stream of every sample, in varying order and sizes. */
static void stream_build(rk_wire_out *o, uint32_t frames)
{
    static uint8_t object[300];
    for (size_t i = 0; i < sizeof(object); i++) {
        object[i] = (uint8_t)(i ^ 0x5a);
    }
    for (uint32_t i = 0; i < frames; i++) {
        rk_wire_in m;
        sample_msg(i % SAMPLE_COUNT, &m);
        if (m.ctl.type == RK_WIRE_MSG && m.msg.kind == RK_MSG_PUT_REQ) {
            m.msg.object = object;
    m.msg.object_len = (i * 37u) % sizeof(object);
            m.msg.req_id = i;
        }
        assert_int_equal(encode_in(o, &m), 0);
    }
}

/* Many frames in one buffer decode one after the other, each consuming exactly its size. */
static void test_many_frames_in_one_read(void **state)
{
    (void)state;
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    stream_build(&o, TEST_STREAM_FRAMES);
    assert_int_equal(o.frame_count, TEST_STREAM_FRAMES);

    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    size_t off = 0;
    for (uint32_t i = 0; i < TEST_STREAM_FRAMES; i++) {
        rk_wire_frame frame;
        size_t consumed = 0;
        assert_int_equal(rk_wire_decode_frame(&d, o.data + off, o.len - off, &frame, &consumed), 1);
        assert_int_equal(off, o.frame_off[i]);
        assert_int_equal(consumed, rk_wire_out_frame_bytes(&o, i));
        rk_wire_in m;
        assert_int_equal(rk_wire_decode(&d, &frame, &m), 0);
        rk_wire_in expect;
        sample_msg(i % SAMPLE_COUNT, &expect);
        assert_int_equal(m.ctl.type, expect.ctl.type);
        assert_int_equal(m.msg.kind, expect.msg.kind);
        rk_wire_in_deinit(&m);
        off += consumed;
    }
    rk_wire_frame frame;
    size_t consumed = 1;
    assert_int_equal(rk_wire_decode_frame(&d, o.data + off, o.len - off, &frame, &consumed), 0);
    assert_int_equal(consumed, 0);
    assert_int_equal(d.frames_decoded, TEST_STREAM_FRAMES);
    rk_wire_out_deinit(&o);
}

/* The transcript does not depend on where a read ends: every two-piece split and byte by
 * byte give the one-shot result. */
static void test_split_at_every_byte_gives_the_same_messages(void **state)
{
    (void)state;
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    stream_build(&o, 2 * SAMPLE_COUNT);
    transcript whole = {0};
    decode_one_shot(NULL, o.data, o.len, &whole);
    assert_null(strstr(whole.data, "error"));

    for (size_t at = 0; at <= o.len; at++) {
        size_t cuts[2] = {at, o.len};
        transcript split = {0};
        decode_with_cuts(NULL, o.data, o.len, cuts, 2, &split);
        assert_string_equal(split.data, whole.data);
        transcript_deinit(&split);
    }
    size_t *cuts = malloc(o.len * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t i = 0; i < o.len; i++) {
        cuts[i] = i + 1;
    }
    transcript bytewise = {0};
    decode_with_cuts(NULL, o.data, o.len, cuts, o.len, &bytewise);
    assert_string_equal(bytewise.data, whole.data);
    free(cuts);
    transcript_deinit(&bytewise);
    transcript_deinit(&whole);
    rk_wire_out_deinit(&o);
}

/* A frame cut short waits for the rest and says how big it will be. */
static void test_truncated_frame_waits_and_says_its_size(void **state)
{
    (void)state;
    rk_wire_in m;
    sample_msg(SAMPLE_PUT_REQ, &m);
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    assert_int_equal(encode_in(&o, &m), 0);
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    for (size_t len = 0; len < o.len; len++) {
        rk_wire_frame frame;
        size_t consumed = 1;
        assert_int_equal(rk_wire_decode_frame(&d, o.data, len, &frame, &consumed), 0);
        assert_int_equal(consumed, 0);
        assert_int_equal(d.frame_bytes_pending, len < RK_WIRE_LENGTH_BYTES ? 0 : o.len);
    }
    rk_wire_out_deinit(&o);
}

/* ---- limits ------------------------------------------------------------------------------- */

static void test_limits_are_validated(void **state)
{
    (void)state;
    rk_wire_decoder d;
    rk_wire_out o;
    rk_wire_limits limits = {.frame_bytes_max = RK_WIRE_FRAME_BYTES_MIN - 1};
    assert_int_equal(rk_wire_decoder_init(&d, &limits), RK_EINVAL);
    assert_string_equal(d.error, "frame limit 4095 bytes is outside 4096 to 536936448");
    assert_int_equal(rk_wire_out_init(&o, &limits), RK_EINVAL);
    limits.frame_bytes_max = (uint64_t)RK_WIRE_FRAME_BYTES_MAX + 1;
    assert_int_equal(rk_wire_decoder_init(&d, &limits), RK_EINVAL);
    limits.frame_bytes_max = 0;
    assert_int_equal(rk_wire_decoder_init(&d, &limits), RK_EINVAL);
    limits.frame_bytes_max = RK_WIRE_FRAME_BYTES_MAX;
    assert_int_equal(rk_wire_decoder_init(&d, &limits), 0);
    limits.frame_bytes_max = RK_WIRE_FRAME_BYTES_MIN;
    assert_int_equal(rk_wire_out_init(&o, &limits), 0);
    rk_wire_out_deinit(&o);

    assert_int_equal(rk_wire_limits_for_value(0, &limits), RK_EINVAL);
    assert_int_equal(rk_wire_limits_for_value((uint64_t)RK_VALUE_BYTES_MAX + 1, &limits),
                     RK_EINVAL);
    assert_int_equal(rk_wire_limits_for_value(RK_VALUE_BYTES_MAX, &limits), 0);
    assert_int_equal(limits.frame_bytes_max, RK_WIRE_FRAME_BYTES_MAX);
    assert_int_equal(rk_wire_limits_for_value(RK_VALUE_BYTES_DEFAULT, &limits), 0);
    assert_int_equal(limits.frame_bytes_max, RK_WIRE_FRAME_BYTES_DEFAULT);
}

/* A frame of exactly the limit is encoded and decoded. */
static void test_frame_at_limit_is_accepted(void **state)
{
    (void)state;
    size_t object_len = put_object_len_for_frame(RK_WIRE_FRAME_BYTES_MIN);
    uint8_t *object = calloc(object_len, 1);
    assert_non_null(object);
    rk_wire_in m;
    sample_msg(SAMPLE_PUT_REQ, &m);
    m.msg.object = object;
    m.msg.object_len = object_len;
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, &test_small_limits), 0);
    assert_int_equal(encode_in(&o, &m), 0);
    assert_int_equal(o.len, RK_WIRE_FRAME_BYTES_MIN);

    rk_wire_in back;
    decode_single(&test_small_limits, o.data, o.len, &back);
    assert_int_equal(back.msg.object_len, object_len);
    rk_wire_in_deinit(&back);
    rk_wire_out_deinit(&o);
    free(object);
}

/* One byte over: the encoder refuses to build it, and the decoder refuses it from its first
 * four bytes, before the payload arrives; both texts name the size and the limit. */
static void test_frame_over_limit_is_refused(void **state)
{
    (void)state;
    size_t object_len = put_object_len_for_frame(RK_WIRE_FRAME_BYTES_MIN) + 1;
    uint8_t *object = calloc(object_len, 1);
    assert_non_null(object);
    rk_wire_in m;
    sample_msg(SAMPLE_PUT_REQ, &m);
    m.msg.object = object;
    m.msg.object_len = object_len;
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, &test_small_limits), 0);
    assert_int_equal(encode_in(&o, &m), RK_ETOOBIG);
    assert_string_equal(o.error, "put_req frame would be 4097 bytes; the limit is 4096 bytes");
    assert_int_equal(o.len, 0);
    assert_int_equal(o.frame_count, 0);

    /* The same frame built under the default limit, fed to a decoder with the small one. */
    rk_wire_out big;
    assert_int_equal(rk_wire_out_init(&big, NULL), 0);
    assert_int_equal(encode_in(&big, &m), 0);
    assert_int_equal(big.len, RK_WIRE_FRAME_BYTES_MIN + 1);
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, &test_small_limits), 0);
    rk_wire_frame frame;
    size_t consumed = 0;
    assert_int_equal(rk_wire_decode_frame(&d, big.data, RK_WIRE_LENGTH_BYTES, &frame, &consumed),
                     RK_ETOOBIG);
    assert_string_equal(d.error, "frame is 4097 bytes; the limit is 4096 bytes");
    rk_wire_out_deinit(&big);
    rk_wire_out_deinit(&o);
    free(object);
}

/* The default limit holds the default max-value-bytes plus 64 KiB: one more is refused
 * from the header. (A stranger speaking HTTP to the port is refused the same way: "GET "
 * reads as a 1.2 GB frame.) */
static void test_default_limit_refuses_one_byte_more(void **state)
{
    (void)state;
    rk_wire_decoder d;
    rk_wire_frame frame;
    size_t consumed = 0;
    uint32_t length = RK_WIRE_FRAME_BYTES_DEFAULT - RK_WIRE_LENGTH_BYTES;
    uint8_t at[6] = {(uint8_t)(length >> 24), (uint8_t)(length >> 16), (uint8_t)(length >> 8),
                     (uint8_t)length, RK_WIRE_FRAME_VERSION, 0};
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    assert_int_equal(rk_wire_decode_frame(&d, at, sizeof(at), &frame, &consumed), 0);
    assert_int_equal(d.frame_bytes_pending, RK_WIRE_FRAME_BYTES_DEFAULT);

    length++;
    uint8_t over[4] = {(uint8_t)(length >> 24), (uint8_t)(length >> 16), (uint8_t)(length >> 8),
                       (uint8_t)length};
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    assert_int_equal(rk_wire_decode_frame(&d, over, sizeof(over), &frame, &consumed), RK_ETOOBIG);
    assert_string_equal(d.error, "frame is 16842753 bytes; the limit is 16842752 bytes");

    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    const uint8_t http[] = "GET / HTTP/1.1\r\n";
    assert_int_equal(rk_wire_decode_frame(&d, http, sizeof(http) - 1, &frame, &consumed),
                     RK_ETOOBIG);
    assert_string_equal(d.error, "frame is 1195725860 bytes; the limit is 16842752 bytes");
}

/* ---- bad headers -------------------------------------------------------------------------- */

static void assert_header_refused(const uint8_t *in, size_t len, int code, const char *text)
{
    transcript whole = {0};
    decode_one_shot(NULL, in, len, &whole);
    char want[256];
    snprintf(want, sizeof(want), "error %d: %s\nend at 0\n", code, text);
    assert_string_equal(whole.data, want);
    transcript_deinit(&whole);
}

static void test_unknown_frame_version_is_refused(void **state)
{
    (void)state;
    const uint8_t v2[] = {0, 0, 0, 2, 2, 0};
    assert_header_refused(v2, sizeof(v2), RK_ECORRUPT,
                          "frame version 2 is not supported; this node speaks 1");
    const uint8_t v0[] = {0, 0, 0, 2, 0};
    assert_header_refused(v0, sizeof(v0), RK_ECORRUPT,
                          "frame version 0 is not supported; this node speaks 1");
}

static void test_unknown_frame_flags_are_refused(void **state)
{
    (void)state;
    const uint8_t flags[] = {0, 0, 0, 2, 1, 0x80};
    assert_header_refused(flags, sizeof(flags), RK_ECORRUPT,
                          "frame flags 0x80 are unknown to frame version 1");
}

static void test_length_shorter_than_header_is_refused(void **state)
{
    (void)state;
    const uint8_t zero[] = {0, 0, 0, 0};
    assert_header_refused(zero, sizeof(zero), RK_ECORRUPT,
                          "frame length 0 is shorter than the version and flags after it");
    const uint8_t one[] = {0, 0, 0, 1, 1};
    assert_header_refused(one, sizeof(one), RK_ECORRUPT,
                          "frame length 1 is shorter than the version and flags after it");
}

/* After an error the decoder returns it again, for frames and payloads alike. */
static void test_decoder_error_is_final(void **state)
{
    (void)state;
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    const uint8_t bad[] = {0, 0, 0, 2, 9, 0};
    rk_wire_frame frame;
    size_t consumed = 0;
    assert_int_equal(rk_wire_decode_frame(&d, bad, sizeof(bad), &frame, &consumed), RK_ECORRUPT);

    rk_wire_in m;
    sample_msg(2, &m);
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    assert_int_equal(encode_in(&o, &m), 0);
    assert_int_equal(rk_wire_decode_frame(&d, o.data, o.len, &frame, &consumed), RK_ECORRUPT);
    assert_int_equal(consumed, 0);
    rk_wire_frame good = {.version = 1, .payload = o.data + 6, .payload_len = o.len - 6,
                          .frame_bytes = o.len};
    rk_wire_in back;
    assert_int_equal(rk_wire_decode(&d, &good, &back), RK_ECORRUPT);
    assert_int_equal(back.ctl.type, RK_WIRE_NONE);
    assert_string_equal(d.error, "frame version 9 is not supported; this node speaks 1");
    rk_wire_out_deinit(&o);
}

/* ---- bad payloads ------------------------------------------------------------------------- */

static void test_garbage_payload_is_refused(void **state)
{
    (void)state;
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_payload(&d, garbage, sizeof(garbage)), RK_ECORRUPT);
    assert_string_equal(d.error, "4-byte payload is not a valid Envelope");
}

/* An empty payload and an envelope whose body is a field number this version does not know
 * (15) both carry nothing to act on. */
static void test_envelope_without_known_body_is_refused(void **state)
{
    (void)state;
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    assert_int_equal(decode_payload(&d, NULL, 0), RK_ECORRUPT);
    assert_string_equal(d.error, "envelope carries no message protocol version 5 knows");

    const uint8_t future[] = {(15 << 3) | 2, 0};
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    assert_int_equal(decode_payload(&d, future, sizeof(future)), RK_ECORRUPT);
    assert_string_equal(d.error, "envelope carries no message protocol version 5 knows");
}

/* A newer peer's extra field inside a known message is skipped (the versioning rule). */
static void test_unknown_field_in_known_message_is_skipped(void **state)
{
    (void)state;
    /* Envelope.get_req { req_id: 5, key: "k", field 9: 1 } */
    const uint8_t payload[] = {(4 << 3) | 2, 7, 0x08, 5, 0x1a, 1, 'k', (9 << 3) | 0, 1};
    uint8_t frame[RK_WIRE_HEADER_BYTES + sizeof(payload)] = {0, 0, 0, 2 + sizeof(payload), 1, 0};
    memcpy(frame + RK_WIRE_HEADER_BYTES, payload, sizeof(payload));
    transcript t = {0};
    decode_one_shot(NULL, frame, sizeof(frame), &t);
    rk_wire_in m = {.ctl.type = RK_WIRE_MSG};
    m.msg.kind = RK_MSG_GET_REQ;
    m.msg.req_id = 5;
    m.msg.key = (const uint8_t *)"k";
    m.msg.key_len = 1;
    transcript want = {0};
    transcript_msg(&want, &m);
    transcript_addf(&want, "end at %zu\n", sizeof(frame));
    assert_string_equal(t.data, want.data);
    transcript_deinit(&t);
    transcript_deinit(&want);
}

/* Every proper prefix of a valid payload is refused (a submessage cut short). */
static void test_truncated_payload_is_refused(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < SAMPLE_COUNT; i++) {
        rk_wire_in m;
        sample_msg(i, &m);
        rk_wire_out o;
        assert_int_equal(rk_wire_out_init(&o, NULL), 0);
        assert_int_equal(encode_in(&o, &m), 0);
        const uint8_t *payload = o.data + RK_WIRE_HEADER_BYTES;
        size_t payload_len = o.len - RK_WIRE_HEADER_BYTES;
        for (size_t len = 0; len < payload_len; len++) {
            rk_wire_decoder d;
            assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
            assert_int_equal(decode_payload(&d, payload, len), RK_ECORRUPT);
        }
        rk_wire_out_deinit(&o);
    }
}

/* Fields out of their range are refused after decoding with the encoder's own texts. */
static void test_out_of_range_fields_are_refused(void **state)
{
    (void)state;
    Ringkv__Envelope env = RINGKV__ENVELOPE__INIT;
    Ringkv__GetReq get = RINGKV__GET_REQ__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_GET_REQ;
    env.get_req = &get;

    static uint8_t long_key[RK_KEY_BYTES_MAX + 1];
    get.key.data = long_key;
    get.key.len = sizeof(long_key);
    assert_payload_refused(&env, RK_ECORRUPT, "key is 508 bytes; keys are 0 to 507 bytes");

    Ringkv__Hello hello = RINGKV__HELLO__INIT;
    env.body_case = RINGKV__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    hello.cluster = "c";
    hello.node_id = 1;
    uint8_t proof[3] = {1, 2, 3};
    hello.secret_proof.data = proof;
    hello.secret_proof.len = sizeof(proof);
    assert_payload_refused(&env, RK_ECORRUPT, "hello: secret proof is 3 bytes, not 16");
    hello.secret_proof.len = 0;
    hello.node_id = 0;
    assert_payload_refused(&env, RK_ECORRUPT, "hello: node id 0 is not a node id");
    hello.node_id = 1;
    hello.cluster = "";
    assert_payload_refused(&env, RK_ECORRUPT,
                           "hello: cluster name is 0 bytes; names are 1 to 64 bytes");
}

/* Half a million 2-byte unknown fields would make protobuf-c allocate ~45 times the payload
 * (1.4.1); the decode budget (2 x payload + 64 KiB) refuses that. */
static void test_decode_budget_refuses_unknown_field_floods(void **state)
{
    (void)state;
    size_t fields = 512u * 1024u;
    size_t payload_len = 2u + 4u + 2u * fields;   /* heartbeat tag, varint length, fields */
    uint8_t *payload = malloc(payload_len);
    assert_non_null(payload);
    size_t inner = 2u * fields;
    payload[0] = (3 << 3) | 2;
    payload[1] = (uint8_t)(0x80 | (inner & 0x7f));
    payload[2] = (uint8_t)(0x80 | ((inner >> 7) & 0x7f));
    payload[3] = (uint8_t)(0x80 | ((inner >> 14) & 0x7f));
    payload[4] = (uint8_t)((inner >> 21) & 0x7f);
    size_t at = 5;
    for (size_t i = 0; i < fields; i++) {
        payload[at++] = (9 << 3) | 0;
        payload[at++] = 0;
    }
    payload_len = at;
    rk_wire_decoder d;
    assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
    assert_int_equal(decode_payload(&d, payload, payload_len), RK_ETOOBIG);
    char want[128];
    snprintf(want, sizeof(want), "decoding the %zu-byte payload needs more than %zu bytes",
             payload_len, 2 * payload_len + 64u * 1024u);
    assert_string_equal(d.error, want);
    free(payload);
}

/* Random payloads (and mutated valid ones) in valid frames either decode to a message that
 * re-encodes and decodes to the same, or are refused; and the stream's transcript does not
 * depend on how it is split. */
static void test_random_payloads_are_handled(void **state)
{
    (void)state;
    uint64_t rng = test_seed("test_wire");
    uint8_t payload[TEST_GARBAGE_BYTES_MAX];
    uint32_t decoded = 0;
    for (uint32_t c = 0; c < TEST_GARBAGE_CASES; c++) {
        size_t len = 0;
        if (c & 1) {
            len = (size_t)(test_rng_next(&rng) % TEST_GARBAGE_BYTES_MAX);
            for (size_t i = 0; i < len; i++) {
                payload[i] = (uint8_t)test_rng_next(&rng);
            }
        } else {
            /* A valid payload with a few bytes changed reaches deeper. */
            rk_wire_in m;
            sample_msg((uint32_t)(test_rng_next(&rng) % SAMPLE_COUNT), &m);
            rk_wire_out o;
            assert_int_equal(rk_wire_out_init(&o, NULL), 0);
            assert_int_equal(encode_in(&o, &m), 0);
            len = o.len - RK_WIRE_HEADER_BYTES;
            assert_true(len <= sizeof(payload));
            memcpy(payload, o.data + RK_WIRE_HEADER_BYTES, len);
            rk_wire_out_deinit(&o);
            uint32_t flips = 1 + (uint32_t)(test_rng_next(&rng) % 3);
            for (uint32_t f = 0; f < flips && len > 0; f++) {
                payload[test_rng_next(&rng) % len] = (uint8_t)test_rng_next(&rng);
            }
        }
        uint8_t frame[RK_WIRE_HEADER_BYTES + TEST_GARBAGE_BYTES_MAX];
        test_frame_header(frame, len);
        memcpy(frame + RK_WIRE_HEADER_BYTES, payload, len);
        size_t frame_len = RK_WIRE_HEADER_BYTES + len;

        rk_wire_decoder d;
        assert_int_equal(rk_wire_decoder_init(&d, NULL), 0);
        rk_wire_frame f;
        size_t consumed = 0;
        assert_int_equal(rk_wire_decode_frame(&d, frame, frame_len, &f, &consumed), 1);
        rk_wire_in m;
        int rc = rk_wire_decode(&d, &f, &m);
        if (rc == 0) {
            decoded++;
            transcript first = {0};
            transcript_msg(&first, &m);
            rk_wire_out o;
            assert_int_equal(rk_wire_out_init(&o, NULL), 0);
            assert_int_equal(encode_in(&o, &m), 0);
            rk_wire_in back;
            decode_single(NULL, o.data, o.len, &back);
            transcript second = {0};
            transcript_msg(&second, &back);
            assert_string_equal(second.data, first.data);
            rk_wire_in_deinit(&back);
            rk_wire_out_deinit(&o);
            transcript_deinit(&first);
            transcript_deinit(&second);
            rk_wire_in_deinit(&m);
        } else {
            if (rc != RK_ECORRUPT) {
                print_error("case %u: %d %s\n", c, rc, d.error);
            }
            assert_int_equal(rc, RK_ECORRUPT);
        }

        transcript whole = {0};
        decode_one_shot(NULL, frame, frame_len, &whole);
        size_t cut = (size_t)(test_rng_next(&rng) % (frame_len + 1));
        size_t cuts[2] = {cut, frame_len};
        transcript split = {0};
        decode_with_cuts(NULL, frame, frame_len, cuts, 2, &split);
        assert_string_equal(split.data, whole.data);
        transcript_deinit(&split);
        transcript_deinit(&whole);
    }
    print_message("test_wire: %u of %u random payloads decoded\n", decoded, TEST_GARBAGE_CASES);
}

/* ---- encoder ------------------------------------------------------------------------------ */

static void assert_encode_refused(const rk_wire_in *m, int code, const char *text)
{
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    rk_wire_in ok;
    sample_msg(2, &ok);
    assert_int_equal(encode_in(&o, &ok), 0);
    size_t len = o.len;
    assert_int_equal(encode_in(&o, m), code);
    assert_string_equal(o.error, text);
    assert_int_equal(o.len, len);
    assert_int_equal(o.frame_count, 1);
    rk_wire_out_deinit(&o);
}

/* The encoder holds messages to the ranges the decoder checks, on both sides of each, and a
 * refused message leaves the buffer as it was. */
static void test_encode_checks_field_ranges(void **state)
{
    (void)state;
    static uint8_t key[RK_KEY_BYTES_MAX + 1];
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    rk_wire_in m;

    sample_msg(3, &m);
    m.msg.key = key;
    m.msg.key_len = RK_KEY_BYTES_MAX;
    assert_int_equal(encode_in(&o, &m), 0);
    m.msg.key_len = RK_KEY_BYTES_MAX + 1;
    assert_encode_refused(&m, RK_EINVAL, "key is 508 bytes; keys are 0 to 507 bytes");
    m.msg.key_len = 0;
    assert_int_equal(encode_in(&o, &m), 0);   /* the empty key, as Redis allows */
    m.msg.key = NULL;
    m.msg.key_len = 3;
    assert_encode_refused(&m, RK_EINVAL, "key has 3 bytes but no data");

    sample_msg(SAMPLE_PUT_REQ, &m);
    m.msg.key_len = RK_KEY_BYTES_MAX + 1;
    assert_encode_refused(&m, RK_EINVAL, "key is 508 bytes; keys are 0 to 507 bytes");
    sample_msg(SAMPLE_PUT_REQ, &m);
    m.msg.object = NULL;
    m.msg.object_len = 1;
    assert_encode_refused(&m, RK_EINVAL, "put_req: object has 1 bytes but no data");
    sample_msg(4, &m);
    m.msg.object = NULL;
    m.msg.object_len = 1;
    assert_encode_refused(&m, RK_EINVAL, "get_resp: object has 1 bytes but no data");
    sample_msg(4, &m);
    m.msg.kind = (rk_msg_kind)0;
    assert_encode_refused(&m, RK_EINVAL, "message kind 0 is not one this version knows");
    m.msg.kind = (rk_msg_kind)(RK_MSG_KIND_MAX + 1);
    assert_encode_refused(&m, RK_EINVAL, "message kind 14 is not one this version knows");

    char cluster[RK_WIRE_CLUSTER_BYTES_MAX + 2];
    memset(cluster, 'c', sizeof(cluster));
    cluster[RK_WIRE_CLUSTER_BYTES_MAX] = '\0';
    rk_wire_hello_make(&m.ctl, cluster, NULL, 1, 1);
    assert_int_equal(encode_in(&o, &m), 0);
    cluster[RK_WIRE_CLUSTER_BYTES_MAX] = 'c';
    cluster[RK_WIRE_CLUSTER_BYTES_MAX + 1] = '\0';
    assert_encode_refused(&m, RK_EINVAL,
                          "hello: cluster name is 65 bytes; names are 1 to 64 bytes");
    rk_wire_hello_make(&m.ctl, "", NULL, 1, 1);
    assert_encode_refused(&m, RK_EINVAL,
                          "hello: cluster name is 0 bytes; names are 1 to 64 bytes");
    rk_wire_hello_make(&m.ctl, "c", NULL, 0, 1);
    assert_encode_refused(&m, RK_EINVAL, "hello: node id 0 is not a node id");

    char reason[RK_WIRE_REASON_BYTES_MAX + 2];
    memset(reason, 'r', sizeof(reason));
    reason[RK_WIRE_REASON_BYTES_MAX] = '\0';
    m = (rk_wire_in){.ctl.type = RK_WIRE_HELLO_ACK};
    m.ctl.u.hello_ack.reason = reason;
    assert_int_equal(encode_in(&o, &m), 0);
    reason[RK_WIRE_REASON_BYTES_MAX] = 'r';
    reason[RK_WIRE_REASON_BYTES_MAX + 1] = '\0';
    assert_encode_refused(&m, RK_EINVAL,
                          "hello_ack: reason is 201 bytes; the limit is 200 bytes");

    m = (rk_wire_in){.ctl.type = RK_WIRE_NONE};
    assert_encode_refused(&m, RK_EINVAL, "none is not a control message");
    m.ctl.type = (rk_wire_type)99;
    assert_encode_refused(&m, RK_EINVAL, "unknown is not a control message");
    rk_wire_out_deinit(&o);
}

/* The runtime writes many frames with one writev and may put small frames before a big one:
 * frame_off says where each frame starts, and each frame decodes alone. */
static void test_frame_offsets_allow_coalescing_and_reordering(void **state)
{
    (void)state;
    size_t big_len = 2u * RK_WIRE_OUT_KEEP_BYTES;
    uint8_t *big = calloc(big_len, 1);
    assert_non_null(big);
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    rk_wire_in m;
    sample_msg(2, &m);
    assert_int_equal(encode_in(&o, &m), 0);
    sample_msg(SAMPLE_PUT_REQ, &m);
    m.msg.object = big;
    m.msg.object_len = big_len;
    assert_int_equal(encode_in(&o, &m), 0);
    sample_msg(6, &m);
    assert_int_equal(encode_in(&o, &m), 0);
    assert_int_equal(o.frame_count, 3);
    assert_int_equal(o.frame_off[0], 0);
    assert_true(rk_wire_out_frame_bytes(&o, 1) > big_len);
    assert_int_equal(o.frame_off[1] + rk_wire_out_frame_bytes(&o, 1), o.frame_off[2]);
    assert_int_equal(o.frame_off[2] + rk_wire_out_frame_bytes(&o, 2), o.len);

    /* Frames 2, 0, 1: the small ones first, as the runtime may send them. */
    const size_t order[3] = {2, 0, 1};
    const rk_msg_kind kinds[3] = {RK_MSG_PUT_RESP, 0, RK_MSG_PUT_REQ};
    for (size_t k = 0; k < 3; k++) {
        size_t i = order[k];
        rk_wire_in back;
        decode_single(NULL, o.data + o.frame_off[i], rk_wire_out_frame_bytes(&o, i), &back);
        assert_int_equal(back.ctl.type, kinds[k] != 0 ? RK_WIRE_MSG : RK_WIRE_HEARTBEAT);
        assert_int_equal(back.msg.kind, kinds[k]);
        rk_wire_in_deinit(&back);
    }

    /* Reset forgets the frames and lets go of a buffer grown past the keep size. */
    rk_wire_out_reset(&o);
    assert_int_equal(o.len, 0);
    assert_int_equal(o.frame_count, 0);
    assert_int_equal(o.capacity, 0);
    assert_null(o.data);
    sample_msg(2, &m);
    assert_int_equal(encode_in(&o, &m), 0);
    size_t small_capacity = o.capacity;
    rk_wire_out_reset(&o);
    assert_int_equal(o.capacity, small_capacity);
    assert_non_null(o.data);
    rk_wire_out_deinit(&o);
    free(big);
}

/* ---- handshake ---------------------------------------------------------------------------- */

static int check_hello(const rk_wire_ctl *hello, const char *cluster, const char *secret,
                       uint32_t self_id, rk_wire_refusal *refusal, char *why)
{
    /* Through the wire, so the check sees what a peer would send. */
    rk_wire_out o;
    assert_int_equal(rk_wire_out_init(&o, NULL), 0);
    assert_int_equal(rk_wire_encode_ctl(&o, hello), 0);
    rk_wire_in back;
    decode_single(NULL, o.data, o.len, &back);
    int rc = rk_wire_hello_check(&back, cluster, secret, self_id, refusal, why, 128);
    rk_wire_in_deinit(&back);
    rk_wire_out_deinit(&o);
    return rc;
}

static void test_hello_check_accepts_matching_peer(void **state)
{
    (void)state;
    rk_wire_ctl hello;
    rk_wire_refusal refusal = RK_WIRE_REFUSAL_OTHER;
    char why[128] = "x";
    rk_wire_hello_make(&hello, "prod", NULL, 2, 99);
    assert_int_equal(check_hello(&hello, "prod", NULL, 1, &refusal, why), 0);
    assert_int_equal(refusal, RK_WIRE_REFUSAL_NONE);
    assert_string_equal(why, "");
    assert_int_equal(check_hello(&hello, "prod", "", 1, &refusal, why), 0);

    rk_wire_hello_make(&hello, "prod", "s3cret", 2, 99);
    assert_true(hello.u.hello.has_proof);
    assert_int_equal(check_hello(&hello, "prod", "s3cret", 1, &refusal, why), 0);
}

static void test_hello_check_refuses_other_cluster(void **state)
{
    (void)state;
    rk_wire_ctl hello;
    rk_wire_refusal refusal;
    char why[128];
    rk_wire_hello_make(&hello, "test-a", NULL, 2, 1);
    assert_int_equal(check_hello(&hello, "test-b", NULL, 1, &refusal, why), RK_EINVAL);
    assert_int_equal(refusal, RK_WIRE_REFUSAL_CLUSTER);
    assert_string_equal(why, "cluster name 'test-a' != 'test-b'");

    /* A peer's name is shown printable, whatever bytes it holds. */
    rk_wire_hello_make(&hello, "a'\n\x01z", NULL, 2, 1);
    assert_int_equal(check_hello(&hello, "b", NULL, 1, &refusal, why), RK_EINVAL);
    assert_string_equal(why, "cluster name 'a???z' != 'b'");
}

static void test_hello_check_refuses_own_node_id(void **state)
{
    (void)state;
    rk_wire_ctl hello;
    rk_wire_refusal refusal;
    char why[128];
    rk_wire_hello_make(&hello, "c", NULL, 3, 1);
    assert_int_equal(check_hello(&hello, "c", NULL, 3, &refusal, why), RK_EINVAL);
    assert_int_equal(refusal, RK_WIRE_REFUSAL_NODE_ID);
    assert_string_equal(why, "node id 3 is this node's own");
}

static void test_hello_check_refuses_secret_mismatches(void **state)
{
    (void)state;
    rk_wire_ctl hello;
    rk_wire_refusal refusal;
    char why[128];
    rk_wire_hello_make(&hello, "c", NULL, 2, 1);
    assert_int_equal(check_hello(&hello, "c", "s", 1, &refusal, why), RK_EINVAL);
    assert_int_equal(refusal, RK_WIRE_REFUSAL_SECRET);
    assert_string_equal(why, "node 2 sent no secret proof; this node has a secret");

    rk_wire_hello_make(&hello, "c", "s", 2, 1);
    assert_int_equal(check_hello(&hello, "c", NULL, 1, &refusal, why), RK_EINVAL);
    assert_int_equal(refusal, RK_WIRE_REFUSAL_SECRET);
    assert_string_equal(why, "node 2 sent a secret proof; this node has no secret");

    assert_int_equal(check_hello(&hello, "c", "t", 1, &refusal, why), RK_EINVAL);
    assert_int_equal(refusal, RK_WIRE_REFUSAL_SECRET);
    assert_string_equal(why, "node 2's secret proof does not match this node's secret");

    /* The proof binds the nonce and the node id: changing either after signing fails. */
    hello.u.hello.nonce++;
    assert_int_equal(check_hello(&hello, "c", "s", 1, &refusal, why), RK_EINVAL);
    hello.u.hello.nonce--;
    hello.u.hello.node_id = 4;
    assert_int_equal(check_hello(&hello, "c", "s", 1, &refusal, why), RK_EINVAL);
    hello.u.hello.node_id = 2;
    assert_int_equal(check_hello(&hello, "c", "s", 1, &refusal, why), 0);
}

static void test_hello_check_refuses_old_version_and_other_messages(void **state)
{
    (void)state;
    rk_wire_ctl hello;
    rk_wire_refusal refusal;
    char why[128];
    rk_wire_hello_make(&hello, "c", NULL, 2, 1);
    hello.u.hello.protocol_version = 0;
    assert_int_equal(check_hello(&hello, "c", NULL, 1, &refusal, why), RK_EINVAL);
    assert_int_equal(refusal, RK_WIRE_REFUSAL_VERSION);
    assert_string_equal(why, "protocol version 0 is older than 5, the oldest this node speaks");
    /* Version 1 does not know forwarded operations and reply kinds: refused too. */
    hello.u.hello.protocol_version = 1;
    assert_int_equal(check_hello(&hello, "c", NULL, 1, &refusal, why), RK_EINVAL);
    assert_int_equal(refusal, RK_WIRE_REFUSAL_VERSION);

    /* A newer peer is accepted: the connection speaks the lower of the two versions. */
    hello.u.hello.protocol_version = RK_WIRE_PROTOCOL_VERSION + 1;
    assert_int_equal(check_hello(&hello, "c", NULL, 1, &refusal, why), 0);

    rk_wire_in beat;
    sample_msg(2, &beat);
    assert_int_equal(rk_wire_hello_check(&beat, "c", NULL, 1, &refusal, why, sizeof(why)),
                     RK_EINVAL);
    assert_int_equal(refusal, RK_WIRE_REFUSAL_OTHER);
    assert_string_equal(why, "expected hello first, got heartbeat");
    rk_wire_in get;
    sample_msg(3, &get);
    assert_int_equal(rk_wire_hello_check(&get, "c", NULL, 1, &refusal, why, sizeof(why)),
                     RK_EINVAL);
    assert_string_equal(why, "expected hello first, got get_req");
    /* why and refusal are optional. */
    assert_int_equal(rk_wire_hello_check(&beat, "c", NULL, 1, NULL, NULL, 0), RK_EINVAL);
}

/* The proof is part of the wire format: the same inputs give the same 16 bytes on every
 * machine and in every release. A change here breaks mixed-version clusters with secrets. */
static void test_hello_proof_is_stable(void **state)
{
    (void)state;
    uint8_t proof[RK_WIRE_PROOF_BYTES];
    rk_wire_hello_proof("s3cret", "test-cluster", 7, 0x0123456789abcdefull, proof);
    char hex[2 * RK_WIRE_PROOF_BYTES + 1];
    for (size_t i = 0; i < RK_WIRE_PROOF_BYTES; i++) {
        snprintf(hex + 2 * i, 3, "%02x", proof[i]);
    }
    assert_string_equal(hex, TEST_PROOF_HEX);

    uint8_t other[RK_WIRE_PROOF_BYTES];
    rk_wire_hello_proof("s3cre", "ttest-cluster", 7, 0x0123456789abcdefull, other);
    assert_memory_not_equal(proof, other, sizeof(proof));
    rk_wire_hello_proof("s3cret", "test-cluster", 7, 0x0123456789abcdeeull, other);
    assert_memory_not_equal(proof, other, sizeof(proof));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_frame_header_layout),
        cmocka_unit_test(test_round_trip_zero_and_empty_fields),
        cmocka_unit_test(test_round_trip_default_max_value),
        cmocka_unit_test(test_many_frames_in_one_read),
        cmocka_unit_test(test_split_at_every_byte_gives_the_same_messages),
        cmocka_unit_test(test_truncated_frame_waits_and_says_its_size),
        cmocka_unit_test(test_limits_are_validated),
        cmocka_unit_test(test_frame_at_limit_is_accepted),
        cmocka_unit_test(test_frame_over_limit_is_refused),
        cmocka_unit_test(test_default_limit_refuses_one_byte_more),
        cmocka_unit_test(test_unknown_frame_version_is_refused),
        cmocka_unit_test(test_unknown_frame_flags_are_refused),
        cmocka_unit_test(test_length_shorter_than_header_is_refused),
        cmocka_unit_test(test_decoder_error_is_final),
        cmocka_unit_test(test_garbage_payload_is_refused),
        cmocka_unit_test(test_envelope_without_known_body_is_refused),
        cmocka_unit_test(test_unknown_field_in_known_message_is_skipped),
        cmocka_unit_test(test_truncated_payload_is_refused),
        cmocka_unit_test(test_out_of_range_fields_are_refused),
        cmocka_unit_test(test_decode_budget_refuses_unknown_field_floods),
        cmocka_unit_test(test_random_payloads_are_handled),
        cmocka_unit_test(test_encode_checks_field_ranges),
        cmocka_unit_test(test_frame_offsets_allow_coalescing_and_reordering),
        cmocka_unit_test(test_hello_check_accepts_matching_peer),
        cmocka_unit_test(test_hello_check_refuses_other_cluster),
        cmocka_unit_test(test_hello_check_refuses_own_node_id),
        cmocka_unit_test(test_hello_check_refuses_secret_mismatches),
        cmocka_unit_test(test_hello_check_refuses_old_version_and_other_messages),
        cmocka_unit_test(test_hello_proof_is_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
