/* wire.c — the internode wire codec (see wire.h and docs/wire.md). Frames are a fixed 6-byte
 * header checked as soon as it arrives, then an opaque payload; payloads are protobuf
 * Envelopes packed and unpacked by protoc-c's generated code (ringkv.pb-c.c, built from
 * proto/ringkv.proto). The generated structs map straight to the core's rk_msg (wire_msg.c)
 * or the runtime's rk_wire_ctl (wire_pb.c), each through one range check run before encoding
 * and after decoding, so whatever one node sends another accepts. */
#include "wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t on the stack: no allocation for a proof */
#include <xxhash.h>

#include "ringkv.pb-c.h"
#include "wire_pb.h"

#define WIRE_OUT_INITIAL_BYTES   4096u
#define WIRE_OUT_FRAMES_INITIAL  16u
/* Decoding a payload of P bytes may allocate at most 2P + this. A real message needs P plus
 * a few structs; 2-byte unknown fields cost up to ~90 bytes each while protobuf-c decodes
 * them (1.4.1, measured), the one way a frame could make it allocate far more than P. */
#define WIRE_DECODE_SLACK_BYTES  (64u * 1024u)
/* Room beside the payload for protobuf-c's structs when it unpacks one message (an
 * envelope and a request: a few hundred bytes). */
#define WIRE_ARENA_STRUCT_BYTES  1024u
#define WIRE_PROOF_TAG           "ringkv-hello-v1"

_Static_assert(RK_WIRE_ERROR_BYTES_MAX >= 96, "error texts name a value and a limit");
_Static_assert((int)RK_WIRE_REFUSAL_OTHER == (int)RINGKV__REFUSAL__REFUSAL_OTHER,
               "rk_wire_refusal mirrors ringkv.proto");
_Static_assert(sizeof(size_t) >= 8 || RK_WIRE_FRAME_BYTES_MAX < SIZE_MAX / 2,
               "budgets of 2 * frame + slack fit a size_t");

/* ---- limits and messages ------------------------------------------------------------------ */

int rk_wire_limits_for_value(uint64_t value_bytes_max, rk_wire_limits *out)
{
    RK_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (value_bytes_max == 0 || value_bytes_max > RK_VALUE_BYTES_MAX) {
        return RK_EINVAL;
    }
    out->frame_bytes_max = value_bytes_max + RK_WIRE_FRAME_OVERHEAD_BYTES;
    return 0;
}

static int wire_limits_init(rk_wire_limits *dst, const rk_wire_limits *src)
{
    dst->frame_bytes_max = src != NULL ? src->frame_bytes_max : RK_WIRE_FRAME_BYTES_DEFAULT;
    if (dst->frame_bytes_max < RK_WIRE_FRAME_BYTES_MIN ||
        dst->frame_bytes_max > RK_WIRE_FRAME_BYTES_MAX) {
        return RK_EINVAL;
    }
    return 0;
}

/* ---- protobuf-c allocations: an arena under a budget --------------------------------------- */

/* protobuf-c allocates per message and per bytes field as it unpacks (a put request: the
 * envelope, the request, its key and its object). All of it lives exactly as long as the
 * decoded frame, so it comes from an arena of chunks, usually one malloc sized from the
 * payload, and goes back in one piece; protobuf-c's frees are no-ops. */
typedef struct wire_chunk {
    struct wire_chunk *next;
    size_t size;                /* bytes in data */
    size_t used;
    max_align_t data[];
} wire_chunk;

typedef struct wire_budget {
    size_t used;                /* chunk bytes taken */
    size_t max;
    size_t chunk_bytes_next;    /* the next chunk's size, unless one allocation needs more */
    wire_chunk *chunks;         /* newest first */
    bool over;                  /* an allocation was refused for the budget */
    bool failed;                /* malloc itself failed */
} wire_budget;

#define WIRE_ALIGN _Alignof(max_align_t)

