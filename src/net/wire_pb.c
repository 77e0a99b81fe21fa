/* wire_pb.c — rk_wire_msg <-> the structs protoc-c generates from proto/ringkv.proto, and the
 * one range check run before encoding and after decoding (see wire_pb.h). */
#include "wire_pb.h"

#include <stdio.h>
#include <string.h>

_Static_assert(RK_WIRE_TYPE_COUNT == RK_WIRE_BUCKET_ACK + 1, "one name per type");

const char *rk_wire_type_name(rk_wire_type type)
{
    static const char *const names[RK_WIRE_TYPE_COUNT] = {
        [RK_WIRE_NONE] = "none",         [RK_WIRE_HELLO] = "hello",
        [RK_WIRE_HELLO_ACK] = "hello_ack", [RK_WIRE_HEARTBEAT] = "heartbeat",
        [RK_WIRE_GET_REQ] = "get_req",   [RK_WIRE_GET_RESP] = "get_resp",
        [RK_WIRE_PUT_REQ] = "put_req",   [RK_WIRE_PUT_RESP] = "put_resp",
        [RK_WIRE_FWD_REQ] = "fwd_req",   [RK_WIRE_FWD_RESP] = "fwd_resp",
        [RK_WIRE_BUCKET_SET] = "bucket_set", [RK_WIRE_BUCKET_ACK] = "bucket_ack",
    };
    if ((unsigned)type >= RK_WIRE_TYPE_COUNT) {
        return "unknown";
    }
    return names[type];
}

static bool wire_bytes_ok(const rk_wire_bytes *b)
{
    return b->len == 0 || b->data != NULL;
}

static bool wire_key_ok(const rk_wire_bytes *key, char *why, size_t why_bytes)
{
    if (!wire_bytes_ok(key)) {
        snprintf(why, why_bytes, "key has %zu bytes but no data", key->len);
        return false;
    }
    /* Redis allows the empty key, so a replica must be able to hold it too. */
    if (key->len > RK_KEY_BYTES_MAX) {
        snprintf(why, why_bytes, "key is %zu bytes; keys are 0 to %u bytes", key->len,
                 RK_KEY_BYTES_MAX);
        return false;
    }
    return true;
}

/* A field of at most `max` bytes (`min` 0 or 1). */
static bool wire_field_ok(const char *msg, const char *field, const rk_wire_bytes *b, size_t min,
                          size_t max, char *why, size_t why_bytes)
{
    if (!wire_bytes_ok(b)) {
        snprintf(why, why_bytes, "%s: %s has %zu bytes but no data", msg, field, b->len);
        return false;
    }
    if (b->len < min || b->len > max) {
        snprintf(why, why_bytes, "%s: %s is %zu bytes; the range is %zu to %zu bytes", msg, field,
                 b->len, min, max);
        return false;
    }
    return true;
}

/* An RK_E* code: 0 or one of the table's negative numbers, so a peer cannot make this node
 * print or act on a code nobody defined. */
static bool wire_error_ok(const char *msg, int32_t error, char *why, size_t why_bytes)
{
    if (error > 0 || error <= -RK_ERROR_COUNT) {
        snprintf(why, why_bytes, "%s: error %d is not an RK_E* code (0 to -%d)", msg,
                 (int)error, RK_ERROR_COUNT - 1);
        return false;
    }
    return true;
}

