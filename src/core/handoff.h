/* handoff.h — hinted handoff (Dynamo 4.6): the hint records a node keeps for primaries that
 * missed a write, and their delivery back to those owners (the protocol is described at the
 * top of handoff.c). A record is keyed [u32 owner][u64 xxh3 of the skey] (big-endian: one
 * owner's hints are one range, and the key stays far below LMDB's 511 bytes whatever the skey),
 * its value [u8 format = 1][skey]. The object itself is the node's copy in RK_DB_DATA, written
 * with its record in one atomic batch through local.h. Owns the in-flight table and the
 * delivery timer; written only by handoff.c. */
#ifndef RK_HANDOFF_H
#define RK_HANDOFF_H

#include <stdbool.h>
#include <stdint.h>

#include "coord.h"
#include "local.h"

#define RK_HINT_KEY_BYTES 12u
/* Handoff objects in flight at once (each is an RK_COORD_HANDOFF coordinator). */
#define RK_HANDOFF_INFLIGHT_MAX 256u
/* The env timer id of hinted handoff. */
#define RK_TIMER_HANDOFF 2u

typedef struct rk_handoff {
    bool timer_set;
    uint32_t inflight_count;
    uint64_t inflight[RK_HANDOFF_INFLIGHT_MAX];     /* hint ids sent, not yet answered */
    uint64_t repoint_key;   /* ring version and member generation the hints last followed */
} rk_handoff;

/* Fill key_out and value_out (1 + RK_SKEY_BYTES_MAX bytes); returns the value's length. */
size_t rk_hint_encode(rk_node_id owner, const uint8_t *skey, size_t skey_len,
                      uint8_t key_out[RK_HINT_KEY_BYTES], uint8_t *value_out);

/* Count the hint records at start-up (stats.hints_pending) and arm delivery if any. */
int rk_handoff_start(rk_node *n);
/* Store the encoded object `bytes` (live: it has a live sibling) as the local object of `k`;
 * with hint_owner not 0 the copy is a hinted replica for that primary and its hint record is
 * written in the same atomic batch. Otherwise as rk_local_write. */
int rk_handoff_store(rk_node *n, const rk_local_key *k, const uint8_t *bytes, size_t len,
                     bool live, bool was_live, rk_node_id hint_owner, uint64_t *seq_out);
/* The same for a set delta (rk_local_set_merge_delta): merged into the rows of `k`, with the hint
 * record in the same batch. RK_ENOTREADY (with need_ready) when it is not causally ready. */
int rk_handoff_store_delta(rk_node *n, const rk_local_key *k, const uint8_t *members,
                           size_t members_len, const rk_dvvset *delta, bool need_ready,
                           rk_node_id hint_owner, uint64_t *seq_out);
/* A member came up, or a hint was created: make sure delivery is scheduled. */
void rk_handoff_kick(rk_node *n);
void rk_handoff_on_timer(rk_node *n);
/* The owner answered a handoff coordinator (status 0: merged and durable). Frees `c`. */
void rk_handoff_on_ack(rk_node *n, rk_coord_handoff *c, int status);
/* A handoff coordinator timed out: forget it; the hint stays and goes again. Frees `c`. */
void rk_handoff_on_expire(rk_node *n, rk_coord_handoff *c);
/* Record a hint: this node's copy of `k` goes to `owner` (a ring change made it that key's
 * owner and this node none: transfer.c's cleanup), and with its last hint the copy is removed.
 * 0 (written, or there already), or a store error. *seq_out: the write's seq when written. */
int rk_handoff_hint_owner(rk_node *n, const rk_local_key *k, rk_node_id owner, uint64_t *seq_out);
/* A write whose coordinator holds the object and some primary did not get it (down with no
 * fallback, or no answer in time): record a hint for each such owner here. */
void rk_handoff_hint_missed(rk_node *n, const rk_coord_put *c);

#endif
