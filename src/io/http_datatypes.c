/* http_datatypes.c — /buckets/B/datatypes/K, Riak's datatypes over HTTP, by the bucket's
 * policy (docs/protocol.md, "HTTP"): a set (`set`, `union`; also any other policy, which then
 * answers 409 WRONGTYPE) is {"type":"set","value":[...]} and takes {"add":[...],"remove":[...]};
 * a counter is {"type":"counter","value":N} and takes {"increment":N} or {"decrement":N}; a map
 * is {"type":"map","value":{"field":"value",...}} and takes one change, {"field":F,
 * "increment":N}, {"field":F,"value":V} or {"remove":[fields]}. Each becomes the node request
 * its RESP twin makes (SMEMBERS, SADD, SREM, GET, INCRBY, HGETALL, HINCRBY, HSET, HDEL); a write
 * reads at R before it applies, so it is a barrier of its connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bucket.h"
#include "../core/elems.h"
#include "http_api_parts.h"
#include "server.h"

/* One string of a datatype's value: a JSON string, or {"base64":"..."} for bytes that are not
 * UTF-8 and so cannot be one. */
static void http_json_bytes(rk_resp_out *body, const uint8_t *bytes, size_t len)
{
    if (rk_http_utf8_valid(bytes, len)) {
        rk_http_json_string(body, bytes, len);
        return;
    }
    size_t encoded_len = rk_http_base64_encoded_len(len);
    char *encoded = malloc(encoded_len + 1);
    if (encoded == NULL) {
        body->oom = true;
        return;
    }
    rk_http_base64_encode(bytes, len, encoded);
    rk_resp_out_append_raw(body, (const uint8_t *)"{\"base64\":", 10);
    rk_http_json_string(body, (const uint8_t *)encoded, encoded_len);
    rk_resp_out_append_raw(body, (const uint8_t *)"}", 1);
    free(encoded);
}

static void http_answer_json(rk_http_pending *p, int status, rk_resp_out *body)
{
    static const rk_http_header json = {"Content-Type", "application/json"};
    if (body->oom) {
        rk_http_api_error(p, RK_ENOMEM, "out of memory");
    } else {
        rk_http_api_answer(p, status, &json, 1, body->data, body->len);
    }
    rk_resp_out_deinit(body);
}

/* A set {"type":"set","value":[m,...]} or a map {"type":"map","value":{f:v,...}} (a counter
 * field's value is its decimal text, as HGET answers it). */
static void http_answer_collection(rk_http_pending *p, const rk_reply *r, bool map)
{
    rk_resp_out body;
    rk_resp_out_init(&body, 2);
    const char *head = map ? "{\"type\":\"map\",\"value\":{" : "{\"type\":\"set\",\"value\":[";
    rk_resp_out_append_raw(&body, (const uint8_t *)head, strlen(head));
    for (uint32_t i = 0; i < r->value_count && !body.oom; i++) {
        if (i > 0) {
            rk_resp_out_append_raw(&body, (const uint8_t *)(map && i % 2 == 1 ? ":" : ","), 1);
        }
        http_json_bytes(&body, r->values[i], r->value_lens[i]);
    }
    rk_resp_out_append_raw(&body, (const uint8_t *)(map ? "}}" : "]}"), 2);
    /* A map that does not exist is 404, as Riak answers a missing datatype (a set keeps 200
     * with an empty list, as SMEMBERS answers one). */
    http_answer_json(p, map && r->value_count == 0 ? 404 : 200, &body);
}

