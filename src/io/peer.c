/* peer.c — internode links on libuv (see peer.h): the listener, one outbound link per other
 * member with its queue of frames, one coalesced write per loop turn, reconnect with backoff,
 * handshake deadlines, and heartbeats with the silence that counts a member down. The
 * connections themselves are peer_conn.c's; which links exist (opened, retired, moved as the
 * member table changes) is peer_link.c's. */
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "peer_conn.h"
#include "runtime.h"
#include "server.h"

const char *rk_peer_state_name(rk_peer_state state)
{
    switch (state) {
    case RK_PEER_DOWN:
        return "down";
    case RK_PEER_CONNECTING:
        return "connecting";
    case RK_PEER_UP:
        return "up";
    }
    return "unknown";
}

const char *rk_peer_view_state_name(rk_peer_view_state state)
{
    switch (state) {
    case RK_PEER_VIEW_UP:
        return "up";
    case RK_PEER_VIEW_CONNECTING:
        return "connecting";
    case RK_PEER_VIEW_DOWN:
        return "down";
    }
    return "unknown";
}

static uint64_t peer_now_ms(const rk_peers *p)
{
    return uv_now(p->loop);
}

uint64_t rk_peers_random(rk_peers *p)
{
    return p->runtime->env.random(p->runtime->env.ctx);
}

/* The live link to `id`: a retired one still holds its old member's id, and is no one's. */
static const rk_peer_link *peer_link_find(const rk_peers *p, rk_node_id id)
{
    for (uint32_t i = 0; i < p->link_count; i++) {
        if (p->links[i].id == id && !p->links[i].retired) {
            return &p->links[i];
        }
    }
    return NULL;
}

rk_peer_link *rk_peer_link_of(rk_peers *p, rk_node_id id)
{
    return (rk_peer_link *)peer_link_find(p, id);
}


/* ---- links: the outbound side ---------------------------------------------------------- */

static void peer_on_idle(uv_idle_t *h)
{
    (void)h;    /* its being active is the point: the loop turns without blocking */
}

static void peer_link_mark_dirty(rk_peer_link *link)
{
    rk_peers *p = link->peers;
    if (link->dirty) {
        return;
    }
    if (p->dirty == NULL && !p->stopping) {
        uv_idle_start(&p->flush_idle, peer_on_idle);
    }
    link->dirty = true;
    link->dirty_next = p->dirty;
    p->dirty = link;
}

static void peer_link_on_write(uv_write_t *req, int status)
{
    rk_peer_link *link = req->data;
    RK_ASSERT(link->writing);
    link->writing = false;
    if (status == 0) {
        link->stats.frames_sent += link->wout.frame_count;
        link->stats.bytes_sent += link->wout.len;
    } else {
        link->stats.dropped_down += link->wout.frame_count;
    }
    rk_wire_out_reset(&link->wout);
    if (status < 0 && link->conn != NULL && req->handle == (uv_stream_t *)&link->conn->handle) {
        rk_peer_conn_close(link->conn, uv_strerror(status));
        return;
    }
    if (link->out.len > 0) {
        peer_link_mark_dirty(link);
    }
}

