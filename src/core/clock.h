/* clock.h — what a coordinator mints: the floor of the dots it mints (the epoch, bumped and
 * made durable at every start, so a node never mints a dot it may have handed out before a
 * crash: Riak's kv679) with the node-wide counter of dots minted as a fallback, the run number
 * coordinator ids carry, and LWW stamps from a hybrid clock that never goes backwards on one
 * node. The per-key counter above the floor is dvvset.h's. Written only by clock.c.
 *
 * The run is bumped at every start: coordinator ids carry it (coord_table.h), so a late answer
 * to, or a remembered forward of, the last run's requests never matches a new one. It is its
 * own record, not the epoch, so that a start may one day keep the epoch without reusing ids. */
#ifndef RK_CLOCK_H
#define RK_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "local.h"

/* A dot minted in epoch e is at least e << RK_EPOCH_SHIFT: after a restart the node mints
 * above anything it may have handed out before a crash, 2^40 writes per key and epoch of room. */
#define RK_EPOCH_SHIFT 40u

typedef struct rk_clock {
    uint64_t epoch;
    uint64_t epoch_seq;         /* the write that recorded this start; no dot minted before */
    uint64_t run;               /* bumped at every start: in coordinator ids */
    uint64_t stamp_last_us;     /* LWW stamps never go backwards on one node */
    uint64_t fallback_dot_last; /* dots minted as a fallback coordinator: node-wide increasing */
} rk_clock;

/* Read the stored epoch and run, bump both and write them in one batch through `local` (asking
 * env for a sync: dots are minted only once it is durable). 0, RK_ECORRUPT (a stored epoch or
 * run that is not 8 bytes), RK_ETOOBIG (epochs exhausted) or a store error; on an error nothing
 * was written and *c is zeroed. */
int rk_clock_start(rk_clock *c, rk_local *local, const rk_env *env);
/* Whether dots may be minted: the epoch's write is durable at durable_seq. */
bool rk_clock_ready(const rk_clock *c, uint64_t durable_seq);
/* The floor of a dot minted now; `fallback`: by a fallback coordinator. A fallback may hand
 * its copy back and delete it, then coordinate the same key again: its per-key counter would
 * start over and mint a dot it already used. So dots minted as a fallback come from one
 * node-wide increasing counter (a per-key gap in its history, which range lists hold). */
uint64_t rk_clock_dot_floor(const rk_clock *c, bool fallback);
/* A fallback minted `counter`: the next floor is above it. */
void rk_clock_fallback_minted(rk_clock *c, uint64_t counter);
/* A write's LWW stamp: `wall_us`, but strictly above this node's last stamp and floor_us
 * (UINT64_MAX when one of them is already there: a stamp never wraps). */
uint64_t rk_clock_stamp_above(rk_clock *c, uint64_t wall_us, uint64_t floor_us);

#endif