/* {"type":"counter","value":N}, null for a counter that does not exist. */
static void http_answer_counter(rk_http_pending *p, const rk_reply *r)
{
    char text[96];
    int len = 0;
    if (r->kind == RK_REPLY_INT) {
        len = snprintf(text, sizeof(text), "{\"type\":\"counter\",\"value\":%lld}",
                       (long long)r->integer);
    } else if (r->kind == RK_REPLY_VALUE && r->value_len < 32) {
        len = snprintf(text, sizeof(text), "{\"type\":\"counter\",\"value\":%.*s}",
                       (int)r->value_len, (const char *)r->value);
    } else {
        len = snprintf(text, sizeof(text), "{\"type\":\"counter\",\"value\":null}");
    }
    rk_resp_out body;
    rk_resp_out_init(&body, 2);
    rk_resp_out_append_raw(&body, (const uint8_t *)text, (size_t)len);
    http_answer_json(p, r->kind == RK_REPLY_NIL ? 404 : 200, &body);     /* missing: 404 */
}

/* The members of a JSON array as an element list (elems.h), owned. */
static int http_elems(const rk_json_member *m, uint8_t **list, size_t *len)
{
    *len = rk_elems_encoded_len(m->item_lens, m->item_count);
    *list = *len != SIZE_MAX ? malloc(*len > 0 ? *len : 1) : NULL;
    if (*list == NULL) {
        return RK_ENOMEM;
    }
    rk_elems_encode(m->items, m->item_lens, m->item_count, *list);
    return 0;
}

/* A merge type's write: what the connection sends next waits for it (rk_server_cmd_barrier). */
static void http_send_barrier(rk_http_server *hs, rk_http_pending *p, int route,
                              const rk_request *r)
{
    p->barrier = true;
    p->conn->barriers++;
    p->route = route;
    rk_http_api_send(hs, p, RK_LAT_WRITE, r);
}

/* POST/PUT /buckets/B/datatypes/K {"add":[...],"remove":[...]}: SADD, then SREM. */
static void http_set_write(rk_http_server *hs, rk_http_pending *p, const rk_http_request *req)
{
    uint8_t *add = NULL;
    size_t add_len = 0;
    rk_json_reader reader;
    rk_json_member m;
    if (!rk_http_api_json_open(p, req, &reader)) {
        return;
    }
    int rc = 0;
    while ((rc = rk_json_next(&reader, &m)) == 1) {
        bool is_add = rk_json_name_is(&m, "add");
        uint8_t **slot = is_add ? &add : &p->remove_list;
        if ((!is_add && !rk_json_name_is(&m, "remove")) || m.kind != RK_JSON_ARRAY ||
            *slot != NULL) {
            rc = RK_EINVAL;
            break;
        }
        if (m.item_count > 0 &&
            http_elems(&m, slot, is_add ? &add_len : &p->remove_list_len) != 0) {
            rc = RK_ENOMEM;
            break;
        }
    }
    rk_json_reader_deinit(&reader);
    if (rc != 0 || (add == NULL && p->remove_list == NULL)) {
        free(add);
        rk_http_api_text(p, 400, "ERR syntax: expected {\"add\":[strings],\"remove\":[strings]}"
                                 " with at least one member");
        return;
    }
    rk_request r = {.kind = RK_REQ_WRITE, .key = p->key, .key_len = p->key_len};
    if (add != NULL) {
        r.op = RK_OP_SADD;
        r.value = add;
        r.value_len = add_len;
    } else {
        r.op = RK_OP_SREM;
        r.value = p->remove_list;
        r.value_len = p->remove_list_len;
        add = p->remove_list;
        p->remove_list = NULL;
    }
    http_send_barrier(hs, p, HTTP_ROUTE_SET_WRITE, &r);
    free(add);
}

