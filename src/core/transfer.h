/* transfer.h — ownership transfer (issue 15, docs/membership.md): while a committed plan
 * moves, each node pulls the partitions it gains (the plan's units naming it receiver) from a
 * source in acknowledged batches — a batch is asked for only once the last one is durable
 * here, so the request is the acknowledgement — throttled by a token bucket of objects per
 * second (adjustable while running), retried at the next source when a request goes
 * unanswered (counted and shown as stalled, never silent). Sources serve the batches from
 * their store (AAE_REQ level RK_AAE_RANGE). After the flip, a node that holds keys it no
 * longer owns hands them to their owners through hinted handoff (hint records, acknowledged
 * deliveries, the copy deleted after its last) once every member holds the new ring and a
 * request timeout has passed, so what is deleted is always held by its new owners. Owns the
 * receive table and the counters; the plan itself is cluster.h's. */
#ifndef RK_TRANSFER_H
#define RK_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "msg.h"
#include "skey.h"

#define RK_TRANSFER_BATCH_OBJECTS 256u
#define RK_TRANSFER_BATCH_BYTES (1u << 20)
#define RK_TRANSFER_PARALLEL 2u            /* units one receiver pulls at once */
#define RK_TRANSFER_OBJECTS_PER_S_DEFAULT 20000u

typedef enum rk_xfer_state {
    RK_XFER_WAITING = 0,
    RK_XFER_RUNNING = 1,
    RK_XFER_DONE = 2,
} rk_xfer_state;

/* One unit this node receives. */
typedef struct rk_xfer {
    uint32_t unit;          /* index into the plan's units */
    uint8_t state;          /* rk_xfer_state */
    bool inflight;          /* a request is out, or its batch is being made durable */
    bool writing;           /* its batch is being made durable */
    bool last;              /* the batch being made durable ended the partition */
    uint8_t source_at;      /* index into the unit's sources */
    uint64_t req_id;
    uint64_t sent_ms;
    uint64_t started_ms;
    uint64_t progress_ms;   /* the last batch received */
    uint64_t finished_ms;
    uint64_t keys;
    uint64_t bytes;
    uint32_t retries;
    bool has_cursor;
    uint16_t cursor_len;
    uint8_t cursor[RK_KEY_BYTES_MAX];
} rk_xfer;

typedef struct rk_transfer {
    uint64_t plan;          /* the plan the table was built for (0: none) */
    uint32_t count;
    rk_xfer *xfers;         /* units this node receives, ascending unit index */
    uint64_t req_next;
    uint32_t objects_per_s; /* the throttle: 0 stops transfers */
    double tokens;          /* objects that may be asked for now */
    uint64_t tokens_ms;
    /* After a flip: the ring whose cleanup was started, and when it may start. */
    uint64_t cleanup_ring;
    uint64_t cleanup_at_ms;
    uint64_t cleanup_keys;  /* keys handed to their new owners so far */
    uint64_t cleanup_bumped;        /* the ring whose cleanup bumped the epoch (clock.h) */
    uint16_t cleanup_cursor_len;    /* 0: the next pass starts at the first key */
    uint8_t cleanup_cursor[RK_SKEY_BYTES_MAX + 1];
} rk_transfer;

struct rk_node;

void rk_transfer_init(rk_transfer *t, uint32_t objects_per_s);
void rk_transfer_deinit(rk_transfer *t);
/* The periodic step while a plan moves or a cleanup waits: (re)build the table for the plan,
 * start waiting units, retry unanswered requests, refill the throttle. */
void rk_transfer_tick(struct rk_node *n);
/* transfer.c's steps of the tick (transfer_serve.c runs it): follow the plan, refill the
 * throttle, retry and start requests. */
void rk_transfer_rebuild(struct rk_node *n);
void rk_transfer_refill(struct rk_node *n, uint64_t now);
void rk_transfer_step(struct rk_node *n, uint64_t now);
/* transfer_resume.c: a unit's cursor and counts in RK_DB_META after each batch (save), read
 * back when the table is built after a restart (load), removed when the unit is done (drop);
 * the sweep removes the records of every plan but the current one. */
int rk_transfer_resume_save(struct rk_node *n, const rk_xfer *x);
void rk_transfer_resume_load(struct rk_node *n, rk_xfer *x);
void rk_transfer_resume_drop(struct rk_node *n, uint32_t unit);
void rk_transfer_resume_sweep(struct rk_node *n);
/* Whether anything is left to do (the membership timer runs fast while so). */
bool rk_transfer_busy(const struct rk_node *n);
/* AAE_REQ / AAE_RESP of level RK_AAE_RANGE. */
void rk_transfer_on_req(struct rk_node *n, rk_node_id from, const rk_msg *m);
void rk_transfer_on_resp(struct rk_node *n, rk_node_id from, const rk_msg *m);
/* A received batch of unit slot `slot` is durable here (status 0) or failed. */
void rk_transfer_on_durable(struct rk_node *n, uint64_t slot, int status);
/* The durability queue's RK_PENDING_TRANSFER item (one of an older plan is dropped). */
struct rk_pending;
void rk_transfer_on_pending(struct rk_node *n, const struct rk_pending *p, int status);
/* Units this node still receives or is the first source of (INFO transfers_pending). */
uint32_t rk_transfer_pending(const struct rk_node *n);
/* This node's receive state of plan unit `unit`, or NULL. */
const rk_xfer *rk_transfer_find(const struct rk_node *n, uint32_t unit);
/* A replica applied a write for `k` (bytes: the merged object): send it where the plan or
 * the new ring says it belongs and the coordinator did not (RK_MSG_PUT_PLANNED unset). */
struct rk_local_key;
void rk_transfer_forward(struct rk_node *n, const struct rk_local_key *k, const uint8_t *bytes,
                         size_t len);
/* Whether this node is one of `k`'s primaries in the moving plan's ring. */
bool rk_transfer_next_primary(const struct rk_node *n, const struct rk_local_key *k);
/* The coordinator's side, while a plan moves (rk_transfer_moving: its PUT_REQs then carry
 * RK_MSG_PUT_PLANNED): send the object as a repair to the plan's new owners of `k` that are
 * not in `sent` (sent_count entries) and not this node. */
bool rk_transfer_moving(const struct rk_node *n);
void rk_transfer_send_planned(struct rk_node *n, const struct rk_local_key *k,
                              const rk_node_id *sent, uint32_t sent_count, const uint8_t *bytes,
                              size_t len);

#endif
