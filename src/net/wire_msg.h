/* wire_msg.h — the core's messages (src/core/msg.h, rk_msg) in wire form (wire.h, rk_wire_msg)
 * and back. Both directions borrow: no copies, no allocation, so the runtime maps a message
 * straight into an rk_wire_out and a decoded frame straight into rk_node_on_message. Incoming
 * messages are validated here for what the core would trust (kinds, status codes, the ranges
 * of its enums); the byte ranges were checked by the codec. Handshake and heartbeat messages
 * are the runtime's; they have no rk_msg form. */
#ifndef RK_WIRE_MSG_H
#define RK_WIRE_MSG_H

#include <stddef.h>

#include "../core/msg.h"
#include "wire.h"

/* Fill *out (zeroed first) with the wire form of `m`. Pointers in *out borrow from `m`.
 * Returns 0, or RK_EINVAL for a kind the wire does not know or a status that is not an RK_E*
 * code (a core bug: the caller counts and drops it). */
int rk_wire_from_msg(const rk_msg *m, rk_wire_msg *out);

/* Fill *out (zeroed first) with the core form of a decoded message. Pointers in *out borrow
 * from `w`, which must outlive it. Returns 0, or RK_ECORRUPT with `why` (at most why_bytes
 * with the NUL; may be NULL) naming the field and its value: a handshake or heartbeat message
 * (not the core's), a request or reply kind the core does not know, a quorum above RK_N_MAX, a
 * version that does not fit the core's integer. The peer is speaking garbage: drop the
 * message, keep the connection. */
int rk_wire_to_msg(const rk_wire_msg *w, rk_msg *out, char *why, size_t why_bytes);

#endif
