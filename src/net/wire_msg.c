/* wire_msg.c — the core's messages (rk_msg, src/core/msg.h) <-> the structs protoc-c generates
 * from proto/ringkv.proto, in one step each way (see wire_pb.h), and the one check both
 * directions hold an rk_msg to: byte ranges (keys, context tokens, error texts), and what the
 * core must not trust from a peer (request and reply kinds, quorums up to RK_N_MAX, the sloppy
 * choice, put flags, error codes from the RK_E* table, a version that fits its integer). Run
 * before encoding, a failure is a core bug the runtime counts; after decoding, a peer speaking
 * garbage. A response status is the replica's RK_E* code: on the wire it is the coarse Status
 * a reader of the proto understands (OK, NOT_FOUND, FAILED, BUSY) plus the exact code in
 * `error`, so a node reading only the Status still does the right thing. */
#include "wire_pb.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../core/bucket.h"
#include "../core/node.h"

#define WIRE_PUT_FLAGS_KNOWN                                                                   \
    (RK_MSG_PUT_REPAIR | RK_MSG_PUT_HANDOFF | RK_MSG_PUT_PLANNED | RK_MSG_PUT_DELTA |          \
     RK_MSG_PUT_CHUNK)

_Static_assert(RK_OBJECT_SLACK_BYTES + RK_KEY_BYTES_MAX + 4096u <= RK_WIRE_FRAME_OVERHEAD_BYTES,
               "the largest object the core stores fits in a frame with its key");
_Static_assert(RK_MSG_KIND_MAX == 13, "every rk_msg kind has a case below");
_Static_assert(RK_REPLY_VERSIONS == 6, "the last reply kind a forwarded reply may carry");
_Static_assert((int)RK_WIRE_STATUS_BUSY == (int)RINGKV__STATUS__STATUS_BUSY,
               "RK_WIRE_STATUS_* mirror ringkv.proto");

const char *rk_wire_kind_name(rk_msg_kind kind)
{
    static const char *const names[RK_MSG_KIND_MAX + 1] = {
        [RK_MSG_GET_REQ] = "get_req",       [RK_MSG_GET_RESP] = "get_resp",
        [RK_MSG_PUT_REQ] = "put_req",       [RK_MSG_PUT_RESP] = "put_resp",
        [RK_MSG_FWD_REQ] = "fwd_req",       [RK_MSG_FWD_RESP] = "fwd_resp",
        [RK_MSG_BUCKET_SET] = "bucket_set", [RK_MSG_BUCKET_ACK] = "bucket_ack",
        [RK_MSG_AAE_REQ] = "aae_req",       [RK_MSG_AAE_RESP] = "aae_resp",
        [RK_MSG_EPOCH] = "epoch",           [RK_MSG_EPOCH_RESP] = "epoch_resp",
        [RK_MSG_CLUSTER] = "cluster",
    };
    if ((unsigned)kind > RK_MSG_KIND_MAX || names[kind] == NULL) {
        return "unknown";
    }
    return names[kind];
}