bool rk_wire_pb_check(const rk_wire_msg *m, char *why, size_t why_bytes)
{
    switch (m->type) {
    case RK_WIRE_HELLO: {
        const rk_wire_hello *h = &m->u.hello;
        size_t cluster_len = h->cluster != NULL ? strlen(h->cluster) : 0;
        if (cluster_len == 0 || cluster_len > RK_WIRE_CLUSTER_BYTES_MAX) {
            snprintf(why, why_bytes, "hello: cluster name is %zu bytes; names are 1 to %u bytes",
                     cluster_len, RK_WIRE_CLUSTER_BYTES_MAX);
            return false;
        }
        if (h->node_id == 0) {
            snprintf(why, why_bytes, "hello: node id 0 is not a node id");
            return false;
        }
        return true;
    }
    case RK_WIRE_HELLO_ACK: {
        const char *reason = m->u.hello_ack.reason;
        size_t reason_len = reason != NULL ? strlen(reason) : 0;
        if (reason_len > RK_WIRE_REASON_BYTES_MAX) {
            snprintf(why, why_bytes, "hello_ack: reason is %zu bytes; the limit is %u bytes",
                     reason_len, RK_WIRE_REASON_BYTES_MAX);
            return false;
        }
        return true;
    }
    case RK_WIRE_HEARTBEAT:
        return true;
    case RK_WIRE_PUT_RESP:
        return wire_error_ok("put_resp", m->u.put_resp.error, why, why_bytes);
    case RK_WIRE_GET_REQ:
        return wire_key_ok(&m->u.get_req.key, why, why_bytes);
    case RK_WIRE_GET_RESP:
        if (!wire_bytes_ok(&m->u.get_resp.object)) {
            snprintf(why, why_bytes, "get_resp: object has bytes but no data");
            return false;
        }
        return wire_error_ok("get_resp", m->u.get_resp.error, why, why_bytes);
    case RK_WIRE_PUT_REQ:
        if (!wire_bytes_ok(&m->u.put_req.object)) {
            snprintf(why, why_bytes, "put_req: object has bytes but no data");
            return false;
        }
        if ((m->u.put_req.flags & ~RK_WIRE_PUT_FLAGS_KNOWN) != 0) {
            snprintf(why, why_bytes, "put_req: flags 0x%x are unknown", m->u.put_req.flags);
            return false;
        }
        return wire_key_ok(&m->u.put_req.key, why, why_bytes);
    case RK_WIRE_FWD_REQ: {
        const rk_wire_fwd_req *f = &m->u.fwd_req;
        if (f->kind == 0) {
            snprintf(why, why_bytes, "fwd_req: request kind 0 is not a request");
            return false;
        }
        return wire_field_ok("fwd_req", "key", &f->key, 0, RK_KEY_BYTES_MAX, why, why_bytes) &&
               wire_field_ok("fwd_req", "value", &f->value, 0, RK_VALUE_BYTES_MAX, why,
                             why_bytes) &&
               wire_field_ok("fwd_req", "context", &f->context, 0, RK_WIRE_CONTEXT_BYTES_MAX, why,
                             why_bytes);
    }
    case RK_WIRE_FWD_RESP: {
        const rk_wire_fwd_resp *f = &m->u.fwd_resp;
        if (f->reply_kind == 0) {
            snprintf(why, why_bytes, "fwd_resp: reply kind 0 is not a reply");
            return false;
        }
        return wire_error_ok("fwd_resp", f->error, why, why_bytes) &&
               wire_field_ok("fwd_resp", "message", &f->message, 0, RK_WIRE_REASON_BYTES_MAX,
                             why, why_bytes) &&
               wire_field_ok("fwd_resp", "context", &f->context, 0, RK_WIRE_CONTEXT_BYTES_MAX,
                             why, why_bytes);
    }
    case RK_WIRE_BUCKET_SET:
        return wire_field_ok("bucket_set", "name", &m->u.bucket_set.name, 0, RK_KEY_BYTES_MAX,
                             why, why_bytes) &&
               wire_field_ok("bucket_set", "props", &m->u.bucket_set.props, 0,
                             RK_WIRE_CONTEXT_BYTES_MAX, why, why_bytes);
    case RK_WIRE_BUCKET_ACK:
        return wire_error_ok("bucket_ack", m->u.bucket_ack.error, why, why_bytes);
    case RK_WIRE_NONE:
        break;
    }
    snprintf(why, why_bytes, "message type %d is not one this version knows", (int)m->type);
    return false;
}


static void wire_bytes_from_pb(rk_wire_bytes *dst, const ProtobufCBinaryData *src)
{
    dst->data = src->data;
    dst->len = src->len;
}