/* Write everything queued on `link` with one uv_write, unless a write is in flight. */
static void peer_link_flush(rk_peer_link *link)
{
    if (link->state != RK_PEER_UP || link->writing || link->out.len == 0) {
        return;
    }
    link->stats.writes++;
    /* Written now when the socket takes it all, as the server does its replies: a completed
     * uv_write costs an epoll_ctl on the next turn. uv_write sends only what is left. */
    uv_buf_t buf = uv_buf_init((char *)link->out.data, (unsigned)link->out.len);
    int written = uv_try_write((uv_stream_t *)&link->conn->handle, &buf, 1);
    if (written == (int)link->out.len) {
        link->stats.frames_sent += link->out.frame_count;
        link->stats.bytes_sent += link->out.len;
        rk_wire_out_reset(&link->out);
        return;
    }
    if (written < 0 && written != UV_EAGAIN) {
        link->stats.dropped_down += link->out.frame_count;
        rk_wire_out_reset(&link->out);
        rk_peer_conn_close(link->conn, uv_strerror(written));
        return;
    }
    size_t done = written > 0 ? (size_t)written : 0;
    rk_wire_out tmp = link->wout;
    link->wout = link->out;
    link->out = tmp;
    buf = uv_buf_init((char *)link->wout.data + done, (unsigned)(link->wout.len - done));
    link->write_req.data = link;
    link->writing = true;
    int rc = uv_write(&link->write_req, (uv_stream_t *)&link->conn->handle, &buf, 1,
                      peer_link_on_write);
    if (rc != 0) {
        link->writing = false;
        link->stats.dropped_down += link->wout.frame_count;
        rk_wire_out_reset(&link->wout);
        rk_peer_conn_close(link->conn, uv_strerror(rc));
    }
}

/* After every loop turn's I/O: one write per dirty link, however many frames it holds. */
static void peer_on_check(uv_check_t *h)
{
    rk_peers *p = h->data;
    /* Durability completed on this turn answers peers too; send those answers now. */
    rk_runtime_poll(p->runtime);
    /* The member table changed on this turn (or a new member waits for a free slot): bring
     * the links in line before anything is flushed to a member that left. */
    if (p->members->generation != p->members_generation) {
        rk_peers_sync_members(p);
    }
    while (p->dirty != NULL) {
        rk_peer_link *link = p->dirty;
        p->dirty = link->dirty_next;
        link->dirty = false;
        link->dirty_next = NULL;
        peer_link_flush(link);
    }
    uv_idle_stop(&p->flush_idle);
}

/* The link to `to` if it may queue one more message now; otherwise counts why not. */
static rk_peer_link *peer_link_for_send(rk_peers *p, rk_node_id to)
{
    rk_peer_link *link = rk_peer_link_of(p, to);
    if (link == NULL) {
        p->stats.dropped_unknown++;
        return NULL;
    }
    /* A link being set up queues (the node counts the peer up and its request waits for the
     * handshake); one the node was told is down drops, as the node expects. */
    if (!link->node_counts_up || link->state == RK_PEER_DOWN) {
        link->stats.dropped_down++;
        return NULL;
    }
    size_t queued = link->out.len + (link->writing ? link->wout.len : 0);
    if (queued >= RK_PEER_QUEUE_BYTES_MAX) {
        link->stats.dropped_queue_full++;
        return NULL;
    }
    return link;
}

/* Count a message queued on `link` (rc 0), or dropped as invalid. */
static bool peer_link_queued(rk_peer_link *link, rk_node_id to, int rc)
{
    if (rc != 0) {
        link->stats.dropped_invalid++;
        rk_log_warn("message for node %u dropped: %s", to, link->out.error);
        return false;
    }
    link->stats.msgs_queued++;
    peer_link_mark_dirty(link);
    return true;
}

void rk_peers_send(rk_peers *p, rk_node_id to, const rk_msg *m)
{
    rk_peer_link *link = peer_link_for_send(p, to);
    if (link != NULL) {
        peer_link_queued(link, to, rk_wire_encode_msg(&link->out, m));
    }
}

void rk_peers_send_many(rk_peers *p, const rk_node_id *to, uint32_t count, const rk_msg *m)
{
    /* The first link that takes the message encodes it; the others copy that frame. */
    rk_peer_link *first = NULL;
    for (uint32_t i = 0; i < count; i++) {
        rk_peer_link *link = peer_link_for_send(p, to[i]);
        if (link == NULL) {
            continue;
        }
        if (first == NULL) {
            if (peer_link_queued(link, to[i], rk_wire_encode_msg(&link->out, m))) {
                first = link;
            }
            continue;
        }
        RK_ASSERT(link != first);
        peer_link_queued(link, to[i],
                         rk_wire_out_copy_frame(&link->out, &first->out,
                                                first->out.frame_count - 1));
    }
}

