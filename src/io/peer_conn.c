/* peer_conn.c — one internode connection (see peer_conn.h). A connection is a peer_conn
 * whether we opened it (it serves a link) or accepted it; both sides send a Hello at once,
 * check the other's and answer with a HelloAck (docs/wire.md, "Handshake"). Until the peer's
 * Hello passed, anything wrong closes the connection; after it, a bad frame header closes it
 * and a bad payload drops that frame only. */
#include "peer_conn.h"
#include "addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

/* The same refusal of the same stranger is logged again after this, not on every retry. */
#define PEER_REFUSAL_LOG_MS 10000u

/* Until a peer's Hello passed, its frames are held to the smallest limit: a stranger on the
 * cluster port cannot make this node buffer a 16 MiB frame per connection. */
static const rk_wire_limits peer_handshake_limits = {.frame_bytes_max = RK_WIRE_FRAME_BYTES_MIN};

typedef struct peer_write {
    uv_write_t req;
    peer_conn *conn;
    size_t len;
    uint8_t data[];
} peer_write;

static void peer_conn_on_close(uv_handle_t *h)
{
    peer_conn *c = h->data;
    rk_peers *p = c->peers;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        p->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    if (c->link == NULL) {
        RK_ASSERT(p->inbound_count > 0);
        p->inbound_count--;
    }
    free(c->in);
    free(c);
}

void rk_peer_conn_close(peer_conn *c, const char *why)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    rk_log_debug("peer connection %s closed: %s", c->addr, why);
    if (c->link != NULL && c->link->conn == c) {
        rk_peer_link_down(c->link, why);
    }
    uv_close((uv_handle_t *)&c->handle, peer_conn_on_close);
}

peer_conn *rk_peer_conn_new(rk_peers *p, rk_peer_link *link)
{
    peer_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->peers = p;
    c->link = link;
    c->started_ms = uv_now(p->loop);
    c->handle.data = c;
    c->connect_req.data = c;
    int rc = rk_wire_decoder_init(&c->decoder, &peer_handshake_limits);
    RK_ASSERT(rc == 0);
    uv_tcp_init(p->loop, &c->handle);
    c->next = p->conns;
    if (p->conns != NULL) {
        p->conns->prev = c;
    }
    p->conns = c;
    if (link == NULL) {
        p->inbound_count++;
    }
    return c;
}

static void peer_write_on_done(uv_write_t *req, int status)
{
    peer_write *w = req->data;
    peer_conn *c = w->conn;
    free(w);
    if (status < 0) {
        rk_peer_conn_close(c, uv_strerror(status));
    } else if (c->close_after_write) {
        rk_peer_conn_close(c, "handshake refused");
    }
}

/* Send one handshake message on `c` (not through a link's queue: a link is not up yet). */
static void peer_conn_send(peer_conn *c, const rk_wire_ctl *m)
{
    if (c->closing) {
        return;
    }
    rk_wire_out o;
    int rc = rk_wire_out_init(&o, &c->peers->limits);
    RK_ASSERT(rc == 0);
    rc = rk_wire_encode_ctl(&o, m);
    peer_write *w = rc == 0 ? malloc(sizeof(*w) + o.len) : NULL;
    if (w == NULL) {
        rk_log_error("peer %s: cannot send %s: %s", c->addr, rk_wire_type_name(m->type),
                     rc != 0 ? o.error : "out of memory");
        rk_wire_out_deinit(&o);
        rk_peer_conn_close(c, "cannot send a handshake message");
        return;
    }
    w->conn = c;
    w->len = o.len;
    memcpy(w->data, o.data, o.len);
    rk_wire_out_deinit(&o);
    w->req.data = w;
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)w->len);
    rc = uv_write(&w->req, (uv_stream_t *)&c->handle, &buf, 1, peer_write_on_done);
    if (rc != 0) {
        free(w);
        rk_peer_conn_close(c, uv_strerror(rc));
    }
}

static void peer_conn_send_hello(peer_conn *c)
{
    const rk_config *cfg = c->peers->config;
    rk_wire_ctl hello;
    rk_wire_hello_make(&hello, cfg->cluster_name, cfg->secret, cfg->node_id,
                       rk_peers_random(c->peers));
    peer_conn_send(c, &hello);
}

/* Answer the peer's Hello with a refusal, log why, and close once the answer is out. */
static void peer_conn_refuse(peer_conn *c, rk_wire_refusal refusal, const char *why)
{
    rk_peers *p = c->peers;
    p->stats.handshake_refusals_sent++;
    uint64_t now_ms = uv_now(p->loop);
    if (strcmp(p->last_refusal, why) != 0 || now_ms - p->last_refusal_ms >= PEER_REFUSAL_LOG_MS) {
        rk_log_warn("refused peer %s: %s", c->addr, why);
        snprintf(p->last_refusal, sizeof(p->last_refusal), "%s", why);
        p->last_refusal_ms = now_ms;
    }
    rk_wire_ctl ack = {.type = RK_WIRE_HELLO_ACK};
    ack.u.hello_ack.refusal = refusal;
    ack.u.hello_ack.reason = why;
    c->close_after_write = true;
    peer_conn_send(c, &ack);
}

