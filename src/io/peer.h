/* peer.h — ringkvd's internode transport: the cluster-port listener, one outbound link per
 * other member, and the frames on both (src/net/wire.h, docs/wire.md). Each node SENDS to a
 * member only on its own outbound connection to it and RECEIVES on the inbound connections
 * the others open, so a pair of nodes holds two TCP connections and never has to break a tie
 * over whose connection to keep. A link is up once both sides accepted each other's Hello
 * (cluster name, secret proof, a member's id). Down links reconnect with jittered
 * exponential backoff.
 *
 * The links follow the node's member table (members.h), which gains and loses members at run
 * time (issue 15): whenever the table's generation moved, rk_peers_sync_members (peer_link.c)
 * opens a link for a new member, retires the link of one that left (its connections closed,
 * never reconnected, no longer in any view) and reconnects one whose address changed. A
 * connection accepted from a member is taken as long as its id is in the table.
 *
 * What the node is told (issue 4 item 8): it starts out counting every member up
 * (rk_node_new), so a request made while a link is still being set up waits for it rather
 * than treating the peer as down; the link queues that request's messages and sends them when
 * the handshake completes. The node hears rk_node_on_peer(id, false) when a connection
 * attempt fails (refused, timed out, handshake refused) or an established link breaks, and
 * (id, true) again when a handshake completes. While the node counts a member down, messages
 * to it are dropped and counted, even during a retry: the node chose fallbacks already.
 *
 * Failure detection (issue 6 item 1, Dynamo 4.8.3: each node decides alone, from what it
 * hears): every RK_PEER_HEARTBEAT_MS each up link queues a Heartbeat, riding the same coalesced
 * writes as everything else. Any frame from a member counts as a sign of life, but only an
 * application-level one: a frozen process's kernel still accepts connections and bytes, so TCP
 * staying open proves nothing. A member whose link is up but from which nothing arrived for
 * config failure-timeout-ms is reported down (rk_node_on_peer(id, false), counted in
 * suspected_silent); the connection stays, heartbeats keep going out, and the first frame that
 * arrives from it again reports it up. Being counted down moves no partition (only membership
 * changes do, and they are not the transport's), it only makes coordinators skip the member
 * instead of waiting on it.
 *
 * Coalescing (DESIGN.md: the main throughput lever): rk_peers_send encodes into the link's
 * rk_wire_out; once per loop turn a uv_check writes every dirty link's frames with one
 * uv_write, and while that write is in flight new frames collect in a second buffer. Each
 * link's queue is bounded (RK_PEER_QUEUE_BYTES_MAX); over it a message is dropped and counted,
 * which the core tolerates (coordinators time out).
 *
 * Owns the listener, links and connections; keeps loop, config, runtime, node and server. */
#ifndef RK_PEER_H
#define RK_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../core/msg.h"
#include "../net/wire.h"
#include "config.h"

/* A link's unsent frames, both buffers together: enough for a few large values or ~a million
 * small replicated writes; past it the peer is not keeping up and waiting more will not help. */
#define RK_PEER_QUEUE_BYTES_MAX (64u << 20)
/* Reconnect backoff: first retry soon (nodes start together), at most every 2 s after. */
#define RK_PEER_BACKOFF_MS_MIN 50u
#define RK_PEER_BACKOFF_MS_MAX 2000u
/* Heartbeat period, and how often silence and handshake deadlines are checked: a few
 * heartbeats fit in the shortest failure-timeout-ms (500), so one lost to a busy turn is no
 * verdict. */
#define RK_PEER_HEARTBEAT_MS 250u
_Static_assert(RK_PEER_HEARTBEAT_MS * 2u <= 500u, "two heartbeats fit in the least timeout");
/* Connect plus handshake must finish within this, or the connection is closed. */
#define RK_PEER_HANDSHAKE_MS 5000u
/* Inbound connections at once: each member needs one; the rest is room for reconnects whose
 * old connection has not timed out yet, and a cap on strangers holding sockets. */
#define RK_PEER_INBOUND_MAX (4u * RK_CONFIG_MEMBERS_MAX)
#define RK_PEER_READ_CHUNK (64u << 10)