/* POST/PUT on a counter: {"increment":N} or {"decrement":N}; answers the new value. */
static void http_counter_write(rk_http_server *hs, rk_http_pending *p, const rk_http_request *req)
{
    rk_json_reader reader;
    rk_json_member m;
    if (!rk_http_api_json_open(p, req, &reader)) {
        return;
    }
    int64_t increment = 0;
    int found = 0;
    int rc = 0;
    while ((rc = rk_json_next(&reader, &m)) == 1) {
        bool down = rk_json_name_is(&m, "decrement");
        if ((!down && !rk_json_name_is(&m, "increment")) || m.kind != RK_JSON_NUMBER ||
            (down && m.number == INT64_MIN)) {
            rc = RK_EINVAL;
            break;
        }
        increment = down ? -m.number : m.number;
        found++;
    }
    rk_json_reader_deinit(&reader);
    if (rc != 0 || found != 1) {
        rk_http_api_text(p, 400, "ERR syntax: expected {\"increment\":N} or {\"decrement\":N}");
        return;
    }
    uint8_t bytes[RK_OP_INCREMENT_BYTES];
    rk_op_increment_encode(increment, bytes);
    rk_request r = {.kind = RK_REQ_WRITE, .op = RK_OP_INCRBY, .key = p->key,
                    .key_len = p->key_len, .value = bytes, .value_len = sizeof(bytes)};
    http_send_barrier(hs, p, HTTP_ROUTE_COUNTER_WRITE, &r);
}

/* POST/PUT on a map, one change: {"field":"f","increment":N} (HINCRBY), {"field":"f",
 * "value":"v"} (HSET) or {"remove":["f",...]} (HDEL). */
static void http_map_write(rk_http_server *hs, rk_http_pending *p, const rk_http_request *req)
{
    rk_json_reader reader;
    rk_json_member m;
    if (!rk_http_api_json_open(p, req, &reader)) {
        return;
    }
    const uint8_t *parts[2] = {NULL, NULL};
    size_t lens[2] = {0, 0};
    uint8_t *field = NULL;
    uint8_t *list = NULL;
    size_t list_len = 0;
    uint8_t bytes[RK_OP_INCREMENT_BYTES];
    uint8_t op = 0;
    int rc = 0;
    while (rc == 0 && (rc = rk_json_next(&reader, &m)) == 1) {
        rc = 0;
        if (rk_json_name_is(&m, "field") && m.kind == RK_JSON_STRING && field == NULL) {
            field = malloc(m.string_len > 0 ? m.string_len : 1);    /* the scratch is reused */
            rc = field == NULL ? RK_ENOMEM : 0;
            if (field != NULL && m.string_len > 0) {
                memcpy(field, m.string, m.string_len);
            }
            parts[0] = field;
            lens[0] = m.string_len;
        } else if (rk_json_name_is(&m, "increment") && m.kind == RK_JSON_NUMBER && op == 0) {
            rk_op_increment_encode(m.number, bytes);
            parts[1] = bytes;
            lens[1] = sizeof(bytes);
            op = RK_OP_HINCRBY;
        } else if (rk_json_name_is(&m, "value") && m.kind == RK_JSON_STRING && op == 0) {
            list = malloc(m.string_len > 0 ? m.string_len : 1);
            rc = list == NULL ? RK_ENOMEM : 0;
            if (list != NULL && m.string_len > 0) {
                memcpy(list, m.string, m.string_len);
            }
            parts[1] = list;
            lens[1] = m.string_len;
            op = RK_OP_HSET;
        } else if (rk_json_name_is(&m, "remove") && m.kind == RK_JSON_ARRAY && op == 0 &&
                   m.item_count > 0) {
            rc = http_elems(&m, &list, &list_len);
            op = RK_OP_HDEL;
        } else {
            rc = RK_EINVAL;
        }
    }
    rk_json_reader_deinit(&reader);
    bool ok = rc == 0 && op != 0 && (op == RK_OP_HDEL) == (field == NULL);
    uint8_t *arg = NULL;
    size_t arg_len = 0;
    if (ok && op == RK_OP_HDEL) {
        arg = list;
        arg_len = list_len;
        list = NULL;
    } else if (ok) {
        arg_len = rk_elems_encoded_len(lens, 2);
        arg = arg_len != SIZE_MAX ? malloc(arg_len) : NULL;
        ok = arg != NULL;
        if (ok) {
            rk_elems_encode(parts, lens, 2, arg);
        }
    }
    free(field);
    free(list);
    if (!ok) {
        free(arg);
        rk_http_api_text(p, rc == RK_ENOMEM ? 503 : 400,
                         "ERR syntax: expected {\"field\":F,\"increment\":N}, "
                         "{\"field\":F,\"value\":V} or {\"remove\":[fields]}");
        return;
    }
    rk_request r = {.kind = RK_REQ_WRITE, .op = op, .key = p->key, .key_len = p->key_len,
                    .value = arg, .value_len = arg_len};
    http_send_barrier(hs, p, HTTP_ROUTE_MAP_WRITE, &r);
    free(arg);
}

