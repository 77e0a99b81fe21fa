/* peer_link.c — which links there are (peer.h): the transport follows the node's member table as
 * members join, leave and move at run time (issue 15, docs/membership.md). A new member gets a
 * link, connected at once; the link of a member that left is retired (its connection and the
 * member's inbound connections closed, its retry timer stopped, its queue dropped, out of every
 * view, never reconnected) and its slot, timer and buffers serve a later member; a member whose
 * host or cluster port changed is reconnected there. Slots are reused rather than compacted
 * because a link cannot move: libuv holds pointers into its timer and requests. Connecting,
 * backoff and the traffic on a link are peer.c's; this file decides which links exist and
 * where they point. */
#include "peer.h"

#include <string.h>

#include "log.h"
#include "peer_conn.h"

_Static_assert(RK_CONFIG_MEMBERS_MAX >= RK_MEMBERS_MAX, "a link for every other member fits");

/* A retired slot a new member may take: nothing of its old life is in flight, so no callback
 * of the old member's write or resolve can land on the new member's link. */
static bool peer_link_reusable(const rk_peer_link *link)
{
    return link->retired && !link->writing && !link->resolving;
}

/* A slot for a new member: the first reusable retired one (lowest index, so every run picks
 * alike), else one never used, set up as retired; NULL when there is neither. */
static rk_peer_link *peer_link_slot(rk_peers *p)
{
    for (uint32_t i = 0; i < p->link_count; i++) {
        if (peer_link_reusable(&p->links[i])) {
            return &p->links[i];
        }
    }
    if (p->link_count == RK_CONFIG_MEMBERS_MAX) {
        return NULL;
    }
    rk_peer_link *link = &p->links[p->link_count++];
    link->peers = p;
    link->retired = true;       /* a fresh slot is a retired one without a past */
    int rc = rk_wire_out_init(&link->out, &p->limits);
    RK_ASSERT(rc == 0);
    rc = rk_wire_out_init(&link->wout, &p->limits);
    RK_ASSERT(rc == 0);
    uv_timer_init(p->loop, &link->retry_timer);
    link->retry_timer.data = link;
    return link;
}

/* Open the free slot `link` for member `m` and connect. The link counts the member up, as the
 * node counts a new member (members.h): a request made meanwhile queues for the handshake. What
 * the slot counted for its last member moves to retired_stats, so totals never go back. */
static void peer_link_open(rk_peer_link *link, const rk_member_addr *m)
{
    rk_peers *p = link->peers;
    RK_ASSERT(peer_link_reusable(link));
    RK_ASSERT(link->conn == NULL);
    RK_ASSERT(link->state == RK_PEER_DOWN);
    RK_ASSERT(link->out.len == 0);
    rk_peer_link_stats_add(&p->retired_stats, &link->stats);
    memset(&link->stats, 0, sizeof(link->stats));
    link->retired = false;
    link->readdressed = false;
    link->id = m->id;
    link->member = *m;
    link->node_counts_up = true;
    link->backoff_ms = RK_PEER_BACKOFF_MS_MIN;
    link->last_error[0] = '\0';
    link->heard = false;
    link->heard_ms = 0;
    link->heartbeat_seq = 0;
    rk_peer_link_connect(link);
}

/* Close every accepted connection whose Hello said it is node `id`. */
static void peer_close_inbound_from(rk_peers *p, rk_node_id id, const char *why)
{
    peer_conn *c = p->conns;
    while (c != NULL) {
        peer_conn *next = c->next;     /* a close unlinks only in its callback; safe either way */
        if (c->link == NULL && c->hello_ok && c->peer_id == id) {
            rk_peer_conn_close(c, why);
        }
        c = next;
    }
}

/* The member of `link` left the table. The node is not told it is down: it is no member, and
 * the node forgot it already. Its frames stop here, those queued and those it would send. */