static void *wire_alloc(void *ctx, size_t size)
{
    wire_budget *b = ctx;
    if (size > SIZE_MAX - WIRE_ALIGN) {
        b->over = true;
        return NULL;
    }
    size_t need = (size + WIRE_ALIGN - 1) & ~(size_t)(WIRE_ALIGN - 1);
    wire_chunk *c = b->chunks;
    if (c == NULL || c->size - c->used < need) {
        RK_ASSERT(b->used <= b->max);
        if (need > b->max - b->used) {
            b->over = true;
            return NULL;
        }
        size_t bytes = need > b->chunk_bytes_next ? need : b->chunk_bytes_next;
        bytes = bytes < b->max - b->used ? bytes : b->max - b->used;
        c = malloc(sizeof(*c) + bytes);
        if (c == NULL) {
            b->failed = true;
            return NULL;
        }
        c->next = b->chunks;
        c->size = bytes;
        c->used = 0;
        b->chunks = c;
        b->used += bytes;
        b->chunk_bytes_next = bytes;
    }
    void *p = (uint8_t *)c->data + c->used;
    c->used += need;
    RK_ASSERT(c->used <= c->size);
    return p;
}

static void wire_free(void *ctx, void *ptr)
{
    (void)ctx;
    (void)ptr;      /* the arena goes back whole (wire_chunks_free) */
}

static void wire_chunks_free(wire_chunk *c)
{
    while (c != NULL) {
        wire_chunk *next = c->next;
        free(c);
        c = next;
    }
}

void rk_wire_in_deinit(rk_wire_in *in)
{
    RK_ASSERT(in != NULL);
    wire_chunks_free(in->arena);
    memset(in, 0, sizeof(*in));
}

/* ---- decoding ----------------------------------------------------------------------------- */

static int wire_decoder_fail(rk_wire_decoder *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Enter the final error state. Returns `code` so callers can `return wire_decoder_fail(...)`. */
static int wire_decoder_fail(rk_wire_decoder *d, int code, const char *fmt, ...)
{
    RK_ASSERT(code < 0);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->error, sizeof(d->error), fmt, ap);
    va_end(ap);
    d->error_code = code;
    d->frame_bytes_pending = 0;
    return code;
}

int rk_wire_decoder_init(rk_wire_decoder *d, const rk_wire_limits *limits)
{
    RK_ASSERT(d != NULL);
    memset(d, 0, sizeof(*d));
    int rc = wire_limits_init(&d->limits, limits);
    if (rc < 0) {
        wire_decoder_fail(d, rc, "frame limit %llu bytes is outside %u to %u",
                          (unsigned long long)d->limits.frame_bytes_max, RK_WIRE_FRAME_BYTES_MIN,
                          RK_WIRE_FRAME_BYTES_MAX);
    }
    return rc;
}

static uint32_t wire_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void wire_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int rk_wire_decode_frame(rk_wire_decoder *d, const uint8_t *buf, size_t len,
                         rk_wire_frame *frame, size_t *consumed)
{
    RK_ASSERT(d != NULL);
    RK_ASSERT(frame != NULL);
    RK_ASSERT(consumed != NULL);
    RK_ASSERT(buf != NULL || len == 0);
    *consumed = 0;
    memset(frame, 0, sizeof(*frame));
    if (d->error_code != 0) {
        return d->error_code;
    }
    d->frame_bytes_pending = 0;
    if (len < RK_WIRE_LENGTH_BYTES) {
        return 0;
    }
    /* The header is re-read on every call (6 bytes); the payload never is. */
    uint32_t length = wire_load_be32(buf);
    if (length < RK_WIRE_HEADER_BYTES - RK_WIRE_LENGTH_BYTES) {
        return wire_decoder_fail(d, RK_ECORRUPT,
                                 "frame length %u is shorter than the version and flags after it",
                                 length);
    }
    uint64_t frame_bytes = (uint64_t)RK_WIRE_LENGTH_BYTES + length;
    if (frame_bytes > d->limits.frame_bytes_max) {
        return wire_decoder_fail(d, RK_ETOOBIG, "frame is %llu bytes; the limit is %llu bytes",
                                 (unsigned long long)frame_bytes,
                                 (unsigned long long)d->limits.frame_bytes_max);
    }
    d->frame_bytes_pending = (size_t)frame_bytes;
    if (len < RK_WIRE_LENGTH_BYTES + 1u) {
        return 0;
    }
    uint8_t version = buf[RK_WIRE_LENGTH_BYTES];
    if (version != RK_WIRE_FRAME_VERSION) {
        return wire_decoder_fail(d, RK_ECORRUPT,
                                 "frame version %u is not supported; this node speaks %u",
                                 version, RK_WIRE_FRAME_VERSION);
    }
    if (len < RK_WIRE_HEADER_BYTES) {
        return 0;
    }
    uint8_t flags = buf[RK_WIRE_LENGTH_BYTES + 1u];
    if (flags != 0) {
        return wire_decoder_fail(d, RK_ECORRUPT,
                                 "frame flags 0x%02x are unknown to frame version %u", flags,
                                 RK_WIRE_FRAME_VERSION);
    }
    if (len < frame_bytes) {
        return 0;
    }
    frame->version = version;
    frame->flags = flags;
    frame->payload = buf + RK_WIRE_HEADER_BYTES;
    frame->payload_len = (size_t)frame_bytes - RK_WIRE_HEADER_BYTES;
    frame->frame_bytes = (size_t)frame_bytes;
    d->frame_bytes_pending = 0;
    d->frames_decoded++;
    *consumed = (size_t)frame_bytes;
    return 1;
}

