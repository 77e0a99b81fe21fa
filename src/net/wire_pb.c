/* wire_pb.c — the runtime's control messages (rk_wire_ctl: Hello, HelloAck, Heartbeat) <-> the
 * structs protoc-c generates from proto/ringkv.proto, and the one range check run before
 * encoding and after decoding them (see wire_pb.h). The core's messages are wire_msg.c's. */
#include "wire_pb.h"

#include <stdio.h>
#include <string.h>

_Static_assert(RK_WIRE_TYPE_COUNT == RK_WIRE_MSG + 1, "one name per type");

const char *rk_wire_type_name(rk_wire_type type)
{
    static const char *const names[RK_WIRE_TYPE_COUNT] = {
        [RK_WIRE_NONE] = "none",           [RK_WIRE_HELLO] = "hello",
        [RK_WIRE_HELLO_ACK] = "hello_ack", [RK_WIRE_HEARTBEAT] = "heartbeat",
        [RK_WIRE_MSG] = "msg",
    };
    if ((unsigned)type >= RK_WIRE_TYPE_COUNT) {
        return "unknown";
    }
    return names[type];
}

bool rk_wire_pb_ctl_check(const rk_wire_ctl *ctl, char *why, size_t why_bytes)
{
    switch (ctl->type) {
    case RK_WIRE_HELLO: {
        const rk_wire_hello *h = &ctl->u.hello;
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
        const char *reason = ctl->u.hello_ack.reason;
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
    case RK_WIRE_MSG:
    case RK_WIRE_NONE:
        break;
    }
    snprintf(why, why_bytes, "%s is not a control message", rk_wire_type_name(ctl->type));
    return false;
}

bool rk_wire_pb_to_ctl(rk_wire_ctl *ctl, const Ringkv__Envelope *env)
{
    switch (env->body_case) {
    case RINGKV__ENVELOPE__BODY_HELLO: {
        const Ringkv__Hello *h = env->hello;
        ctl->type = RK_WIRE_HELLO;
        ctl->u.hello.protocol_version = h->protocol_version;
        ctl->u.hello.cluster = h->cluster;
        ctl->u.hello.node_id = h->node_id;
        ctl->u.hello.nonce = h->nonce;
        if (h->secret_proof.len == RK_WIRE_PROOF_BYTES) {
            ctl->u.hello.has_proof = true;
            memcpy(ctl->u.hello.proof, h->secret_proof.data, RK_WIRE_PROOF_BYTES);
        }
        return true;
    }
    case RINGKV__ENVELOPE__BODY_HELLO_ACK:
        ctl->type = RK_WIRE_HELLO_ACK;
        ctl->u.hello_ack.refusal = (uint32_t)env->hello_ack->refusal;
        ctl->u.hello_ack.reason = env->hello_ack->reason;
        return true;
    case RINGKV__ENVELOPE__BODY_HEARTBEAT:
        ctl->type = RK_WIRE_HEARTBEAT;
        ctl->u.heartbeat.seq = env->heartbeat->seq;
        ctl->u.heartbeat.sent_ms = env->heartbeat->sent_ms;
        return true;
    default:
        return false;
    }
}

void rk_wire_pb_from_ctl(Ringkv__Envelope *env, rk_wire_pb_body *body, const rk_wire_ctl *ctl)
{
    ringkv__envelope__init(env);
    switch (ctl->type) {
    case RK_WIRE_HELLO:
        ringkv__hello__init(&body->hello);
        body->hello.protocol_version = ctl->u.hello.protocol_version;
        body->hello.cluster = (char *)(uintptr_t)ctl->u.hello.cluster;
        body->hello.node_id = ctl->u.hello.node_id;
        body->hello.nonce = ctl->u.hello.nonce;
        if (ctl->u.hello.has_proof) {
            body->hello.secret_proof.len = RK_WIRE_PROOF_BYTES;
            body->hello.secret_proof.data = (uint8_t *)(uintptr_t)ctl->u.hello.proof;
        }
        env->body_case = RINGKV__ENVELOPE__BODY_HELLO;
        env->hello = &body->hello;
        return;
    case RK_WIRE_HELLO_ACK:
        ringkv__hello_ack__init(&body->hello_ack);
        body->hello_ack.refusal = (Ringkv__Refusal)ctl->u.hello_ack.refusal;
        if (ctl->u.hello_ack.reason != NULL) {
            body->hello_ack.reason = (char *)(uintptr_t)ctl->u.hello_ack.reason;
        }
        env->body_case = RINGKV__ENVELOPE__BODY_HELLO_ACK;
        env->hello_ack = &body->hello_ack;
        return;
    case RK_WIRE_HEARTBEAT:
        ringkv__heartbeat__init(&body->heartbeat);
        body->heartbeat.seq = ctl->u.heartbeat.seq;
        body->heartbeat.sent_ms = ctl->u.heartbeat.sent_ms;
        env->body_case = RINGKV__ENVELOPE__BODY_HEARTBEAT;
        env->heartbeat = &body->heartbeat;
        return;
    case RK_WIRE_MSG:
    case RK_WIRE_NONE:
        break;
    }
    RK_ASSERT(!"rk_wire_pb_ctl_check let a type through that is not a control message");
}
