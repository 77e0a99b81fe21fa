/* coord.h — request coordinators (Dynamo 4.5), one struct per kind, each created with its kind
 * and embedding the common rk_coord (coord_table.h) first:
 *
 *   GET     coord_get.c   ask the chosen replicas, answer at R, read repair
 *   PUT     coord_put.c   a write (SET, DEL, RK.PUT, RK.DEL, SADD...) coordinated here:
 *                         for a merge type first read at R and merge, then mint, store,
 *                         replicate, answer at W
 *   FWD     coord.c       a write forwarded to a primary, waiting for its answer
 *   BUCKET  node_bucket.c bucket properties pushed to every member
 *   HANDOFF handoff.c     a hinted copy sent back to its owner
 *
 * coord.c chooses the nodes a request goes to and routes answers and deadlines to the kind;
 * the table is coord_table.c's. Each kind's struct is written only by its own file. */
#ifndef RK_COORD_H
#define RK_COORD_H

#include "bucket.h"
#include "coord_table.h"
#include "dvvset.h"
#include "local.h"
#include "node.h"

typedef struct rk_msg rk_msg;

/* GET and PUT: the nodes a request goes to and their answers. The chosen nodes are reachable
 * primaries, and under a sloppy quorum the fallbacks standing in for the others (hint_for: the
 * primary a fallback stands in for, 0 for a primary); strict: every primary, reachable or
 * not. Masks are bits of preflist indexes. */
typedef struct rk_coord_quorum {
    rk_node_id preflist[RK_N_MAX];
    rk_node_id hint_for[RK_N_MAX];
    uint32_t preflist_count;
    rk_node_id owners[RK_N_MAX];    /* the key's primaries (PUT: who must end up with it) */
    uint32_t owner_count;
    uint32_t need;                  /* R or W */
    uint32_t fallback_need;         /* the bucket's fallback_r/_w: 0 off, else degraded floor */
    uint16_t sent_mask;
    uint16_t answered_mask;
    uint16_t ok_mask;               /* answered entries that succeeded */
    uint32_t ok_count;
} rk_coord_quorum;
_Static_assert(RK_N_MAX <= 16, "quorum masks are uint16_t");

typedef struct rk_coord_get {
    rk_coord base;
    rk_coord_quorum q;
    rk_request_kind req_kind;
    uint8_t read_op;            /* RK_REQ_READ: the rk_read_kind */
    uint8_t policy;
    uint8_t *arg;               /* RK_REQ_READ: its argument (owned; NULL when none) */
    size_t arg_len;
    rk_local_key key;
    /* Heap: a version vector is ~1.5 KiB. The merge of every answer, and each answer for read
     * repair (NULL until it arrives). */
    rk_dvvset *merged;
    rk_dvvset *got[RK_N_MAX];
    /* SISMEMBER/SMISMEMBER of a large set: only these members are read (an elems.h list,
     * owned; NULL: the whole key), and a narrowed answer repairs nothing. */
    uint8_t *members;
    size_t members_len;
} rk_coord_get;

typedef struct rk_coord_put {
    rk_coord base;
    rk_coord_quorum q;
    uint8_t policy;
    bool versioned;             /* RK.PUT/RK.DEL: answer the new context (RK_REPLY_WRITTEN) */
    bool local_ok;              /* the coordinator's own write is stored */
    bool was_live;              /* the coordinator held a live value before the write */
    rk_reply_kind reply_kind;   /* a plain write's answer, from the policy's apply */
    int64_t reply_integer;
    uint8_t *reply_value;       /* RK_REPLY_VALUE (GETDEL: what it deleted); owned */
    size_t reply_value_len;
    rk_local_key key;
    char *written_context;      /* versioned: the new object's context token (owned) */
    /* Read-modify-write (a merge-type bucket, policy.h read_before_write): the key is read at
     * R from the chosen nodes and merged before the write is applied; the request waits here
     * (its argument and context copied, owned). */
    bool reading;
    uint32_t read_need;         /* R (lowered to 1 by the bucket's fallback_r) */
    uint16_t read_answered_mask;
    uint32_t read_ok_count;
    rk_dvvset *read_merged;     /* heap; NULL unless reading */
    rk_request request;         /* key, value and context point into the fields below */
    /* durable_before_send (policy.h): the object to send once the local copy is durable. */
    uint8_t *unsent_object;
    size_t unsent_object_len;
    uint8_t *request_value;
    char *request_context;
    /* A large set's SADD or SREM (issue 14, docs/merge.md): read narrowed to its members,
     * replicated as a delta (setrows.h); a replica that finds it not ready gets the whole set. */
    bool delta;
    uint64_t delta_base_count;  /* members this node's copy held before the write */
    uint8_t *delta_object;      /* the delta as sent (owned) */
    uint16_t resent_mask;       /* replicas sent the whole set after RK_ENOTREADY */
} rk_coord_put;

typedef struct rk_coord_fwd {
    rk_coord base;
    rk_node_id to;              /* the primary coordinating it */
} rk_coord_fwd;

typedef struct rk_coord_bucket {
    rk_coord base;
    /* A policy change to or from a merge type first asks every member whether it stores a live
     * key of the bucket (check_only); the change waits here. */
    bool checking;
    char name[RK_BUCKET_NAME_BYTES_MAX];
    uint32_t name_len;
    rk_bucket_props next;
    bool self_answered;         /* this node's own store of the properties is durable */
    uint32_t ok_count;          /* members that stored them, this one included */
    uint32_t sent_count;
    uint32_t answered_count;
    rk_node_id sent_to[RK_MEMBERS_MAX];
    bool answered[RK_MEMBERS_MAX];  /* by index in sent_to: a duplicated ack counts once */
} rk_coord_bucket;

