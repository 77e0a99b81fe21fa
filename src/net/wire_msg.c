/* wire_msg.c — rk_msg <-> rk_wire_msg (see wire_msg.h). A response status is the replica's
 * RK_E* code: on the wire it is the coarse Status a reader of the proto understands (OK,
 * NOT_FOUND, FAILED, BUSY) plus the exact code in `error`, so a node reading only the Status
 * still does the right thing. */
#include "wire_msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../core/bucket.h"
#include "../core/node.h"

_Static_assert(RK_MSG_PUT_REPAIR == RK_WIRE_PUT_REPAIR, "put flags are the same bits");
_Static_assert(RK_MSG_PUT_HANDOFF == RK_WIRE_PUT_HANDOFF, "put flags are the same bits");
_Static_assert(RK_OBJECT_SLACK_BYTES + RK_KEY_BYTES_MAX + 4096u <= RK_WIRE_FRAME_OVERHEAD_BYTES,
               "the largest object the core stores fits in a frame with its key");
_Static_assert(RK_MSG_KIND_MAX == 8, "every rk_msg kind has a case below");
_Static_assert(RK_REPLY_VERSIONS == 6, "the last reply kind a forwarded reply may carry");

static bool wire_msg_status_ok(int32_t status)
{
    return status <= 0 && status > -RK_ERROR_COUNT;
}

static rk_wire_bytes wire_msg_bytes(const uint8_t *data, size_t len)
{
    rk_wire_bytes b = {.data = len > 0 ? data : NULL, .len = len};
    return b;
}

static uint32_t wire_msg_status_to_wire(int32_t status, size_t object_len)
{
    if (status == 0) {
        return object_len > 0 ? RK_WIRE_STATUS_OK : RK_WIRE_STATUS_NOT_FOUND;
    }
    return status == RK_EBUSY ? RK_WIRE_STATUS_BUSY : RK_WIRE_STATUS_FAILED;
}

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

int rk_wire_from_msg(const rk_msg *m, rk_wire_msg *out)
{
    RK_ASSERT(m != NULL);
    RK_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (!wire_msg_status_ok(m->status)) {
        return RK_EINVAL;
    }
    switch (m->kind) {
    case RK_MSG_GET_REQ:
        out->type = RK_WIRE_GET_REQ;
        out->u.get_req.req_id = m->req_id;
        out->u.get_req.key = wire_msg_bytes(m->key, m->key_len);
        return 0;
    case RK_MSG_GET_RESP:
        out->type = RK_WIRE_GET_RESP;
        out->u.get_resp.req_id = m->req_id;
        out->u.get_resp.status = wire_msg_status_to_wire(m->status, m->object_len);
        out->u.get_resp.error = m->status;
        out->u.get_resp.object = wire_msg_bytes(m->object, m->object_len);
        return 0;
    case RK_MSG_PUT_REQ:
        out->type = RK_WIRE_PUT_REQ;
        out->u.put_req.req_id = m->req_id;
        out->u.put_req.key = wire_msg_bytes(m->key, m->key_len);
        out->u.put_req.object = wire_msg_bytes(m->object, m->object_len);
        out->u.put_req.durable = true;     /* replicas answer once the merge is durable */
        out->u.put_req.flags = m->flags & RK_WIRE_PUT_FLAGS_KNOWN;
        out->u.put_req.hint_owner = m->hint_owner;
        return 0;
    case RK_MSG_PUT_RESP:
        out->type = RK_WIRE_PUT_RESP;
        out->u.put_resp.req_id = m->req_id;
        out->u.put_resp.status = wire_msg_status_to_wire(m->status, 1);
        out->u.put_resp.error = m->status;
        return 0;
    case RK_MSG_FWD_REQ:
        out->type = RK_WIRE_FWD_REQ;
        out->u.fwd_req.req_id = m->req_id;
        out->u.fwd_req.kind = m->req_kind;
        out->u.fwd_req.key = wire_msg_bytes(m->key, m->key_len);
        out->u.fwd_req.value = wire_msg_bytes(m->value, m->value_len);
        out->u.fwd_req.context = wire_msg_bytes(m->context, m->context_len);
        out->u.fwd_req.r = m->r;
        out->u.fwd_req.w = m->w;
        out->u.fwd_req.sloppy = m->sloppy;
        return 0;
    case RK_MSG_FWD_RESP:
        out->type = RK_WIRE_FWD_RESP;
        out->u.fwd_resp.req_id = m->req_id;
        out->u.fwd_resp.reply_kind = m->req_kind;
        out->u.fwd_resp.integer = m->integer;
        out->u.fwd_resp.error = m->status;
        /* The client's error text is one line; a longer one is cut, not refused. */
        out->u.fwd_resp.message = wire_msg_bytes(
            m->message, m->message_len < RK_WIRE_REASON_BYTES_MAX ? m->message_len
                                                                   : RK_WIRE_REASON_BYTES_MAX);
        out->u.fwd_resp.context = wire_msg_bytes(m->context, m->context_len);
        return 0;
    case RK_MSG_BUCKET_SET:
        out->type = RK_WIRE_BUCKET_SET;
        out->u.bucket_set.req_id = m->req_id;
        out->u.bucket_set.name = wire_msg_bytes(m->key, m->key_len);
        out->u.bucket_set.props = wire_msg_bytes(m->object, m->object_len);
        out->u.bucket_set.version = m->version;
        return 0;
    case RK_MSG_BUCKET_ACK:
        if (m->integer < 0) {
            return RK_EINVAL;
        }
        out->type = RK_WIRE_BUCKET_ACK;
        out->u.bucket_ack.req_id = m->req_id;
        out->u.bucket_ack.error = m->status;
        out->u.bucket_ack.version = (uint64_t)m->integer;
        return 0;
    }
    return RK_EINVAL;
}