static void peer_link_on_retry(uv_timer_t *h)
{
    rk_peer_link *link = h->data;
    if (!link->peers->stopping && !link->retired && link->state == RK_PEER_DOWN) {
        rk_peer_link_connect(link);
    }
}

/* Retry after the backoff with jitter (half to all of it), then double the backoff. */
static void peer_link_schedule_retry(rk_peer_link *link)
{
    rk_peers *p = link->peers;
    if (p->stopping) {
        return;
    }
    uint32_t half = link->backoff_ms / 2u;
    uint64_t delay_ms = half + rk_peers_random(p) % (uint64_t)(link->backoff_ms - half + 1u);
    uv_timer_start(&link->retry_timer, peer_link_on_retry, delay_ms, 0);
    link->backoff_ms = link->backoff_ms >= RK_PEER_BACKOFF_MS_MAX / 2u ? RK_PEER_BACKOFF_MS_MAX
                                                                     : link->backoff_ms * 2u;
}

/* A connection attempt failed or an established link broke: the node hears the peer is down
 * (once, until a handshake completes again), what was queued for it is dropped, and the link
 * retries after its backoff. */
void rk_peer_link_down(rk_peer_link *link, const char *why)
{
    rk_peers *p = link->peers;
    RK_ASSERT(!link->retired);      /* retiring detaches the connection before closing it */
    bool was_up = link->state == RK_PEER_UP;
    link->state = RK_PEER_DOWN;
    link->conn = NULL;
    link->stats.dropped_down += link->out.frame_count;
    rk_wire_out_reset(&link->out);
    if (was_up) {
        rk_log_warn("peer node %u at %s:%u is down: %s", link->id, link->member.host,
                    link->member.cluster_port, why);
    }
    if (link->node_counts_up) {
        link->node_counts_up = false;
        rk_node_on_peer(p->node, link->id, false);
        rk_server_after_node_event(p->server);
    }
    peer_link_schedule_retry(link);
}

void rk_peer_link_up(rk_peer_link *link)
{
    rk_peers *p = link->peers;
    RK_ASSERT(!link->retired);
    RK_ASSERT(link->state == RK_PEER_CONNECTING);
    link->state = RK_PEER_UP;
    link->stats.ups++;
    link->backoff_ms = RK_PEER_BACKOFF_MS_MIN;
    link->last_error[0] = '\0';
    link->heartbeat_seq = 0;
    /* Its Hello and HelloAck just arrived: the silence clock starts here, not from whenever
     * the inbound side last spoke. */
    link->heard_ms = peer_now_ms(p);
    link->heard = true;
    rk_log_info("peer node %u at %s:%u is up", link->id, link->member.host,
                link->member.cluster_port);
    /* Said on every handshake, also the first, when the node counted the peer up already:
     * each one is a (re)connect the node may want to act on. */
    link->node_counts_up = true;
    rk_node_on_peer(p->node, link->id, true);
    if (link->out.len > 0) {
        peer_link_mark_dirty(link);     /* what queued while the link was being set up */
    }
    rk_server_after_node_event(p->server);
}

void rk_peer_link_on_heard(rk_peer_link *link)
{
    rk_peers *p = link->peers;
    link->heard_ms = peer_now_ms(p);
    link->heard = true;
    /* Silent and now heard again: report it up. A link that is not up stays down until its
     * handshake completes (rk_peer_link_up): this node could hear the member but not reach it. */
    if (link->state == RK_PEER_UP && !link->node_counts_up) {
        rk_log_warn("peer node %u at %s:%u is heard again; counted up", link->id,
                    link->member.host, link->member.cluster_port);
        link->node_counts_up = true;
        rk_node_on_peer(p->node, link->id, true);
        rk_server_after_node_event(p->server);
    }
}

