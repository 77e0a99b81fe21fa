/* http_api.c — what the HTTP API's paths mean (docs/protocol.md, "HTTP"). Each request becomes
 * the node request its RESP twin makes (RK.GET, RK.PUT, RK.DEL, RK.BUCKET, SMEMBERS, SADD,
 * SREM) through the server's request table, and the node's reply becomes a status, the
 * X-RingKV-Context header and a body. Errors carry RESP's text; statuses map its codes.
 *
 *   /ping                         GET            200 "OK"
 *   /metrics                      GET            Prometheus text (rk_prom_render)
 *   /buckets/B/keys/K, /keys/K    GET PUT DELETE the key "B:K" or "K"
 *   /buckets/B/props              GET PUT        bucket properties as JSON
 *   /buckets/B/datatypes/K        GET POST PUT   by the bucket's policy: a set
 *                                                {"type":"set","value":[...]}, a counter
 *                                                {"type":"counter","value":N}, a map
 *                                                {"type":"map","value":{"field":"value",...}}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bucket.h"
#include "../core/elems.h"
#include "commands.h"
#include "http_api_parts.h"
#include "http_server.h"
#include "prom.h"

#define HTTP_PROP_CHARS 16u

static const rk_http_header http_plain = {"Content-Type", "text/plain"};

/* ---- answering ------------------------------------------------------------------------ */

void rk_http_api_answer(rk_http_pending *p, int status, const rk_http_header *headers,
                        size_t count, const void *body, size_t body_len)
{
    if (status == 400) {
        p->keep_alive = false;      /* a malformed request: answer it, then close */
    }
    rk_http_respond(&p->out, status, headers, count, body, body_len, p->keep_alive);
    rk_http_server_pending_done(p);
}

void rk_http_api_text(rk_http_pending *p, int status, const char *text)
{
    rk_http_api_answer(p, status, &http_plain, 1, text, strlen(text));
}

/* RESP's error text for code (without '-' and CRLF), and the status it maps to. */
void rk_http_api_error(rk_http_pending *p, int code, const char *message)
{
    rk_resp_out line;
    rk_resp_out_init(&line, 2);
    rk_commands_error(&line, code, message);
    int status = 500;
    if (code == RK_EUNAVAIL || code == RK_EBUSY || code == RK_ENOMEM) {
        status = 503;
    } else if (code == RK_ETIMEDOUT) {
        status = 504;
    } else if (code == RK_ETOOBIG) {
        status = message != NULL && strncmp(message, "key", 3) == 0 ? 414 : 413;
    } else if (code == RK_EINVAL) {
        status = 400;
    } else if (code == RK_ECONFLICT || code == RK_EWRONGTYPE) {
        status = 409;
    }
    size_t len = line.len >= 3 ? line.len - 3 : 0;
    rk_http_api_answer(p, status, &http_plain, 1, line.len >= 3 ? line.data + 1 : line.data, len);
    rk_resp_out_deinit(&line);
}

static void http_answer_versions(rk_http_pending *p, const rk_reply *r)
{
    rk_http_header h[2] = {{"X-RingKV-Context", r->context}, {"Content-Type", NULL}};
    if (r->value_count == 0) {
        h[1] = http_plain;
        rk_http_api_answer(p, 404, h, 2, "not found", 9);
        return;
    }
    if (r->value_count == 1) {
        h[1].value = "application/octet-stream";
        rk_http_api_answer(p, 200, h, 2, r->values[0], r->value_lens[0]);
        return;
    }
    rk_resp_out body;
    rk_resp_out_init(&body, 2);
    char content_type[64 + RK_HTTP_BOUNDARY_BYTES];
    if (p->accept_json) {
        rk_http_json_siblings(&body, r->context, r->values, r->value_lens, r->value_count);
        h[1].value = "application/json";
    } else {
        char boundary[RK_HTTP_BOUNDARY_BYTES + 1];
        rk_http_multipart_boundary(r->values, r->value_lens, r->value_count, 0, boundary);
        rk_http_multipart(&body, boundary, r->values, r->value_lens, r->value_count);
        snprintf(content_type, sizeof(content_type), "multipart/mixed; boundary=%s", boundary);
        h[1].value = content_type;
    }
    if (body.oom) {
        rk_http_api_error(p, RK_ENOMEM, "out of memory");
    } else {
        rk_http_api_answer(p, 300, h, 2, body.data, body.len);
    }
    rk_resp_out_deinit(&body);
}






