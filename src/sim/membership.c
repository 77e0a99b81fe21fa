/* membership.c — membership changes in the simulator (issue 16, docs/membership.md), on the
 * same core calls an operator's `ringkv cluster` commands end in: a join is staged on a member
 * (rk_node_cluster_stage_join), the metadata handed to the lone joiner (rk_node_cluster_adopt)
 * and the plan committed on that member (rk_node_cluster_commit); a leave is staged and
 * committed (rk_node_cluster_leave, commit). The data then moves by the nodes' own transfers.
 *
 * Who is who. With the membership fault the last slot starts alone (a spare, as ringkvd without
 * --members); with a scenario, every node a `join` step names does. A slot whose leave was
 * committed serves no client from then on, and once the cluster has forgotten it and it holds
 * nothing, its slot is wiped and takes a fresh id (an id that left never joins again), as the
 * fixture's rk_fixture_fresh does: a new spare. Clients send only to members (sim_node_serves).
 *
 * The fault's rules keep the world one an operator would run: a change only when every live
 * member agrees that no plan moves (a commit would be refused anyway: try later), never fewer
 * than max(N, 3) valid members, and while a plan moves, now and then a crash of a node whose
 * transfer runs (restarted from its store like every crash: the transfer resumes from its
 * stored cursor), within the crash fault's minority bound.
 *
 * Links follow each node's member table as ringkvd's do (peer.c): when a member appears in a
 * node's table the node is told at once whether its link to it is up (the handshake's
 * rk_node_on_peer), as fixture.c does. Nothing here runs when membership is off, so every other
 * run replays as before. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/aae.h"
#include "../core/hash.h"
#include "../core/ring.h"
#include "../core/skey.h"
#include "../core/membership.h"
#include "sim_internal.h"

#define SIM_MEMBERS_MIN 3u              /* never fewer valid members, whatever N */
#define SIM_TRANSFER_CRASH_PER_MILLE 300u  /* of the fault's turns while a plan moves */
#define SIM_MEMBERSHIP_MESSAGE_BYTES 256u
#define SIM_SETTLE_LOOK_MS 10u          /* how often the end of a run looks whether it settled */

/* ---- who is who ----------------------------------------------------------------------------- */

