/* server.c — clients, their input, their ordered output, and back-pressure (see server.h). */
#include "server.h"
#include "addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bucket.h"
#include "commands.h"
#include "log.h"

uint64_t rk_server_now_ms(const rk_server *s)
{
    return uv_now(s->loop);
}

/* ---- request table ---------------------------------------------------------------------- */

static int server_requests_grow(rk_server *s)
{
    uint32_t capacity = s->request_capacity == 0 ? 1024u : s->request_capacity * 2u;
    if (capacity > RK_SERVER_REQUESTS_MAX) {
        return RK_EBUSY;
    }
    server_request *requests = realloc(s->requests, capacity * sizeof(*requests));
    if (requests == NULL) {
        return RK_ENOMEM;
    }
    uint32_t *free_list = realloc(s->request_free, capacity * sizeof(*free_list));
    if (free_list == NULL) {
        s->requests = requests;
        return RK_ENOMEM;
    }
    memset(requests + s->request_capacity, 0,
           (capacity - s->request_capacity) * sizeof(*requests));
    for (uint32_t i = capacity; i > s->request_capacity; i--) {
        free_list[s->request_free_count++] = i - 1u;
    }
    s->requests = requests;
    s->request_free = free_list;
    s->request_capacity = capacity;
    return 0;
}

int rk_server_request_take(rk_server *s, rk_cmd *cmd, uint32_t sub_index, uint64_t *id_out)
{
    if (s->request_free_count == 0) {
        int rc = server_requests_grow(s);
        if (rc != 0) {
            return rc;
        }
    }
    uint32_t index = s->request_free[--s->request_free_count];
    server_request *r = &s->requests[index];
    RK_ASSERT(r->cmd == NULL);
    r->cmd = cmd;
    r->sub_index = sub_index;
    r->generation++;
    r->start_ns = uv_hrtime();
    r->op = RK_SERVER_OP_OTHER;     /* rk_server_node_request names it */
    *id_out = ((uint64_t)r->generation << 32) | index;
    return 0;
}

/* ---- commands --------------------------------------------------------------------------- */

static void server_cmd_free(rk_cmd *cmd)
{
    if (cmd->values != NULL) {
        for (uint32_t i = 0; i < cmd->sub_count; i++) {
            rk_store_buf_free(&cmd->values[i]);
        }
        free(cmd->values);
    }
    if (cmd->element_errors != NULL) {
        for (uint32_t i = 0; i < cmd->sub_count; i++) {
            free(cmd->element_errors[i]);
        }
        free(cmd->element_errors);
    }
    free(cmd->error_message);
    rk_resp_out_deinit(&cmd->out);
    free(cmd);
}

static void server_on_idle(uv_idle_t *h)
{
    (void)h;    /* its being active is the point: the loop turns without blocking */
}

static void server_mark_dirty(rk_client *c)
{
    if (!c->dirty) {
        if (c->server->dirty == NULL) {
            uv_idle_start(&c->server->flush_idle, server_on_idle);
        }
        c->dirty = true;
        c->dirty_next = c->server->dirty;
        c->server->dirty = c;
    }
}

/* Move the replies of completed commands at the head of the queue to the output buffer. */
static void server_client_collect(rk_client *c)
{
    while (c->cmd_head != NULL && c->cmd_head->waiting == 0 &&
           c->cmd_head->combine == RK_CMD_DONE) {
        rk_cmd *cmd = c->cmd_head;
        c->cmd_head = cmd->next;
        if (c->cmd_head == NULL) {
            c->cmd_tail = NULL;
        }
        c->cmd_count--;
        if (!c->replies_over && !c->closed) {
            if (c->out.len == 0 && !cmd->out.oom) {
                /* swap buffers instead of copying: the common single-command case */
                rk_resp_out tmp = c->out;
                c->out = cmd->out;
                c->out.proto = c->proto;
                cmd->out = tmp;
            } else {
                rk_resp_out_append_raw(&c->out, cmd->out.data, cmd->out.len);
            }
            if (cmd->close_after) {
                c->replies_over = true;     /* QUIT or a protocol error: nothing after it */
                c->closing = true;
            }
        }
        server_cmd_free(cmd);
    }
}

