/* members.h — the member table: every member of the cluster by slot, with its addresses, and
 * this node's view of each: reachable (the runtime's failure detector says so through
 * rk_node_on_peer: heartbeats, never TCP state) and suspected (requests to it went unanswered
 * past their deadlines: a live process whose requests hang, which heartbeats cannot see).
 *
 * A member keeps its slot while it stays; slots are reused after a member leaves, and ids are
 * any nonzero uint32 (not positions), so the table can gain and lose members at run time. The
 * runtime learns a member's addresses here (rk_node_member). Membership comes only from the
 * configuration this round; the membership issue gossips on this table. Every node judges
 * reachability for itself; none of it changes who owns a partition (ring.h). Pure: the time is
 * passed in. Owns the table; written only by members.c. */
#ifndef RK_MEMBERS_H
#define RK_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"

#define RK_MEMBERS_MAX 64u          /* = RK_RING_NODES_MAX: the ring holds every member */
#define RK_MEMBER_HOST_BYTES_MAX 63u   /* a name or address literal for logs and connects */
#define RK_MEMBER_ZONE_BYTES_MAX 15u   /* a zone (data centre, rack): [A-Za-z0-9_.-], or none */
/* A peer that let this many requests in a row reach their deadline unanswered is suspected,
 * i.e. counted unreachable, for a request timeout, then tried again (issue 6 item 1). Any
 * message from it clears the suspicion. */
#define RK_MEMBER_SILENT_SUSPECT 2u

/* Where a member listens. The simulator leaves host empty and ports 0. */
typedef struct rk_member_addr {
    rk_node_id id;
    char host[RK_MEMBER_HOST_BYTES_MAX + 1];
    uint16_t client_port;
    uint16_t cluster_port;
    char zone[RK_MEMBER_ZONE_BYTES_MAX + 1];   /* "" when none (issue 16: zones) */
} rk_member_addr;

typedef struct rk_member {
    rk_member_addr addr;            /* addr.id 0: a free slot */
    bool link_up;                   /* the runtime's view; self always */
    uint8_t silent;                 /* requests in a row it left unanswered */
    uint64_t suspect_until_ms;      /* suspected while now < this */
} rk_member;

typedef struct rk_members {
    rk_node_id self;
    uint32_t suspect_ms;            /* how long a suspicion lasts: the request timeout */
    uint32_t count;                 /* members in the table, self included */
    uint32_t slot_end;              /* every slot at or past it is free */
    uint64_t suspected_total;       /* times a peer was suspected (INFO peers_suspected) */
    /* Bumped by every change to who is a member or where one listens (a successful add or
     * remove), never by reachability or suspicion; 0 for an empty table and never goes back.
     * The runtime compares it with the last one it acted on (peer.h) to learn, with one
     * integer compare per loop turn, that its links need reconciling with the table. */
    uint64_t generation;
    rk_member slots[RK_MEMBERS_MAX];
} rk_members;

/* An empty table for node `self` at generation 0; suspicions last suspect_ms. */
void rk_members_init(rk_members *t, rk_node_id self, uint32_t suspect_ms);

/* Add a member (copied). It counts reachable until the runtime says otherwise: a request made
 * while the runtime is still connecting waits for that connection instead of giving up on the
 * peer. Returns its slot, RK_EINVAL (id 0, a host too long, or the id is there already) or
 * RK_ETOOBIG (RK_MEMBERS_MAX members). Success bumps the generation; a refusal does not. */
int rk_members_add(rk_members *t, const rk_member_addr *addr);
/* Remove member `id` (never self); its slot becomes free and the generation is bumped.
 * 0 or RK_ENOTFOUND (then nothing changed). */
int rk_members_remove(rk_members *t, rk_node_id id);

/* The slot of `id`, or -1. */
int rk_members_slot(const rk_members *t, rk_node_id id);
/* The member of `id`, or NULL. Borrowed until the table changes. */
const rk_member *rk_members_find(const rk_members *t, rk_node_id id);
/* Slots run 0 .. slot_end - 1; a free slot gives NULL. */
const rk_member *rk_members_at(const rk_members *t, uint32_t slot);
/* Every member's id in slot order (the order the ring is claimed in), into out (room for
 * RK_MEMBERS_MAX). Returns the count. */
uint32_t rk_members_ids(const rk_members *t, rk_node_id *out);

/* Reachable: a member whose link is up and who is not suspected at now_ms (self: always). */
bool rk_members_up(const rk_members *t, rk_node_id id, uint64_t now_ms);
bool rk_members_suspected(const rk_members *t, rk_node_id id, uint64_t now_ms);
/* The runtime's view of a link changed. False when `id` is self or not a member. */
bool rk_members_set_link(rk_members *t, rk_node_id id, bool up);
/* A request to `id` reached its deadline unanswered: count it; suspect at
 * RK_MEMBER_SILENT_SUSPECT in a row. */
void rk_members_silent(rk_members *t, rk_node_id id, uint64_t now_ms);
/* A message came from `id`: a sign of life, clears its suspicion. False when not a member. */
bool rk_members_heard(rk_members *t, rk_node_id id);

#endif