/* The node's reply to the request of p's route. */
static void http_on_reply(void *ctx, uint32_t sub_index, const rk_reply *r)
{
    rk_http_pending *p = ctx;
    (void)sub_index;
    p->cmd = NULL;      /* freed by the server once this returns */
    if (r->kind == RK_REPLY_ERROR) {
        rk_http_api_error(p, r->error, r->message);
        return;
    }
    if (rk_http_datatype_on_reply(p, r)) {
        return;
    }
    switch (p->route) {
    case HTTP_ROUTE_KEY_GET:
        if (r->kind == RK_REPLY_VERSIONS) {
            http_answer_versions(p, r);
            return;
        }
        break;
    case HTTP_ROUTE_KEY_WRITE:
        if (r->kind == RK_REPLY_WRITTEN) {
            rk_http_header h = {"X-RingKV-Context", r->context != NULL ? r->context : ""};
            rk_http_api_answer(p, 204, &h, 1, NULL, 0);
            return;
        }
        break;
    case HTTP_ROUTE_PROPS_PUT:
        rk_http_api_answer(p, 204, NULL, 0, NULL, 0);
        return;
    }
    rk_http_api_error(p, RK_EIO, "unexpected reply from the node");
}

/* Send one request to the node for p; its reply comes to http_on_reply. */
void rk_http_api_send(rk_http_server *hs, rk_http_pending *p, rk_latency_class latency,
                      const rk_request *r)
{
    rk_cmd *cmd = rk_server_cmd_new_detached(latency, http_on_reply, p);
    if (cmd == NULL) {
        rk_http_api_error(p, RK_ENOMEM, "out of memory");
        return;
    }
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    p->cmd = cmd;
    rk_server_node_request(hs->server, cmd, 0, r);    /* the node copies what it keeps */
}

void rk_http_api_pending_free(rk_http_pending *p)
{
    if (p->cmd != NULL) {
        p->cmd->on_reply = NULL;    /* the server frees it when the node answers */
        p->cmd = NULL;
    }
    if (p->barrier) {
        p->barrier = false;
        p->conn->barriers--;
    }
    free(p->key);
    free(p->remove_list);
    p->key = NULL;
    p->remove_list = NULL;
}

/* Open the body as a JSON reader; false when out of memory (then p is answered). */
bool rk_http_api_json_open(rk_http_pending *p, const rk_http_request *req, rk_json_reader *reader)
{
    if (rk_json_reader_init(reader, req->body, req->body_len) != 0) {
        rk_http_api_error(p, RK_ENOMEM, "out of memory");
        return false;
    }
    return true;
}

/* ---- parsing the request ------------------------------------------------------------- */


/* Split the path at '/' and percent-decode each segment (so "%2F" is a byte of a key, not a
 * separator); read ?r= and ?w=. 0, or an error text for a 400. */
