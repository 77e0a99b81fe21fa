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
/* The node's env timer ids: one for all coordinator deadlines. */
#define RK_TIMER_DEADLINES 1u

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
    rk_node_id preflist[RK_N_MAX];
    uint32_t preflist_count;
    uint32_t need;              /* R or W */
    uint16_t sent_mask;
    uint16_t answered_mask;
    uint32_t ok_count;
    uint64_t members_answered;  /* BUCKET: bit per member index */
    int64_t integer;            /* DEL: 1 if the coordinator saw a live value */
    char *written_context;      /* PUT: the new object's context token (owned) */
    uint8_t policy;
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
    uint8_t *scratch;           /* encoding buffer, grows to the largest object */
    size_t scratch_capacity;
};

/* node.c */
void node_reply(rk_node *n, bool from_peer, rk_node_id origin, uint64_t req, const rk_reply *r);
void node_reply_error(rk_node *n, uint64_t client_req, int error, const char *message);
bool node_member_up(const rk_node *n, rk_node_id id);
int node_member_index(const rk_node *n, rk_node_id id);
void node_send(rk_node *n, rk_node_id to, const rk_msg *m);
/* Read the local object of `key` into *out (empty when absent). 0 or a store/decode error. */
int node_local_read(rk_node *n, const uint8_t *key, size_t key_len, rk_dvvset *out);
/* Write `set` as the local object of `key`; *seq_out is its store seq. Keeps keys_live. When
 * bytes_out is not NULL it gets the encoding written (in the node's scratch buffer: valid until
 * the next encode), so a caller sending the same object need not encode it again. */
int node_local_write(rk_node *n, const uint8_t *key, size_t key_len, const rk_dvvset *set,
                     bool was_live, uint64_t *seq_out, const uint8_t **bytes_out,
                     size_t *len_out);
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

/* replica.c */
void rk_replica_on_get(rk_node *n, rk_node_id from, const rk_msg *m);
void rk_replica_on_put(rk_node *n, rk_node_id from, const rk_msg *m);
/* Merge `incoming` into the local object of key; answer via `p` once durable (p may be NULL:
 * nobody waits). Returns 0 or an error. */
int rk_replica_merge(rk_node *n, const uint8_t *key, size_t key_len, const rk_dvvset *incoming,
                     uint8_t policy, const node_pending *p);

#endif