/* Encode the combined reply of a multi-key command once every sub-reply is in. */
static void server_cmd_encode(rk_cmd *cmd)
{
    if (cmd->error != 0) {
        rk_commands_error(&cmd->out, cmd->error, cmd->error_message);
    } else if (cmd->combine == RK_CMD_SUM) {
        rk_resp_integer(&cmd->out, cmd->sum);
    } else if (cmd->combine == RK_CMD_ARRAY) {
        rk_resp_array(&cmd->out, cmd->sub_count);
        for (uint32_t i = 0; i < cmd->sub_count; i++) {
            if (cmd->element_errors != NULL && cmd->element_errors[i] != NULL) {
                rk_resp_error(&cmd->out, cmd->element_errors[i]);
            } else if (cmd->values[i].data == NULL) {
                rk_resp_null(&cmd->out);
            } else {
                rk_resp_bulk(&cmd->out, cmd->values[i].data, cmd->values[i].len);
            }
        }
    }
}

static void server_cmd_record_error(rk_cmd *cmd, const rk_reply *r)
{
    if (cmd->error != 0) {
        return;
    }
    cmd->error = r->error != 0 ? r->error : RK_EIO;
    cmd->error_message = strdup(r->message != NULL ? r->message : rk_strerror(cmd->error));
}

static void server_cmd_array_error(rk_cmd *cmd, uint32_t sub_index, const rk_reply *r)
{
    if (cmd->element_errors == NULL) {
        cmd->element_errors = calloc(cmd->sub_count, sizeof(*cmd->element_errors));
    }
    if (cmd->element_errors == NULL) {
        server_cmd_record_error(cmd, r);
        return;
    }
    rk_resp_out line;
    rk_resp_out_init(&line, 2);
    rk_commands_error(&line, r->error, r->message);
    /* Kept as text without the '-' and CRLF framing; re-encoded in order later. */
    cmd->element_errors[sub_index] = strndup((const char *)line.data + 1, line.len - 3);
    rk_resp_out_deinit(&line);
}

static void server_cmd_take_sub_reply(rk_cmd *cmd, uint32_t sub_index, const rk_reply *r)
{
    RK_ASSERT(cmd->waiting > 0);
    RK_ASSERT(sub_index < cmd->sub_count);
    if (cmd->on_reply != NULL) {
        cmd->on_reply(cmd->on_reply_ctx, sub_index, r);
    } else if (cmd->combine == RK_CMD_SINGLE) {
        rk_server_encode_reply(&cmd->out, r);
    } else if (r->kind == RK_REPLY_ERROR && cmd->combine == RK_CMD_ARRAY &&
               r->error == RK_ECONFLICT) {
        /* MGET: a conflicted key is that element's error, the others still answer. */
        server_cmd_array_error(cmd, sub_index, r);
    } else if (r->kind == RK_REPLY_ERROR && cmd->combine == RK_CMD_ARRAY &&
               r->error == RK_EWRONGTYPE) {
        /* MGET: a key of another type (a set) answers nil, as in Redis. */
    } else if (r->kind == RK_REPLY_ERROR) {
        server_cmd_record_error(cmd, r);
    } else if (cmd->combine == RK_CMD_SUM) {
        cmd->sum += r->kind == RK_REPLY_INT ? r->integer : 0;
    } else if (cmd->combine == RK_CMD_ARRAY && r->kind == RK_REPLY_VALUE) {
        rk_buf *v = &cmd->values[sub_index];
        v->data = malloc(r->value_len > 0 ? r->value_len : 1);
        if (v->data == NULL) {
            rk_reply oom = {.kind = RK_REPLY_ERROR, .error = RK_ENOMEM, .message = "out of memory"};
            server_cmd_record_error(cmd, &oom);
        } else {
            memcpy(v->data, r->value, r->value_len);
            v->len = r->value_len;
        }
    }
    cmd->waiting--;
}