static const char *http_target_parse(const rk_http_request *req, http_target *t)
{
    memset(t, 0, sizeof(*t));
    t->decoded = malloc(req->path_len + 1);
    if (t->decoded == NULL) {
        return "ERR out of memory";
    }
    size_t at = 1;      /* past the leading '/' */
    size_t out = 0;
    while (at <= req->path_len) {
        const char *slash = memchr(req->path + at, '/', req->path_len - at);
        size_t end = slash != NULL ? (size_t)(slash - req->path) : req->path_len;
        if (t->segment_count == HTTP_SEGMENTS_MAX) {
            return "ERR no such resource";
        }
        int64_t len = rk_http_percent_decode(req->path + at, end - at, t->decoded + out);
        if (len < 0) {
            return "ERR malformed percent-encoding in the path";
        }
        t->segments[t->segment_count] = t->decoded + out;
        t->segment_lens[t->segment_count++] = (size_t)len;
        out += (size_t)len;
        at = end + 1;
    }
    size_t q = 0;
    while (req->query != NULL && q < req->query_len) {
        const char *amp = memchr(req->query + q, '&', req->query_len - q);
        size_t end = amp != NULL ? (size_t)(amp - req->query) : req->query_len;
        char item[16] = "";
        if (end - q < sizeof(item)) {
            memcpy(item, req->query + q, end - q);
        }
        unsigned v = 0;
        char name = 0;
        int used = 0;
        if (sscanf(item, "%c=%u%n", &name, &v, &used) != 2 || item[used] != '\0' ||
            (name != 'r' && name != 'w') || v < 1 || v > RK_N_MAX) {
            return "ERR syntax: the query takes r=n and w=n with n 1 to 8";
        }
        *(name == 'r' ? &t->r : &t->w) = v;
        q = end + 1;
    }
    return NULL;
}

static bool http_seg_is(const http_target *t, uint32_t i, const char *word)
{
    size_t len = strlen(word);
    return i < t->segment_count && t->segment_lens[i] == len &&
           memcmp(t->segments[i], word, len) == 0;
}

/* The RESP key for /buckets/B/.../K or /keys/K into *key (owned). NULL, or a 400's text. */
static const char *http_key(const http_target *t, bool bucketed, uint8_t **key, size_t *len)
{
    const uint8_t *k = t->segments[bucketed ? 3 : 1];
    size_t k_len = t->segment_lens[bucketed ? 3 : 1];
    size_t b_len = bucketed ? t->segment_lens[1] : 0;
    if (bucketed && (b_len == 0 || memchr(t->segments[1], ':', b_len) != NULL)) {
        return "ERR a bucket name is not empty and has no ':'";
    }
    *len = bucketed ? b_len + 1 + k_len : k_len;
    *key = malloc(*len + 1);
    if (*key == NULL) {
        return "ERR out of memory";
    }
    if (bucketed) {
        memcpy(*key, t->segments[1], b_len);
        (*key)[b_len] = ':';
        memcpy(*key + b_len + 1, k, k_len);
    } else {
        memcpy(*key, k, k_len);
    }
    return NULL;
}

/* ---- routes --------------------------------------------------------------------------- */

void rk_http_api_not_allowed(rk_http_pending *p, const char *allow)
{
    rk_http_header h[2] = {http_plain, {"Allow", allow}};
    static const char text[] = "ERR method not allowed";
    rk_http_api_answer(p, 405, h, 2, text, sizeof(text) - 1);
}

static void http_route_key(rk_http_server *hs, rk_http_pending *p, const rk_http_request *req,
                           const http_target *t, const uint8_t *key, size_t key_len)
{
    rk_server *s = hs->server;
    rk_request r = {.key = key, .key_len = key_len, .r = t->r, .w = t->w};
    if (req->method == RK_HTTP_GET) {
        if (t->w != 0) {
            rk_http_api_text(p, 400, "ERR RK.GET takes R, not W");
            return;
        }
        s->stats.ops_get++;
        p->route = HTTP_ROUTE_KEY_GET;
        p->accept_json = req->accept_json && !req->accept_multipart;
        r.kind = RK_REQ_VGET;
        rk_http_api_send(hs, p, RK_LAT_READ, &r);
        return;
    }
    if (req->method != RK_HTTP_PUT && req->method != RK_HTTP_DELETE) {
        rk_http_api_not_allowed(p, "GET, PUT, DELETE");
        return;
    }
    if (t->r != 0) {
        rk_http_api_text(p, 400, "ERR writes take W, not R");
        return;
    }
    p->route = HTTP_ROUTE_KEY_WRITE;
    /* Without X-RingKV-Context a write is blind: the empty context, as RK.PUT k "" v. */
    r.context = req->context;
    r.context_len = req->context != NULL ? strlen(req->context) : 0;
    if (req->method == RK_HTTP_PUT) {
        s->stats.ops_put++;
        r.kind = RK_REQ_VPUT;
        r.value = req->body;
        r.value_len = req->body_len;
    } else {
        s->stats.ops_del++;
        r.kind = RK_REQ_VDEL;
    }
    rk_http_api_send(hs, p, RK_LAT_WRITE, &r);
}