static bool wire_msg_refuse(char *why, size_t why_bytes, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Say why in `why` (may be NULL). Returns false so checks can `return wire_msg_refuse(...)`. */
static bool wire_msg_refuse(char *why, size_t why_bytes, const char *fmt, ...)
{
    if (why != NULL && why_bytes > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_bytes, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool wire_msg_key_ok(const uint8_t *key, size_t key_len, char *why, size_t why_bytes)
{
    if (key_len > 0 && key == NULL) {
        return wire_msg_refuse(why, why_bytes, "key has %zu bytes but no data", key_len);
    }
    /* Redis allows the empty key, so a replica must be able to hold it too. */
    if (key_len > RK_KEY_BYTES_MAX) {
        return wire_msg_refuse(why, why_bytes, "key is %zu bytes; keys are 0 to %u bytes",
                               key_len, RK_KEY_BYTES_MAX);
    }
    return true;
}

/* A byte field of at most `max` bytes. */
static bool wire_msg_field_ok(const char *msg, const char *field, const uint8_t *data,
                              size_t len, size_t max, char *why, size_t why_bytes)
{
    if (len > 0 && data == NULL) {
        return wire_msg_refuse(why, why_bytes, "%s: %s has %zu bytes but no data", msg, field,
                               len);
    }
    if (len > max) {
        return wire_msg_refuse(why, why_bytes, "%s: %s is %zu bytes; the range is 0 to %zu bytes",
                               msg, field, len, max);
    }
    return true;
}

/* An RK_E* code: 0 or one of the table's negative numbers, so a peer cannot make this node
 * print or act on a code nobody defined. */
static bool wire_msg_error_ok(const char *msg, int32_t error, char *why, size_t why_bytes)
{
    if (error > 0 || error <= -RK_ERROR_COUNT) {
        return wire_msg_refuse(why, why_bytes, "%s: error %d is not an RK_E* code (0 to -%d)", msg,
                               (int)error, RK_ERROR_COUNT - 1);
    }
    return true;
}

static bool wire_msg_fwd_req_ok(const rk_msg *m, char *why, size_t why_bytes)
{
    /* Reads (RK_REQ_READ, the last kind) are coordinated where they arrive, never sent on. */
    if (m->req_kind < RK_REQ_GET || m->req_kind > RK_REQ_WRITE) {
        return wire_msg_refuse(why, why_bytes, "fwd_req: request kind %u is not 1 to %u",
                               m->req_kind, RK_REQ_WRITE);
    }
    bool write = m->req_kind == RK_REQ_WRITE;
    if (write ? m->op < RK_OP_PUT || m->op > RK_OP_KIND_MAX : m->op != 0) {
        return wire_msg_refuse(why, why_bytes, "fwd_req: operation %u with request kind %u",
                               m->op, m->req_kind);
    }
    if (m->sloppy > RK_SLOPPY_OFF) {
        return wire_msg_refuse(why, why_bytes, "fwd_req: sloppy %u is not 0 to %u", m->sloppy,
                               RK_SLOPPY_OFF);
    }
    if (m->r > RK_N_MAX || m->w > RK_N_MAX) {
        return wire_msg_refuse(why, why_bytes, "fwd_req: R=%u W=%u; quorums are 0 to %u", m->r,
                               m->w, RK_N_MAX);
    }
    return wire_msg_field_ok("fwd_req", "key", m->key, m->key_len, RK_KEY_BYTES_MAX, why,
                             why_bytes) &&
           wire_msg_field_ok("fwd_req", "value", m->value, m->value_len, RK_VALUE_BYTES_MAX, why,
                             why_bytes) &&
           wire_msg_field_ok("fwd_req", "context", m->context, m->context_len,
                             RK_WIRE_CONTEXT_BYTES_MAX, why, why_bytes);
}

/* The strings a forwarded reply of `kind` carries: value 1, map an even count, array and set
 * any, the rest none. */
static bool wire_msg_reply_values_ok(const rk_msg *m, char *why, size_t why_bytes)
{
    uint32_t kind = m->req_kind;
    bool ok = kind == RK_REPLY_VALUE ? m->value_count == 1
              : kind == RK_REPLY_MAP ? m->value_count % 2 == 0
              : kind == RK_REPLY_ARRAY || kind == RK_REPLY_SET ? true
                                                               : m->value_count == 0;
    if (!ok) {
        return wire_msg_refuse(why, why_bytes, "fwd_resp: reply kind %u with %u strings", kind,
                               m->value_count);
    }
    for (uint32_t i = 0; i < m->value_count; i++) {
        if (!wire_msg_field_ok("fwd_resp", "values", m->values[i].data, m->values[i].len,
                               RK_VALUE_BYTES_MAX, why, why_bytes)) {
            return false;
        }
    }
    return true;
}

static bool wire_msg_fwd_resp_ok(const rk_msg *m, char *why, size_t why_bytes)
{
    /* A forwarded write answers one of the kinds up to RK_REPLY_SET; INTS and STATUS answer
     * reads only, which are never forwarded. */
    if (m->req_kind < RK_REPLY_OK || m->req_kind > RK_REPLY_SET ||
        m->req_kind == RK_REPLY_VERSIONS) {
        return wire_msg_refuse(why, why_bytes, "fwd_resp: reply kind %u is not one of 1 to %u "
                               "other than %u", m->req_kind, RK_REPLY_SET, RK_REPLY_VERSIONS);
    }
    if (!wire_msg_reply_values_ok(m, why, why_bytes)) {
        return false;
    }
    return wire_msg_field_ok("fwd_resp", "message", m->message, m->message_len,
                             RK_WIRE_REASON_BYTES_MAX, why, why_bytes) &&
           wire_msg_field_ok("fwd_resp", "context", m->context, m->context_len,
                             RK_WIRE_CONTEXT_BYTES_MAX, why, why_bytes);
}

/* An anti-entropy message: a known level, every key in range, objects only beside keys. The
 * partition's range is the core's to check (it knows the ring). */
static bool wire_msg_aae_ok(const rk_msg *m, char *why, size_t why_bytes)
{
    const char *name = rk_wire_kind_name(m->kind);
    if (m->level < 1 || m->level > RK_AAE_LEVEL_MAX) {
        return wire_msg_refuse(why, why_bytes, "%s: level %u; levels are 1 to %u", name,
                               m->level, RK_AAE_LEVEL_MAX);
    }
    if ((m->index_count > 0 && m->indices == NULL) || (m->hash_count > 0 && m->hashes == NULL) ||
        (m->value_count > 0 && m->values == NULL) ||
        (m->object_count > 0 && m->objects == NULL)) {
        return wire_msg_refuse(why, why_bytes, "%s: a list has a count but no data", name);
    }
    for (uint32_t i = 0; i < m->value_count; i++) {
        if (!wire_msg_key_ok(m->values[i].data, m->values[i].len, why, why_bytes)) {
            return false;
        }
    }
    if (m->object_count != 0 && m->object_count != m->value_count) {
        return wire_msg_refuse(why, why_bytes, "%s: %u objects for %u keys", name,
                               m->object_count, m->value_count);
    }
    for (uint32_t i = 0; i < m->object_count; i++) {
        if (m->objects[i].len > 0 && m->objects[i].data == NULL) {
            return wire_msg_refuse(why, why_bytes, "%s: object %u has no data", name, i);
        }
    }
    return true;
}

/* The one check of an rk_msg, before encoding and after decoding. */
static bool wire_msg_check(const rk_msg *m, char *why, size_t why_bytes)
{
    const char *name = rk_wire_kind_name(m->kind);
    if (!wire_msg_error_ok(name, m->status, why, why_bytes)) {
        return false;
    }
    switch (m->kind) {
    case RK_MSG_GET_REQ:
        if ((m->flags & ~(RK_MSG_GET_PRIMARY | RK_MSG_GET_MEMBERS)) != 0) {
            return wire_msg_refuse(why, why_bytes, "get_req: flags 0x%x are unknown", m->flags);
        }
        if (((m->flags & RK_MSG_GET_MEMBERS) != 0) != (m->value_len > 0)) {
            return wire_msg_refuse(why, why_bytes, "get_req: members without flag 2, or flag 2 "
                                   "without members");
        }
        return wire_msg_key_ok(m->key, m->key_len, why, why_bytes);
    case RK_MSG_GET_RESP:
        return wire_msg_field_ok(name, "object", m->object, m->object_len, SIZE_MAX, why,
                                 why_bytes);
    case RK_MSG_PUT_REQ:
        if ((m->flags & ~WIRE_PUT_FLAGS_KNOWN) != 0) {
            return wire_msg_refuse(why, why_bytes, "put_req: flags 0x%x are unknown", m->flags);
        }
        return wire_msg_field_ok(name, "object", m->object, m->object_len, SIZE_MAX, why,
                                 why_bytes) &&
               wire_msg_key_ok(m->key, m->key_len, why, why_bytes);
    case RK_MSG_PUT_RESP:
        return true;
    case RK_MSG_FWD_REQ:
        return wire_msg_fwd_req_ok(m, why, why_bytes);
    case RK_MSG_FWD_RESP:
        return wire_msg_fwd_resp_ok(m, why, why_bytes);
    case RK_MSG_BUCKET_SET:
        if ((m->flags & ~RK_MSG_BUCKET_CHECK) != 0) {
            return wire_msg_refuse(why, why_bytes, "bucket_set: flags 0x%x are unknown",
                                   m->flags);
        }
        return wire_msg_field_ok(name, "name", m->key, m->key_len, RK_KEY_BYTES_MAX, why,
                                 why_bytes) &&
               wire_msg_field_ok(name, "props", m->object, m->object_len,
                                 RK_WIRE_CONTEXT_BYTES_MAX, why, why_bytes);
    case RK_MSG_BUCKET_ACK:
        if (m->integer < 0) {
            return wire_msg_refuse(why, why_bytes, "bucket_ack: version %lld is negative",
                                   (long long)m->integer);
        }
        return true;
    case RK_MSG_AAE_REQ:
    case RK_MSG_AAE_RESP:
        return wire_msg_aae_ok(m, why, why_bytes);
    case RK_MSG_EPOCH:
        if ((m->flags & ~RK_MSG_EPOCH_ASK) != 0) {
            return wire_msg_refuse(why, why_bytes, "epoch: flags 0x%x are unknown", m->flags);
        }
        return true;
    case RK_MSG_EPOCH_RESP:
        return true;
    case RK_MSG_CLUSTER:
        if ((m->flags & ~RK_MSG_CLUSTER_REPLY) != 0) {
            return wire_msg_refuse(why, why_bytes, "cluster: flags 0x%x are unknown", m->flags);
        }
        return wire_msg_field_ok(name, "meta", m->object, m->object_len, SIZE_MAX, why,
                                 why_bytes);
    }
    return wire_msg_refuse(why, why_bytes, "message kind %d is not one this version knows",
                           (int)m->kind);
}

/* ---- encoding ----------------------------------------------------------------------------- */

static uint32_t wire_msg_status_to_wire(int32_t status, size_t object_len)
{
    if (status == 0) {
        return object_len > 0 ? RK_WIRE_STATUS_OK : RK_WIRE_STATUS_NOT_FOUND;
    }
    return status == RK_EBUSY ? RK_WIRE_STATUS_BUSY : RK_WIRE_STATUS_FAILED;
}

/* protobuf-c's structs take non-const pointers for packing; pack only reads them. */
_Static_assert(sizeof(rk_msg_bytes) == sizeof(ProtobufCBinaryData), "one layout");
_Static_assert(offsetof(rk_msg_bytes, len) == offsetof(ProtobufCBinaryData, len), "one layout");
_Static_assert(offsetof(rk_msg_bytes, data) == offsetof(ProtobufCBinaryData, data), "one layout");

static ProtobufCBinaryData wire_msg_pb_bytes(const uint8_t *data, size_t len)
{
    ProtobufCBinaryData pb = {.len = len, .data = len > 0 ? (uint8_t *)(uintptr_t)data : NULL};
    return pb;
}

static void wire_msg_pb_requests(Ringkv__Envelope *env, rk_wire_pb_body *body, const rk_msg *m)
{
    switch (m->kind) {
    case RK_MSG_GET_REQ:
        ringkv__get_req__init(&body->get_req);
        body->get_req.req_id = m->req_id;
        body->get_req.key = wire_msg_pb_bytes(m->key, m->key_len);
        body->get_req.flags = m->flags;
        body->get_req.members = wire_msg_pb_bytes(m->value, m->value_len);
        env->body_case = RINGKV__ENVELOPE__BODY_GET_REQ;
        env->get_req = &body->get_req;
        return;
    case RK_MSG_PUT_REQ:
        ringkv__put_req__init(&body->put_req);
        body->put_req.req_id = m->req_id;
        body->put_req.key = wire_msg_pb_bytes(m->key, m->key_len);
        body->put_req.object = wire_msg_pb_bytes(m->object, m->object_len);
        body->put_req.durable = true;      /* replicas answer once the merge is durable */
        body->put_req.flags = m->flags;
        body->put_req.hint_owner = m->hint_owner;
        env->body_case = RINGKV__ENVELOPE__BODY_PUT_REQ;
        env->put_req = &body->put_req;
        return;
    case RK_MSG_FWD_REQ:
        ringkv__fwd_req__init(&body->fwd_req);
        body->fwd_req.req_id = m->req_id;
        body->fwd_req.kind = m->req_kind;
        body->fwd_req.key = wire_msg_pb_bytes(m->key, m->key_len);
        body->fwd_req.value = wire_msg_pb_bytes(m->value, m->value_len);
        body->fwd_req.context = wire_msg_pb_bytes(m->context, m->context_len);
        body->fwd_req.r = m->r;
        body->fwd_req.w = m->w;
        body->fwd_req.sloppy = m->sloppy;
        body->fwd_req.op = m->op;
        env->body_case = RINGKV__ENVELOPE__BODY_FWD_REQ;
        env->fwd_req = &body->fwd_req;
        return;
    case RK_MSG_BUCKET_SET:
        ringkv__bucket_set__init(&body->bucket_set);
        body->bucket_set.req_id = m->req_id;
        body->bucket_set.name = wire_msg_pb_bytes(m->key, m->key_len);
        body->bucket_set.props = wire_msg_pb_bytes(m->object, m->object_len);
        body->bucket_set.version = m->version;
        body->bucket_set.check_only = (m->flags & RK_MSG_BUCKET_CHECK) != 0;
        env->body_case = RINGKV__ENVELOPE__BODY_BUCKET_SET;
        env->bucket_set = &body->bucket_set;
        return;
    default:
        RK_ASSERT(!"wire_msg_pb_requests is for requests");
    }
}

static void wire_msg_pb_responses(Ringkv__Envelope *env, rk_wire_pb_body *body, const rk_msg *m)
{
    switch (m->kind) {
    case RK_MSG_GET_RESP:
        ringkv__get_resp__init(&body->get_resp);
        body->get_resp.req_id = m->req_id;
        body->get_resp.status = (Ringkv__Status)wire_msg_status_to_wire(m->status, m->object_len);
        body->get_resp.object = wire_msg_pb_bytes(m->object, m->object_len);
        body->get_resp.error = m->status;
        env->body_case = RINGKV__ENVELOPE__BODY_GET_RESP;
        env->get_resp = &body->get_resp;
        return;
    case RK_MSG_PUT_RESP:
        ringkv__put_resp__init(&body->put_resp);
        body->put_resp.req_id = m->req_id;
        body->put_resp.status = (Ringkv__Status)wire_msg_status_to_wire(m->status, 1);
        body->put_resp.error = m->status;
        env->body_case = RINGKV__ENVELOPE__BODY_PUT_RESP;
        env->put_resp = &body->put_resp;
        return;
    case RK_MSG_FWD_RESP:
        ringkv__fwd_resp__init(&body->fwd_resp);
        body->fwd_resp.req_id = m->req_id;
        body->fwd_resp.reply_kind = m->req_kind;
        body->fwd_resp.integer = m->integer;
        body->fwd_resp.error = m->status;
        body->fwd_resp.message = wire_msg_pb_bytes(m->message, m->message_len);
        body->fwd_resp.context = wire_msg_pb_bytes(m->context, m->context_len);
        /* rk_msg_bytes is laid out as ProtobufCBinaryData (asserted above): used in place. */
        body->fwd_resp.n_values = m->value_count;
        body->fwd_resp.values = (ProtobufCBinaryData *)(uintptr_t)m->values;
        env->body_case = RINGKV__ENVELOPE__BODY_FWD_RESP;
        env->fwd_resp = &body->fwd_resp;
        return;
    case RK_MSG_BUCKET_ACK:
        ringkv__bucket_ack__init(&body->bucket_ack);
        body->bucket_ack.req_id = m->req_id;
        body->bucket_ack.error = m->status;
        body->bucket_ack.version = (uint64_t)m->integer;
        env->body_case = RINGKV__ENVELOPE__BODY_BUCKET_ACK;
        env->bucket_ack = &body->bucket_ack;
        return;
    default:
        RK_ASSERT(!"wire_msg_pb_responses is for responses");
    }
}

/* Anti-entropy and epoch messages: one protobuf message each for request and response. */
static void wire_msg_pb_exchange(Ringkv__Envelope *env, rk_wire_pb_body *body, const rk_msg *m)
{
    if (m->kind == RK_MSG_EPOCH || m->kind == RK_MSG_EPOCH_RESP) {
        ringkv__epoch__init(&body->epoch);
        body->epoch.req_id = m->req_id;
        body->epoch.response = m->kind == RK_MSG_EPOCH_RESP;
        body->epoch.ask = (m->flags & RK_MSG_EPOCH_ASK) != 0;
        body->epoch.epoch = m->version;
        env->body_case = RINGKV__ENVELOPE__BODY_EPOCH;
        env->epoch = &body->epoch;
        return;
    }
    if (m->kind == RK_MSG_CLUSTER) {
        ringkv__cluster__init(&body->cluster);
        body->cluster.reply = (m->flags & RK_MSG_CLUSTER_REPLY) != 0;
        body->cluster.meta = wire_msg_pb_bytes(m->object, m->object_len);
        env->body_case = RINGKV__ENVELOPE__BODY_CLUSTER;
        env->cluster = &body->cluster;
        return;
    }
    RK_ASSERT(m->kind == RK_MSG_AAE_REQ || m->kind == RK_MSG_AAE_RESP);
    Ringkv__Aae *a = &body->aae;
    ringkv__aae__init(a);
    a->req_id = m->req_id;
    a->response = m->kind == RK_MSG_AAE_RESP;
    a->error = m->status;
    a->partition = m->partition;
    a->level = m->level;
    a->n_indices = m->index_count;
    a->indices = (uint32_t *)(uintptr_t)m->indices;
    a->n_hashes = m->hash_count;
    a->hashes = (uint64_t *)(uintptr_t)m->hashes;
    a->n_keys = m->value_count;
    a->keys = (ProtobufCBinaryData *)(uintptr_t)m->values;
    a->n_objects = m->object_count;
    a->objects = (ProtobufCBinaryData *)(uintptr_t)m->objects;
    env->body_case = RINGKV__ENVELOPE__BODY_AAE;
    env->aae = a;
}

int rk_wire_pb_from_msg(Ringkv__Envelope *env, rk_wire_pb_body *body, const rk_msg *m,
                        char *why, size_t why_bytes)
{
    RK_ASSERT(m != NULL);
    /* The client's error text is one line; a longer one is cut, not refused. */
    rk_msg cut = *m;
    if (cut.kind == RK_MSG_FWD_RESP && cut.message_len > RK_WIRE_REASON_BYTES_MAX) {
        cut.message_len = RK_WIRE_REASON_BYTES_MAX;
    }
    if (!wire_msg_check(&cut, why, why_bytes)) {
        return RK_EINVAL;
    }
    ringkv__envelope__init(env);
    switch (cut.kind) {
    case RK_MSG_GET_REQ:
    case RK_MSG_PUT_REQ:
    case RK_MSG_FWD_REQ:
    case RK_MSG_BUCKET_SET:
        wire_msg_pb_requests(env, body, &cut);
        return 0;
    case RK_MSG_GET_RESP:
    case RK_MSG_PUT_RESP:
    case RK_MSG_FWD_RESP:
    case RK_MSG_BUCKET_ACK:
        wire_msg_pb_responses(env, body, &cut);
        return 0;
    case RK_MSG_AAE_REQ:
    case RK_MSG_AAE_RESP:
    case RK_MSG_EPOCH:
    case RK_MSG_EPOCH_RESP:
    case RK_MSG_CLUSTER:
        wire_msg_pb_exchange(env, body, &cut);
        return 0;
    }
    RK_ASSERT(!"wire_msg_check let an unknown kind through");
    return RK_EINVAL;
}

/* ---- decoding ----------------------------------------------------------------------------- */

/* A Status and error from the wire as the core's status: the exact code when the peer sent
 * one, else what the Status means. Unknown Status numbers (a newer peer) count as FAILED. */
static int32_t wire_msg_status_from_wire(uint32_t status, int32_t error)
{
    if (status == RK_WIRE_STATUS_OK || status == RK_WIRE_STATUS_NOT_FOUND) {
        return 0;
    }
    if (error != 0) {
        return error;
    }
    return status == RK_WIRE_STATUS_BUSY ? RK_EBUSY : RK_EIO;
}

/* The requests' bodies into *out. Returns false when the body is not a request. */
static bool wire_msg_requests_from_pb(rk_msg *out, const Ringkv__Envelope *env)
{
    switch (env->body_case) {
    case RINGKV__ENVELOPE__BODY_GET_REQ:
        out->kind = RK_MSG_GET_REQ;
        out->req_id = env->get_req->req_id;
        out->key = env->get_req->key.data;
        out->key_len = env->get_req->key.len;
        out->flags = env->get_req->flags;
        out->value = env->get_req->members.data;
        out->value_len = env->get_req->members.len;
        return true;
    case RINGKV__ENVELOPE__BODY_PUT_REQ:
        out->kind = RK_MSG_PUT_REQ;
        out->req_id = env->put_req->req_id;
        out->flags = env->put_req->flags;
        out->hint_owner = env->put_req->hint_owner;
        out->key = env->put_req->key.data;
        out->key_len = env->put_req->key.len;
        out->object = env->put_req->object.data;
        out->object_len = env->put_req->object.len;
        return true;
    case RINGKV__ENVELOPE__BODY_FWD_REQ: {
        const Ringkv__FwdReq *f = env->fwd_req;
        out->kind = RK_MSG_FWD_REQ;
        out->req_id = f->req_id;
        out->req_kind = f->kind;
        out->key = f->key.data;
        out->key_len = f->key.len;
        out->value = f->value.data;
        out->value_len = f->value.len;
        out->context = f->context.data;
        out->context_len = f->context.len;
        out->r = f->r;
        out->w = f->w;
        out->sloppy = f->sloppy;
        out->op = f->op;
        return true;
    }
    case RINGKV__ENVELOPE__BODY_BUCKET_SET:
        out->kind = RK_MSG_BUCKET_SET;
        out->req_id = env->bucket_set->req_id;
        out->key = env->bucket_set->name.data;
        out->key_len = env->bucket_set->name.len;
        out->object = env->bucket_set->props.data;
        out->object_len = env->bucket_set->props.len;
        out->version = env->bucket_set->version;
        out->flags = env->bucket_set->check_only ? RK_MSG_BUCKET_CHECK : 0;
        return true;
    default:
        return false;
    }
}

/* The responses' bodies into *out. Returns 0, 1 when the body is not a response, or
 * RK_ECORRUPT for a field with no rk_msg form (an error code out of the table beside an OK
 * status, a version above INT64_MAX). */
static int wire_msg_responses_from_pb(rk_msg *out, const Ringkv__Envelope *env, char *why,
                                      size_t why_bytes)
{
    switch (env->body_case) {
    case RINGKV__ENVELOPE__BODY_GET_RESP: {
        const Ringkv__GetResp *g = env->get_resp;
        if (!wire_msg_error_ok("get_resp", g->error, why, why_bytes)) {
            return RK_ECORRUPT;
        }
        out->kind = RK_MSG_GET_RESP;
        out->req_id = g->req_id;
        out->status = wire_msg_status_from_wire((uint32_t)g->status, g->error);
        if (out->status == 0) {
            out->object = g->object.data;
            out->object_len = g->object.len;
        }
        return 0;
    }
    case RINGKV__ENVELOPE__BODY_PUT_RESP:
        if (!wire_msg_error_ok("put_resp", env->put_resp->error, why, why_bytes)) {
            return RK_ECORRUPT;
        }
        out->kind = RK_MSG_PUT_RESP;
        out->req_id = env->put_resp->req_id;
        out->status =
            wire_msg_status_from_wire((uint32_t)env->put_resp->status, env->put_resp->error);
        return 0;
    case RINGKV__ENVELOPE__BODY_FWD_RESP: {
        const Ringkv__FwdResp *f = env->fwd_resp;
        out->kind = RK_MSG_FWD_RESP;
        out->req_id = f->req_id;
        out->req_kind = f->reply_kind;
        out->integer = f->integer;
        out->status = f->error;
        if (f->n_values > UINT32_MAX) {
            wire_msg_refuse(why, why_bytes, "fwd_resp: %zu strings", f->n_values);
            return RK_ECORRUPT;
        }
        out->values = (const rk_msg_bytes *)f->values;
        out->value_count = (uint32_t)f->n_values;
        out->message = f->message.data;
        out->message_len = f->message.len;
        out->context = f->context.data;
        out->context_len = f->context.len;
        return 0;
    }
    case RINGKV__ENVELOPE__BODY_BUCKET_ACK:
        if (env->bucket_ack->version > (uint64_t)INT64_MAX) {
            wire_msg_refuse(why, why_bytes, "bucket_ack: version %llu is above 2^63-1",
                            (unsigned long long)env->bucket_ack->version);
            return RK_ECORRUPT;
        }
        out->kind = RK_MSG_BUCKET_ACK;
        out->req_id = env->bucket_ack->req_id;
        out->status = env->bucket_ack->error;
        out->integer = (int64_t)env->bucket_ack->version;
        return 0;
    default:
        return 1;
    }
}

/* Anti-entropy and epoch bodies into *out. Returns 0, 1 when the body is neither, or
 * RK_ECORRUPT (a list longer than a u32 counts). */
static int wire_msg_exchange_from_pb(rk_msg *out, const Ringkv__Envelope *env, char *why,
                                     size_t why_bytes)
{
    if (env->body_case == RINGKV__ENVELOPE__BODY_CLUSTER) {
        out->kind = RK_MSG_CLUSTER;
        out->flags = env->cluster->reply ? RK_MSG_CLUSTER_REPLY : 0;
        out->object = env->cluster->meta.data;
        out->object_len = env->cluster->meta.len;
        return 0;
    }
    if (env->body_case == RINGKV__ENVELOPE__BODY_EPOCH) {
        const Ringkv__Epoch *e = env->epoch;
        out->kind = e->response ? RK_MSG_EPOCH_RESP : RK_MSG_EPOCH;
        out->req_id = e->req_id;
        out->flags = e->ask ? RK_MSG_EPOCH_ASK : 0;
        out->version = e->epoch;
        return 0;
    }
    if (env->body_case != RINGKV__ENVELOPE__BODY_AAE) {
        return 1;
    }
    const Ringkv__Aae *a = env->aae;
    if (a->n_indices > UINT32_MAX || a->n_hashes > UINT32_MAX || a->n_keys > UINT32_MAX ||
        a->n_objects > UINT32_MAX) {
        wire_msg_refuse(why, why_bytes, "aae: a list longer than 2^32-1");
        return RK_ECORRUPT;
    }
    if (!wire_msg_error_ok("aae", a->error, why, why_bytes)) {
        return RK_ECORRUPT;
    }
    out->kind = a->response ? RK_MSG_AAE_RESP : RK_MSG_AAE_REQ;
    out->req_id = a->req_id;
    out->status = a->error;
    out->partition = a->partition;
    out->level = a->level;
    out->indices = a->indices;
    out->index_count = (uint32_t)a->n_indices;
    out->hashes = a->hashes;
    out->hash_count = (uint32_t)a->n_hashes;
    out->values = (const rk_msg_bytes *)a->keys;
    out->value_count = (uint32_t)a->n_keys;
    out->objects = (const rk_msg_bytes *)a->objects;
    out->object_count = (uint32_t)a->n_objects;
    return 0;
}

int rk_wire_pb_to_msg(rk_msg *out, const Ringkv__Envelope *env, char *why, size_t why_bytes)
{
    RK_ASSERT(out != NULL);
    RK_ASSERT(env != NULL);
    memset(out, 0, sizeof(*out));
    if (!wire_msg_requests_from_pb(out, env)) {
        int rc = wire_msg_responses_from_pb(out, env, why, why_bytes);
        if (rc == 1) {
            rc = wire_msg_exchange_from_pb(out, env, why, why_bytes);
        }
        if (rc == 1) {
            wire_msg_refuse(why, why_bytes,
                            "envelope carries no message protocol version %u knows",
                            RK_WIRE_PROTOCOL_VERSION);
            return RK_ECORRUPT;
        }
        if (rc != 0) {
            memset(out, 0, sizeof(*out));
            return rc;
        }
    }
    if (!wire_msg_check(out, why, why_bytes)) {
        memset(out, 0, sizeof(*out));
        return RK_ECORRUPT;
    }
    return 0;
}
