/* clock.h — what a coordinator mints: the floor of the dots it mints (the epoch) with the
 * node-wide counter of dots minted as a fallback, the run number coordinator ids carry, and LWW
 * stamps from a hybrid clock that never goes backwards on one node. The per-key counter above
 * the floor is dvvset.h's. Written only by clock.c.
 *
 * The epoch (Riak's kv679). A crash may lose dots the node minted and sent to replicas before
 * they were synced; minting one again would give one dot to two writes, and replicas would take
 * the second for the first. So a start that cannot rule this out bumps the epoch and makes it
 * durable before any dot is minted: a dot minted in epoch e is at least e << RK_EPOCH_SHIFT,
 * above anything an earlier run handed out. Each bump costs every key the node coordinates
 * afterwards one more history entry (the gap below the new floor, version.h), and a set's clock
 * is never pruned, so bumps must not come with every restart.
 *
 * A clean stop loses nothing. rk_clock_stop, called once every write the node made is durable,
 * writes a clean-stop mark (the epoch and fallback_dot_last, checksummed) and mints nothing
 * after it. The next rk_clock_start that finds a valid mark of the stored epoch keeps the epoch
 * and fallback_dot_last, and removes the mark in the batch that records the start; nothing is
 * minted until that batch is durable (rk_clock_ready), so a crash of the new run finds no mark
 * and bumps. No mark (first start, kill -9, a crash, a stop with writes not yet durable or after
 * a failed sync) or one that fails validation: bump, as always safe.
 *
 * A wiped node (its data directory lost) starts a new store, and with it lost the stored epoch;
 * its birth epoch (rk_clock_birth_epoch) is only probably above what the old store minted. So in
 * a cluster of more than one member a new store learns (rk_clock_start_learning): it records no
 * epoch and mints nothing until its peers told it the highest epoch they saw from it (epochs.h
 * runs the asking); rk_clock_learned then sets the epoch to max(birth epoch, highest seen + 1),
 * records it as the store's floor too, and dots wait for that write to be durable as for any
 * start. A crash or a clean stop while learning leaves the store new: the next start learns
 * again.
 *
 * The run is bumped at every start, clean or not: coordinator ids carry it (coord_table.h), so
 * a late answer to, or a remembered forward of, the last run's requests never matches a new
 * one. It is stored apart from the epoch because a clean start keeps the epoch. */
#ifndef RK_CLOCK_H
#define RK_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "local.h"

/* A dot minted in epoch e is at least e << RK_EPOCH_SHIFT: after a restart the node mints
 * above anything it may have handed out before a crash, 2^40 writes per key and epoch of room. */
/* Dots a fallback mints lie in the upper half of their epoch's range (rk_clock_dot_floor). */
#define RK_EPOCH_FALLBACK_BIT (1ull << (RK_EPOCH_SHIFT - 1))
#define RK_EPOCH_SHIFT 40u
/* A new store's first epoch is drawn from 1..RK_EPOCH_BIRTH_SPAN (rk_clock_birth_epoch): a node
 * whose disk was wiped must not mint the dots its old store minted, which replicas still hold,
 * and its new store knows nothing of them. Leaves 15 x 2^20 bumps of room. */
#define RK_EPOCH_BIRTH_SPAN (1ull << 20)
/* The last epoch whose floor fits in 64 bits; a start that would bump past it is refused. */
#define RK_EPOCH_LAST ((1ull << (64u - RK_EPOCH_SHIFT)) - 1u)
/* The clean-stop mark, under RK_CLOCK_MARK_KEY in RK_DB_META: [u8 format = 1][u64 epoch]
 * [u64 fallback_dot_last][u64 XXH3_64bits of the 17 bytes before], little-endian. */
#define RK_CLOCK_MARK_KEY "clean-stop"
#define RK_CLOCK_MARK_FORMAT 1u
#define RK_CLOCK_MARK_BYTES 25u

typedef struct rk_clock {
    uint64_t epoch;
    uint64_t epoch_seq;         /* the write that recorded this start; no dot minted before */
    uint64_t run;               /* bumped at every start: in coordinator ids */
    bool epoch_kept;            /* this start kept the epoch of a clean stop */
    bool sync_failed;           /* a sync failed in this run: its rollback may have lost a dot */
    bool stop_lost;             /* a sync failed before the clean-stop mark was durable */
    uint64_t stop_seq;          /* the clean-stop mark's write; 0 while the clock mints */
    uint64_t stamp_last_us;     /* LWW stamps never go backwards on one node */
    uint64_t fallback_dot_last; /* dots minted as a fallback coordinator: node-wide increasing */
    uint64_t store_id;          /* random, chosen when the store was created: a new (wiped)
                                 * store is a new lineage of the copies it holds */
    uint64_t handback_floor;    /* fallback dots at or below it were minted before this start
                                 * or before a fallback copy was handed back and deleted */
    bool store_new;             /* this start found no stored epoch: a new (or wiped) store */
    bool learning;              /* a new store waiting for rk_clock_learned: mints nothing */
    uint64_t store_floor_epoch; /* learned by this store (rk_clock_learned); 0: the birth epoch */
    uint64_t bump_epoch;        /* a bump written, not yet durable (rk_clock_bump); 0: none */
    uint64_t bump_seq;
} rk_clock;

/* Read the stored epoch, run and clean-stop mark; keep the epoch when the mark is valid, else
 * bump it; bump the run; write both and remove the mark in one batch through `local`, asking env
 * for its sync (dots are minted only once it is durable). 0, RK_ECORRUPT (a stored epoch or run
 * that is not 8 bytes; a damaged mark is no error, it only means a bump), RK_ETOOBIG (epochs
 * exhausted) or a store error; on an error nothing was written and *c is zeroed. */
