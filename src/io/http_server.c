/* http_server.c — the HTTP listener, its connections, ordered responses, back-pressure (see
 * http_server.h). Shaped like server.c's RESP clients, smaller: one parser per connection, a
 * queue of requests whose responses leave oldest first, one write in flight at a time. */
#include "http_server.h"
#include "addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void http_conn_process_input(rk_http_conn *c);
static void http_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void http_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void http_conn_flush(rk_http_conn *c);

static void http_pending_free(rk_http_pending *p)
{
    rk_http_api_pending_free(p);
    rk_resp_out_deinit(&p->out);
    free(p);
}

static void http_conn_on_close(uv_handle_t *h)
{
    rk_http_conn *c = h->data;
    rk_http_server *hs = c->server;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        hs->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    hs->conn_count--;
    rk_http_parser_deinit(&c->parser);
    rk_resp_out_deinit(&c->out);
    rk_resp_out_deinit(&c->wout);
    free(c->in);
    free(c);
}

/* Close now. A request still at the node keeps its command, which no longer reports here. */
static void http_conn_close(rk_http_conn *c, const char *why)
{
    if (c->closed) {
        return;
    }
    rk_log_debug("http connection %llu closed: %s", (unsigned long long)c->id, why);
    c->closed = true;
    c->closing = true;
    rk_http_pending *p = c->head;
    while (p != NULL) {
        rk_http_pending *next = p->next;
        http_pending_free(p);
        p = next;
    }
    c->head = NULL;
    c->tail = NULL;
    c->pending_count = 0;
    uv_close((uv_handle_t *)&c->handle, http_conn_on_close);
}

static bool http_conn_may_read(const rk_http_conn *c)
{
    const rk_http_server *hs = c->server;
    if (c->closing || hs->stopping || rk_node_is_busy(hs->server->node)) {
        return false;
    }
    if (c->pending_count >= RK_HTTP_PIPELINE_MAX || c->barriers > 0) {
        return false;
    }
    size_t owed = c->out.len + (c->writing ? c->wout.len : 0);
    return owed < RK_HTTP_OUTPUT_SOFT_BYTES;
}

static void http_conn_pause(rk_http_conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->handle);
        c->reading = false;
    }
    c->paused = !c->closing;
}

static void http_conn_resume(rk_http_conn *c)
{
    if (c->reading || c->closed || !http_conn_may_read(c)) {
        return;
    }
    c->paused = false;
    http_conn_process_input(c);
    if (!c->closed && !c->reading && http_conn_may_read(c)) {
        uv_read_start((uv_stream_t *)&c->handle, http_on_alloc, http_on_read);
        c->reading = true;
    }
}

/* Move answered requests at the head of the queue to the output, in order. */
static void http_conn_collect(rk_http_conn *c)
{
    while (c->head != NULL && c->head->done) {
        rk_http_pending *p = c->head;
        c->head = p->next;
        if (c->head == NULL) {
            c->tail = NULL;
        }
        c->pending_count--;
        c->server->requests++;
        if (!c->replies_over) {
            rk_resp_out_append_raw(&c->out, p->out.data, p->out.len);
            if (p->out.oom) {
                c->out.oom = true;
            }
            if (!p->keep_alive) {
                c->replies_over = true;     /* nothing after a "Connection: close" response */
                c->closing = true;
            }
        }
        http_pending_free(p);
    }
}

static void http_on_write(uv_write_t *req, int status)
{
    rk_http_conn *c = req->data;
    c->writing = false;
    rk_resp_out_reset(&c->wout);
    if (status < 0 || c->closed) {
        http_conn_close(c, status < 0 ? uv_strerror(status) : "closed");
        return;
    }
    http_conn_flush(c);
    if (!c->closed) {
        http_conn_resume(c);
    }
}

static void http_conn_flush(rk_http_conn *c)
{
    if (c->closed || c->writing) {
        return;
    }
    if (c->out.oom) {
        http_conn_close(c, "out of memory for output");
        return;
    }
    if (c->out.len == 0) {
        if (c->closing && c->head == NULL) {
            http_conn_close(c, "done");
        }
        return;
    }
    rk_resp_out tmp = c->wout;
    c->wout = c->out;
    c->out = tmp;
    uv_buf_t buf = uv_buf_init((char *)c->wout.data, (unsigned)c->wout.len);
    c->write_req.data = c;
    c->writing = true;
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->handle, &buf, 1, http_on_write);
    if (rc != 0) {
        c->writing = false;
        http_conn_close(c, uv_strerror(rc));
    }
}

