/* wire_pb.h — private to src/net: each rk_wire_msg type mapped to and from its protoc-c struct
 * (proto/ringkv.proto), and the field ranges both directions hold a message to. wire.c does
 * the framing, the decode budget and the output buffer and calls these three; a new message
 * type is a case in each of them here and a member of rk_wire_pb_body. */
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
} rk_wire_pb_body;

/* The ranges both sides hold a message to. Returns true, or false with `why` naming the field,
 * its value and the range. */
bool rk_wire_pb_check(const rk_wire_msg *m, char *why, size_t why_bytes);

/* Point *msg (zeroed by the caller) into the unpacked envelope `env`, which keeps owning every
 * byte. Returns false when the body is not one this version knows. */
bool rk_wire_pb_to_msg(rk_wire_msg *msg, const Ringkv__Envelope *env);

/* Build the envelope of a checked message. Pointers in *env borrow from `m` and `body`. */
void rk_wire_pb_from_msg(Ringkv__Envelope *env, rk_wire_pb_body *body, const rk_wire_msg *m);

#endif