void rk_server_cmd_complete(rk_server *s, rk_cmd *cmd)
{
    RK_ASSERT(cmd->waiting == 0);
    if (cmd->combine != RK_CMD_SINGLE && cmd->combine != RK_CMD_DONE) {
        server_cmd_encode(cmd);
    }
    cmd->combine = RK_CMD_DONE;
    uint64_t elapsed_us = (uv_hrtime() - cmd->start_ns) / 1000u;
    rk_latency_record(&s->stats.latency[cmd->latency_class], elapsed_us);
    if (cmd->client == NULL) {
        server_cmd_free(cmd);      /* its client is gone */
        return;
    }
    rk_client *c = cmd->client;
    if (cmd->barrier) {
        /* The pipeline behind it may go on: the dirty pass resumes parsing (never from here,
         * which may run inside the parse loop). */
        cmd->barrier = false;
        RK_ASSERT(c->barriers > 0);
        c->barriers--;
        server_mark_dirty(c);
    }
    if (c->cmd_head == cmd) {
        server_client_collect(c);
        server_mark_dirty(c);
    }
}

rk_cmd *rk_server_cmd_new_detached(rk_latency_class latency_class, rk_cmd_on_reply on_reply,
                                   void *ctx)
{
    rk_cmd *cmd = calloc(1, sizeof(*cmd));
    if (cmd == NULL) {
        return NULL;
    }
    cmd->latency_class = latency_class;
    cmd->start_ns = uv_hrtime();
    cmd->on_reply = on_reply;
    cmd->on_reply_ctx = ctx;
    rk_resp_out_init(&cmd->out, 2);
    return cmd;
}

void rk_server_cmd_barrier(rk_cmd *cmd)
{
    RK_ASSERT(!cmd->barrier);
    RK_ASSERT(cmd->client != NULL);
    cmd->barrier = true;
    cmd->client->barriers++;
}

bool rk_server_key_merge_typed(const rk_server *s, const uint8_t *key, size_t key_len)
{
    const rk_bucket_props *props = rk_bucket_lookup(rk_node_buckets(s->node), key, key_len);
    return RK_POLICY_IS_MERGE_TYPE(props->policy);
}

/* Count one answered request (server.h: requests, request_latency). */
static void server_request_count(rk_server *s, rk_server_op op, uint64_t start_ns,
                                 const rk_reply *r)
{
    RK_ASSERT(op < RK_SERVER_OP_COUNT);
    rk_server_outcome outcome = rk_server_outcome_of(r);
    RK_ASSERT(outcome < RK_SERVER_OUTCOME_COUNT);
    s->stats.requests[op][outcome]++;
    rk_latency_record(&s->stats.request_latency[op], (uv_hrtime() - start_ns) / 1000u);
}

void rk_server_on_reply(rk_server *s, uint64_t client_req, const rk_reply *r)
{
    uint32_t index = (uint32_t)client_req;
    uint32_t generation = (uint32_t)(client_req >> 32);
    RK_ASSERT(index < s->request_capacity);
    server_request *req = &s->requests[index];
    RK_ASSERT(req->generation == generation);
    RK_ASSERT(req->cmd != NULL);
    rk_cmd *cmd = req->cmd;
    uint32_t sub_index = req->sub_index;
    req->cmd = NULL;
    s->request_free[s->request_free_count++] = index;
    server_request_count(s, req->op, req->start_ns, r);

    server_cmd_take_sub_reply(cmd, sub_index, r);
    if (cmd->waiting == 0) {
        rk_server_cmd_complete(s, cmd);
    }
}