/* A fresh decoder under `limits`, between two frames (nothing buffered is lost: the decoder
 * keeps no bytes, only the header check of the frame it is on). */
static void peer_conn_decoder_reset(peer_conn *c, const rk_wire_limits *limits)
{
    uint64_t frames = c->decoder.frames_decoded;
    int rc = rk_wire_decoder_init(&c->decoder, limits);
    RK_ASSERT(rc == 0);
    c->decoder.frames_decoded = frames;
}

static bool peer_is_member(const rk_peers *p, rk_node_id id)
{
    return rk_members_find(rk_node_members(p->node), id) != NULL;
}

/* The peer's first message: its Hello. Accept it, or refuse and close. */
static void peer_conn_on_hello(peer_conn *c, const rk_wire_in *m)
{
    rk_peers *p = c->peers;
    const rk_config *cfg = p->config;
    char why[RK_WIRE_REASON_BYTES_MAX + 1];
    rk_wire_refusal refusal = RK_WIRE_REFUSAL_NONE;
    if (rk_wire_hello_check(m, cfg->cluster_name, cfg->secret, cfg->node_id, &refusal, why,
                            sizeof(why)) != 0) {
        peer_conn_refuse(c, refusal, why);
        return;
    }
    rk_node_id id = m->ctl.u.hello.node_id;
    if (c->link != NULL && id != c->link->id) {
        snprintf(why, sizeof(why), "node id %u answered at %s:%u, where member %u is configured",
                 id, c->link->member.host, c->link->member.cluster_port, c->link->id);
        peer_conn_refuse(c, RK_WIRE_REFUSAL_NODE_ID, why);
        return;
    }
    if (!peer_is_member(p, id)) {
        snprintf(why, sizeof(why), "node id %u is not a member of cluster '%s'", id,
                 cfg->cluster_name);
        peer_conn_refuse(c, RK_WIRE_REFUSAL_NODE_ID, why);
        return;
    }
    c->hello_ok = true;
    c->peer_id = id;
    peer_conn_decoder_reset(c, &p->limits);
    snprintf(c->addr + strlen(c->addr), sizeof(c->addr) - strlen(c->addr), " (node %u)", id);
    rk_wire_ctl ack = {.type = RK_WIRE_HELLO_ACK};
    ack.u.hello_ack.reason = "";
    peer_conn_send(c, &ack);
    if (c->link == NULL) {
        /* A node that reconnected left its old connection half-open: the newest one wins. */
        for (peer_conn *o = p->conns; o != NULL; o = o->next) {
            if (o != c && o->link == NULL && o->hello_ok && o->peer_id == id) {
                rk_peer_conn_close(o, "replaced by a newer connection from the same node");
            }
        }
    } else if (c->ack_ok) {
        rk_peer_link_up(c->link);
    }
}

static void peer_conn_garbage(peer_conn *c, const char *why);

static void peer_conn_on_ack(peer_conn *c, const rk_wire_ctl *m)
{
    if (c->ack_ok) {
        peer_conn_garbage(c, "a second hello_ack");  /* a link comes up once per connection */
        return;
    }
    if (m->u.hello_ack.refusal == RK_WIRE_REFUSAL_NONE) {
        c->ack_ok = true;
        if (c->link != NULL && c->hello_ok) {
            rk_peer_link_up(c->link);
        }
        return;
    }
    rk_peers *p = c->peers;
    p->stats.handshake_refusals_received++;
    char text[sizeof(p->last_refusal)];
    snprintf(text, sizeof(text), "%s refused this node: %s", c->addr,
             m->u.hello_ack.reason != NULL ? m->u.hello_ack.reason : "");
    char *last = c->link != NULL ? c->link->last_error : p->last_refusal;
    if (strcmp(last, text) != 0) {
        rk_log_warn("peer %s", text);
        snprintf(last, sizeof(p->last_refusal), "%s", text);
    }
    rk_peer_conn_close(c, "the peer refused the handshake");
}

/* Garbage from an accepted peer: drop the frame, count it, log the first one. */
static void peer_conn_garbage(peer_conn *c, const char *why)
{
    rk_peers *p = c->peers;
    p->stats.garbage_frames++;
    if (!p->garbage_logged) {
        p->garbage_logged = true;
        rk_log_warn("peer %s sent a frame this node cannot use (dropped; later ones are only "
                    "counted in INFO cluster): %s",
                    c->addr, why);
    }
}