typedef struct rk_coord_handoff {
    rk_coord base;
    rk_node_id owner;
    uint64_t hint_id;           /* hash of the hint record's key */
    uint64_t copy_hash;         /* hash of the copy sent */
    rk_local_key key;
} rk_coord_handoff;

/* ---- entry points (node.c dispatches to them) ---------------------------------------------- */

/* A client request, or a write a peer forwarded here (from_peer: answered with FWD_RESP). */
void rk_coord_start(rk_node *n, bool from_peer, rk_node_id origin, uint64_t origin_req,
                    const rk_request *r);
/* A response to one of our requests: GET_RESP, PUT_RESP, FWD_RESP, BUCKET_ACK. */
void rk_coord_on_message(rk_node *n, rk_node_id from, const rk_msg *m);
void rk_coord_on_timer(rk_node *n);
/* This node's own write for coordinator `coord_id` is durable (status 0) or failed. */
void rk_coord_on_local_durable(rk_node *n, uint64_t coord_id, int status);
/* Free what any kind owns (the table's deinit callback). */
void rk_coord_deinit(rk_coord *c);

/* ---- shared by the kinds ------------------------------------------------------------------- */

/* Answer the client (or forwarding peer) once; later calls do nothing. */
void rk_coord_reply(rk_node *n, rk_coord *c, const rk_reply *r);
/* An error reply, counting timeouts and unavailability. */
void rk_coord_reply_error(rk_node *n, rk_coord *c, int error, const char *message);
/* Release the kind's memory and the slot. */
void rk_coord_free(rk_node *n, rk_coord *c);
/* A node's index in q->preflist, or -1. */
int rk_coord_preflist_index(const rk_coord_quorum *q, rk_node_id id);
/* The answers expected: the nodes sent to, and this node when chosen. */
uint16_t rk_coord_expected_mask(const rk_coord_quorum *q, rk_node_id self);
/* Fewer than need reachable: lower need to a degraded floor when the bucket allows
 * (fallback_r/_w; `quorum` is 'R' or 'W') and go on (true), or answer RK_EUNAVAIL and free `c`
 * (false). */
bool rk_coord_need_reachable(rk_node *n, rk_coord *c, rk_coord_quorum *q, uint32_t up_count,
                             char quorum);

/* coord_get.c */
void rk_coord_get_start(rk_node *n, rk_coord_get *c, uint32_t up_count);
void rk_coord_get_on_resp(rk_node *n, rk_coord_get *c, uint32_t index, const rk_msg *m);
void rk_coord_get_expire(rk_node *n, rk_coord_get *c);
void rk_coord_get_deinit(rk_coord_get *c);

/* coord_put.c */
/* `read_r`, `fallback_r`: the bucket's, for a read-modify-write. */
/* coord_put_delta.c, a large set's writes: whether this write goes as a delta (sets c->delta);
 * the dots `state` holds, as a history; the member limit (0, or RK_ETOOBIG with message); store
 * the applied narrowed state's delta here and point *bytes_out at it; and, for a replica that
 * answered RK_ENOTREADY, send it the whole set (once per replica; a second refusal fails it). */
bool rk_coord_put_delta_choose(rk_node *n, rk_coord_put *c, const rk_op *op);
void rk_coord_put_delta_seen(const rk_dvvset *state, rk_vv *seen);
int rk_coord_put_members_check(rk_node *n, const rk_coord_put *c, const rk_op *op,
                               const rk_dvvset *state, int64_t added, char *message,
                               size_t message_bytes);
int rk_coord_put_delta_store(rk_node *n, rk_coord_put *c, const rk_dvvset *applied,
                             const rk_vv *seen, rk_node_id hint_owner, uint64_t *seq_out,
                             const uint8_t **bytes_out, size_t *len_out);
void rk_coord_put_resend_whole(rk_node *n, rk_coord_put *c, uint32_t index);
/* Send `to` this node's whole set `k` in chunks (setrows.h: PutReq flag CHUNK and `flags`; the
 * chunks before the last as repairs, the last as request `req_id`). 0 or a store error. */
int rk_coord_send_whole_set(rk_node *n, rk_node_id to, const rk_local_key *k, uint64_t req_id,
                            uint32_t flags, rk_node_id hint_owner);
void rk_coord_put_start(rk_node *n, rk_coord_put *c, const rk_request *r, uint32_t up_count,
                        uint32_t read_r, bool fallback_r);
void rk_coord_put_on_read(rk_node *n, rk_coord_put *c, uint32_t index, const rk_msg *m);
void rk_coord_put_deinit(rk_coord_put *c);
void rk_coord_put_on_ack(rk_node *n, rk_coord_put *c, uint32_t index, bool ok);
void rk_coord_put_on_local_durable(rk_node *n, rk_coord_put *c, int status);
void rk_coord_put_expire(rk_node *n, rk_coord_put *c);

/* node_bucket.c */
void rk_coord_bucket_on_local_durable(rk_node *n, rk_coord_bucket *c, int status);
void rk_coord_bucket_on_ack(rk_node *n, rk_coord_bucket *c, rk_node_id from, const rk_msg *m);
void rk_coord_bucket_expire(rk_node *n, rk_coord_bucket *c);

#endif
