/* http_api_parts.h — what http_api.c (paths, keys, props, metrics) shares with
 * http_datatypes.c (the datatypes of /buckets/B/datatypes/K: sets, counters, maps): the route
 * a pending request is in, its parsed target, and the answering and sending helpers. Internal
 * to the HTTP API; http_server.h is its face to the server. */
#ifndef RK_HTTP_API_PARTS_H
#define RK_HTTP_API_PARTS_H

#include "../net/http.h"
#include "http_server.h"

enum {
    HTTP_ROUTE_NONE = 0,
    HTTP_ROUTE_KEY_GET = 1,
    HTTP_ROUTE_KEY_WRITE = 2,       /* PUT and DELETE */
    HTTP_ROUTE_PROPS_PUT = 3,
    HTTP_ROUTE_SET_GET = 4,
    HTTP_ROUTE_SET_WRITE = 5,
    HTTP_ROUTE_COUNTER_GET = 6,
    HTTP_ROUTE_COUNTER_WRITE = 7,   /* INCRBY: answered with the new value */
    HTTP_ROUTE_MAP_GET = 8,
    HTTP_ROUTE_MAP_WRITE = 9,       /* HSET, HINCRBY or HDEL: 204 */
};

#define HTTP_SEGMENTS_MAX 6u
typedef struct http_target {
    uint32_t segment_count;
    uint8_t *segments[HTTP_SEGMENTS_MAX];   /* decoded, into one owned buffer */
    size_t segment_lens[HTTP_SEGMENTS_MAX];
    uint8_t *decoded;
    uint32_t r;
    uint32_t w;
} http_target;

/* Answer p with `status`, `headers` and `body` (copied). */
void rk_http_api_answer(rk_http_pending *p, int status, const rk_http_header *headers,
                        size_t count, const void *body, size_t body_len);
/* A text/plain answer. */
void rk_http_api_text(rk_http_pending *p, int status, const char *text);
/* An RK_E* error as its status and RESP's text. */
void rk_http_api_error(rk_http_pending *p, int code, const char *message);
/* 405 with the Allow header. */
void rk_http_api_not_allowed(rk_http_pending *p, const char *allow);
/* Send one request to the node for p; its reply comes to the route (p->route). */
void rk_http_api_send(rk_http_server *hs, rk_http_pending *p, rk_latency_class latency,
                      const rk_request *r);
/* Open the body as a JSON reader; false when out of memory (then p is answered). */
bool rk_http_api_json_open(rk_http_pending *p, const rk_http_request *req,
                           rk_json_reader *reader);

/* /buckets/B/datatypes/K (http_datatypes.c): GET, POST and PUT by the bucket's policy. */
void rk_http_datatype_route(rk_http_server *hs, rk_http_pending *p, const rk_http_request *req,
                            const http_target *t);
/* Answer the node's reply `r` when p is in a datatype route (not an error); false otherwise. */
bool rk_http_datatype_on_reply(rk_http_pending *p, const rk_reply *r);

#endif