static void peer_link_on_connect(uv_connect_t *req, int status)
{
    peer_conn *c = req->data;
    if (status == UV_ECANCELED || c->closing) {
        return;
    }
    if (status < 0) {
        rk_peer_link *link = c->link;
        char text[sizeof(link->last_error)];
        snprintf(text, sizeof(text), "cannot connect to node %u at %s: %s", link->id, c->addr,
                 uv_strerror(status));
        /* Members start at different times: say it once, not on every retry. */
        if (strcmp(text, link->last_error) != 0) {
            rk_log_info("peer %s; retrying", text);
            snprintf(link->last_error, sizeof(link->last_error), "%s", text);
        }
        rk_peer_conn_close(c, uv_strerror(status));
        return;
    }
    rk_peer_conn_start(c);
}

static void peer_link_connect_to(rk_peer_link *link, const struct sockaddr *addr)
{
    peer_conn *c = rk_peer_conn_new(link->peers, link);
    if (c == NULL) {
        rk_peer_link_down(link, "out of memory");
        return;
    }
    link->conn = c;
    snprintf(c->addr, sizeof(c->addr), "%s:%u", link->member.host, link->member.cluster_port);
    int rc = 0;
    if (link->peers->source.ss_family != AF_UNSPEC) {
        /* Leave from the bind address, so a peer (and a firewall rule) sees which node calls. */
        rc = uv_tcp_bind(&c->handle, (const struct sockaddr *)&link->peers->source, 0);
    }
    if (rc == 0) {
        rc = uv_tcp_connect(&c->connect_req, &c->handle, addr, peer_link_on_connect);
    }
    if (rc != 0) {
        rk_peer_conn_close(c, uv_strerror(rc));
    }
}

static void peer_link_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rk_peer_link *link = req->data;
    link->resolving = false;
    if (link->peers->stopping || link->retired) {
        uv_freeaddrinfo(res);
        return;
    }
    if (link->readdressed) {
        /* The member moved while its old name was being resolved: start over at the new one. */
        uv_freeaddrinfo(res);
        link->readdressed = false;
        link->state = RK_PEER_DOWN;
        rk_peer_link_connect(link);
        return;
    }
    if (status < 0 || res == NULL) {
        char text[sizeof(link->last_error)];
        snprintf(text, sizeof(text), "cannot resolve %s: %s", link->member.host,
                 uv_strerror(status));
        if (strcmp(text, link->last_error) != 0) {
            rk_log_warn("peer node %u: %s; retrying", link->id, text);
            snprintf(link->last_error, sizeof(link->last_error), "%s", text);
        }
        uv_freeaddrinfo(res);
        rk_peer_link_down(link, text);
        return;
    }
    peer_link_connect_to(link, res->ai_addr);
    uv_freeaddrinfo(res);
}