/* The control message in `env` into in->ctl, checked. Returns 0, or RK_ECORRUPT with `why`;
 * 1 when the body is not a control message. */
static int wire_decode_ctl(rk_wire_in *in, const Ringkv__Envelope *env, char *why,
                           size_t why_bytes)
{
    if (!rk_wire_pb_to_ctl(&in->ctl, env)) {
        return 1;
    }
    /* A field whose range the C struct cannot show (a proof of 3 bytes) is checked here, the
     * rest by the same check the encoder runs. */
    size_t proof_len = env->body_case == RINGKV__ENVELOPE__BODY_HELLO
                           ? env->hello->secret_proof.len : 0;
    if (proof_len != 0 && proof_len != RK_WIRE_PROOF_BYTES) {
        snprintf(why, why_bytes, "hello: secret proof is %zu bytes, not %u", proof_len,
                 RK_WIRE_PROOF_BYTES);
        return RK_ECORRUPT;
    }
    return rk_wire_pb_ctl_check(&in->ctl, why, why_bytes) ? 0 : RK_ECORRUPT;
}

int rk_wire_decode(rk_wire_decoder *d, const rk_wire_frame *frame, rk_wire_in *in)
{
    RK_ASSERT(d != NULL);
    RK_ASSERT(frame != NULL);
    RK_ASSERT(in != NULL);
    memset(in, 0, sizeof(*in));
    if (d->error_code != 0) {
        return d->error_code;
    }
    RK_ASSERT(frame->payload != NULL || frame->payload_len == 0);
    RK_ASSERT(frame->payload_len <= d->limits.frame_bytes_max);

    /* The payload and the structs around it: one chunk for any message this node sends. */
    wire_budget budget = {.max = 2u * frame->payload_len + WIRE_DECODE_SLACK_BYTES,
                          .chunk_bytes_next = frame->payload_len + WIRE_ARENA_STRUCT_BYTES};
    ProtobufCAllocator allocator = {wire_alloc, wire_free, &budget};
    Ringkv__Envelope *env =
        ringkv__envelope__unpack(&allocator, frame->payload_len, frame->payload);
    if (env == NULL) {
        wire_chunks_free(budget.chunks);
        if (budget.failed) {
            return wire_decoder_fail(d, RK_ENOMEM, "out of memory decoding a %zu-byte payload",
                                     frame->payload_len);
        }
        if (budget.over) {
            return wire_decoder_fail(d, RK_ETOOBIG,
                                     "decoding the %zu-byte payload needs more than %zu bytes",
                                     frame->payload_len, budget.max);
        }
        return wire_decoder_fail(d, RK_ECORRUPT, "%zu-byte payload is not a valid Envelope",
                                 frame->payload_len);
    }
    in->unpacked = env;
    in->arena = budget.chunks;

    char why[RK_WIRE_ERROR_BYTES_MAX];
    int rc = wire_decode_ctl(in, env, why, sizeof(why));
    if (rc == 1) {
        in->ctl.type = RK_WIRE_MSG;
        rc = rk_wire_pb_to_msg(&in->msg, env, why, sizeof(why));
    }
    if (rc != 0) {
        RK_ASSERT(rc == RK_ECORRUPT);
        rk_wire_in_deinit(in);
        return wire_decoder_fail(d, RK_ECORRUPT, "%s", why);
    }
    return 0;
}