static void peer_link_retire(rk_peer_link *link)
{
    rk_peers *p = link->peers;
    RK_ASSERT(!link->retired);
    rk_log_info("peer node %u at %s:%u is no longer a member; its link is closed", link->id,
                link->member.host, link->member.cluster_port);
    link->retired = true;
    link->readdressed = false;
    uv_timer_stop(&link->retry_timer);
    if (link->resolving) {
        uv_cancel((uv_req_t *)&link->resolve_req);  /* its callback sees `retired` */
    }
    link->stats.dropped_down += link->out.frame_count;
    rk_wire_out_reset(&link->out);
    /* Detached before the close, so the close does not take the link down and retry it. A
     * write in flight on it is cancelled by the close and only counted (peer.c). */
    peer_conn *c = link->conn;
    link->conn = NULL;
    link->state = RK_PEER_DOWN;
    link->node_counts_up = false;
    if (c != NULL) {
        rk_peer_conn_close(c, "the member left the cluster");
    }
    peer_close_inbound_from(p, link->id, "the member left the cluster");
}

/* The member of `link` now listens at `m`: drop the connection to the old address the way a
 * broken link goes (the node hears it down until the new handshake), and connect to the new one
 * now, not after the backoff the old address earned. */
static void peer_link_readdress(rk_peer_link *link, const rk_member_addr *m)
{
    rk_log_info("peer node %u moved from %s:%u to %s:%u; reconnecting", link->id,
                link->member.host, link->member.cluster_port, m->host, m->cluster_port);
    link->member = *m;
    link->last_error[0] = '\0';
    if (link->resolving) {
        /* The resolve of the old name holds the link's request: its callback starts over. */
        link->readdressed = true;
        uv_cancel((uv_req_t *)&link->resolve_req);
        return;
    }
    if (link->conn != NULL) {
        rk_peer_conn_close(link->conn, "the member's address changed");
    }
    RK_ASSERT(link->state == RK_PEER_DOWN);
    uv_timer_stop(&link->retry_timer);
    link->backoff_ms = RK_PEER_BACKOFF_MS_MIN;
    rk_peer_link_connect(link);
}

/* The member was re-added while its link counted it down: the table counts a new member up
 * (members.h), so the link does too, or the node would wait on a member whose link drops its
 * messages and, already down, would never say so. A down link tries again now; if that fails
 * the node hears it down as usual, and silence is judged again on the next tick. */
static void peer_link_recount(rk_peer_link *link)
{
    link->node_counts_up = true;
    if (link->state == RK_PEER_DOWN && !link->resolving) {
        uv_timer_stop(&link->retry_timer);
        link->backoff_ms = RK_PEER_BACKOFF_MS_MIN;
        rk_peer_link_connect(link);
    }
}

/* Bring the link of member `m` in line with its entry. False when it needs a link and there is
 * no free slot (retired ones still have their old requests in flight). */
static bool peer_link_follow(rk_peers *p, const rk_member *m)
{
    rk_member_addr addr = m->addr;  /* copied: the node may change its table while told */
    rk_peer_link *link = rk_peer_link_of(p, addr.id);
    if (link == NULL) {
        link = peer_link_slot(p);
        if (link == NULL) {
            return false;
        }
        if (p->members_generation != 0) {   /* at start every member is new: no news */
            rk_log_info("peer node %u at %s:%u is a new member; connecting", addr.id, addr.host,
                        addr.cluster_port);
        }
        peer_link_open(link, &addr);
        return true;
    }
    if (strcmp(link->member.host, addr.host) != 0 ||
        link->member.cluster_port != addr.cluster_port) {
        peer_link_readdress(link, &addr);
    } else {
        link->member = addr;        /* the client port is not the transport's */
    }
    if (m->link_up && !link->node_counts_up) {
        peer_link_recount(link);
    }
    return true;
}

void rk_peers_sync_members(rk_peers *p)
{
    if (!p->started || p->stopping) {
        return;
    }
    const rk_members *t = p->members;
    /* Read first: if telling the node something changes its table again, the next loop turn
     * sees a generation this call did not match. */
    uint64_t generation = t->generation;
    /* Retire first, so a member that replaced one that left may take its slot. */
    for (uint32_t i = 0; i < p->link_count; i++) {
        rk_peer_link *link = &p->links[i];
        if (!link->retired && rk_members_find(t, link->id) == NULL) {
            peer_link_retire(link);
        }
    }
    bool complete = true;
    for (uint32_t slot = 0; slot < t->slot_end; slot++) {
        const rk_member *m = rk_members_at(t, slot);
        if (m == NULL || m->addr.id == t->self) {
            continue;
        }
        if (!peer_link_follow(p, m)) {
            complete = false;
        }
    }
    if (complete) {
        p->members_generation = generation;
    } else {
        rk_log_debug("peers: a new member waits for a link slot; trying again next turn");
    }
}