void rk_server_node_request(rk_server *s, rk_cmd *cmd, uint32_t sub_index, const rk_request *r)
{
    uint64_t id = 0;
    rk_server_op op = rk_server_op_of(r);
    int rc = rk_server_request_take(s, cmd, sub_index, &id);
    if (rc != 0) {
        rk_reply busy = {.kind = RK_REPLY_ERROR, .error = rc, .message = "too many requests"};
        server_request_count(s, op, uv_hrtime(), &busy);    /* answered here, not by the node */
        server_cmd_take_sub_reply(cmd, sub_index, &busy);
        if (cmd->waiting == 0) {
            rk_server_cmd_complete(s, cmd);
        }
        return;
    }
    s->requests[(uint32_t)id].op = op;
    rk_node_on_request(s->node, id, r);
}

/* ---- client lifecycle ------------------------------------------------------------------- */

static void server_client_on_close(uv_handle_t *h)
{
    rk_client *c = h->data;
    rk_server *s = c->server;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->clients = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->client_count--;
    rk_resp_parser_deinit(&c->parser);
    rk_resp_out_deinit(&c->out);
    rk_resp_out_deinit(&c->wout);
    free(c->in);
    free(c);
}

/* Close now: commands still waiting on the node are orphaned and freed when they complete. */
static void server_client_close(rk_client *c, const char *why)
{
    if (c->closed) {
        return;
    }
    rk_log_debug("client %llu %s closed: %s", (unsigned long long)c->id, c->addr, why);
    c->closed = true;
    c->closing = true;
    rk_cmd *cmd = c->cmd_head;
    while (cmd != NULL) {
        rk_cmd *next = cmd->next;
        if (cmd->waiting > 0) {
            cmd->client = NULL;
        } else {
            server_cmd_free(cmd);
        }
        cmd = next;
    }
    c->cmd_head = NULL;
    c->cmd_tail = NULL;
    c->cmd_count = 0;
    uv_close((uv_handle_t *)&c->handle, server_client_on_close);
}

static void server_client_pause(rk_client *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->handle);
        c->reading = false;
        c->server->stats.backpressure_pauses++;
    }
}

static bool server_client_may_read(const rk_client *c)
{
    const rk_server *s = c->server;
    if (c->closing || s->stopping || rk_node_is_busy(s->node)) {
        return false;
    }
    if (c->cmd_count >= RK_CLIENT_PIPELINE_MAX || c->barriers > 0) {
        return false;
    }
    /* Replies already owed (being written and waiting) bound what we parse next, so a
     * client that pipelines big reads without reading them costs at most this much. */
    size_t owed = c->out.len + (c->writing ? c->wout.len : 0);
    return owed < RK_CLIENT_OUTPUT_SOFT_BYTES;
}

static void server_client_process_input(rk_client *c);
static void server_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void server_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void server_client_resume(rk_client *c)
{
    if (c->reading || c->closed || !server_client_may_read(c)) {
        return;
    }
    /* Input that arrived before the pause is parsed first. */
    server_client_process_input(c);
    if (!c->closed && server_client_may_read(c)) {
        uv_read_start((uv_stream_t *)&c->handle, server_on_alloc, server_on_read);
        c->reading = true;
    }
}

/* A protocol error: answer it after the replies already owed, then close. */
static void server_client_protocol_error(rk_client *c, const char *message)
{
    rk_server *s = c->server;
    s->stats.protocol_errors++;
    rk_log_info("client %llu %s: %s; closing it", (unsigned long long)c->id, c->addr, message);
    rk_cmd *cmd = rk_commands_new_cmd(c);
    if (cmd == NULL) {
        server_client_close(c, "out of memory");
        return;
    }
    rk_resp_errorf(&cmd->out, "ERR %s", message);
    cmd->close_after = true;
    rk_server_cmd_complete(s, cmd);
    c->closing = true;
    server_client_pause(c);
}

