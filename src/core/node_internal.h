/* node_internal.h — the node's state shared by node.c (dispatch, durability, buckets), coord.c
 * (request coordinators) and replica.c (the replica side). Nothing outside src/core includes it.
 * One rk_node owns: its ring, bucket table, the FIFO of work waiting for durability and the
 * table of coordinators in flight. */
#ifndef RK_NODE_INTERNAL_H
#define RK_NODE_INTERNAL_H

#include "bucket.h"
#include "dvvset.h"
#include "msg.h"
#include "node.h"
#include "ring.h"
#include "skey.h"
#include "version.h"

/* Coordinators in flight; each is allocated while it lives. When full, new requests get
 * RK_EBUSY (the runtime stops reading clients well before: see rk_node_is_busy). */
#define RK_COORD_INFLIGHT_MAX 4096u
_Static_assert(RK_COORD_INFLIGHT_MAX <= 65536u, "a coordinator's slot is 16 bits of its id");
/* A dot minted in epoch e is at least e << RK_EPOCH_SHIFT: after a restart the node mints
 * above anything it may have handed out before a crash (Riak's kv679), 2^40 writes per key and
 * epoch of room. */
#define RK_EPOCH_SHIFT 40u
/* Forwarded writes remembered to drop a duplicate: coordinating one twice would mint two dots
 * for one client write (a network that duplicates, as the simulator's does). */
#define RK_FWD_SEEN_MAX 1024u
/* The node's env timer ids: one for all coordinator deadlines, one for hinted handoff. */
#define RK_TIMER_DEADLINES 1u
#define RK_TIMER_HANDOFF 2u
/* Failure detection from requests (issue 6 item 1, beside the runtime's heartbeats, which see
 * a frozen process but not a live one whose requests hang): a peer that let this many requests
 * in a row reach their deadline unanswered is suspected, i.e. counted unreachable, for a
 * request timeout, then tried again. Any message from it clears the suspicion. */
#define RK_PEER_SILENT_SUSPECT 2u
/* Handoff objects in flight at once (each is a COORD_HANDOFF coordinator). */
#define RK_HANDOFF_INFLIGHT_MAX 256u

typedef struct node_fwd_seen {
    rk_node_id origin;
    uint64_t req_id;
} node_fwd_seen;

typedef enum node_pending_kind {
    NODE_PENDING_CLIENT = 1,    /* reply to a client request */
    NODE_PENDING_PEER = 2,      /* send a response message to a peer */
    NODE_PENDING_COORD = 3,     /* a coordinator's own replica write is durable */
} node_pending_kind;

typedef struct node_pending {
    uint64_t seq;
    uint64_t id;                /* client_req, the peer's req_id, or the coordinator's id */
    int64_t integer;
    rk_node_id peer;
    uint8_t kind;               /* node_pending_kind */
    uint8_t reply_kind;         /* CLIENT: rk_reply_kind; PEER: rk_msg_kind */
} node_pending;

typedef enum coord_kind {
    COORD_GET = 1,
    COORD_PUT = 2,
    COORD_FWD = 3,      /* a write forwarded to a replica; waits for its FWD_RESP */
    COORD_BUCKET = 4,   /* bucket properties pushed to every member */
    COORD_HANDOFF = 5,  /* a hinted copy sent back to its owner (handoff.c) */
} coord_kind;

typedef struct rk_coord {
    uint64_t id;                /* epoch << 48 | generation << 16 | slot: our messages' req_id */
    /* Every coordinator waits request_timeout_ms, so the armed ones form a list in deadline
     * order; one env timer serves the whole list (coord.c, coord_deadline_*). */
    uint64_t deadline_ms;
    bool armed;
    struct rk_coord *armed_prev;
    struct rk_coord *armed_next;
    coord_kind kind;
    rk_request_kind req_kind;
    /* whom to answer: a client of this node, or the peer that forwarded the write */
    bool from_peer;
    rk_node_id origin;
    uint64_t origin_req;
    bool replied;
    uint8_t key[RK_KEY_BYTES_MAX];
    size_t key_len;
    /* The nodes the request goes to: reachable primaries, and under a sloppy quorum the
     * fallbacks standing in for the others (hint_for: the primary a fallback stands in for, 0
     * for a primary). Strict: every primary, reachable or not. */
    rk_node_id preflist[RK_N_MAX];
    rk_node_id hint_for[RK_N_MAX];
    uint32_t preflist_count;
    rk_node_id owners[RK_N_MAX];    /* the key's primaries (PUT: who must end up with it) */
    uint32_t owner_count;
    uint32_t need;              /* R or W */
    uint32_t fallback_need;     /* bucket's fallback_r/fallback_w: 0 off, else degraded floor */
    bool local_ok;              /* PUT: the coordinator's own write is stored */
    uint16_t sent_mask;
    uint16_t answered_mask;
    uint16_t ok_mask;           /* answered_mask's entries that succeeded */
    uint32_t ok_count;
    uint64_t members_answered;  /* BUCKET: bit per member index */
    int64_t integer;            /* DEL: 1 if the coordinator saw a live value */
    char *written_context;      /* PUT: the new object's context token (owned) */
    uint8_t policy;
    uint64_t hint_id;           /* HANDOFF: hash of the hint record's key */
    uint64_t copy_hash;         /* HANDOFF: hash of the copy sent */
    /* GET only (heap: a version vector is ~1.5 KiB, and writes need none): the merge of every
     * answer, and each answer for read repair (NULL until it arrives) */
    rk_dvvset *merged;
    rk_dvvset *got[RK_N_MAX];
} rk_coord;