/* ---- encoding ----------------------------------------------------------------------------- */

static int wire_out_fail(rk_wire_out *o, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int wire_out_fail(rk_wire_out *o, int code, const char *fmt, ...)
{
    RK_ASSERT(code < 0);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->error, sizeof(o->error), fmt, ap);
    va_end(ap);
    return code;
}

int rk_wire_out_init(rk_wire_out *o, const rk_wire_limits *limits)
{
    RK_ASSERT(o != NULL);
    memset(o, 0, sizeof(*o));
    int rc = wire_limits_init(&o->limits, limits);
    if (rc < 0) {
        return wire_out_fail(o, rc, "frame limit %llu bytes is outside %u to %u",
                             (unsigned long long)o->limits.frame_bytes_max,
                             RK_WIRE_FRAME_BYTES_MIN, RK_WIRE_FRAME_BYTES_MAX);
    }
    return 0;
}

void rk_wire_out_deinit(rk_wire_out *o)
{
    RK_ASSERT(o != NULL);
    free(o->data);
    free(o->frame_off);
    memset(o, 0, sizeof(*o));
}

void rk_wire_out_reset(rk_wire_out *o)
{
    RK_ASSERT(o != NULL);
    o->len = 0;
    o->frame_count = 0;
    if (o->capacity > RK_WIRE_OUT_KEEP_BYTES) {
        free(o->data);
        o->data = NULL;
        o->capacity = 0;
    }
    if (o->frame_capacity * sizeof(*o->frame_off) > RK_WIRE_OUT_KEEP_BYTES) {
        free(o->frame_off);
        o->frame_off = NULL;
        o->frame_capacity = 0;
    }
}

size_t rk_wire_out_frame_bytes(const rk_wire_out *o, size_t frame_index)
{
    RK_ASSERT(o != NULL);
    RK_ASSERT(frame_index < o->frame_count);
    size_t end = frame_index + 1 < o->frame_count ? o->frame_off[frame_index + 1] : o->len;
    RK_ASSERT(end > o->frame_off[frame_index]);
    return end - o->frame_off[frame_index];
}

/* Room for `bytes` more bytes and one more frame offset; nothing changes on failure. */
static bool wire_out_reserve(rk_wire_out *o, size_t bytes)
{
    RK_ASSERT(o->len <= o->capacity);
    RK_ASSERT(o->frame_count <= o->frame_capacity);
    if (o->frame_count == o->frame_capacity) {
        if (o->frame_capacity > SIZE_MAX / 2u / sizeof(*o->frame_off)) {
            return false;
        }
        size_t capacity = o->frame_capacity == 0 ? WIRE_OUT_FRAMES_INITIAL
                                                 : o->frame_capacity * 2u;
        size_t *grown = realloc(o->frame_off, capacity * sizeof(*grown));
        if (grown == NULL) {
            return false;
        }
        o->frame_off = grown;
        o->frame_capacity = capacity;
    }
    if (o->capacity - o->len >= bytes) {
        return true;
    }
    if (bytes > SIZE_MAX / 2u - o->len) {
        return false;
    }
    size_t need = o->len + bytes;
    /* Doubling for many small frames; exactly what is needed for one big one, so a 16 MiB
     * value does not cost a 32 MiB buffer. */
    size_t capacity = o->capacity == 0 ? WIRE_OUT_INITIAL_BYTES : o->capacity * 2u;
    if (capacity < need) {
        capacity = need;
    }
    uint8_t *grown = realloc(o->data, capacity);
    if (grown == NULL) {
        return false;
    }
    o->data = grown;
    o->capacity = capacity;
    return true;
}

/* Append the checked envelope `env` of a `name` message as one frame. */
/* The one field of an envelope: its oneof body, a submessage (tag, length, message). */
static const ProtobufCMessage *wire_env_body(const Ringkv__Envelope *env, uint32_t *field_out)
{
    RK_ASSERT(env->body_case != RINGKV__ENVELOPE__BODY__NOT_SET);
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field(&ringkv__envelope__descriptor, env->body_case);
    RK_ASSERT(field != NULL);
    RK_ASSERT(field->type == PROTOBUF_C_TYPE_MESSAGE);
    *field_out = field->id;
    const ProtobufCMessage *body = NULL;
    memcpy(&body, (const uint8_t *)env + field->offset, sizeof(body));
    RK_ASSERT(body != NULL);
    return body;
}