static void server_client_process_input(rk_client *c)
{
    rk_server *s = c->server;
    while (!c->closing && c->in_start < c->in_len) {
        if (!server_client_may_read(c)) {
            server_client_pause(c);
            break;
        }
        rk_resp_cmd parsed;
        size_t consumed = 0;
        int rc = rk_resp_parse(&c->parser, c->in + c->in_start, c->in_len - c->in_start, &parsed,
                               &consumed);
        if (rc == 0) {
            break;
        }
        if (rc < 0) {
            server_client_protocol_error(c, c->parser.error);
            break;
        }
        s->stats.commands_processed++;
        rk_commands_dispatch(s, c, &parsed);
        c->in_start += consumed;
    }
    if (c->in_start == c->in_len) {
        c->in_start = 0;
        c->in_len = 0;
    }
    if (c->cmd_head != NULL || c->out.len > 0) {
        server_mark_dirty(c);
    }
}

static void server_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    rk_client *c = h->data;
    (void)suggested;
    if (c->in_capacity - c->in_len < RK_CLIENT_READ_CHUNK && c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
        c->in_len -= c->in_start;
        c->in_start = 0;
    }
    if (c->in_capacity - c->in_len < RK_CLIENT_READ_CHUNK) {
        size_t capacity = c->in_capacity == 0 ? RK_CLIENT_READ_CHUNK : c->in_capacity * 2;
        while (capacity - c->in_len < RK_CLIENT_READ_CHUNK) {
            capacity *= 2;
        }
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

static void server_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    rk_client *c = stream->data;
    rk_server *s = c->server;
    (void)buf;
    if (nread < 0) {
        server_client_close(c, nread == UV_EOF ? "end of stream" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0) {
        return;
    }
    s->stats.bytes_in += (uint64_t)nread;
    c->in_len += (size_t)nread;
    c->last_active_ms = rk_server_now_ms(s);
    if (c->in_len - c->in_start > s->config->client_query_buffer_bytes) {
        s->stats.clients_closed_input++;
        rk_log_warn("client %llu %s: %zu bytes unparsed; client-query-buffer-limit is %llu; "
                    "closing it",
                    (unsigned long long)c->id, c->addr, c->in_len - c->in_start,
                    (unsigned long long)s->config->client_query_buffer_bytes);
        server_client_close(c, "query buffer limit");
        return;
    }
    server_client_process_input(c);
}

/* ---- output ----------------------------------------------------------------------------- */

static void server_client_flush(rk_client *c);

static void server_on_write(uv_write_t *req, int status)
{
    rk_client *c = req->data;
    c->writing = false;
    c->server->stats.bytes_out += c->wout.len;
    rk_resp_out_reset(&c->wout);
    if (status < 0 || c->closed) {
        server_client_close(c, status < 0 ? uv_strerror(status) : "closed");
        return;
    }
    server_client_flush(c);
    server_client_resume(c);
}

static void server_client_flush(rk_client *c)
{
    rk_server *s = c->server;
    if (c->closed || c->writing) {
        return;
    }
    if (c->out.oom) {
        server_client_close(c, "out of memory for output");
        return;
    }
    if (c->out.len > s->config->client_output_buffer_bytes) {
        s->stats.clients_closed_output++;
        rk_log_warn("client %llu %s: %zu bytes of output; client-output-buffer-limit is %llu; "
                    "closing it",
                    (unsigned long long)c->id, c->addr, c->out.len,
                    (unsigned long long)s->config->client_output_buffer_bytes);
        server_client_close(c, "output buffer limit");
        return;
    }
    if (c->out.len == 0) {
        if (c->closing && c->cmd_head == NULL) {
            server_client_close(c, "done");
        }
        return;
    }
    /* Most replies fit the socket buffer: write them now. A uv_write that completes costs
     * libuv an epoll_ctl on the next loop turn (it re-arms the watcher it never needed), one
     * syscall per reply that Redis does not make; uv_write is only for what is left. */
    uv_buf_t buf = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
    int written = uv_try_write((uv_stream_t *)&c->handle, &buf, 1);
    if (written == (int)c->out.len) {
        s->stats.bytes_out += c->out.len;
        rk_resp_out_reset(&c->out);
        if (c->closing && c->cmd_head == NULL) {
            server_client_close(c, "done");
        }
        return;
    }
    if (written < 0 && written != UV_EAGAIN) {
        server_client_close(c, uv_strerror(written));
        return;
    }
    size_t done = written > 0 ? (size_t)written : 0;
    rk_resp_out tmp = c->wout;
    c->wout = c->out;
    c->out = tmp;
    c->out.proto = c->proto;
    buf = uv_buf_init((char *)c->wout.data + done, (unsigned)(c->wout.len - done));
    c->write_req.data = c;
    c->writing = true;
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->handle, &buf, 1, server_on_write);
    if (rc != 0) {
        c->writing = false;
        server_client_close(c, uv_strerror(rc));
    }
}

