/* aae_internal.h — what aae.c (building, the requester's steps, the timer) and aae_keys.c (the
 * answering side, key lists, confirmation and repair) share. Nothing else includes it. */
#ifndef RK_AAE_INTERNAL_H
#define RK_AAE_INTERNAL_H

#include "aae.h"
#include "msg.h"

/* A key that differed between this node and the peer: its storage key and both objects' hashes
 * (0: absent or damaged on that side). */
struct aae_diff {
    uint8_t *skey;              /* owned */
    uint32_t skey_len;
    uint64_t mine;
    uint64_t theirs;
};

/* aae.c */
void aae_arm(rk_node *n);
/* The primaries of `partition` (the default n, capped at the members) into out; their count. */
uint32_t aae_partition_primaries(const rk_node *n, uint32_t partition, rk_node_id *out);
/* Send the running exchange's next request to its peer, with a fresh req_id and deadline. */
void aae_send_req(rk_node *n, uint32_t level, const uint32_t *indices, uint32_t index_count,
                  const rk_msg_bytes *keys, uint32_t key_count);
void aae_exchange_done(rk_node *n, bool failed);

/* aae_keys.c */
/* Drop the running exchange's lists and go idle. */
void aae_exchange_reset(rk_aae *a);
/* The confirm pause is over: ask the peer again for the keys of the segments that differed. */
void aae_confirm_send(rk_node *n);

/* aae_reap.c */
/* Allocate the reap state and load the partitions' dot floors from RK_DB_META. */
int aae_reap_start(rk_node *n);
void aae_reap_reset(rk_aae *a);
void aae_reap_on_tick(rk_node *n, uint64_t now);
/* Answer a peer's RK_AAE_REAP_CHECK or RK_AAE_REAP (`resp` prepared by the caller). */
void aae_reap_serve(rk_node *n, rk_node_id from, const rk_msg *m, rk_msg *resp);
void aae_reap_on_resp(rk_node *n, rk_node_id from, const rk_msg *m);
/* Whether `bytes` are a tombstone (every sibling one) older than the grace delay. */
bool aae_tombstone_expired(const rk_node *n, const uint8_t *bytes, size_t len);

#endif