static void http_props_get(rk_http_server *hs, rk_http_pending *p, const http_target *t)
{
    const rk_bucket_table *table = rk_node_buckets(hs->server->node);
    const rk_bucket_entry *e = rk_bucket_find(table, t->segments[1], t->segment_lens[1]);
    const rk_bucket_props *b = e != NULL ? &e->props : &table->defaults;
    char body[256];
    int len = snprintf(body, sizeof(body),
                       "{\"n\":%u,\"r\":%u,\"w\":%u,\"policy\":\"%s\",\"sloppy\":%s,"
                       "\"fallback_r\":%u,\"fallback_w\":%u}",
                       b->n, b->r, b->w, rk_bucket_policy_name(b->policy),
                       b->sloppy ? "true" : "false", b->fallback_r, b->fallback_w);
    static const rk_http_header json = {"Content-Type", "application/json"};
    rk_http_api_answer(p, 200, &json, 1, body, (size_t)len);
}

/* PUT /buckets/B/props {"n":3,"policy":"siblings",...}: RK.BUCKET SET B n 3 policy siblings. */
static void http_props_put(rk_http_server *hs, rk_http_pending *p, const rk_http_request *req,
                           const http_target *t)
{
    static const char *const known[] = {"n",      "r",          "w",         "policy",
                                        "sloppy", "fallback_r", "fallback_w"};
    enum { KNOWN = sizeof(known) / sizeof(known[0]) };
    char values[KNOWN][HTTP_PROP_CHARS];
    const char *names[KNOWN];
    const char *value_ptrs[KNOWN];
    uint32_t pairs = 0;
    rk_json_reader reader;
    rk_json_member m;
    if (!rk_http_api_json_open(p, req, &reader)) {
        return;
    }
    int rc = 0;
    while ((rc = rk_json_next(&reader, &m)) == 1) {
        uint32_t k = 0;
        while (k < KNOWN && !rk_json_name_is(&m, known[k])) {
            k++;
        }
        if (k == KNOWN || pairs == KNOWN) {
            rc = RK_EINVAL;
            break;
        }
        if (m.kind == RK_JSON_NUMBER) {
            snprintf(values[pairs], HTTP_PROP_CHARS, "%lld", (long long)m.number);
        } else if (m.kind == RK_JSON_BOOL) {
            snprintf(values[pairs], HTTP_PROP_CHARS, "%s", m.boolean ? "true" : "false");
        } else if (m.kind == RK_JSON_STRING && m.string_len < HTTP_PROP_CHARS) {
            memcpy(values[pairs], m.string, m.string_len);
            values[pairs][m.string_len] = '\0';
        } else {
            rc = RK_EINVAL;
            break;
        }
        names[pairs] = known[k];
        value_ptrs[pairs] = values[pairs];
        pairs++;
    }
    rk_json_reader_deinit(&reader);
    if (rc != 0 || pairs == 0) {
        rk_http_api_text(p, 400, "ERR syntax: expected a JSON object of n, r, w, policy, sloppy, "
                                 "fallback_r, fallback_w");
        return;
    }
    rk_cmd *cmd = rk_server_cmd_new_detached(RK_LAT_OTHER, http_on_reply, p);
    uint64_t id = 0;
    if (cmd == NULL) {
        rk_http_api_error(p, RK_ENOMEM, "out of memory");
        return;
    }
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    if (rk_server_request_take(hs->server, cmd, 0, &id) != 0) {
        cmd->waiting = 0;
        cmd->on_reply = NULL;
        rk_server_cmd_complete(hs->server, cmd);
        rk_http_api_error(p, RK_EBUSY, "too many requests");
        return;
    }
    p->route = HTTP_ROUTE_PROPS_PUT;
    p->cmd = cmd;
    rk_node_bucket_set(hs->server->node, id, t->segments[1], t->segment_lens[1], names,
                       value_ptrs, pairs);
}