typedef enum rk_peer_state {
    RK_PEER_DOWN = 0,       /* waiting to retry */
    RK_PEER_CONNECTING = 1, /* TCP connect or handshake under way */
    RK_PEER_UP = 2,         /* both sides accepted; messages flow */
} rk_peer_state;

const char *rk_peer_state_name(rk_peer_state state);

typedef struct rk_peer_link_stats {
    uint64_t connects;          /* connection attempts */
    uint64_t ups;               /* times the link came up */
    uint64_t msgs_queued;       /* messages encoded into the queue */
    uint64_t frames_sent;       /* frames whose write completed */
    uint64_t bytes_sent;
    uint64_t writes;            /* uv_write calls: frames_sent / writes is the coalescing */
    uint64_t frames_received;   /* on inbound connections from this member */
    uint64_t bytes_received;
    uint64_t dropped_queue_full;
    uint64_t dropped_down;      /* sent while counted down, or queued when a link failed */
    uint64_t dropped_invalid;   /* would not encode (over the frame limit, out of range) */
    uint64_t heartbeats_sent;   /* queued, that is; they count in msgs_queued too */
    uint64_t suspected_silent;  /* times counted down for silence while its link was up */
} rk_peer_link_stats;

typedef struct rk_peers rk_peers;
typedef struct peer_conn peer_conn;

/* The outbound side toward one other member. */
typedef struct rk_peer_link {
    rk_peers *peers;
    rk_node_id id;
    rk_member_addr member;              /* host and ports, from the node's member table */
    rk_peer_state state;
    bool node_counts_up;                /* what rk_node_on_peer last said; true at start.
                                         * false while up means silent (suspected) */
    peer_conn *conn;                    /* the connection being set up or up; NULL when down */
    uv_timer_t retry_timer;
    uint32_t backoff_ms;
    uv_getaddrinfo_t resolve_req;
    bool resolving;
    /* `out` fills while `wout` is being written */
    rk_wire_out out;
    rk_wire_out wout;
    bool writing;
    uv_write_t write_req;
    bool dirty;
    struct rk_peer_link *dirty_next;
    char last_error[RK_WIRE_REASON_BYTES_MAX + 64];  /* logged once until it changes */
    /* uv_now when a frame last arrived from this member on an inbound connection, or when
     * its handshake on this link completed (its Hello and HelloAck are replies too) */
    uint64_t heard_ms;
    bool heard;
    uint64_t heartbeat_seq;             /* per connection, from 1 */
    /* Its member left the table: no connection, no timer running, nothing queued, in no view.
     * The slot (its timer still initialised, its buffers allocated) serves the next member
     * once no request of its old life is in flight (writing, resolving). */
    bool retired;
    bool readdressed;                   /* the address changed while a resolve was under way */
    rk_peer_link_stats stats;
} rk_peer_link;

typedef struct rk_peers_stats {
    uint64_t inbound_accepted;
    uint64_t inbound_rejected;          /* over RK_PEER_INBOUND_MAX, or while stopping */
    uint64_t handshake_refusals_sent;   /* peers this node refused */
    uint64_t handshake_refusals_received;   /* times a peer refused this node */
    uint64_t handshake_timeouts;
    uint64_t framing_errors;            /* connections closed for a bad frame header */
    uint64_t garbage_frames;            /* frames dropped: bad payload or message */
    uint64_t dropped_unknown;           /* sends to an id that is no other member */
    uint64_t frames_received;           /* core messages delivered to the node */
    uint64_t ticks_late;                /* this node stalled: silence clocks restarted */
} rk_peers_stats;

struct rk_peers {
    uv_loop_t *loop;
    const rk_config *config;
    struct rk_runtime *runtime;
    rk_node *node;
    struct rk_server *server;
    rk_wire_limits limits;
    uv_tcp_t listener;
    struct sockaddr_storage source; /* outgoing links' source address; AF_UNSPEC: the kernel's */
    uv_check_t flush_check;
    uv_idle_t flush_idle;       /* active while links are dirty: poll must not block */
    uv_timer_t cron;            /* heartbeats, silence, handshake deadlines */
    uint64_t cron_last_ms;      /* uv_now of the last tick, to notice this node stalled */
    const rk_members *members;  /* the node's table, which the links follow */
    uint64_t members_generation;    /* the table's generation the links last matched */
    /* Slots 0 .. link_count - 1 were ever used; retired ones among them are reused first, so
     * members may come and go without end while at most RK_MEMBERS_MAX - 1 are linked. */
    rk_peer_link links[RK_CONFIG_MEMBERS_MAX];
    uint32_t link_count;
    rk_peer_link_stats retired_stats;   /* of the links whose slot a later member took over */
    peer_conn *conns;           /* every connection, inbound and outbound */
    uint32_t inbound_count;
    rk_peer_link *dirty;
    bool started;
    bool stopping;
    bool garbage_logged;        /* log the first garbage frame, count the rest */
    char last_refusal[RK_WIRE_REASON_BYTES_MAX + 64];
    uint64_t last_refusal_ms;
    rk_peers_stats stats;
};

