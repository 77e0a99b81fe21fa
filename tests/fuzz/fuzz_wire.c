/* fuzz_wire.c — libFuzzer target for the internode wire codec (src/net/wire.c) and its
 * one-step decoder (rk_wire_decode: bytes to the core's rk_msg or a control message). The
 * input after its first (control) byte is a peer's byte stream; it is decoded in one read, in
 * two reads split where the control byte says, and byte by byte when short, and every run must
 * give the same messages, the same error and stop at the same offset. Any bytes either decode
 * to a valid message or are refused (RK_ECORRUPT, RK_ETOOBIG), never crash. Every call sees an
 * exact-size heap copy, so ASan catches any read past the bytes received. Each decoded message
 * is encoded again (rk_wire_encode_msg or _ctl, which must accept what the decoder accepted)
 * and must decode to the same fields; each decoded Hello goes through rk_wire_hello_check,
 * which must accept or explain.
 * Control bits: 0x01 small frame limit (RK_WIRE_FRAME_BYTES_MIN) instead of the default;
 * 0x02 payload mode: the input is [u8 length][payload]... and each payload is wrapped in a
 * valid frame header first, so mutations reach protobuf-c without having to find lengths.
 * Build and run: docs/wire.md, or scripts/test-all.sh (make fuzz). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/net/wire.h"

#define FUZZ_NAME "fuzz_wire"
#include "fuzz_log.h"

#define FUZZ_BYTEWISE_BYTES_MAX 256u  /* byte-by-byte costs O(n^2) copies; keep inputs short */


static const rk_wire_limits fuzz_small_limits = {.frame_bytes_max = RK_WIRE_FRAME_BYTES_MIN};


static void fuzz_log_bytes(fuzz_log *log, const uint8_t *data, size_t len)
{
    FUZZ_CHECK(len == 0 || data != NULL);
    fuzz_log_u64(log, len);
    fuzz_log_add(log, data, len);
}

static void fuzz_log_str(fuzz_log *log, const char *s)
{
    FUZZ_CHECK(s != NULL);
    size_t len = strlen(s);
    fuzz_log_u64(log, len);
    fuzz_log_add(log, s, len);
}

/* Every field of a core message, whatever its kind. */
static void fuzz_log_core(fuzz_log *log, const rk_msg *m)
{
    FUZZ_CHECK(m->kind >= RK_MSG_GET_REQ && m->kind <= RK_MSG_KIND_MAX);
    fuzz_log_u64(log, (uint64_t)m->kind);
    fuzz_log_u64(log, m->req_id);
    fuzz_log_u64(log, (uint64_t)(int64_t)m->status);
    fuzz_log_u64(log, m->flags);
    fuzz_log_bytes(log, m->key, m->key_len);
    fuzz_log_bytes(log, m->object, m->object_len);
    fuzz_log_u64(log, m->req_kind);
    fuzz_log_bytes(log, m->value, m->value_len);
    fuzz_log_bytes(log, m->context, m->context_len);
    fuzz_log_u64(log, m->r);
    fuzz_log_u64(log, m->w);
    fuzz_log_u64(log, (uint64_t)m->integer);
    fuzz_log_bytes(log, m->message, m->message_len);
    fuzz_log_u64(log, m->version);
    fuzz_log_u64(log, m->hint_owner);
    fuzz_log_u64(log, m->sloppy);
    fuzz_log_u64(log, m->partition);
    fuzz_log_u64(log, m->level);
    fuzz_log_u64(log, m->index_count);
    for (uint32_t i = 0; i < m->index_count; i++) {
        fuzz_log_u64(log, m->indices[i]);
    }
    fuzz_log_u64(log, m->hash_count);
    for (uint32_t i = 0; i < m->hash_count; i++) {
        fuzz_log_u64(log, m->hashes[i]);
    }
    fuzz_log_u64(log, m->value_count);
    for (uint32_t i = 0; i < m->value_count; i++) {
        fuzz_log_bytes(log, m->values[i].data, m->values[i].len);
    }
    fuzz_log_u64(log, m->object_count);
    for (uint32_t i = 0; i < m->object_count; i++) {
        fuzz_log_bytes(log, m->objects[i].data, m->objects[i].len);
    }
}