static int wire_msg_refuse(char *why, size_t why_bytes, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int wire_msg_refuse(char *why, size_t why_bytes, const char *fmt, ...)
{
    if (why != NULL && why_bytes > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_bytes, fmt, ap);
        va_end(ap);
    }
    return RK_ECORRUPT;
}

static int wire_msg_fwd_req(const rk_wire_fwd_req *f, rk_msg *out, char *why, size_t why_bytes)
{
    if (f->kind < RK_REQ_GET || f->kind > RK_REQ_KIND_MAX) {
        return wire_msg_refuse(why, why_bytes, "fwd_req: request kind %u is not 1 to %u", f->kind,
                               RK_REQ_KIND_MAX);
    }
    if (f->sloppy > RK_SLOPPY_OFF) {
        return wire_msg_refuse(why, why_bytes, "fwd_req: sloppy %u is not 0 to %u", f->sloppy,
                               RK_SLOPPY_OFF);
    }
    if (f->r > RK_N_MAX || f->w > RK_N_MAX) {
        return wire_msg_refuse(why, why_bytes, "fwd_req: R=%u W=%u; quorums are 0 to %u", f->r,
                               f->w, RK_N_MAX);
    }
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
    return 0;
}

static int wire_msg_fwd_resp(const rk_wire_fwd_resp *f, rk_msg *out, char *why,
                             size_t why_bytes)
{
    if (f->reply_kind < RK_REPLY_OK || f->reply_kind > RK_REPLY_KIND_MAX) {
        return wire_msg_refuse(why, why_bytes, "fwd_resp: reply kind %u is not 1 to %u",
                               f->reply_kind, RK_REPLY_KIND_MAX);
    }
    out->kind = RK_MSG_FWD_RESP;
    out->req_id = f->req_id;
    out->req_kind = f->reply_kind;
    out->integer = f->integer;
    out->status = f->error;
    out->message = f->message.data;
    out->message_len = f->message.len;
    out->context = f->context.data;
    out->context_len = f->context.len;
    return 0;
}

int rk_wire_to_msg(const rk_wire_msg *w, rk_msg *out, char *why, size_t why_bytes)
{
    RK_ASSERT(w != NULL);
    RK_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (why != NULL && why_bytes > 0) {
        why[0] = '\0';
    }
    switch (w->type) {
    case RK_WIRE_GET_REQ:
        out->kind = RK_MSG_GET_REQ;
        out->req_id = w->u.get_req.req_id;
        out->key = w->u.get_req.key.data;
        out->key_len = w->u.get_req.key.len;
        return 0;
    case RK_WIRE_GET_RESP:
        out->kind = RK_MSG_GET_RESP;
        out->req_id = w->u.get_resp.req_id;
        out->status = wire_msg_status_from_wire(w->u.get_resp.status, w->u.get_resp.error);
        if (out->status == 0) {
            out->object = w->u.get_resp.object.data;
            out->object_len = w->u.get_resp.object.len;
        }
        return 0;
    case RK_WIRE_PUT_REQ:
        out->kind = RK_MSG_PUT_REQ;
        out->req_id = w->u.put_req.req_id;
        out->flags = w->u.put_req.flags;
        out->hint_owner = w->u.put_req.hint_owner;
        out->key = w->u.put_req.key.data;
        out->key_len = w->u.put_req.key.len;
        out->object = w->u.put_req.object.data;
        out->object_len = w->u.put_req.object.len;
        return 0;
    case RK_WIRE_PUT_RESP:
        out->kind = RK_MSG_PUT_RESP;
        out->req_id = w->u.put_resp.req_id;
        out->status = wire_msg_status_from_wire(w->u.put_resp.status, w->u.put_resp.error);
        return 0;
    case RK_WIRE_FWD_REQ:
        return wire_msg_fwd_req(&w->u.fwd_req, out, why, why_bytes);
    case RK_WIRE_FWD_RESP:
        return wire_msg_fwd_resp(&w->u.fwd_resp, out, why, why_bytes);
    case RK_WIRE_BUCKET_SET:
        out->kind = RK_MSG_BUCKET_SET;
        out->req_id = w->u.bucket_set.req_id;
        out->key = w->u.bucket_set.name.data;
        out->key_len = w->u.bucket_set.name.len;
        out->object = w->u.bucket_set.props.data;
        out->object_len = w->u.bucket_set.props.len;
        out->version = w->u.bucket_set.version;
        return 0;
    case RK_WIRE_BUCKET_ACK:
        if (w->u.bucket_ack.version > (uint64_t)INT64_MAX) {
            return wire_msg_refuse(why, why_bytes, "bucket_ack: version %llu is above 2^63-1",
                                   (unsigned long long)w->u.bucket_ack.version);
        }
        out->kind = RK_MSG_BUCKET_ACK;
        out->req_id = w->u.bucket_ack.req_id;
        out->status = w->u.bucket_ack.error;
        out->integer = (int64_t)w->u.bucket_ack.version;
        return 0;
    case RK_WIRE_NONE:
    case RK_WIRE_HELLO:
    case RK_WIRE_HELLO_ACK:
    case RK_WIRE_HEARTBEAT:
        break;
    }
    return wire_msg_refuse(why, why_bytes, "%s is not a message for the node",
                           rk_wire_type_name(w->type));
}