int sim_node_index_of(const sim_world *w, rk_node_id id)
{
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        if (w->nodes[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

bool sim_node_serves(const sim_world *w, uint32_t index)
{
    const sim_node *sn = &w->nodes[index];
    return sn->node != NULL && (!w->membership_on || sn->member);
}

uint32_t sim_anchor(const sim_world *w)
{
    for (uint32_t i = 0; w->membership_on && i < w->cfg.nodes; i++) {
        if (w->nodes[i].node != NULL && w->nodes[i].member) {
            return i;
        }
    }
    return 0;
}

void sim_membership_setup(sim_world *w)
{
    w->spare_mask = sim_scenario_join_mask(w);
    if ((w->cfg.faults & RK_SIM_FAULT_MEMBERSHIP) != 0 && w->cfg.nodes > w->cfg.n &&
        w->cfg.nodes > SIM_MEMBERS_MIN) {
        w->spare_mask |= 1u << (w->cfg.nodes - 1);
    }
    w->membership_on = w->spare_mask != 0 || (w->cfg.faults & RK_SIM_FAULT_MEMBERSHIP) != 0 ||
                       sim_scenario_has_leave(w);
    w->id_next = w->cfg.nodes + 1;
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        w->nodes[i].member = (w->spare_mask & (1u << i)) == 0;
    }
    w->res.membership = w->membership_on;
}

/* The slots whose node is in slot a's member table now. */
static uint32_t membership_mask(const sim_world *w, uint32_t a)
{
    const rk_members *table = rk_node_members(w->nodes[a].node);
    uint32_t mask = 0;
    for (uint32_t b = 0; b < w->cfg.nodes; b++) {
        if (b != a && rk_members_find(table, w->nodes[b].id) != NULL) {
            mask |= 1u << b;
        }
    }
    return mask;
}

_Static_assert(RK_SIM_NODES_MAX <= 32, "linked_mask is a uint32_t over slots");

void sim_links_taken(sim_world *w, uint32_t a)
{
    const sim_node *sn = &w->nodes[a];
    w->members_generation[a] = sn->node != NULL ? rk_node_members(sn->node)->generation : 0;
    w->linked_mask[a] = sn->node != NULL ? membership_mask(w, a) : 0;
}

void sim_membership_start(sim_world *w)
{
    for (uint32_t a = 0; a < w->cfg.nodes; a++) {
        sim_links_taken(w, a);
    }
}

void sim_links_follow(sim_world *w)
{
    for (uint32_t a = 0; a < w->cfg.nodes; a++) {
        sim_node *sn = &w->nodes[a];
        if (sn->node == NULL || rk_node_members(sn->node)->generation ==
                                    w->members_generation[a]) {
            continue;
        }
        w->members_generation[a] = rk_node_members(sn->node)->generation;
        uint32_t mask = membership_mask(w, a);
        uint32_t added = mask & ~w->linked_mask[a];
        w->linked_mask[a] = mask;
        for (uint32_t b = 0; b < w->cfg.nodes && sn->node != NULL; b++) {
            if ((added & (1u << b)) == 0) {
                continue;
            }
            bool up = sim_link_up(w, a, b);
            sn->link_known_up[b] = up;
            uint32_t saved = w->current_node;
            w->current_node = a;
            rk_node_on_peer(sn->node, w->nodes[b].id, up);
            w->current_node = saved;
        }
    }
}

void sim_membership_follow(sim_world *w)
{
    if (w->membership_on) {
        sim_links_follow(w);
    }
}

/* ---- the changes ---------------------------------------------------------------------------- */

static void membership_trace(const sim_world *w, const char *what, rk_node_id id, int rc,
                             const char *message)
{
    if (!w->cfg.trace) {
        return;
    }
    fprintf(stderr, "%8" PRIu64 " membership: %s %u: %d %s\n", w->now_ms, what, id, rc, message);
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        const sim_node *sn = &w->nodes[i];
        if (sn->node == NULL) {
            fprintf(stderr, "    node %u down\n", sn->id);
            continue;
        }
        const rk_cluster_meta *m = rk_node_cluster(sn->node);
        fprintf(stderr, "    node %u%s%s: plan %" PRIu64 " ring %" PRIu64 " moving %d members",
                sn->id, sn->member ? " member" : "", sn->leaving ? " leaving" : "", m->plan,
                m->ring.version, m->moving);
        for (uint32_t j = 0; j < m->member_count; j++) {
            fprintf(stderr, " %u:%d", m->members[j].addr.id, m->members[j].state);
        }
        fprintf(stderr, "\n");
    }
}

/* Whether every live member, and every leaver the cluster has not forgotten yet, agrees that
 * nothing moves: no plan, nothing staged, one ring. `via` is a member up. */
static bool membership_idle(const sim_world *w, uint32_t via)
{
    const rk_cluster_meta *first = NULL;
    const rk_cluster_meta *v = rk_node_cluster(w->nodes[via].node);
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        const sim_node *sn = &w->nodes[i];
        bool counted = sn->member || (sn->leaving && !rk_cluster_gone(v, sn->id)) ||
                       rk_cluster_member(v, sn->id) != NULL;
        if (!counted) {
            continue;
        }
        /* Every member up and linked both ways to `via`: the commit's gossip reaches each at
         * once, so no member that missed it can commit a second plan of the same number
         * (two plans race: docs/membership.md, "What is not built yet"). */
        if (sn->node == NULL || sn->paused || sn->stopping ||
            (i != via && (!sim_link_up(w, via, i) || !sim_link_up(w, i, via)))) {
            return false;
        }
        const rk_cluster_meta *m = rk_node_cluster(sn->node);
        if (m->moving || m->staged_count > 0 ||
            rk_node_stats_get(sn->node)->transfers_pending > 0) {
            return false;
        }
        if (first != NULL && (m->ring.version != first->ring.version || m->plan != first->plan)) {
            return false;
        }
        first = first != NULL ? first : m;
    }
    return first != NULL;
}

/* The member that stages and commits: node 1 when it serves and is not paused, else the first
 * that does; -1 if none. */
static int membership_via(const sim_world *w)
{
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        if (sim_node_serves(w, i) && !w->nodes[i].paused) {
            return (int)i;
        }
    }
    return -1;
}

static int membership_commit(sim_world *w, sim_node *via, const char *what, rk_node_id id)
{
    char message[SIM_MEMBERSHIP_MESSAGE_BYTES] = "";
    w->current_node = via->index;
    int rc = rk_node_cluster_commit(via->node, message, sizeof(message));
    if (rc != 0) {
        rk_node_cluster_clear(via->node);   /* staged, not committed: nothing stays behind */
    }
    w->current_node = UINT32_MAX;
    membership_trace(w, what, id, rc, message);
    return rc;
}

