/* coord_table.h — the table of coordinators in flight: slots with a free list (taking one is
 * O(1), not a scan of RK_COORD_INFLIGHT_MAX), generations so that a late answer to a finished
 * coordinator never reaches the slot's next user, and the deadline list. Every coordinator
 * waits the same request timeout, so armed ones form a list in deadline order by appending, and
 * one env timer serves the whole list (a timer per request would leave thousands alive for the
 * whole timeout after their requests finished). What a coordinator does is coord.h's. Written
 * only by coord_table.c. */
#ifndef RK_COORD_TABLE_H
#define RK_COORD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"

/* Coordinators in flight; each is allocated while it lives. When full, new requests get
 * RK_EBUSY (the runtime stops reading clients well before: see rk_node_is_busy). */
#define RK_COORD_INFLIGHT_MAX 4096u
_Static_assert(RK_COORD_INFLIGHT_MAX <= 65536u, "a coordinator's slot is 16 bits of its id");
/* The env timer id of the deadline list. */
#define RK_TIMER_DEADLINES 1u

typedef enum rk_coord_kind {
    RK_COORD_GET = 1,
    RK_COORD_PUT = 2,
    RK_COORD_FWD = 3,       /* a write forwarded to a replica; waits for its FWD_RESP */
    RK_COORD_BUCKET = 4,    /* bucket properties pushed to every member */
    RK_COORD_HANDOFF = 5,   /* a hinted copy sent back to its owner (handoff.c) */
} rk_coord_kind;

/* What every coordinator starts with; each kind's struct (coord.h) embeds it first. */
typedef struct rk_coord {
    uint64_t id;                /* run << 48 | generation << 16 | slot: our messages' req_id */
    rk_coord_kind kind;
    /* whom to answer: a client of this node, or the peer that forwarded the write */
    bool from_peer;
    bool replied;
    rk_node_id origin;
    uint64_t origin_req;
    /* the deadline list (coord_table.c) */
    bool armed;
    uint64_t deadline_ms;
    struct rk_coord *armed_prev;
    struct rk_coord *armed_next;
} rk_coord;

typedef struct rk_coord_table {
    const rk_env *env;          /* kept: the clock and the one timer */
    uint32_t timeout_ms;
    uint64_t run;               /* in every id (clock.h): ids stay unique across restarts */
    uint32_t count;
    uint32_t free_head;         /* first free slot; RK_COORD_INFLIGHT_MAX when none */
    rk_coord *slots[RK_COORD_INFLIGHT_MAX];
    uint16_t free_next[RK_COORD_INFLIGHT_MAX];
    uint32_t generation[RK_COORD_INFLIGHT_MAX];    /* 32 bits: wraps only after 4G uses */
    rk_coord *armed_head;       /* oldest deadline first */
    rk_coord *armed_tail;
    bool timer_set;             /* an env timer for armed_head's deadline (or earlier) is out */
} rk_coord_table;

/* Keeps env. Every slot free. */
void rk_coord_table_init(rk_coord_table *t, const rk_env *env, uint32_t timeout_ms,
                         uint64_t run);
/* Free every coordinator left with `deinit` (each kind's owned memory), then the memory. */
void rk_coord_table_deinit(rk_coord_table *t, void (*deinit)(rk_coord *c));

/* A zeroed coordinator of `kind` taking `bytes` (its kind's struct), with its id; NULL when
 * the table is full or out of memory. Returns owned by the table: rk_coord_table_free. */
rk_coord *rk_coord_table_new(rk_coord_table *t, rk_coord_kind kind, size_t bytes);
/* Unlink and free `c` (its kind's owned memory already released). */
void rk_coord_table_free(rk_coord_table *t, rk_coord *c);
/* The coordinator with this id, or NULL (finished, or never ours). */
rk_coord *rk_coord_table_find(const rk_coord_table *t, uint64_t id);
uint32_t rk_coord_table_count(const rk_coord_table *t);

/* Start `c`'s deadline: now + the timeout. */
void rk_coord_table_arm(rk_coord_table *t, rk_coord *c);
/* The deadline timer fired: forget it was set. */
void rk_coord_table_on_timer(rk_coord_table *t);
/* The armed coordinator whose deadline has passed (the caller finishes and frees it), or
 * NULL; then the timer is set again for the next deadline. */
rk_coord *rk_coord_table_due(rk_coord_table *t);

#endif
