/* wire_pb.h — private to src/net: messages mapped to and from the structs protoc-c generates
 * from proto/ringkv.proto, each with the field ranges both directions hold it to. The
 * runtime's control messages (rk_wire_ctl) are wire_pb.c's; the core's messages (rk_msg) are
 * wire_msg.c's, which also checks what the core must not trust from a peer. wire.c does the
 * framing, the decode budget and the output buffer and calls these; a new message is a case in
 * each direction of one of the two files and a member of rk_wire_pb_body. */
#ifndef RK_WIRE_PB_H
#define RK_WIRE_PB_H

#include <stdbool.h>
#include <stddef.h>

#include "ringkv.pb-c.h"
#include "wire.h"

/* Every generated body struct, so one of them can live on the encoder's stack. */
typedef union rk_wire_pb_body {
    Ringkv__Hello hello;
    Ringkv__HelloAck hello_ack;
    Ringkv__Heartbeat heartbeat;
    Ringkv__GetReq get_req;
    Ringkv__GetResp get_resp;
    Ringkv__PutReq put_req;
    Ringkv__PutResp put_resp;
    Ringkv__FwdReq fwd_req;
    Ringkv__FwdResp fwd_resp;
    Ringkv__BucketSet bucket_set;
    Ringkv__BucketAck bucket_ack;
    Ringkv__Aae aae;
    Ringkv__Epoch epoch;
    Ringkv__Cluster cluster;
} rk_wire_pb_body;

/* ---- control messages (wire_pb.c) --------------------------------------------------------- */

/* The ranges both sides hold a control message to. Returns true, or false with `why` naming
 * the field, its value and the range (also for a type that is not a control message). */
bool rk_wire_pb_ctl_check(const rk_wire_ctl *ctl, char *why, size_t why_bytes);

/* Point *ctl (zeroed by the caller) into the unpacked envelope `env`, which keeps owning every
 * byte. Returns false, leaving *ctl zero, when the body is not a control message. */
bool rk_wire_pb_to_ctl(rk_wire_ctl *ctl, const Ringkv__Envelope *env);

/* Build the envelope of a checked control message. Pointers in *env borrow from `ctl` and
 * `body`. */
void rk_wire_pb_from_ctl(Ringkv__Envelope *env, rk_wire_pb_body *body, const rk_wire_ctl *ctl);

/* ---- core messages (wire_msg.c) ----------------------------------------------------------- */

/* Build the envelope of the core's message `m`. Pointers in *env borrow from `m` and `body`.
 * Returns 0, or RK_EINVAL with `why` naming the field and its value: a kind the wire does not
 * know, or a field outside the range rk_wire_pb_to_msg accepts. */
int rk_wire_pb_from_msg(Ringkv__Envelope *env, rk_wire_pb_body *body, const rk_msg *m,
                        char *why, size_t why_bytes);

/* Fill *out (zeroed first) with the core message in the unpacked envelope `env`, which keeps
 * owning every byte. Returns 0, or RK_ECORRUPT with `why` naming the field and its value: a
 * body that is not a core message this version knows, or a field the core must not trust. */
int rk_wire_pb_to_msg(rk_msg *out, const Ringkv__Envelope *env, char *why, size_t why_bytes);

#endif