bool rk_wire_pb_to_msg(rk_wire_msg *msg, const Ringkv__Envelope *env)
{
    switch (env->body_case) {
    case RINGKV__ENVELOPE__BODY_HELLO: {
        const Ringkv__Hello *h = env->hello;
        msg->type = RK_WIRE_HELLO;
        msg->u.hello.protocol_version = h->protocol_version;
        msg->u.hello.cluster = h->cluster;
        msg->u.hello.node_id = h->node_id;
        msg->u.hello.nonce = h->nonce;
        if (h->secret_proof.len == RK_WIRE_PROOF_BYTES) {
            msg->u.hello.has_proof = true;
            memcpy(msg->u.hello.proof, h->secret_proof.data, RK_WIRE_PROOF_BYTES);
        }
        return true;
    }
    case RINGKV__ENVELOPE__BODY_HELLO_ACK:
        msg->type = RK_WIRE_HELLO_ACK;
        msg->u.hello_ack.refusal = (uint32_t)env->hello_ack->refusal;
        msg->u.hello_ack.reason = env->hello_ack->reason;
        return true;
    case RINGKV__ENVELOPE__BODY_HEARTBEAT:
        msg->type = RK_WIRE_HEARTBEAT;
        msg->u.heartbeat.seq = env->heartbeat->seq;
        msg->u.heartbeat.sent_ms = env->heartbeat->sent_ms;
        return true;
    case RINGKV__ENVELOPE__BODY_GET_REQ:
        msg->type = RK_WIRE_GET_REQ;
        msg->u.get_req.req_id = env->get_req->req_id;
        msg->u.get_req.partition = env->get_req->partition;
        wire_bytes_from_pb(&msg->u.get_req.key, &env->get_req->key);
        return true;
    case RINGKV__ENVELOPE__BODY_GET_RESP:
        msg->type = RK_WIRE_GET_RESP;
        msg->u.get_resp.req_id = env->get_resp->req_id;
        msg->u.get_resp.status = (uint32_t)env->get_resp->status;
        wire_bytes_from_pb(&msg->u.get_resp.object, &env->get_resp->object);
        msg->u.get_resp.error = env->get_resp->error;
        return true;
    case RINGKV__ENVELOPE__BODY_PUT_REQ:
        msg->type = RK_WIRE_PUT_REQ;
        msg->u.put_req.req_id = env->put_req->req_id;
        msg->u.put_req.partition = env->put_req->partition;
        wire_bytes_from_pb(&msg->u.put_req.key, &env->put_req->key);
        wire_bytes_from_pb(&msg->u.put_req.object, &env->put_req->object);
        msg->u.put_req.durable = env->put_req->durable != 0;
        msg->u.put_req.flags = env->put_req->flags;
        msg->u.put_req.hint_owner = env->put_req->hint_owner;
        return true;
    case RINGKV__ENVELOPE__BODY_PUT_RESP:
        msg->type = RK_WIRE_PUT_RESP;
        msg->u.put_resp.req_id = env->put_resp->req_id;
        msg->u.put_resp.status = (uint32_t)env->put_resp->status;
        msg->u.put_resp.error = env->put_resp->error;
        return true;
    case RINGKV__ENVELOPE__BODY_FWD_REQ: {
        const Ringkv__FwdReq *f = env->fwd_req;
        msg->type = RK_WIRE_FWD_REQ;
        msg->u.fwd_req.req_id = f->req_id;
        msg->u.fwd_req.kind = f->kind;
        wire_bytes_from_pb(&msg->u.fwd_req.key, &f->key);
        wire_bytes_from_pb(&msg->u.fwd_req.value, &f->value);
        wire_bytes_from_pb(&msg->u.fwd_req.context, &f->context);
        msg->u.fwd_req.r = f->r;
        msg->u.fwd_req.w = f->w;
        msg->u.fwd_req.sloppy = f->sloppy;
        return true;
    }
    case RINGKV__ENVELOPE__BODY_FWD_RESP: {
        const Ringkv__FwdResp *f = env->fwd_resp;
        msg->type = RK_WIRE_FWD_RESP;
        msg->u.fwd_resp.req_id = f->req_id;
        msg->u.fwd_resp.reply_kind = f->reply_kind;
        msg->u.fwd_resp.integer = f->integer;
        msg->u.fwd_resp.error = f->error;
        wire_bytes_from_pb(&msg->u.fwd_resp.message, &f->message);
        wire_bytes_from_pb(&msg->u.fwd_resp.context, &f->context);
        return true;
    }
    case RINGKV__ENVELOPE__BODY_BUCKET_SET:
        msg->type = RK_WIRE_BUCKET_SET;
        msg->u.bucket_set.req_id = env->bucket_set->req_id;
        wire_bytes_from_pb(&msg->u.bucket_set.name, &env->bucket_set->name);
        wire_bytes_from_pb(&msg->u.bucket_set.props, &env->bucket_set->props);
        msg->u.bucket_set.version = env->bucket_set->version;
        return true;
    case RINGKV__ENVELOPE__BODY_BUCKET_ACK:
        msg->type = RK_WIRE_BUCKET_ACK;
        msg->u.bucket_ack.req_id = env->bucket_ack->req_id;
        msg->u.bucket_ack.error = env->bucket_ack->error;
        msg->u.bucket_ack.version = env->bucket_ack->version;
        return true;
    default:
        return false;
    }
}