int sim_membership_join(sim_world *w, uint32_t index)
{
    sim_node *joiner = &w->nodes[index];
    int via_index = membership_via(w);
    if (joiner->member || joiner->leaving || joiner->node == NULL || joiner->paused ||
        via_index < 0 || !membership_idle(w, (uint32_t)via_index)) {
        return RK_EBUSY;
    }
    sim_node *via = &w->nodes[via_index];
    char message[SIM_MEMBERSHIP_MESSAGE_BYTES] = "";
    rk_member_addr addr;
    memset(&addr, 0, sizeof(addr));
    addr.id = joiner->id;       /* the simulator's addresses: empty host, ports 0 */
    w->current_node = via->index;
    int rc = rk_node_cluster_stage_join(via->node, &addr, message, sizeof(message));
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (rc == 0) {
        rc = rk_node_cluster_encode(via->node, &bytes, &len);
    }
    if (rc == 0) {
        w->current_node = joiner->index;
        rc = rk_node_cluster_adopt(joiner->node, bytes, len, message, sizeof(message));
    }
    free(bytes);
    w->current_node = UINT32_MAX;
    if (rc != 0) {
        rk_node_cluster_clear(via->node);
        membership_trace(w, "join refused", joiner->id, rc, message);
        return rc;
    }
    rc = membership_commit(w, via, "join", joiner->id);
    if (rc == 0) {
        joiner->member = true;
        w->res.joins++;
    }
    return rc;
}

int sim_membership_leave(sim_world *w, uint32_t index)
{
    sim_node *leaver = &w->nodes[index];
    int via_index = membership_via(w);
    if (!leaver->member || via_index < 0 || !membership_idle(w, (uint32_t)via_index)) {
        return leaver->member ? RK_EBUSY : RK_EINVAL;
    }
    sim_node *via = &w->nodes[via_index];
    char message[SIM_MEMBERSHIP_MESSAGE_BYTES] = "";
    w->current_node = via->index;
    int rc = rk_node_cluster_leave(via->node, leaver->id, false, message, sizeof(message));
    w->current_node = UINT32_MAX;
    if (rc != 0) {
        rk_node_cluster_clear(via->node);
        membership_trace(w, "leave refused", leaver->id, rc, message);
        return rc;
    }
    rc = membership_commit(w, via, "leave", leaver->id);
    if (rc == 0) {
        leaver->member = false;
        leaver->leaving = true;
        w->res.leaves++;
    }
    return rc;
}

/* A leaver the cluster has forgotten and that holds nothing any more becomes a fresh spare:
 * another process on an empty disk under an id never used. */
static void membership_recycle(sim_world *w, uint32_t anchor)
{
    const rk_cluster_meta *m = rk_node_cluster(w->nodes[anchor].node);
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        sim_node *sn = &w->nodes[i];
        if (!sn->leaving || sn->node == NULL || sn->paused || sn->stopping ||
            rk_cluster_member(m, sn->id) != NULL) {
            continue;
        }
        const rk_node_stats *s = rk_node_stats_get(sn->node);
        if (s->keys_live > 0 || s->hints_pending > 0 || s->transfers_pending > 0) {
            continue;
        }
        int rc = sim_node_wipe(w, sn);
        RK_ASSERT(rc == 0);
        w->res.crashes--;       /* a decommission, not a crash */
        sn->id = w->id_next++;
        sn->leaving = false;
        for (uint32_t a = 0; a < w->cfg.nodes; a++) {
            w->linked_mask[a] &= ~(1u << i);    /* the old process's links are gone */
        }
        rc = sim_node_restart(w, sn);
        RK_ASSERT(rc == 0);
        w->members_generation[i] = rk_node_members(sn->node)->generation;
        w->linked_mask[i] = membership_mask(w, i);
        membership_trace(w, "fresh spare", sn->id, 0, "");
        return;
    }
}

/* When the members agree, the sim's view follows the cluster's: a change whose commit a crash
 * lost before anyone else heard of it (the committing node restarted without it) is undone
 * here, counted in commits_lost. A leaver the cluster lists as valid is a member again; a
 * joiner it does not list leaves as a departed node would (recycled once empty). */