/* Every field of a decoded frame, so two logs are equal only if the messages are. */
static void fuzz_log_msg(fuzz_log *log, const rk_wire_in *in)
{
    const rk_wire_ctl *m = &in->ctl;
    fuzz_log_u64(log, (uint64_t)m->type);
    switch (m->type) {
    case RK_WIRE_HELLO:
        fuzz_log_u64(log, m->u.hello.protocol_version);
        fuzz_log_str(log, m->u.hello.cluster);
        fuzz_log_u64(log, m->u.hello.node_id);
        fuzz_log_u64(log, m->u.hello.nonce);
        fuzz_log_u64(log, m->u.hello.has_proof);
        fuzz_log_add(log, m->u.hello.proof, sizeof(m->u.hello.proof));
        break;
    case RK_WIRE_HELLO_ACK:
        fuzz_log_u64(log, m->u.hello_ack.refusal);
        fuzz_log_str(log, m->u.hello_ack.reason);
        break;
    case RK_WIRE_HEARTBEAT:
        fuzz_log_u64(log, m->u.heartbeat.seq);
        fuzz_log_u64(log, m->u.heartbeat.sent_ms);
        break;
    case RK_WIRE_MSG:
        fuzz_log_core(log, &in->msg);
        break;
    case RK_WIRE_NONE:
        FUZZ_CHECK(!"a decoded message has a type");
    }
}