void rk_peer_link_connect(rk_peer_link *link)
{
    RK_ASSERT(!link->retired);
    RK_ASSERT(!link->resolving);
    RK_ASSERT(link->state == RK_PEER_DOWN);
    RK_ASSERT(link->conn == NULL);
    link->state = RK_PEER_CONNECTING;
    link->stats.connects++;
    const rk_member_addr *m = &link->member;
    struct sockaddr_storage addr;
    if (uv_ip4_addr(m->host, m->cluster_port, (struct sockaddr_in *)&addr) == 0 ||
        uv_ip6_addr(m->host, m->cluster_port, (struct sockaddr_in6 *)&addr) == 0) {
        peer_link_connect_to(link, (const struct sockaddr *)&addr);
        return;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", m->cluster_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    link->resolve_req.data = link;
    link->resolving = true;
    int rc = uv_getaddrinfo(link->peers->loop, &link->resolve_req, peer_link_on_resolved,
                            m->host, port, &hints);
    if (rc != 0) {
        link->resolving = false;
        rk_peer_link_down(link, uv_strerror(rc));
    }
}

/* ---- listener, deadlines, lifecycle ----------------------------------------------------- */

static void peer_reject(rk_peers *p)
{
    uv_tcp_t *tmp = malloc(sizeof(*tmp));
    if (tmp == NULL) {
        return;
    }
    uv_tcp_init(p->loop, tmp);
    uv_accept((uv_stream_t *)&p->listener, (uv_stream_t *)tmp);
    uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
}

static void peer_on_connection(uv_stream_t *listener, int status)
{
    rk_peers *p = listener->data;
    if (status < 0) {
        rk_log_warn("cluster port: accept failed: %s", uv_strerror(status));
        return;
    }
    if (p->stopping || p->inbound_count >= RK_PEER_INBOUND_MAX) {
        p->stats.inbound_rejected++;
        peer_reject(p);
        return;
    }
    peer_conn *c = rk_peer_conn_new(p, NULL);
    if (c == NULL) {
        p->stats.inbound_rejected++;
        peer_reject(p);
        return;
    }
    if (uv_accept(listener, (uv_stream_t *)&c->handle) != 0) {
        rk_peer_conn_close(c, "accept failed");
        return;
    }
    p->stats.inbound_accepted++;
    rk_peer_conn_describe(c);
    rk_peer_conn_start(c);
}

/* Queue one Heartbeat on an up link, under the same bound as every other message. */
static void peer_link_heartbeat(rk_peer_link *link, uint64_t now_ms)
{
    RK_ASSERT(link->state == RK_PEER_UP);
    size_t queued = link->out.len + (link->writing ? link->wout.len : 0);
    if (queued >= RK_PEER_QUEUE_BYTES_MAX) {
        link->stats.dropped_queue_full++;
        return;
    }
    rk_wire_ctl w;
    memset(&w, 0, sizeof(w));
    w.type = RK_WIRE_HEARTBEAT;
    w.u.heartbeat.seq = ++link->heartbeat_seq;
    w.u.heartbeat.sent_ms = now_ms;
    if (rk_wire_encode_ctl(&link->out, &w) != 0) {
        link->stats.dropped_invalid++;     /* a heartbeat always fits; counted, never fatal */
        return;
    }
    link->stats.msgs_queued++;
    link->stats.heartbeats_sent++;
    peer_link_mark_dirty(link);
}

/* Nothing arrived from an up link's member for failure-timeout-ms: report it down. The
 * connection stays (it may be a pause, not a crash) and heartbeats keep going out, so the
 * member hears this node the moment it runs again; what was queued for it is dropped, as for
 * any member counted down. */
static void peer_link_check_silence(rk_peer_link *link, uint64_t now_ms)
{
    rk_peers *p = link->peers;
    RK_ASSERT(link->state == RK_PEER_UP);
    RK_ASSERT(link->heard);
    uint64_t silent_ms = now_ms > link->heard_ms ? now_ms - link->heard_ms : 0;
    if (!link->node_counts_up || silent_ms <= p->config->failure_timeout_ms) {
        return;
    }
    link->stats.suspected_silent++;
    rk_log_warn("peer node %u at %s:%u is down: nothing heard for %llu ms "
                "(failure-timeout-ms is %u)",
                link->id, link->member.host, link->member.cluster_port,
                (unsigned long long)silent_ms, p->config->failure_timeout_ms);
    link->stats.dropped_down += link->out.frame_count;
    rk_wire_out_reset(&link->out);
    link->node_counts_up = false;
    rk_node_on_peer(p->node, link->id, false);
    rk_server_after_node_event(p->server);
}

/* Every RK_PEER_HEARTBEAT_MS: heartbeats out, silence judged, overdue handshakes closed. */
static void peer_on_cron(uv_timer_t *h)
{
    rk_peers *p = h->data;
    uint64_t now_ms = peer_now_ms(p);
    /* A tick this late means this node was not running (SIGSTOP, swapped out, a debugger):
     * the silence it would measure is its own, so every clock restarts instead. The period is
     * added so that at the least timeout (500) an ordinary tick is never late. */
    uint64_t late_ms = RK_PEER_HEARTBEAT_MS + p->config->failure_timeout_ms / 2u;
    bool late = now_ms - p->cron_last_ms > late_ms;
    p->cron_last_ms = now_ms;
    if (late) {
        p->stats.ticks_late++;
    }
    for (uint32_t i = 0; i < p->link_count; i++) {
        rk_peer_link *link = &p->links[i];
        if (link->state != RK_PEER_UP) {
            continue;
        }
        if (late) {
            link->heard_ms = now_ms;
        }
        peer_link_check_silence(link, now_ms);
        peer_link_heartbeat(link, now_ms);
    }
    peer_conn *c = p->conns;
    while (c != NULL) {
        peer_conn *next = c->next;
        bool done = c->hello_ok && c->ack_ok;
        if (!c->closing && !done && now_ms - c->started_ms > RK_PEER_HANDSHAKE_MS) {
            p->stats.handshake_timeouts++;
            rk_log_info("peer %s: no handshake within %u ms; closing", c->addr,
                        RK_PEER_HANDSHAKE_MS);
            rk_peer_conn_close(c, "handshake timeout");
        }
        c = next;
    }
}

static int peer_listen(rk_peers *p, char *err, size_t err_len)
{
    const rk_config *cfg = p->config;
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(cfg->bind, cfg->cluster_port, (struct sockaddr_in *)&addr);
    if (rc != 0) {
        rc = uv_ip6_addr(cfg->bind, cfg->cluster_port, (struct sockaddr_in6 *)&addr);
    }
    if (rc != 0) {
        snprintf(err, err_len, "bind = \"%s\": not an IPv4 or IPv6 address", cfg->bind);
        return RK_EINVAL;
    }
    /* Outgoing links leave from the bind address too, unless it is the wildcard. */
    bool wildcard = strcmp(cfg->bind, "0.0.0.0") == 0 || strcmp(cfg->bind, "::") == 0;
    if (!wildcard) {
        memcpy(&p->source, &addr, sizeof(addr));
        if (addr.ss_family == AF_INET) {
            ((struct sockaddr_in *)&p->source)->sin_port = 0;
        } else {
            ((struct sockaddr_in6 *)&p->source)->sin6_port = 0;
        }
    }
    uv_tcp_init(p->loop, &p->listener);
    p->listener.data = p;
    rc = uv_tcp_bind(&p->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&p->listener, 128, peer_on_connection);
    }
    if (rc != 0) {
        snprintf(err, err_len, "cannot listen on cluster port %s:%u: %s", cfg->bind,
                 cfg->cluster_port, uv_strerror(rc));
        uv_close((uv_handle_t *)&p->listener, NULL);
        return RK_EIO;
    }
    return 0;
}

