/* peer_conn.h — private to peer.c, peer_link.c and peer_conn.c: one internode TCP connection,
 * inbound or outbound, from its Hello to its close. A connection reads and decodes frames, runs the
 * handshake (docs/wire.md) and delivers core messages to the node; the link it may serve
 * (peer.h) owns the queue of frames to send and decides when to reconnect. */
#ifndef RK_PEER_CONN_H
#define RK_PEER_CONN_H

#include "peer.h"

struct peer_conn {
    uv_tcp_t handle;
    uv_connect_t connect_req;
    rk_peers *peers;
    rk_peer_link *link;         /* outbound: the link it serves; NULL when accepted */
    peer_conn *prev;
    peer_conn *next;
    rk_node_id peer_id;         /* once its Hello passed */
    bool hello_ok;              /* the peer's Hello passed our check */
    bool ack_ok;                /* the peer accepted our Hello */
    bool closing;
    bool close_after_write;     /* a refusal is being written; close once it is out */
    uint64_t started_ms;
    rk_wire_decoder decoder;
    uint8_t *in;
    size_t in_start;
    size_t in_len;
    size_t in_capacity;
    char addr[RK_CONFIG_HOST_BYTES_MAX + 32];   /* host:port (node N), for logs */
};

/* A handshake frame on its way out: its own copy, so the connection may close meanwhile. */
/* A new connection for `link` (outbound) or NULL (accepted), in p's list, its handle
 * initialised but not connected. Returns NULL when out of memory. */
peer_conn *rk_peer_conn_new(rk_peers *p, rk_peer_link *link);
/* Close now; a link it served goes down at once (rk_peer_link_down). Idempotent. */
void rk_peer_conn_close(peer_conn *c, const char *why);
/* The TCP connection is up: start reading and send our Hello. */
void rk_peer_conn_start(peer_conn *c);
/* c->addr from the socket's peer address (accepted connections). */
void rk_peer_conn_describe(peer_conn *c);

/* What peer.c does for connections (peer.c). */
void rk_peer_link_down(rk_peer_link *link, const char *why);
void rk_peer_link_up(rk_peer_link *link);
/* An application-level frame from the link's member arrived: restart its silence clock, and
 * report it up if silence had counted it down while its link stayed up. */
void rk_peer_link_on_heard(rk_peer_link *link);
rk_peer_link *rk_peer_link_of(rk_peers *p, rk_node_id id);
uint64_t rk_peers_random(rk_peers *p);

#endif