static void fuzz_same(const fuzz_log *a, const fuzz_log *b)
{
    FUZZ_CHECK(a->len == b->len);
    FUZZ_CHECK(a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Encode a decoded message again (under the same limits: it came in a frame within them, and
 * re-encoding never grows it past what a frame allows) and decode that: the same fields. */
static void fuzz_round_trip(const rk_wire_limits *limits, const rk_wire_in *m)
{
    rk_wire_out out;
    FUZZ_CHECK(rk_wire_out_init(&out, limits) == 0);
    int rc = m->ctl.type == RK_WIRE_MSG ? rk_wire_encode_msg(&out, &m->msg)
                                        : rk_wire_encode_ctl(&out, &m->ctl);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(out.frame_count == 1);

    rk_wire_decoder d;
    FUZZ_CHECK(rk_wire_decoder_init(&d, limits) == 0);
    rk_wire_frame frame;
    size_t consumed = 0;
    FUZZ_CHECK(rk_wire_decode_frame(&d, out.data, out.len, &frame, &consumed) == 1);
    FUZZ_CHECK(consumed == out.len);
    rk_wire_in back;
    FUZZ_CHECK(rk_wire_decode(&d, &frame, &back) == 0);
    fuzz_log a = {0};
    fuzz_log b = {0};
    fuzz_log_msg(&a, m);
    fuzz_log_msg(&b, &back);
    fuzz_same(&a, &b);
    free(a.data);
    free(b.data);
    rk_wire_in_deinit(&back);
    rk_wire_out_deinit(&out);
}

static void fuzz_hello_check(const rk_wire_in *m)
{
    char why[RK_WIRE_ERROR_BYTES_MAX];
    rk_wire_refusal refusal = RK_WIRE_REFUSAL_NONE;
    bool secret = m->ctl.type == RK_WIRE_HELLO && (m->ctl.u.hello.nonce & 1) != 0;
    int rc = rk_wire_hello_check(m, "fuzz", secret ? "secret" : NULL, 1, &refusal, why,
                                 sizeof(why));
    if (rc == 0) {
        FUZZ_CHECK(refusal == RK_WIRE_REFUSAL_NONE);
        FUZZ_CHECK(why[0] == '\0');
    } else {
        FUZZ_CHECK(rc == RK_EINVAL);
        FUZZ_CHECK(refusal != RK_WIRE_REFUSAL_NONE);
        FUZZ_CHECK(why[0] != '\0');
    }
}

/* Decode `in` arriving in reads that end at cuts[] (increasing, last == len). */
static void fuzz_decode(const rk_wire_limits *limits, const uint8_t *in, size_t len,
                        const size_t *cuts, size_t cut_count, bool check_more, fuzz_log *log)
{
    rk_wire_decoder d;
    FUZZ_CHECK(rk_wire_decoder_init(&d, limits) == 0);
    size_t off = 0;
    int rc = 0;
    for (size_t c = 0; c < cut_count && rc >= 0; c++) {
        FUZZ_CHECK(cuts[c] >= off);
        FUZZ_CHECK(cuts[c] <= len);
        for (;;) {
            size_t avail = cuts[c] - off;
            uint8_t *copy = malloc(avail == 0 ? 1 : avail);
            FUZZ_CHECK(copy != NULL);
            memcpy(copy, in + off, avail);
            rk_wire_frame frame;
            size_t consumed = 1;
            rc = rk_wire_decode_frame(&d, copy, avail, &frame, &consumed);
            if (rc == 1) {
                FUZZ_CHECK(consumed == frame.frame_bytes);
                FUZZ_CHECK(consumed >= RK_WIRE_HEADER_BYTES);
                FUZZ_CHECK(consumed <= avail);
                FUZZ_CHECK(consumed <= d.limits.frame_bytes_max);
                rk_wire_in m;
                rc = rk_wire_decode(&d, &frame, &m);
                free(copy);
                if (rc == 0) {
                    fuzz_log_msg(log, &m);
                    fuzz_log_u64(log, consumed);
                    if (check_more) {
                        fuzz_round_trip(limits, &m);
                        fuzz_hello_check(&m);
                    }
                    rk_wire_in_deinit(&m);
                    off += consumed;
                    continue;
                }
                FUZZ_CHECK(m.ctl.type == RK_WIRE_NONE);
                FUZZ_CHECK(m.msg.kind == 0);
                FUZZ_CHECK(m.unpacked == NULL);
                FUZZ_CHECK(rc == RK_ECORRUPT || rc == RK_ETOOBIG);
            } else {
                free(copy);
                FUZZ_CHECK(consumed == 0);
                FUZZ_CHECK(rc == 0 || rc == RK_ECORRUPT || rc == RK_ETOOBIG);
            }
            if (rc < 0) {
                size_t error_len = strlen(d.error);
                FUZZ_CHECK(error_len > 0);
                fuzz_log_u64(log, (uint64_t)(int64_t)rc);
                fuzz_log_add(log, d.error, error_len);
            }
            break;
        }
    }
    fuzz_log_u64(log, off);
}

/* Payload mode: [u8 length][payload]... becomes a stream of well-framed payloads. */
static uint8_t *fuzz_frame_payloads(const uint8_t *in, size_t len, size_t *out_len)
{
    uint8_t *out = malloc(len * 7u + 1u);   /* at most one 6-byte header per input byte */
    FUZZ_CHECK(out != NULL);
    size_t at = 0;
    size_t i = 0;
    while (i < len) {
        size_t payload_len = in[i++];
        if (payload_len > len - i) {
            payload_len = len - i;
        }
        uint32_t length = (uint32_t)payload_len + 2u;
        out[at++] = (uint8_t)(length >> 24);
        out[at++] = (uint8_t)(length >> 16);
        out[at++] = (uint8_t)(length >> 8);
        out[at++] = (uint8_t)length;
        out[at++] = RK_WIRE_FRAME_VERSION;
        out[at++] = 0;
        memcpy(out + at, in + i, payload_len);
        at += payload_len;
        i += payload_len;
    }
    *out_len = at;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint8_t control = data[0];
    const rk_wire_limits *limits = (control & 1) ? &fuzz_small_limits : NULL;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    uint8_t *framed = NULL;
    if (control & 2) {
        framed = fuzz_frame_payloads(in, len, &len);
        in = framed;
    }

    fuzz_log whole = {0};
    size_t one = len;
    fuzz_decode(limits, in, len, &one, 1, true, &whole);

    fuzz_log split = {0};
    size_t two[2] = {(size_t)(control >> 2) * len / 63u, len};
    fuzz_decode(limits, in, len, two, 2, false, &split);
    fuzz_same(&whole, &split);

    if (len <= FUZZ_BYTEWISE_BYTES_MAX) {
        size_t cuts[FUZZ_BYTEWISE_BYTES_MAX];
        for (size_t i = 0; i < len; i++) {
            cuts[i] = i + 1;
        }
        fuzz_log bytewise = {0};
        fuzz_decode(limits, in, len, cuts, len, false, &bytewise);
        fuzz_same(&whole, &bytewise);
        free(bytewise.data);
    }
    free(split.data);
    free(whole.data);
    free(framed);
    return 0;
}
