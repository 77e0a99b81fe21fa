/* members.c — this node's view of the other members (issue 6 item 1): which it can reach (the
 * runtime's failure detector says so through rk_node_on_peer: heartbeats, TCP state never
 * counts), which it suspects because requests to them went unanswered past their deadlines,
 * and what a member gets when it comes up (bucket properties again, and its hints soon). Every
 * node judges for itself; none of it changes who owns a partition. Membership itself is static
 * (config.members): gossip, join and leave are a later issue. */
#include "node_internal.h"

int node_member_index(const rk_node *n, rk_node_id id)
{
    for (uint32_t i = 0; i < n->config.member_count; i++) {
        if (n->config.members[i] == id) {
            return (int)i;
        }
    }
    return -1;
}

static bool node_suspected(const rk_node *n, int i)
{
    return (n->peers_suspect & (1ull << i)) != 0 &&
           n->env->now_ms(n->env->ctx) < n->peer_suspect_until_ms[i];
}

bool node_member_up(const rk_node *n, rk_node_id id)
{
    int i = node_member_index(n, id);
    return i >= 0 && (n->peers_up & (1ull << i)) != 0 && !node_suspected(n, i);
}

void node_peer_silent(rk_node *n, rk_node_id id)
{
    int i = node_member_index(n, id);
    if (i < 0 || id == n->config.id) {
        return;
    }
    if (n->peer_silent[i] < UINT8_MAX) {
        n->peer_silent[i]++;
    }
    if (n->peer_silent[i] >= RK_PEER_SILENT_SUSPECT && !node_suspected(n, i)) {
        n->peers_suspect |= 1ull << i;
        n->peer_suspect_until_ms[i] = n->env->now_ms(n->env->ctx) + n->config.request_timeout_ms;
        n->stats.peers_suspected++;
    }
}

/* Any message from a peer is a sign of life: it answers, so its requests do not hang. */
void node_peer_heard(rk_node *n, int i)
{
    n->peer_silent[i] = 0;
    n->peers_suspect &= ~(1ull << i);
}

static void node_push_buckets(rk_node *n, rk_node_id to)
{
    for (uint32_t i = 0; i < n->buckets.count; i++) {
        const rk_bucket_entry *e = &n->buckets.entries[i];
        uint8_t bytes[RK_BUCKET_PROPS_BYTES];
        rk_bucket_props_encode(&e->props, bytes);
        rk_msg m = {.kind = RK_MSG_BUCKET_SET,
                    .key = (const uint8_t *)e->name,
                    .key_len = e->name_len,
                    .object = bytes,
                    .object_len = sizeof(bytes),
                    .version = e->props.version};
        node_send(n, to, &m);
    }
}

void rk_node_on_peer(rk_node *n, rk_node_id peer, bool up)
{
    int i = node_member_index(n, peer);
    if (i < 0 || peer == n->config.id) {
        return;
    }
    if (up) {
        n->peers_up |= 1ull << i;
        rk_handoff_kick(n);     /* hints for it go out on the next tick */
        /* A member that missed a change catches up on every (re)connect: peers count up from
         * the start, so the first handshake is an up call without a down before it. */
        node_push_buckets(n, peer);
    } else {
        n->peers_up &= ~(1ull << i);
    }
}

bool rk_node_member_reachable(const rk_node *n, rk_node_id id)
{
    return node_member_up(n, id);
}

bool rk_node_member_suspected(const rk_node *n, rk_node_id id)
{
    int i = node_member_index(n, id);
    return i >= 0 && id != n->config.id && node_suspected(n, i);
}