static size_t wire_varint_pack(uint64_t value, uint8_t *out)
{
    size_t len = 0;
    while (value >= 0x80u) {
        out[len++] = (uint8_t)(value | 0x80u);
        value >>= 7;
    }
    out[len++] = (uint8_t)value;
    return len;
}

/* An envelope is one oneof field: its tag and length, then the body. `head` holds the tag and
 * length (at most two varints); the body is packed in place after it (wire_encode_env). */
typedef struct wire_env_parts {
    const ProtobufCMessage *body;
    size_t body_len;
    uint8_t head[20];
    size_t head_len;
} wire_env_parts;

/* Size the envelope once: the body's packed size, and the head in front of it. */
static void wire_env_parts_of(const Ringkv__Envelope *env, wire_env_parts *out)
{
    uint32_t field = 0;
    out->body = wire_env_body(env, &field);
    out->body_len = protobuf_c_message_get_packed_size(out->body);
    out->head_len = wire_varint_pack(((uint64_t)field << 3) | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
                                     out->head);
    out->head_len += wire_varint_pack(out->body_len, out->head + out->head_len);
    RK_ASSERT_SLOW(out->head_len + out->body_len == ringkv__envelope__get_packed_size(env));
}

/* The frame of `env`: the same bytes ringkv__envelope__pack writes, without the memmove
 * protobuf-c makes of a submessage over 127 bytes to fit its length in front (one more copy of
 * every object sent). */
static int wire_encode_env(rk_wire_out *o, const Ringkv__Envelope *env, const char *name)
{
    wire_env_parts parts;
    wire_env_parts_of(env, &parts);
    size_t payload_len = parts.head_len + parts.body_len;
    if (payload_len > o->limits.frame_bytes_max - RK_WIRE_HEADER_BYTES) {
        return wire_out_fail(o, RK_ETOOBIG, "%s frame would be %llu bytes; the limit is %llu bytes",
                             name, (unsigned long long)payload_len + RK_WIRE_HEADER_BYTES,
                             (unsigned long long)o->limits.frame_bytes_max);
    }
    size_t frame_bytes = RK_WIRE_HEADER_BYTES + payload_len;
    if (!wire_out_reserve(o, frame_bytes)) {
        return wire_out_fail(o, RK_ENOMEM, "out of memory for a %zu-byte %s frame", frame_bytes,
                             name);
    }
    uint8_t *frame = o->data + o->len;
    wire_store_be32(frame, (uint32_t)(frame_bytes - RK_WIRE_LENGTH_BYTES));
    frame[RK_WIRE_LENGTH_BYTES] = RK_WIRE_FRAME_VERSION;
    frame[RK_WIRE_LENGTH_BYTES + 1u] = 0;  /* no flags are defined in frame version 1 */
    uint8_t *payload = frame + RK_WIRE_HEADER_BYTES;
    memcpy(payload, parts.head, parts.head_len);
    size_t packed = protobuf_c_message_pack(parts.body, payload + parts.head_len);
    RK_ASSERT(packed == parts.body_len);

    o->frame_off[o->frame_count] = o->len;
    o->frame_count++;
    o->len += frame_bytes;
    return 0;
}

int rk_wire_encode_msg(rk_wire_out *o, const rk_msg *m)
{
    RK_ASSERT(o != NULL);
    RK_ASSERT(m != NULL);
    RK_ASSERT(o->limits.frame_bytes_max >= RK_WIRE_FRAME_BYTES_MIN);
    o->error[0] = '\0';

    char why[RK_WIRE_ERROR_BYTES_MAX];
    Ringkv__Envelope env;
    rk_wire_pb_body body;
    if (rk_wire_pb_from_msg(&env, &body, m, why, sizeof(why)) != 0) {
        return wire_out_fail(o, RK_EINVAL, "%s", why);
    }
    return wire_encode_env(o, &env, rk_wire_kind_name(m->kind));
}