/* After every loop turn's I/O: complete what may complete, then write what is ready. One
 * write per client per turn, however many replies it carries. */
static void server_on_check(uv_check_t *h)
{
    rk_server *s = h->data;
    rk_runtime_poll(s->runtime);
    bool busy = rk_node_is_busy(s->node);
    if (s->node_was_busy && !busy) {
        for (rk_client *c = s->clients; c != NULL; c = c->next) {
            server_mark_dirty(c);
        }
    }
    s->node_was_busy = busy;
    while (s->dirty != NULL) {
        rk_client *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        server_client_flush(c);
        server_client_resume(c);
    }
    uv_idle_stop(&s->flush_idle);
}

void rk_server_after_node_event(rk_server *s)
{
    /* Replies were queued on dirty clients; the check handle writes them this turn. */
    (void)s;
}

/* ---- listener, cron, lifecycle ---------------------------------------------------------- */

static void server_reject(rk_server *s)
{
    uv_tcp_t *tmp = malloc(sizeof(*tmp));
    if (tmp == NULL) {
        return;
    }
    uv_tcp_init(s->loop, tmp);
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)tmp) == 0) {
        static const char msg[] = "-ERR max number of clients reached\r\n";
        uv_buf_t buf = uv_buf_init((char *)msg, sizeof(msg) - 1);
        uv_try_write((uv_stream_t *)tmp, &buf, 1);
    }
    uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
}

static void server_client_describe(rk_client *c)
{
    rk_addr_peer_name(&c->handle, c->addr, sizeof(c->addr));
}