/* Listen on config->bind:config->cluster_port and start connecting to every other member
 * (rk_peers_sync_members).
 * Keeps everything it is given. Returns 0, or RK_EINVAL / RK_EIO with the reason in err
 * (bad address, port in use). A cluster of one listens too (so a refused peer hears why). */
int rk_peers_start(rk_peers *p, uv_loop_t *loop, const rk_config *config,
                   struct rk_runtime *rt, rk_node *node, struct rk_server *server, char *err,
                   size_t err_len);

/* env->send: queue `m` for member `to` (borrowed for the call). Never fails: a message that
 * cannot be queued is dropped and counted. */
void rk_peers_send(rk_peers *p, rk_node_id to, const rk_msg *m);
/* env->send_many: as rk_peers_send to each of `to`, with one encode: the first link that
 * queues it encodes the frame, the others copy its bytes (a write to two replicas was two
 * protobuf packs of the same object). */
void rk_peers_send_many(rk_peers *p, const rk_node_id *to, uint32_t count, const rk_msg *m);

/* Make the links match the node's member table: a link for each other member (a retired slot
 * reused, or a new one), connected at once; a link whose member left is retired, and inbound
 * connections from that member are closed; a member whose host or cluster port changed is
 * reconnected there. A member re-added while its link was counted down is counted up again, as
 * any new member is (members.h). Records the generation it matched, unless a new member found
 * no free slot (retired slots whose old requests are still in flight): then the next call, on
 * the next loop turn, tries again. Called at start and by the loop whenever
 * p->members->generation != p->members_generation (one compare per turn, and per frame
 * received so a frame never reaches the node from a member that left). */
void rk_peers_sync_members(rk_peers *p);

/* Close the listener, every connection and timer; the loop then runs to completion. */
void rk_peers_close(rk_peers *p);
/* Free what is left once the loop has finished. */
void rk_peers_deinit(rk_peers *p);

/* How this node sees another member, for RK.MEMBERS. */
typedef enum rk_peer_view_state {
    RK_PEER_VIEW_UP = 0,            /* handshake done; messages flow */
    RK_PEER_VIEW_CONNECTING = 1,    /* counted up, its first connection is being set up;
                                     * messages queue */
    RK_PEER_VIEW_DOWN = 2,          /* counted down (retrying, or silent past
                                     * failure-timeout-ms); messages are dropped */
} rk_peer_view_state;

const char *rk_peer_view_state_name(rk_peer_view_state state);

typedef struct rk_peer_view {
    rk_peer_view_state state;
    int64_t heard_ms_ago;   /* since the last frame from it (link.heard_ms); -1 never */
} rk_peer_view;

/* Fill `out` for member `id`. Returns 0, or RK_EINVAL when `id` is not another member (this
 * node itself included). Borrows p. */
int rk_peers_view(const rk_peers *p, rk_node_id id, rk_peer_view *out);

/* For INFO: links up and counted up (not suspected), and the totals over every link. */
uint32_t rk_peers_up_count(const rk_peers *p);
void rk_peers_link_totals(const rk_peers *p, rk_peer_link_stats *out);
/* Add every counter of `s` to `sum`. */
void rk_peer_link_stats_add(rk_peer_link_stats *sum, const rk_peer_link_stats *s);

/* Between peer.c and peer_link.c: start connecting `link`, which is down and has no
 * connection or resolve under way (peer.c; peer_link.c uses it for new and moved members). */
void rk_peer_link_connect(rk_peer_link *link);

#endif