int rk_wire_out_copy_frame(rk_wire_out *dst, const rk_wire_out *src, size_t frame_index)
{
    RK_ASSERT(dst != src);
    RK_ASSERT(frame_index < src->frame_count);
    dst->error[0] = '\0';
    size_t frame_bytes = rk_wire_out_frame_bytes(src, frame_index);
    if (frame_bytes > dst->limits.frame_bytes_max) {
        return wire_out_fail(dst, RK_ETOOBIG, "a %zu-byte frame is over the limit of %llu bytes",
                             frame_bytes, (unsigned long long)dst->limits.frame_bytes_max);
    }
    if (!wire_out_reserve(dst, frame_bytes)) {
        return wire_out_fail(dst, RK_ENOMEM, "out of memory for a %zu-byte frame", frame_bytes);
    }
    memcpy(dst->data + dst->len, src->data + src->frame_off[frame_index], frame_bytes);
    dst->frame_off[dst->frame_count] = dst->len;
    dst->frame_count++;
    dst->len += frame_bytes;
    return 0;
}

int rk_wire_encode_ctl(rk_wire_out *o, const rk_wire_ctl *ctl)
{
    RK_ASSERT(o != NULL);
    RK_ASSERT(ctl != NULL);
    RK_ASSERT(o->limits.frame_bytes_max >= RK_WIRE_FRAME_BYTES_MIN);
    o->error[0] = '\0';

    char why[RK_WIRE_ERROR_BYTES_MAX];
    if (!rk_wire_pb_ctl_check(ctl, why, sizeof(why))) {
        return wire_out_fail(o, RK_EINVAL, "%s", why);
    }
    Ringkv__Envelope env;
    rk_wire_pb_body body;
    rk_wire_pb_from_ctl(&env, &body, ctl);
    return wire_encode_env(o, &env, rk_wire_type_name(ctl->type));
}

/* ---- handshake ---------------------------------------------------------------------------- */

static void wire_proof_field(XXH3_state_t *state, const void *data, size_t len)
{
    uint8_t len_le[8];
    for (int i = 0; i < 8; i++) {
        len_le[i] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    XXH3_128bits_update(state, len_le, sizeof(len_le));
    XXH3_128bits_update(state, data, len);
}

void rk_wire_hello_proof(const char *secret, const char *cluster, uint32_t node_id,
                         uint64_t nonce, uint8_t out[RK_WIRE_PROOF_BYTES])
{
    RK_ASSERT(secret != NULL);
    RK_ASSERT(cluster != NULL);
    /* Each field carries its length, so ("ab", "c") and ("a", "bc") differ; integers are
     * little-endian bytes, so every machine computes the same proof. */
    uint8_t numbers[12];
    for (int i = 0; i < 4; i++) {
        numbers[i] = (uint8_t)(node_id >> (8 * i));
    }
    for (int i = 0; i < 8; i++) {
        numbers[4 + i] = (uint8_t)(nonce >> (8 * i));
    }
    XXH3_state_t state;
    XXH3_INITSTATE(&state);
    XXH3_128bits_reset(&state);
    wire_proof_field(&state, WIRE_PROOF_TAG, sizeof(WIRE_PROOF_TAG) - 1u);
    wire_proof_field(&state, secret, strlen(secret));
    wire_proof_field(&state, cluster, strlen(cluster));
    wire_proof_field(&state, numbers, sizeof(numbers));
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(&state));
    _Static_assert(sizeof(canonical.digest) == RK_WIRE_PROOF_BYTES, "xxh3-128 is 16 bytes");
    memcpy(out, canonical.digest, RK_WIRE_PROOF_BYTES);
}

void rk_wire_hello_make(rk_wire_ctl *ctl, const char *cluster, const char *secret,
                        uint32_t self_id, uint64_t nonce)
{
    RK_ASSERT(ctl != NULL);
    RK_ASSERT(cluster != NULL);
    memset(ctl, 0, sizeof(*ctl));
    ctl->type = RK_WIRE_HELLO;
    ctl->u.hello.protocol_version = RK_WIRE_PROTOCOL_VERSION;
    ctl->u.hello.cluster = cluster;
    ctl->u.hello.node_id = self_id;
    ctl->u.hello.nonce = nonce;
    if (secret != NULL && secret[0] != '\0') {
        ctl->u.hello.has_proof = true;
        rk_wire_hello_proof(secret, cluster, self_id, nonce, ctl->u.hello.proof);
    }
}

