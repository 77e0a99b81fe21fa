/* durable.h — work waiting for durability (DESIGN.md: durability is an event). A reply, a
 * peer's acknowledgement or a coordinator's own write waits here, in a FIFO in seq order,
 * until rk_node_on_durable says its store write is synced, or a failed sync fails it. Under
 * sync `none` work runs at once (counted in acks_before_durable) and the sync is only asked
 * for. Keeps durable_seq. What the work does is its owner's: the queue hands each item back to
 * the `run` callback its owner gave. Written only by durable.c. */
#ifndef RK_DURABLE_H
#define RK_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"

typedef struct rk_node_stats rk_node_stats;

/* Writes that may wait for durability at once; when nearly full the runtime stops reading
 * clients (rk_node_is_busy). */
#define RK_DURABLE_PENDING_MAX 65536u

typedef enum rk_pending_kind {
    RK_PENDING_CLIENT = 1,      /* reply to a client request */
    RK_PENDING_PEER = 2,        /* send a response message to a peer */
    RK_PENDING_COORD = 3,       /* a coordinator's own replica write is durable */
    RK_PENDING_TRANSFER = 4,    /* a transfer batch is durable: id the slot, integer the plan */
} rk_pending_kind;

typedef struct rk_pending {
    uint64_t seq;               /* the store write it waits for */
    uint64_t id;                /* client_req, the peer's req_id, or the coordinator's id */
    int64_t integer;
    rk_node_id peer;
    uint8_t kind;               /* rk_pending_kind */
    uint8_t reply_kind;         /* CLIENT: rk_reply_kind; PEER: rk_msg_kind */
} rk_pending;

/* Run one item: status 0 (durable) or the failed sync's error with a message for clients. */
typedef void (*rk_durable_run_fn)(void *ctx, const rk_pending *p, int status,
                                  const char *message);

typedef struct rk_durable {
    const rk_env *env;          /* kept: sync requests */
    rk_node_stats *stats;       /* kept: writes the sync and inflight counters */
    bool sync_none;             /* sync policy `none`: run at once */
    rk_durable_run_fn run;
    void *run_ctx;
    uint64_t durable_seq;       /* every write up to it is durable */
    rk_pending *queue;          /* ring of RK_DURABLE_PENDING_MAX, in seq order */
    uint32_t head;
    uint32_t count;
} rk_durable;

/* Keeps env, stats and the callback. durable_seq starts at what the store says is durable.
 * 0 or RK_ENOMEM. */
int rk_durable_init(rk_durable *d, const rk_env *env, rk_node_stats *stats, bool sync_none,
                    rk_durable_run_fn run, void *run_ctx);
void rk_durable_deinit(rk_durable *d);

/* Run `p` once p->seq is durable: now if it already is, else queued (the caller checked
 * rk_durable_room first). */
void rk_durable_after(rk_durable *d, const rk_pending *p);
/* Items that can still be queued. */
uint32_t rk_durable_room(const rk_durable *d);
uint64_t rk_durable_seq(const rk_durable *d);
/* Writes up to `seq` are durable: run what waited for them. */
void rk_durable_on_synced(rk_durable *d, uint64_t seq);
/* A sync failed: the writes up to `seq` were rolled back; fail what waited for them. */
void rk_durable_on_failed(rk_durable *d, uint64_t seq, int error, const char *message);

#endif