int rk_peers_start(rk_peers *p, uv_loop_t *loop, const rk_config *config, struct rk_runtime *rt,
                   rk_node *node, struct rk_server *server, char *err, size_t err_len)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->config = config;
    p->runtime = rt;
    p->node = node;
    p->server = server;
    p->members = rk_node_members(node);
    int rc = rk_wire_limits_for_value(config->max_value_bytes, &p->limits);
    if (rc != 0) {
        snprintf(err, err_len, "max-value-bytes %llu gives no frame limit",
                 (unsigned long long)config->max_value_bytes);
        return rc;
    }
    rc = peer_listen(p, err, err_len);
    if (rc != 0) {
        return rc;
    }
    uv_check_init(loop, &p->flush_check);
    p->flush_check.data = p;
    uv_check_start(&p->flush_check, peer_on_check);
    uv_idle_init(loop, &p->flush_idle);
    uv_timer_init(loop, &p->cron);
    p->cron.data = p;
    p->cron_last_ms = peer_now_ms(p);
    uv_timer_start(&p->cron, peer_on_cron, RK_PEER_HEARTBEAT_MS, RK_PEER_HEARTBEAT_MS);
    p->started = true;
    rk_peers_sync_members(p);       /* a link to every other member, connecting */
    return 0;
}