static void membership_resync(sim_world *w, uint32_t via)
{
    const rk_cluster_meta *m = rk_node_cluster(w->nodes[via].node);
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        sim_node *sn = &w->nodes[i];
        const rk_cmember *listed = rk_cluster_member(m, sn->id);
        if (sn->leaving && listed != NULL && listed->state == RK_CMEMBER_VALID) {
            sn->leaving = false;
            sn->member = true;
            w->res.commits_lost++;
            membership_trace(w, "leave lost", sn->id, 0, "");
        } else if (sn->member && listed == NULL) {
            sn->member = false;
            sn->leaving = true;
            w->res.commits_lost++;
            membership_trace(w, "join lost", sn->id, 0, "");
        }
    }
}

/* A crash of a node whose transfer runs, within the crash fault's minority bound. */
static void membership_crash_transfer(sim_world *w)
{
    uint32_t candidates[RK_SIM_NODES_MAX];
    uint32_t count = 0;
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        const sim_node *sn = &w->nodes[i];
        if (sn->node != NULL && rk_node_stats_get(sn->node)->transfers_pending > 0) {
            candidates[count++] = i;
        }
    }
    if (count == 0 || w->down_count + w->stopping_count >= (w->cfg.nodes - 1) / 2) {
        return;
    }
    sim_node *sn = &w->nodes[candidates[sim_rng_below(&w->rng, count)]];
    sim_node_crash(w, sn);
    w->res.transfer_crashes++;
    sim_event *e = sim_event_new(w, SIM_EV_HEAL, w->now_ms + sim_rng_range(&w->rng, 100, 2000));
    e->a = SIM_HEAL_RESTART;
    e->b = sn->index;
    e->tag = 0;
    sim_schedule(w, e);
}

/* Valid members in slot `anchor`'s metadata. */
static uint32_t membership_valid_count(const sim_world *w, uint32_t anchor)
{
    const rk_cluster_meta *m = rk_node_cluster(w->nodes[anchor].node);
    uint32_t count = 0;
    for (uint32_t i = 0; i < m->member_count; i++) {
        count += m->members[i].state == RK_CMEMBER_VALID ? 1u : 0u;
    }
    return count;
}

void sim_membership_on_tick(sim_world *w)
{
    int via = membership_via(w);
    if (via < 0) {
        return;
    }
    membership_recycle(w, (uint32_t)via);
    if (!membership_idle(w, (uint32_t)via)) {
        if (sim_rng_chance(&w->rng, SIM_TRANSFER_CRASH_PER_MILLE)) {
            membership_crash_transfer(w);
        }
        return;
    }
    membership_resync(w, (uint32_t)via);
    uint32_t spares[RK_SIM_NODES_MAX];
    uint32_t spare_count = 0;
    uint32_t members[RK_SIM_NODES_MAX];
    uint32_t member_count = 0;
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        const sim_node *sn = &w->nodes[i];
        if (sn->node != NULL && !sn->paused && !sn->member && !sn->leaving) {
            spares[spare_count++] = i;
        }
        if (sn->member) {
            members[member_count++] = i;
        }
    }
    uint32_t floor = w->cfg.n > SIM_MEMBERS_MIN ? w->cfg.n : SIM_MEMBERS_MIN;
    bool may_leave = member_count > floor && membership_valid_count(w, (uint32_t)via) > floor;
    bool join = spare_count > 0 && (!may_leave || sim_rng_chance(&w->rng, 500));
    if (join) {
        sim_membership_join(w, spares[sim_rng_below(&w->rng, spare_count)]);
    } else if (may_leave) {
        sim_membership_leave(w, members[sim_rng_below(&w->rng, member_count)]);
    }
}

/* ---- the end of a run ----------------------------------------------------------------------- */

/* Whether the members agree: every member of the anchor's metadata is up, holds the same ring
 * and member list, all valid, nothing moving or pending; the sim's members are exactly those,
 * and its leavers are gone. */
static bool membership_agreed(const sim_world *w, uint64_t *transfers_left)
{
    uint32_t anchor = sim_anchor(w);
    const rk_cluster_meta *a = rk_node_cluster(w->nodes[anchor].node);
    bool agreed = true;
    *transfers_left = 0;
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        const sim_node *sn = &w->nodes[i];
        if (sn->node == NULL) {
            agreed = agreed && !sn->member;
            continue;
        }
        uint64_t pending = rk_node_stats_get(sn->node)->transfers_pending;
        *transfers_left += pending;
        bool listed = rk_cluster_member(a, sn->id) != NULL;
        agreed = agreed && listed == sn->member && pending == 0;
        agreed = agreed && (!sn->leaving || !listed);
        if (!sn->member) {
            continue;
        }
        const rk_cluster_meta *m = rk_node_cluster(sn->node);
        agreed = agreed && !m->moving && m->ring.version == a->ring.version &&
                 m->member_count == a->member_count;
        for (uint32_t j = 0; agreed && j < m->member_count; j++) {
            agreed = m->members[j].addr.id == a->members[j].addr.id &&
                     m->members[j].state == RK_CMEMBER_VALID;
        }
    }
    return agreed;
}