/* /buckets/B/datatypes/K by the bucket's policy: counter and map here, sets otherwise (any
 * other policy then answers WRONGTYPE through the set's read, 409). */
void rk_http_datatype_route(rk_http_server *hs, rk_http_pending *p, const rk_http_request *req,
                                const http_target *t)
{
    const rk_bucket_table *table = rk_node_buckets(hs->server->node);
    const rk_bucket_entry *e = rk_bucket_find(table, t->segments[1], t->segment_lens[1]);
    uint8_t policy = (e != NULL ? &e->props : &table->defaults)->policy;
    bool write = req->method == RK_HTTP_POST || req->method == RK_HTTP_PUT;
    if (req->method != RK_HTTP_GET && !write) {
        rk_http_api_not_allowed(p, "GET, POST, PUT");
    } else if (policy == RK_POLICY_COUNTER && write) {
        http_counter_write(hs, p, req);
    } else if (policy == RK_POLICY_MAP && write) {
        http_map_write(hs, p, req);
    } else if (write) {
        http_set_write(hs, p, req);
    } else {
        bool counter = policy == RK_POLICY_COUNTER;
        bool map = policy == RK_POLICY_MAP;
        p->route = counter ? HTTP_ROUTE_COUNTER_GET : map ? HTTP_ROUTE_MAP_GET : HTTP_ROUTE_SET_GET;
        rk_request r = {.kind = counter ? RK_REQ_GET : RK_REQ_READ,
                        .op = counter ? 0 : map ? RK_READ_HGETALL : RK_READ_SMEMBERS,
                        .key = p->key, .key_len = p->key_len, .r = t->r};
        rk_http_api_send(hs, p, RK_LAT_READ, &r);
    }
}

bool rk_http_datatype_on_reply(rk_http_pending *p, const rk_reply *r)
{
    switch (p->route) {
    case HTTP_ROUTE_SET_GET:
    case HTTP_ROUTE_MAP_GET:
        if (r->kind == RK_REPLY_SET || r->kind == RK_REPLY_ARRAY || r->kind == RK_REPLY_MAP) {
            http_answer_collection(p, r, p->route == HTTP_ROUTE_MAP_GET);
            return true;
        }
        break;
    case HTTP_ROUTE_COUNTER_GET:
    case HTTP_ROUTE_COUNTER_WRITE:
        http_answer_counter(p, r);
        return true;
    case HTTP_ROUTE_MAP_WRITE:
        rk_http_api_answer(p, 204, NULL, 0, NULL, 0);
        return true;
    case HTTP_ROUTE_SET_WRITE:
        if (p->remove_list != NULL) {
            /* SADD is in; SREM's turn. */
            rk_request next = {.kind = RK_REQ_WRITE,
                               .op = RK_OP_SREM,
                               .key = p->key,
                               .key_len = p->key_len,
                               .value = p->remove_list,
                               .value_len = p->remove_list_len};
            uint8_t *list = p->remove_list;
            p->remove_list = NULL;
            rk_http_api_send(p->conn->server, p, RK_LAT_WRITE, &next);
            free(list);
            return true;
        }
        rk_http_api_answer(p, 204, NULL, 0, NULL, 0);
        return true;
    }
    return false;
}