/* One decoded message. Returns true when it went to the node. */
static bool peer_conn_on_msg(peer_conn *c, const rk_wire_in *m)
{
    if (!c->hello_ok) {
        peer_conn_on_hello(c, m);
        return false;
    }
    if (m->ctl.type == RK_WIRE_HELLO_ACK) {
        peer_conn_on_ack(c, &m->ctl);
        return false;
    }
    if (m->ctl.type == RK_WIRE_HEARTBEAT) {
        return false;
    }
    if (m->ctl.type != RK_WIRE_MSG) {
        peer_conn_garbage(c, "a second hello");
        return false;
    }
    rk_peers *p = c->peers;
    p->stats.frames_received++;
    rk_node_on_message(p->node, c->peer_id, &m->msg);
    return true;
}

/* Decode every whole frame received so far and deliver it. */
static void peer_conn_process(peer_conn *c)
{
    rk_peers *p = c->peers;
    rk_peer_link *from = NULL;
    bool delivered = false;
    while (!c->closing && c->in_start < c->in_len) {
        rk_wire_frame frame;
        size_t consumed = 0;
        int rc = rk_wire_decode_frame(&c->decoder, c->in + c->in_start, c->in_len - c->in_start,
                                      &frame, &consumed);
        if (rc == 0) {
            break;
        }
        if (rc < 0) {
            p->stats.framing_errors++;
            rk_log_info("peer %s: %s; closing the connection", c->addr, c->decoder.error);
            rk_peer_conn_close(c, c->decoder.error);
            break;
        }
        c->in_start += consumed;
        rk_wire_in m;
        rc = rk_wire_decode(&c->decoder, &frame, &m);
        if (rc != 0 && (rc == RK_ENOMEM || !c->hello_ok)) {
            rk_log_info("peer %s: %s; closing the connection", c->addr, c->decoder.error);
            rk_peer_conn_close(c, c->decoder.error);
            break;
        }
        if (rc != 0) {
            /* The header was sound, so the stream is still in step: drop this payload only.
             * The decoder's errors are final; a fresh one picks up at the next frame. */
            peer_conn_garbage(c, c->decoder.error);
            peer_conn_decoder_reset(c, &p->limits);
            continue;
        }
        if (p->members->generation != p->members_generation) {
            /* The table changed under this batch (a message just delivered may have changed
             * it): a member that left is cut off before its next frame reaches the node, and a
             * Hello from one that joined finds its link, for the stats and silence below. */
            rk_peers_sync_members(p);
            if (c->closing) {
                rk_wire_in_deinit(&m);
                break;
            }
        }
        if (c->hello_ok && c->link == NULL) {
            from = from != NULL ? from : rk_peer_link_of(p, c->peer_id);
            if (from != NULL) {
                from->stats.frames_received++;
                from->stats.bytes_received += frame.frame_bytes;
                /* Before the message reaches the node: a reply from a member counted down
                 * for silence finds it counted up again. */
                rk_peer_link_on_heard(from);
            }
        }
        delivered = peer_conn_on_msg(c, &m) || delivered;
        rk_wire_in_deinit(&m);
    }
    if (c->in_start == c->in_len) {
        c->in_start = 0;
        c->in_len = 0;
    }
    if (delivered) {
        rk_server_after_node_event(p->server);
    }
}

static void peer_conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    peer_conn *c = h->data;
    (void)suggested;
    /* Room for the rest of the frame being received (its size is known from its header),
     * at least a read chunk; never more than one frame limit plus a chunk. */
    size_t want = RK_PEER_READ_CHUNK;
    size_t have = c->in_len - c->in_start;
    if (c->decoder.frame_bytes_pending > have && c->decoder.frame_bytes_pending - have > want) {
        want = c->decoder.frame_bytes_pending - have;
    }
    if (c->in_capacity - c->in_len < want && c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, have);
        c->in_len = have;
        c->in_start = 0;
    }
    if (c->in_capacity - c->in_len < want) {
        size_t capacity = c->in_len + want;
        uint8_t *grown = realloc(c->in, capacity);
        if (grown == NULL) {
            *buf = uv_buf_init(NULL, 0);   /* libuv reports UV_ENOBUFS */
            return;
        }
        c->in = grown;
        c->in_capacity = capacity;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_capacity - c->in_len));
}

static void peer_conn_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    peer_conn *c = stream->data;
    (void)buf;
    if (nread < 0) {
        rk_peer_conn_close(c, nread == UV_EOF ? "end of stream" : uv_strerror((int)nread));
        return;
    }
    c->in_len += (size_t)nread;
    peer_conn_process(c);
}

void rk_peer_conn_start(peer_conn *c)
{
    uv_tcp_nodelay(&c->handle, 1);
    uv_read_start((uv_stream_t *)&c->handle, peer_conn_on_alloc, peer_conn_on_read);
    peer_conn_send_hello(c);
}

void rk_peer_conn_describe(peer_conn *c)
{
    rk_addr_peer_name(&c->handle, c->addr, sizeof(c->addr));
}