void rk_http_server_pending_done(rk_http_pending *p)
{
    rk_http_conn *c = p->conn;
    p->done = true;
    if (p->barrier) {
        p->barrier = false;
        c->barriers--;
        c->paused = true;       /* the check handle parses what waited behind it */
    }
    if (c->head == p) {
        http_conn_collect(c);
        http_conn_flush(c);
    }
}

static rk_http_pending *http_pending_new(rk_http_conn *c, bool keep_alive)
{
    rk_http_pending *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->conn = c;
    p->keep_alive = keep_alive;
    rk_resp_out_init(&p->out, 2);
    if (c->tail != NULL) {
        c->tail->next = p;
    } else {
        c->head = p;
    }
    c->tail = p;
    c->pending_count++;
    return p;
}

/* A request we cannot parse: answer it after those before it, then close. */
static void http_conn_refuse(rk_http_conn *c)
{
    rk_http_pending *p = http_pending_new(c, false);
    if (p == NULL) {
        http_conn_close(c, "out of memory");
        return;
    }
    const char *text = c->parser.error[0] != '\0' ? c->parser.error : "ERR malformed request";
    rk_log_info("http connection %llu: %s; closing it", (unsigned long long)c->id, text);
    static const rk_http_header plain = {"Content-Type", "text/plain"};
    rk_http_respond(&p->out, c->parser.error_status, &plain, 1, text, strlen(text), false);
    http_conn_pause(c);
    c->closing = true;
    c->paused = false;
    rk_http_server_pending_done(p);
}

static void http_conn_process_input(rk_http_conn *c)
{
    while (!c->closing && c->in_start < c->in_len) {
        if (!http_conn_may_read(c)) {
            http_conn_pause(c);
            break;
        }
        rk_http_request req;
        size_t consumed = 0;
        int rc = rk_http_parse(&c->parser, c->in + c->in_start, c->in_len - c->in_start, &req,
                               &consumed);
        c->in_start += consumed;
        if (c->parser.continue_wanted) {
            /* Only with nothing owed before it: an interim response may not overtake them
             * (the client then sends its body after its own wait, ~1 s for curl). */
            c->parser.continue_wanted = false;
            if (c->head == NULL && !c->replies_over) {
                rk_resp_out_append_raw(&c->out, (const uint8_t *)rk_http_continue,
                                       strlen(rk_http_continue));
                http_conn_flush(c);
            }
        }
        if (rc == 0) {
            break;
        }
        if (rc < 0) {
            http_conn_refuse(c);
            break;
        }
        rk_http_pending *p = http_pending_new(c, req.keep_alive && req.method != RK_HTTP_HEAD);
        if (p == NULL) {
            http_conn_close(c, "out of memory");
            return;
        }
        rk_http_api_handle(c->server, p, &req);
        if (c->closed) {
            return;
        }
    }
    if (c->in_start == c->in_len) {
        c->in_start = 0;
        c->in_len = 0;
    }
}

static void http_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    rk_http_conn *c = h->data;
    (void)suggested;
    if (c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
        c->in_len -= c->in_start;
        c->in_start = 0;
    }
    /* The parser copies what it keeps, so the buffer never holds more than one read's worth
     * plus an unparsed tail: it does not grow with the body. */
    if (c->in_capacity - c->in_len < RK_HTTP_READ_CHUNK) {
        size_t capacity = c->in_len + RK_HTTP_READ_CHUNK;
        uint8_t *grown = realloc(c->in, capacity);
        if (grown == NULL) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->in = grown;
        c->in_capacity = capacity;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_capacity - c->in_len));
}

static void http_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    rk_http_conn *c = stream->data;
    (void)buf;
    if (nread < 0) {
        http_conn_close(c, nread == UV_EOF ? "end of stream" : uv_strerror((int)nread));
        return;
    }
    c->in_len += (size_t)nread;
    c->last_active_ms = uv_now(c->server->loop);
    http_conn_process_input(c);
}

/* After each loop turn's I/O: connections paused for back-pressure or behind a barrier read
 * again once they may. */
static void http_on_check(uv_check_t *h)
{
    rk_http_server *hs = h->data;
    for (rk_http_conn *c = hs->conns; c != NULL; c = c->next) {
        if (c->paused && !c->closed) {
            http_conn_resume(c);
        }
    }
}

/* Once a second: close connections idle past `timeout` (config idle_timeout_s, as RESP
 * clients); one waiting on the node is not idle. */