/* Whether only what recurs for ever is left: gossip (once the metadata changed, every member
 * sends its copy every gossip interval, as ringkvd does) and anti-entropy's ticks. */
static bool membership_background_only(const sim_world *w)
{
    for (size_t i = 0; i < w->heap_count; i++) {
        const sim_event *e = w->heap[i];
        bool timer = e->kind == SIM_EV_TIMER && (e->a == RK_TIMER_CLUSTER || e->a == RK_TIMER_AAE);
        bool gossip = e->kind == SIM_EV_MSG && e->a == RK_MSG_CLUSTER;
        if (!timer && !gossip) {
            return false;
        }
    }
    return true;
}

typedef struct membership_place {
    const sim_world *w;
    const rk_ring *ring;
    rk_node_id id;              /* the node whose store is walked */
    bool misplaced;
} membership_place;

/* A stored key that its holder is no primary of (by the anchor's ring) is misplaced. */
static int membership_place_entry(void *ctx, const uint8_t *skey, size_t skey_len,
                                  const uint8_t *value, size_t value_len)
{
    (void)value;
    (void)value_len;
    membership_place *mp = ctx;
    uint32_t partition = 0;
    const uint8_t *key = NULL;
    size_t key_len = 0;
    RK_ASSERT(rk_skey_decode(skey, skey_len, &partition, &key, &key_len) == 0);
    uint32_t n = mp->w->cfg.n;
    rk_node_id list[RK_MEMBERS_MAX];
    uint32_t primaries = 0;
    int count = rk_ring_preflist(mp->ring, rk_ring_partition_of(mp->ring, rk_hash_key(key,
                                 key_len)), n, list, RK_MEMBERS_MAX, &primaries);
    RK_ASSERT(count >= 0);
    bool primary = false;
    for (uint32_t i = 0; i < primaries; i++) {
        primary = primary || list[i] == mp->id;
    }
    mp->misplaced = mp->misplaced || !primary;
    return mp->misplaced ? 1 : 0;
}

/* Every key is held by primaries only and no node holds a hint: the cleanup after each flip
 * (hints for the keys a node no longer owns) and hinted handoff are done. */
static bool membership_placed(const sim_world *w)
{
    const rk_ring *ring = rk_node_ring(w->nodes[sim_anchor(w)].node);
    for (uint32_t i = 0; i < w->cfg.nodes; i++) {
        const sim_node *sn = &w->nodes[i];
        if (rk_node_stats_get(sn->node)->hints_pending > 0) {
            return false;
        }
        membership_place mp = {.w = w, .ring = ring, .id = sn->id};
        rk_store_iterate(sn->store.inner, RK_DB_DATA, NULL, 0, NULL, 0, membership_place_entry,
                         &mp);
        if (mp.misplaced) {
            return false;
        }
    }
    return true;
}

void sim_membership_settle(sim_world *w)
{
    uint64_t limit_ms = w->now_ms + RK_SIM_MEMBERSHIP_SETTLE_MS;
    uint64_t next_look_ms = w->now_ms;
    uint64_t left = 0;
    while (w->now_ms < limit_ms && w->heap_count > w->aae_timers) {
        if (w->now_ms >= next_look_ms) {
            if (membership_agreed(w, &left) && membership_background_only(w) &&
                membership_placed(w)) {
                return;
            }
            next_look_ms = w->now_ms + SIM_SETTLE_LOOK_MS;
        }
        sim_event_run(w, sim_pop(w));
    }
}

void sim_membership_check(sim_world *w)
{
    if (!w->membership_on) {
        return;
    }
    uint32_t anchor = sim_anchor(w);
    membership_resync(w, anchor);
    anchor = sim_anchor(w);
    const rk_cluster_meta *a = rk_node_cluster(w->nodes[anchor].node);
    w->res.members_converged = membership_agreed(w, &w->res.transfers_left);
    w->res.members_final = a->member_count;
    w->res.ring_version_final = a->ring.version;
    sim_check_promise(w, !w->res.members_converged || w->res.transfers_left > 0, "membership");
}
