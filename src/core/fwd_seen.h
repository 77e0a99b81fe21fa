/* fwd_seen.h — the forwarded writes a node has taken, to drop a duplicate: coordinating one
 * write twice would mint two dots for one client write (a network that duplicates, as the
 * simulator's does). Remembers the last RK_FWD_SEEN_MAX (origin, request id) pairs in a ring,
 * with a hash index so that a forwarded write costs a lookup, not a scan of the ring. Ids
 * carry the origin's run (coord_table.h), so a restarted origin's ids never match old ones.
 * Pure; written only by fwd_seen.c. */
#ifndef RK_FWD_SEEN_H
#define RK_FWD_SEEN_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"

#define RK_FWD_SEEN_MAX 1024u                       /* forwards remembered */
#define RK_FWD_SEEN_BUCKETS (2u * RK_FWD_SEEN_MAX)  /* index load at most one half */
#define RK_FWD_SEEN_NONE UINT16_MAX
_Static_assert(RK_FWD_SEEN_MAX < RK_FWD_SEEN_NONE, "ring positions fit uint16_t");
_Static_assert((RK_FWD_SEEN_BUCKETS & (RK_FWD_SEEN_BUCKETS - 1)) == 0, "bucket index masks");

typedef struct rk_fwd_seen_entry {
    rk_node_id origin;
    uint64_t req_id;
    uint16_t next;              /* the next entry of its bucket's chain, or RK_FWD_SEEN_NONE */
    bool used;
} rk_fwd_seen_entry;

typedef struct rk_fwd_seen {
    rk_fwd_seen_entry ring[RK_FWD_SEEN_MAX];
    uint16_t buckets[RK_FWD_SEEN_BUCKETS];  /* chain heads, RK_FWD_SEEN_NONE when empty */
    uint32_t next;                          /* the ring position written next (the oldest) */
} rk_fwd_seen;

void rk_fwd_seen_init(rk_fwd_seen *f);
/* True when (origin, req_id) was taken already; else remember it, forgetting the oldest. */
bool rk_fwd_seen_check(rk_fwd_seen *f, rk_node_id origin, uint64_t req_id);

#endif