struct rk_node {
    rk_node_config config;
    const rk_env *env;
    rk_node_stats stats;
    rk_ring ring;
    rk_bucket_table buckets;
    uint64_t stamp_last_us;     /* LWW stamps never go backwards on one node */
    uint64_t durable_seq;
    uint64_t written_seq;       /* the last store write's seq */
    uint64_t epoch;
    uint64_t epoch_seq;         /* the write that recorded the epoch; no dot minted before */
    uint64_t peers_up;          /* bit i: members[i] reachable (self always) */
    uint64_t peers_suspect;     /* bit i: members[i] suspected until peer_suspect_until_ms[i] */
    uint64_t peer_suspect_until_ms[RK_MEMBERS_MAX];
    uint8_t peer_silent[RK_MEMBERS_MAX];    /* requests in a row it left unanswered */
    /* FIFO ring of work waiting for durability, in seq order */
    node_pending *pending;
    uint32_t pending_head;
    uint32_t pending_count;
    /* coordinators: slot -> coordinator or NULL, with generations for stale ids */
    rk_coord *coords[RK_COORD_INFLIGHT_MAX];
    uint32_t coord_generation[RK_COORD_INFLIGHT_MAX];   /* 32 bits: wraps only after 4G uses */
    uint32_t coord_count;
    rk_coord *armed_head;       /* oldest deadline first */
    rk_coord *armed_tail;
    bool deadline_timer_set;    /* an env timer for armed_head's deadline (or earlier) is out */
    node_fwd_seen fwd_seen[RK_FWD_SEEN_MAX];    /* ring of the last forwarded writes taken */
    uint32_t fwd_seen_next;
    uint64_t fallback_dot_last; /* dots minted as a fallback coordinator: node-wide increasing */
    bool handoff_timer_set;
    uint32_t handoff_inflight_count;
    uint64_t handoff_inflight[RK_HANDOFF_INFLIGHT_MAX];     /* hashes of (owner, skey) sent */
    uint8_t *scratch;           /* encoding buffer, grows to the largest object */
    size_t scratch_capacity;
};

/* members.c: this node's view of the others. */
int node_member_index(const rk_node *n, rk_node_id id);
/* Reachable: the runtime counts it up and this node does not suspect it (self: always). */
bool node_member_up(const rk_node *n, rk_node_id id);
/* A request sent to `id` reached its deadline unanswered (coord.c): count it, suspect at
 * RK_PEER_SILENT_SUSPECT in a row. */
void node_peer_silent(rk_node *n, rk_node_id id);
/* A message came from members[i]: a sign of life, clears its suspicion. */
void node_peer_heard(rk_node *n, int i);

/* node.c */
void node_reply(rk_node *n, bool from_peer, rk_node_id origin, uint64_t req, const rk_reply *r);
void node_reply_error(rk_node *n, uint64_t client_req, int error, const char *message);
void node_send(rk_node *n, rk_node_id to, const rk_msg *m);
/* Read the local object of `key` into *out (empty when absent). 0 or a store/decode error. */
int node_local_read(rk_node *n, const uint8_t *key, size_t key_len, rk_dvvset *out);
/* Write `set` as the local object of `key`; *seq_out is its store seq. Keeps keys_live. With
 * hint_owner not 0 the copy is a hinted replica for that primary: a hint record is written in
 * the same atomic batch (handoff.c). When bytes_out is not NULL it gets the encoding written
 * (in the node's scratch buffer: valid until the next encode), so a caller sending the same
 * object need not encode it again. */
int node_local_write(rk_node *n, const uint8_t *key, size_t key_len, const rk_dvvset *set,
                     bool was_live, rk_node_id hint_owner, uint64_t *seq_out,
                     const uint8_t **bytes_out, size_t *len_out);
/* The storage key of `key` into out (RK_SKEY_BYTES_MAX bytes): its length or an error. */
int node_skey(const rk_node *n, const uint8_t *key, size_t key_len, uint8_t *out);
/* True when this node is one of the key's primaries (its bucket's effective n). */
bool node_is_primary(const rk_node *n, const uint8_t *key, size_t key_len);
/* Queue `p` until p->seq is durable (or do it now if it already is). */
void node_after_durable(rk_node *n, const node_pending *p);
int node_encode(rk_node *n, const rk_dvvset *set, const uint8_t **bytes_out, size_t *len_out);
bool node_set_live(const rk_dvvset *set);
/* LWW: keep only the winning sibling (highest timestamp, then dot), history unchanged. */
void node_resolve_lww(rk_dvvset *set);
/* A write's LWW stamp: the wall clock, strictly above this node's last stamp and floor_us. */
uint64_t node_stamp_above(rk_node *n, uint64_t floor_us);
uint32_t node_effective_n(const rk_node *n, const rk_bucket_props *props);
void node_pending_peer_reply(rk_node *n, const node_pending *p);
/* Keep `props` for bucket `name` if newer, storing them in RK_DB_META; *seq_out is the write to
 * wait for (the last write when nothing changed). 1 changed, 0 not newer, or an error. */