static void http_route_bucket(rk_http_server *hs, rk_http_pending *p, const rk_http_request *req,
                              const http_target *t)
{
    if (t->segment_count == 3 && http_seg_is(t, 2, "props")) {
        if (req->method == RK_HTTP_GET) {
            http_props_get(hs, p, t);
        } else if (req->method == RK_HTTP_PUT) {
            http_props_put(hs, p, req, t);
        } else {
            rk_http_api_not_allowed(p, "GET, PUT");
        }
        return;
    }
    bool keys = t->segment_count == 4 && http_seg_is(t, 2, "keys");
    bool sets = t->segment_count == 4 && http_seg_is(t, 2, "datatypes");
    if (!keys && !sets) {
        rk_http_api_text(p, 404, "ERR no such resource");
        return;
    }
    const char *bad = http_key(t, true, &p->key, &p->key_len);
    if (bad != NULL) {
        rk_http_api_text(p, 400, bad);
        return;
    }
    if (keys) {
        http_route_key(hs, p, req, t, p->key, p->key_len);
    } else {
        rk_http_datatype_route(hs, p, req, t);
    }
}

static void http_route_metrics(rk_http_server *hs, rk_http_pending *p)
{
    char *text = NULL;
    size_t len = 0;
    if (rk_prom_render(hs->server, &text, &len) != 0) {
        free(text);
        rk_http_api_text(p, 503, "ERR metrics are not available");
        return;
    }
    static const rk_http_header prom = {"Content-Type", "text/plain; version=0.0.4"};
    rk_http_api_answer(p, 200, &prom, 1, text, len);
    free(text);
}

void rk_http_api_handle(rk_http_server *hs, rk_http_pending *p, const rk_http_request *req)
{
    http_target t;
    const char *bad = http_target_parse(req, &t);
    if (bad != NULL) {
        rk_http_api_text(p, strcmp(bad, "ERR no such resource") == 0 ? 404 : 400, bad);
    } else if (req->method == RK_HTTP_OTHER || req->method == RK_HTTP_HEAD) {
        rk_http_api_not_allowed(p, "GET, PUT, POST, DELETE");
    } else if (t.segment_count == 1 && http_seg_is(&t, 0, "ping")) {
        if (req->method == RK_HTTP_GET) {
            rk_http_api_text(p, 200, "OK");
        } else {
            rk_http_api_not_allowed(p, "GET");
        }
    } else if (t.segment_count == 1 && http_seg_is(&t, 0, "metrics")) {
        if (req->method == RK_HTTP_GET) {
            http_route_metrics(hs, p);
        } else {
            rk_http_api_not_allowed(p, "GET");
        }
    } else if (t.segment_count == 2 && http_seg_is(&t, 0, "keys")) {
        bad = http_key(&t, false, &p->key, &p->key_len);
        if (bad != NULL) {
            rk_http_api_text(p, 400, bad);
        } else {
            http_route_key(hs, p, req, &t, p->key, p->key_len);
        }
    } else if (t.segment_count >= 3 && http_seg_is(&t, 0, "buckets")) {
        http_route_bucket(hs, p, req, &t);
    } else {
        rk_http_api_text(p, 404, "ERR no such resource");
    }
    free(t.decoded);
}