void rk_peers_close(rk_peers *p)
{
    if (!p->started || p->stopping) {
        return;
    }
    p->stopping = true;
    uv_close((uv_handle_t *)&p->listener, NULL);
    uv_close((uv_handle_t *)&p->flush_check, NULL);
    uv_idle_stop(&p->flush_idle);
    uv_close((uv_handle_t *)&p->flush_idle, NULL);
    uv_close((uv_handle_t *)&p->cron, NULL);
    for (uint32_t i = 0; i < p->link_count; i++) {
        uv_close((uv_handle_t *)&p->links[i].retry_timer, NULL);
        if (p->links[i].resolving) {
            uv_cancel((uv_req_t *)&p->links[i].resolve_req);
        }
    }
    peer_conn *c = p->conns;
    while (c != NULL) {
        peer_conn *next = c->next;
        rk_peer_conn_close(c, "shutting down");
        c = next;
    }
}

void rk_peers_deinit(rk_peers *p)
{
    RK_ASSERT(p->conns == NULL);
    for (uint32_t i = 0; i < p->link_count; i++) {
        rk_wire_out_deinit(&p->links[i].out);
        rk_wire_out_deinit(&p->links[i].wout);
    }
    p->link_count = 0;
}

uint32_t rk_peers_up_count(const rk_peers *p)
{
    uint32_t up = 0;
    for (uint32_t i = 0; i < p->link_count; i++) {
        up += p->links[i].state == RK_PEER_UP && p->links[i].node_counts_up;
    }
    return up;
}

int rk_peers_view(const rk_peers *p, rk_node_id id, rk_peer_view *out)
{
    memset(out, 0, sizeof(*out));
    const rk_peer_link *link = peer_link_find(p, id);
    if (link == NULL) {
        return RK_EINVAL;
    }
    if (link->state == RK_PEER_UP) {
        out->state = link->node_counts_up ? RK_PEER_VIEW_UP : RK_PEER_VIEW_DOWN;
    } else {
        out->state = link->node_counts_up ? RK_PEER_VIEW_CONNECTING : RK_PEER_VIEW_DOWN;
    }
    uint64_t now_ms = peer_now_ms(p);
    out->heard_ms_ago = !link->heard              ? -1
                        : now_ms > link->heard_ms ? (int64_t)(now_ms - link->heard_ms)
                                                  : 0;
    return 0;
}

void rk_peer_link_stats_add(rk_peer_link_stats *sum, const rk_peer_link_stats *s)
{
    sum->connects += s->connects;
    sum->ups += s->ups;
    sum->msgs_queued += s->msgs_queued;
    sum->frames_sent += s->frames_sent;
    sum->bytes_sent += s->bytes_sent;
    sum->writes += s->writes;
    sum->frames_received += s->frames_received;
    sum->bytes_received += s->bytes_received;
    sum->dropped_queue_full += s->dropped_queue_full;
    sum->dropped_down += s->dropped_down;
    sum->dropped_invalid += s->dropped_invalid;
    sum->heartbeats_sent += s->heartbeats_sent;
    sum->suspected_silent += s->suspected_silent;
}

/* Retired links count until a new member takes their slot, then in retired_stats: totals never
 * go back as members come and go. */
void rk_peers_link_totals(const rk_peers *p, rk_peer_link_stats *out)
{
    *out = p->retired_stats;
    for (uint32_t i = 0; i < p->link_count; i++) {
        rk_peer_link_stats_add(out, &p->links[i].stats);
    }
}