int node_bucket_store(rk_node *n, const uint8_t *name, size_t name_len,
                      const rk_bucket_props *props, uint64_t *seq_out);

/* coord.c */
void rk_coord_start(rk_node *n, bool from_peer, rk_node_id origin, uint64_t origin_req,
                    const rk_request *r);
void rk_coord_on_message(rk_node *n, rk_node_id from, const rk_msg *m);
void rk_coord_on_timer(rk_node *n, uint64_t timer_id);
void rk_coord_on_local_durable(rk_node *n, uint64_t coord_id, int status);
rk_coord *rk_coord_new(rk_node *n, coord_kind kind);
void rk_coord_free(rk_node *n, rk_coord *c);
void rk_coord_arm(rk_node *n, rk_coord *c);
void rk_coord_bucket_on_ack(rk_node *n, rk_node_id from, const rk_msg *m);
/* Shared by coord.c and coord_get.c: answer the client once; an error reply counting
 * timeouts and unavailability; a node's index in c->preflist or -1; the answers expected (the
 * nodes sent to, and this node when chosen); "fewer than need reachable": lower need to a
 * degraded floor when the bucket allows (fallback_r/_w, `quorum` 'R' or 'W') or refuse and free
 * `c` (false). */
void rk_coord_reply(rk_node *n, rk_coord *c, const rk_reply *r);
void rk_coord_reply_error(rk_node *n, rk_coord *c, int error, const char *message);
int rk_coord_preflist_index(const rk_coord *c, rk_node_id id);
uint16_t rk_coord_expected_mask(const rk_coord *c, rk_node_id self);
bool rk_coord_need_reachable(rk_node *n, rk_coord *c, uint32_t up_count, char quorum);

/* coord_get.c: the read coordinator. */
void rk_coord_get_start(rk_node *n, rk_coord *c, uint32_t up_count);
void rk_coord_get_on_resp(rk_node *n, rk_coord *c, uint32_t index, const rk_msg *m);
void rk_coord_get_expire(rk_node *n, rk_coord *c);

/* handoff.c: hint records in RK_DB_HINTS and their delivery back to the owner (Dynamo 4.6).
 * A record is keyed [u32 owner][u64 xxh3 of the skey] (big-endian: one owner's hints are one
 * range, and the key stays far below LMDB's 511 bytes whatever the skey), its value
 * [u8 format = 1][skey]. The object itself is the node's copy in RK_DB_DATA. */
#define RK_HINT_KEY_BYTES 12u
/* Fill key_out and value_out (1 + RK_SKEY_BYTES_MAX bytes); returns the value's length. */
size_t rk_hint_encode(rk_node_id owner, const uint8_t *skey, size_t skey_len,
                      uint8_t key_out[RK_HINT_KEY_BYTES], uint8_t *value_out);
/* Prepare the store op creating hint (owner, skey) in *op, pointing into the buffers. Returns
 * 1 (op filled: call rk_hint_added once it is written), 0 (the hint exists) or an error. */
int rk_hint_prepare(rk_node *n, rk_node_id owner, const uint8_t *skey, size_t skey_len,
                    uint8_t key_buf[RK_HINT_KEY_BYTES], uint8_t *value_buf, rk_batch_op *op);
void rk_hint_added(rk_node *n);
/* Count the hint records at start-up (stats.hints_pending) and arm delivery if any. */
int rk_handoff_start(rk_node *n);
/* A hint record was created: make sure delivery is scheduled. */
void rk_handoff_kick(rk_node *n);
void rk_handoff_on_timer(rk_node *n);
/* The owner answered a handoff coordinator (status 0: merged and durable). Frees `c`. */
void rk_handoff_on_ack(rk_node *n, rk_coord *c, int status);
/* A handoff coordinator timed out: forget it; the hint stays and goes again. Frees `c`. */
void rk_handoff_on_expire(rk_node *n, rk_coord *c);
/* A write whose coordinator holds the object and some primary did not get it (down with no
 * fallback, or no answer in time): record a hint for each such owner here. */
void rk_handoff_hint_missed(rk_node *n, const rk_coord *c);

/* replica.c */
void rk_replica_on_get(rk_node *n, rk_node_id from, const rk_msg *m);
void rk_replica_on_put(rk_node *n, rk_node_id from, const rk_msg *m);
/* Merge `incoming` into the local object of key; answer via `p` once durable (p may be NULL:
 * nobody waits). Returns 0 or an error. */
int rk_replica_merge(rk_node *n, const uint8_t *key, size_t key_len, const rk_dvvset *incoming,
                     uint8_t policy, rk_node_id hint_owner, const node_pending *p);

#endif