static int wire_refuse(rk_wire_refusal code, rk_wire_refusal *refusal, char *why,
                       size_t why_bytes, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int wire_refuse(rk_wire_refusal code, rk_wire_refusal *refusal, char *why,
                       size_t why_bytes, const char *fmt, ...)
{
    if (refusal != NULL) {
        *refusal = code;
    }
    if (why != NULL && why_bytes > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_bytes, fmt, ap);
        va_end(ap);
    }
    return RK_EINVAL;
}

/* A peer's cluster name made printable for a log line: other bytes become '?'. */
static void wire_printable(char *dst, size_t dst_bytes, const char *src)
{
    RK_ASSERT(dst_bytes > 0);
    size_t i = 0;
    for (; i + 1 < dst_bytes && src[i] != '\0'; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c >= 0x20 && c < 0x7f && c != '\'' ? (char)c : '?';
    }
    dst[i] = '\0';
}

int rk_wire_hello_check(const rk_wire_in *hello, const char *cluster, const char *secret,
                        uint32_t self_id, rk_wire_refusal *refusal, char *why, size_t why_bytes)
{
    RK_ASSERT(hello != NULL);
    RK_ASSERT(cluster != NULL);
    if (refusal != NULL) {
        *refusal = RK_WIRE_REFUSAL_NONE;
    }
    if (why != NULL && why_bytes > 0) {
        why[0] = '\0';
    }
    if (hello->ctl.type != RK_WIRE_HELLO) {
        const char *got = hello->ctl.type == RK_WIRE_MSG ? rk_wire_kind_name(hello->msg.kind)
                                                         : rk_wire_type_name(hello->ctl.type);
        return wire_refuse(RK_WIRE_REFUSAL_OTHER, refusal, why, why_bytes,
                           "expected hello first, got %s", got);
    }
    const rk_wire_hello *h = &hello->ctl.u.hello;
    if (h->protocol_version < RK_WIRE_PROTOCOL_VERSION_MIN) {
        return wire_refuse(RK_WIRE_REFUSAL_VERSION, refusal, why, why_bytes,
                           "protocol version %u is older than %u, the oldest this node speaks",
                           h->protocol_version, RK_WIRE_PROTOCOL_VERSION_MIN);
    }
    const char *peer_cluster = h->cluster != NULL ? h->cluster : "";
    if (strcmp(peer_cluster, cluster) != 0) {
        char shown[RK_WIRE_CLUSTER_BYTES_MAX + 1];
        wire_printable(shown, sizeof(shown), peer_cluster);
        return wire_refuse(RK_WIRE_REFUSAL_CLUSTER, refusal, why, why_bytes,
                           "cluster name '%s' != '%s'", shown, cluster);
    }
    if (h->node_id == 0) {
        return wire_refuse(RK_WIRE_REFUSAL_NODE_ID, refusal, why, why_bytes,
                           "node id 0 is not a node id");
    }
    if (h->node_id == self_id) {
        return wire_refuse(RK_WIRE_REFUSAL_NODE_ID, refusal, why, why_bytes,
                           "node id %u is this node's own", h->node_id);
    }
    bool have_secret = secret != NULL && secret[0] != '\0';
    if (have_secret && !h->has_proof) {
        return wire_refuse(RK_WIRE_REFUSAL_SECRET, refusal, why, why_bytes,
                           "node %u sent no secret proof; this node has a secret", h->node_id);
    }
    if (!have_secret && h->has_proof) {
        return wire_refuse(RK_WIRE_REFUSAL_SECRET, refusal, why, why_bytes,
                           "node %u sent a secret proof; this node has no secret", h->node_id);
    }
    if (have_secret) {
        uint8_t expected[RK_WIRE_PROOF_BYTES];
        rk_wire_hello_proof(secret, peer_cluster, h->node_id, h->nonce, expected);
        if (memcmp(expected, h->proof, RK_WIRE_PROOF_BYTES) != 0) {
            return wire_refuse(RK_WIRE_REFUSAL_SECRET, refusal, why, why_bytes,
                               "node %u's secret proof does not match this node's secret",
                               h->node_id);
        }
    }
    return 0;
}