static void server_on_connection(uv_stream_t *listener, int status)
{
    rk_server *s = listener->data;
    if (status < 0) {
        rk_log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    if (s->stopping || s->client_count >= s->config->max_clients) {
        s->stats.connections_rejected++;
        server_reject(s);
        return;
    }
    rk_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        s->stats.connections_rejected++;
        server_reject(s);
        return;
    }
    c->server = s;
    c->proto = 2;
    c->handle.data = c;
    uv_tcp_init(s->loop, &c->handle);
    if (uv_accept(listener, (uv_stream_t *)&c->handle) != 0) {
        uv_close((uv_handle_t *)&c->handle, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(&c->handle, 1);
    c->id = ++s->next_client_id;
    c->created_ms = rk_server_now_ms(s);
    c->last_active_ms = c->created_ms;
    rk_resp_parser_init(&c->parser, &s->limits);
    rk_resp_out_init(&c->out, 2);
    rk_resp_out_init(&c->wout, 2);
    server_client_describe(c);
    c->next = s->clients;
    if (s->clients != NULL) {
        s->clients->prev = c;
    }
    s->clients = c;
    s->client_count++;
    s->stats.connections_received++;
    uv_read_start((uv_stream_t *)&c->handle, server_on_alloc, server_on_read);
    c->reading = true;
}

/* Once a second: close idle clients (Redis's `timeout`). A client with commands in flight is
 * waiting on us, not idle. */
static void server_on_cron(uv_timer_t *h)
{
    rk_server *s = h->data;
    uint64_t damaged = rk_node_stats_get(s->node)->aae_damaged_objects;
    if (damaged != s->damaged_logged) {
        rk_log_warn("%llu stored objects failed their checksum so far: each reads as missing "
                    "and is repaired from the other replicas (INFO aae)",
                    (unsigned long long)damaged);
        s->damaged_logged = damaged;
    }
    uint32_t idle_s = s->config->idle_timeout_s;
    if (idle_s == 0) {
        return;
    }
    uint64_t now_ms = rk_server_now_ms(s);
    rk_client *c = s->clients;
    while (c != NULL) {
        rk_client *next = c->next;
        if (!c->closed && c->cmd_head == NULL && !c->writing &&
            now_ms - c->last_active_ms > (uint64_t)idle_s * 1000u) {
            s->stats.clients_closed_idle++;
            server_client_close(c, "idle timeout");
        }
        c = next;
    }
}

int rk_server_start(rk_server *s, uv_loop_t *loop, const rk_config *config, rk_runtime *rt,
                    rk_node *node, rk_store *store, char *err, size_t err_len)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->config = config;
    s->runtime = rt;
    s->node = node;
    s->store = store;
    s->start_ms = uv_now(loop);
    s->limits.multibulk_max = config->max_multibulk;
    s->limits.bulk_bytes_max = config->max_bulk_bytes;
    s->port = config->port;

    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(config->bind, config->port, (struct sockaddr_in *)&addr);
    if (rc != 0) {
        rc = uv_ip6_addr(config->bind, config->port, (struct sockaddr_in6 *)&addr);
    }
    if (rc != 0) {
        snprintf(err, err_len, "bind = \"%s\": not an IPv4 or IPv6 address", config->bind);
        return RK_EINVAL;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&s->listener, 511, server_on_connection);
    }
    if (rc != 0) {
        snprintf(err, err_len, "cannot listen on %s:%u: %s", config->bind, config->port,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)&s->listener, NULL);
        return RK_EIO;
    }
    uv_check_init(loop, &s->flush_check);
    s->flush_check.data = s;
    uv_check_start(&s->flush_check, server_on_check);
    uv_idle_init(loop, &s->flush_idle);
    uv_timer_init(loop, &s->cron);
    s->cron.data = s;
    uv_timer_start(&s->cron, server_on_cron, 1000, 1000);
    return 0;
}

void rk_server_stop_accepting(rk_server *s)
{
    if (s->stopping) {
        return;
    }
    s->stopping = true;
    uv_close((uv_handle_t *)&s->listener, NULL);
    for (rk_client *c = s->clients; c != NULL; c = c->next) {
        server_client_pause(c);
    }
}

bool rk_server_drained(const rk_server *s)
{
    if (rk_runtime_sync_busy(s->runtime)) {
        return false;
    }
    for (const rk_client *c = s->clients; c != NULL; c = c->next) {
        if (!c->closed && (c->cmd_head != NULL || c->out.len > 0 || c->writing)) {
            return false;
        }
    }
    return true;
}

void rk_server_close(rk_server *s)
{
    rk_client *c = s->clients;
    while (c != NULL) {
        rk_client *next = c->next;
        server_client_close(c, "server shutting down");
        c = next;
    }
    uv_close((uv_handle_t *)&s->flush_check, NULL);
    uv_close((uv_handle_t *)&s->flush_idle, NULL);
    uv_close((uv_handle_t *)&s->cron, NULL);
}

void rk_server_deinit(rk_server *s)
{
    free(s->requests);
    free(s->request_free);
    s->requests = NULL;
    s->request_free = NULL;
}