static void http_on_cron(uv_timer_t *h)
{
    rk_http_server *hs = h->data;
    uint64_t idle_ms = (uint64_t)hs->server->config->idle_timeout_s * 1000u;
    uint64_t now_ms = uv_now(hs->loop);
    rk_http_conn *c = hs->conns;
    while (c != NULL) {
        rk_http_conn *next = c->next;
        if (idle_ms > 0 && !c->closed && c->head == NULL && !c->writing &&
            now_ms - c->last_active_ms > idle_ms) {
            http_conn_close(c, "idle timeout");
        }
        c = next;
    }
}

static void http_on_connection(uv_stream_t *listener, int status)
{
    rk_http_server *hs = listener->data;
    if (status < 0) {
        rk_log_warn("http accept failed: %s", uv_strerror(status));
        return;
    }
    rk_http_conn *c = NULL;
    if (!hs->stopping && hs->conn_count < hs->server->config->max_clients) {
        c = calloc(1, sizeof(*c));
    }
    uv_tcp_t *handle = c != NULL ? &c->handle : malloc(sizeof(uv_tcp_t));
    if (handle == NULL) {
        return;
    }
    uv_tcp_init(hs->loop, handle);
    if (uv_accept(listener, (uv_stream_t *)handle) != 0 || c == NULL) {
        uv_close((uv_handle_t *)handle, (uv_close_cb)free);     /* refused: over max-clients */
        return;
    }
    uv_tcp_nodelay(handle, 1);
    c->server = hs;
    c->handle.data = c;
    c->id = ++hs->next_conn_id;
    c->last_active_ms = uv_now(hs->loop);
    rk_http_parser_init(&c->parser, hs->server->config->max_value_bytes);
    rk_resp_out_init(&c->out, 2);
    rk_resp_out_init(&c->wout, 2);
    c->next = hs->conns;
    if (hs->conns != NULL) {
        hs->conns->prev = c;
    }
    hs->conns = c;
    hs->conn_count++;
    uv_read_start((uv_stream_t *)&c->handle, http_on_alloc, http_on_read);
    c->reading = true;
}

int rk_http_server_start(rk_http_server *hs, rk_server *server, char *err, size_t err_len)
{
    memset(hs, 0, sizeof(*hs));
    hs->server = server;
    hs->loop = server->loop;
    const rk_config *config = server->config;
    if (config->http_port == 0) {
        return 0;
    }
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(config->bind, config->http_port, (struct sockaddr_in *)&addr);
    if (rc != 0) {
        rc = uv_ip6_addr(config->bind, config->http_port, (struct sockaddr_in6 *)&addr);
    }
    if (rc != 0) {
        snprintf(err, err_len, "bind = \"%s\": not an IPv4 or IPv6 address", config->bind);
        return RK_EINVAL;
    }
    uv_tcp_init(hs->loop, &hs->listener);
    hs->listener.data = hs;
    rc = uv_tcp_bind(&hs->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&hs->listener, 511, http_on_connection);
    }
    if (rc != 0) {
        snprintf(err, err_len, "cannot listen on %s:%u (http-port): %s", config->bind,
                 config->http_port, uv_strerror(rc));
        uv_close((uv_handle_t *)&hs->listener, NULL);
        return RK_EIO;
    }
    uv_check_init(hs->loop, &hs->resume_check);
    hs->resume_check.data = hs;
    uv_check_start(&hs->resume_check, http_on_check);
    uv_timer_init(hs->loop, &hs->cron);
    hs->cron.data = hs;
    uv_timer_start(&hs->cron, http_on_cron, 1000, 1000);
    hs->started = true;
    rk_log_info("HTTP API on %s:%u", config->bind, config->http_port);
    return 0;
}

void rk_http_server_stop_accepting(rk_http_server *hs)
{
    if (!hs->started || hs->stopping) {
        return;
    }
    hs->stopping = true;
    uv_close((uv_handle_t *)&hs->listener, NULL);
    for (rk_http_conn *c = hs->conns; c != NULL; c = c->next) {
        http_conn_pause(c);
    }
}

bool rk_http_server_drained(const rk_http_server *hs)
{
    for (const rk_http_conn *c = hs->conns; c != NULL; c = c->next) {
        if (!c->closed && (c->head != NULL || c->out.len > 0 || c->writing)) {
            return false;
        }
    }
    return true;
}

void rk_http_server_close(rk_http_server *hs)
{
    if (!hs->started) {
        return;
    }
    rk_http_conn *c = hs->conns;
    while (c != NULL) {
        rk_http_conn *next = c->next;
        http_conn_close(c, "server shutting down");
        c = next;
    }
    if (!hs->stopping) {
        uv_close((uv_handle_t *)&hs->listener, NULL);
    }
    uv_close((uv_handle_t *)&hs->resume_check, NULL);
    uv_close((uv_handle_t *)&hs->cron, NULL);
    hs->started = false;
}