/* protobuf-c's structs take non-const pointers for packing; pack only reads them. */
static ProtobufCBinaryData wire_bytes_to_pb(const rk_wire_bytes *b)
{
    ProtobufCBinaryData pb = {.len = b->len, .data = (uint8_t *)(uintptr_t)b->data};
    return pb;
}

/* Build the envelope of a checked message. Pointers in *env borrow from `m` and `body`. */
void rk_wire_pb_from_msg(Ringkv__Envelope *env, rk_wire_pb_body *body, const rk_wire_msg *m)
{
    ringkv__envelope__init(env);
    switch (m->type) {
    case RK_WIRE_HELLO:
        ringkv__hello__init(&body->hello);
        body->hello.protocol_version = m->u.hello.protocol_version;
        body->hello.cluster = (char *)(uintptr_t)m->u.hello.cluster;
        body->hello.node_id = m->u.hello.node_id;
        body->hello.nonce = m->u.hello.nonce;
        if (m->u.hello.has_proof) {
            body->hello.secret_proof.len = RK_WIRE_PROOF_BYTES;
            body->hello.secret_proof.data = (uint8_t *)(uintptr_t)m->u.hello.proof;
        }
        env->body_case = RINGKV__ENVELOPE__BODY_HELLO;
        env->hello = &body->hello;
        return;
    case RK_WIRE_HELLO_ACK:
        ringkv__hello_ack__init(&body->hello_ack);
        body->hello_ack.refusal = (Ringkv__Refusal)m->u.hello_ack.refusal;
        if (m->u.hello_ack.reason != NULL) {
            body->hello_ack.reason = (char *)(uintptr_t)m->u.hello_ack.reason;
        }
        env->body_case = RINGKV__ENVELOPE__BODY_HELLO_ACK;
        env->hello_ack = &body->hello_ack;
        return;
    case RK_WIRE_HEARTBEAT:
        ringkv__heartbeat__init(&body->heartbeat);
        body->heartbeat.seq = m->u.heartbeat.seq;
        body->heartbeat.sent_ms = m->u.heartbeat.sent_ms;
        env->body_case = RINGKV__ENVELOPE__BODY_HEARTBEAT;
        env->heartbeat = &body->heartbeat;
        return;
    case RK_WIRE_GET_REQ:
        ringkv__get_req__init(&body->get_req);
        body->get_req.req_id = m->u.get_req.req_id;
        body->get_req.partition = m->u.get_req.partition;
        body->get_req.key = wire_bytes_to_pb(&m->u.get_req.key);
        env->body_case = RINGKV__ENVELOPE__BODY_GET_REQ;
        env->get_req = &body->get_req;
        return;
    case RK_WIRE_GET_RESP:
        ringkv__get_resp__init(&body->get_resp);
        body->get_resp.req_id = m->u.get_resp.req_id;
        body->get_resp.status = (Ringkv__Status)m->u.get_resp.status;
        body->get_resp.object = wire_bytes_to_pb(&m->u.get_resp.object);
        body->get_resp.error = m->u.get_resp.error;
        env->body_case = RINGKV__ENVELOPE__BODY_GET_RESP;
        env->get_resp = &body->get_resp;
        return;
    case RK_WIRE_PUT_REQ:
        ringkv__put_req__init(&body->put_req);
        body->put_req.req_id = m->u.put_req.req_id;
        body->put_req.partition = m->u.put_req.partition;
        body->put_req.key = wire_bytes_to_pb(&m->u.put_req.key);
        body->put_req.object = wire_bytes_to_pb(&m->u.put_req.object);
        body->put_req.durable = m->u.put_req.durable;
        body->put_req.flags = m->u.put_req.flags;
        body->put_req.hint_owner = m->u.put_req.hint_owner;
        env->body_case = RINGKV__ENVELOPE__BODY_PUT_REQ;
        env->put_req = &body->put_req;
        return;
    case RK_WIRE_PUT_RESP:
        ringkv__put_resp__init(&body->put_resp);
        body->put_resp.req_id = m->u.put_resp.req_id;
        body->put_resp.status = (Ringkv__Status)m->u.put_resp.status;
        body->put_resp.error = m->u.put_resp.error;
        env->body_case = RINGKV__ENVELOPE__BODY_PUT_RESP;
        env->put_resp = &body->put_resp;
        return;
    case RK_WIRE_FWD_REQ:
        ringkv__fwd_req__init(&body->fwd_req);
        body->fwd_req.req_id = m->u.fwd_req.req_id;
        body->fwd_req.kind = m->u.fwd_req.kind;
        body->fwd_req.key = wire_bytes_to_pb(&m->u.fwd_req.key);
        body->fwd_req.value = wire_bytes_to_pb(&m->u.fwd_req.value);
        body->fwd_req.context = wire_bytes_to_pb(&m->u.fwd_req.context);
        body->fwd_req.r = m->u.fwd_req.r;
        body->fwd_req.w = m->u.fwd_req.w;
        body->fwd_req.sloppy = m->u.fwd_req.sloppy;
        env->body_case = RINGKV__ENVELOPE__BODY_FWD_REQ;
        env->fwd_req = &body->fwd_req;
        return;
    case RK_WIRE_FWD_RESP:
        ringkv__fwd_resp__init(&body->fwd_resp);
        body->fwd_resp.req_id = m->u.fwd_resp.req_id;
        body->fwd_resp.reply_kind = m->u.fwd_resp.reply_kind;
        body->fwd_resp.integer = m->u.fwd_resp.integer;
        body->fwd_resp.error = m->u.fwd_resp.error;
        body->fwd_resp.message = wire_bytes_to_pb(&m->u.fwd_resp.message);
        body->fwd_resp.context = wire_bytes_to_pb(&m->u.fwd_resp.context);
        env->body_case = RINGKV__ENVELOPE__BODY_FWD_RESP;
        env->fwd_resp = &body->fwd_resp;
        return;
    case RK_WIRE_BUCKET_SET:
        ringkv__bucket_set__init(&body->bucket_set);
        body->bucket_set.req_id = m->u.bucket_set.req_id;
        body->bucket_set.name = wire_bytes_to_pb(&m->u.bucket_set.name);
        body->bucket_set.props = wire_bytes_to_pb(&m->u.bucket_set.props);
        body->bucket_set.version = m->u.bucket_set.version;
        env->body_case = RINGKV__ENVELOPE__BODY_BUCKET_SET;
        env->bucket_set = &body->bucket_set;
        return;
    case RK_WIRE_BUCKET_ACK:
        ringkv__bucket_ack__init(&body->bucket_ack);
        body->bucket_ack.req_id = m->u.bucket_ack.req_id;
        body->bucket_ack.error = m->u.bucket_ack.error;
        body->bucket_ack.version = m->u.bucket_ack.version;
        env->body_case = RINGKV__ENVELOPE__BODY_BUCKET_ACK;
        env->bucket_ack = &body->bucket_ack;
        return;
    case RK_WIRE_NONE:
        break;
    }
    RK_ASSERT(!"rk_wire_pb_check let an unknown type through");
}