int rk_clock_start(rk_clock *c, rk_local *local, const rk_env *env);
/* As rk_clock_start, but a new store (no stored epoch) writes no epoch and starts learning:
 * not ready until rk_clock_learned. For a node with peers that may hold its old store's dots. */
int rk_clock_start_learning(rk_clock *c, rk_local *local, const rk_env *env);
/* Whether the clock waits for rk_clock_learned. */
bool rk_clock_learning(const rk_clock *c);
/* Learning is over: `seen_epoch` is the highest epoch peers saw from this node (0: none). The
 * epoch becomes max(birth epoch, seen_epoch + 1), also the store's floor for good; both are
 * written in one batch through `local` and env asked for its sync (dots wait for it). 0,
 * RK_ETOOBIG (seen_epoch is the last epoch; the clock keeps learning) or a store error (idem). */
int rk_clock_learned(rk_clock *c, rk_local *local, const rk_env *env, uint64_t seen_epoch);
/* Whether dots may be minted: not learning, this start's write (or the learned epoch's) is
 * durable at durable_seq, and no clean-stop mark was written. */
bool rk_clock_ready(const rk_clock *c, uint64_t durable_seq);
/* Whether rk_clock_stop wrote its mark: the clock mints no more in this run. */
bool rk_clock_stopping(const rk_clock *c);
/* Write the clean-stop mark through `local` and ask env for its sync; from then on the clock is
 * not ready. While learning there is no epoch to keep: no mark is written (the next start learns
 * again) and the stop is done at once. Call it when the node takes no more client requests. 0; RK_EBUSY when a write is
 * not durable yet at durable_seq (its sync is asked for: call again once it is); RK_EIO when a
 * sync failed in this run (the writes it rolled back may have carried dots other nodes hold);
 * RK_EINVAL when the mark was written already; or a store error. Without a mark the next start
 * bumps the epoch, which is always safe. */
int rk_clock_stop(rk_clock *c, rk_local *local, const rk_env *env, uint64_t durable_seq);
/* After rk_clock_stop returned 0: 0 once the mark is durable at durable_seq, RK_EBUSY until
 * then, RK_EIO when a sync failed first (the mark may be gone: the next start may bump). */
int rk_clock_stop_status(const rk_clock *c, uint64_t durable_seq);
/* The bytes of a clean-stop mark. Pure; exported for tests and the simulator, which forge
 * marks (test_clock.c; rk_sim_config.break_clean_stop). */
void rk_clock_mark_encode(uint64_t epoch, uint64_t fallback_dot_last,
                          uint8_t out[RK_CLOCK_MARK_BYTES]);
/* A sync failed while `durable_seq` was durable: no clean-stop mark in this run, and a mark
 * written but not durable at durable_seq may be gone. */
void rk_clock_on_sync_failed(rk_clock *c, uint64_t durable_seq);
/* Bump the epoch while running (membership.md: a node about to drop copies it no longer owns
 * would otherwise mint a dropped key's dots again from the epoch's floor, coordinating it later
 * without the copy). The first call writes epoch + 1 and asks for its sync; dots keep the old
 * floor until that write is durable, then (a later call with durable_seq past it) the new epoch
 * applies, so a crash at any point restarts above everything minted. Returns true once the
 * bump is in force, false while it waits (or on a store error, counted: called again later). */
bool rk_clock_bump(rk_clock *c, rk_local *local, const rk_env *env, uint64_t durable_seq);

/* The floor of a dot minted now; `fallback`: by a fallback coordinator. A fallback may hand
 * its copy back and delete it, then coordinate the same key again: its per-key counter would
 * start over and mint a dot it already used. So dots minted as a fallback come from one
 * node-wide increasing counter (a per-key gap in its history, which range lists hold); a clean
 * stop carries it to the next run in its mark. */
uint64_t rk_clock_dot_floor(const rk_clock *c, bool fallback);
/* A fallback minted `counter`: the next floor is above it. */
void rk_clock_fallback_minted(rk_clock *c, uint64_t counter);
/* The epoch a new store starts at: from bits 32 and up of its random id, so one wiped and
 * started again starts elsewhere. (Stores from before the id began at 1.) */
uint64_t rk_clock_birth_epoch(const rk_clock *c);
/* The floor of the dots a primary mints for a write that is durable on it before it is sent
 * (durable_before_send, policy.h): such a dot cannot be lost by a crash, so it needs no epoch
 * floor — but a wiped store must still not mint its old store's dots again, so it is floored at
 * the store's birth epoch, or the epoch it learned (rk_clock_learned): constant for the store's
 * life once it mints, another region for a new store. */
uint64_t rk_clock_store_floor(const rk_clock *c);
/* The lineage of this node's copies, which a counter's actor carries (policy_fields.h): a
 * coordinator advances its own actor only while it holds the copy that actor was created in.
 * The store's id: a wiped store is another lineage. With `durable_first` false (sync = none,
 * where a crash may lose a tail the replicas hold) the epoch too: a start after a crash is. */
uint64_t rk_clock_lineage(const rk_clock *c, bool durable_first);
/* A fallback deleted a copy it handed back: actors it minted until now are no longer its
 * lineage (their copies are gone), so handback_floor moves up to fallback_dot_last. */
void rk_clock_on_handback(rk_clock *c);
/* A write's LWW stamp: `wall_us`, but strictly above this node's last stamp and floor_us
 * (UINT64_MAX when one of them is already there: a stamp never wraps). */
uint64_t rk_clock_stamp_above(rk_clock *c, uint64_t wall_us, uint64_t floor_us);

#endif
