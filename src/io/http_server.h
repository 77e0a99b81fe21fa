/* http_server.h — the HTTP API's listener and connections, on the node's libuv loop beside the
 * RESP listener (server.h). Bytes go through the codec (src/net/http.h); each request becomes
 * an rk_cmd of the RESP server's request table (rk_server_cmd_new_detached), so it reaches the
 * node exactly as a RESP command does and counts where RESP commands count. Responses leave
 * in request order (keep-alive and pipelining); a connection with too much in flight or owed
 * stops being read (back-pressure), as a RESP client does. Owns connections and their
 * requests; keeps the RESP server. What each path means is http_api.c's. */
#ifndef RK_HTTP_SERVER_H
#define RK_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../net/http.h"
#include "server.h"

/* Requests one connection may have in flight before we stop reading it. */
#define RK_HTTP_PIPELINE_MAX 128u
/* Response bytes owed above which we stop reading a connection. */
#define RK_HTTP_OUTPUT_SOFT_BYTES (4u << 20)
#define RK_HTTP_READ_CHUNK (64u << 10)

typedef struct rk_http_server rk_http_server;
typedef struct rk_http_conn rk_http_conn;
typedef struct rk_http_pending rk_http_pending;

/* One request from parse to response. The route's state (http_api.c) lives here too. */
struct rk_http_pending {
    rk_http_pending *next;
    rk_http_conn *conn;
    rk_cmd *cmd;                /* in flight at the node, or NULL */
    bool done;                  /* `out` holds the whole response */
    bool keep_alive;
    bool barrier;               /* a merge-type write: parse nothing more until it is done */
    rk_resp_out out;
    /* route state */
    int route;
    bool accept_json;
    uint8_t *key;               /* owned copy for a later stage */
    size_t key_len;
    uint8_t *remove_list;       /* datatypes: SREM's element list, sent after SADD */
    size_t remove_list_len;
};

struct rk_http_conn {
    uv_tcp_t handle;
    rk_http_server *server;
    rk_http_conn *prev;
    rk_http_conn *next;
    uint64_t id;
    rk_http_parser parser;
    uint8_t *in;
    size_t in_start;
    size_t in_len;
    size_t in_capacity;
    rk_http_pending *head;      /* oldest first */
    rk_http_pending *tail;
    uint32_t pending_count;
    uint32_t barriers;
    bool reading;
    bool paused;                /* stopped for back-pressure; the check handle resumes it */
    bool closing;               /* parse nothing more; close once what is owed is out */
    bool replies_over;          /* a "Connection: close" response was queued: nothing after */
    bool closed;
    bool writing;
    rk_resp_out out;
    rk_resp_out wout;
    uv_write_t write_req;
    uint64_t last_active_ms;
};

struct rk_http_server {
    rk_server *server;
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_check_t resume_check;
    uv_timer_t cron;            /* closes idle connections, as RESP's `timeout` */
    bool started;
    bool stopping;
    rk_http_conn *conns;
    uint32_t conn_count;
    uint64_t next_conn_id;
    uint64_t requests;          /* answered requests, for the log and tests */
};

/* Listen on config bind:http_port (s->config) when http_port is not 0; otherwise do nothing.
 * Keeps `server`. Returns 0, or RK_EIO/RK_EINVAL with the reason in err. */
int rk_http_server_start(rk_http_server *hs, rk_server *server, char *err, size_t err_len);
void rk_http_server_stop_accepting(rk_http_server *hs);
/* True when no request is in flight and no response is waiting. */
bool rk_http_server_drained(const rk_http_server *hs);
/* Close every connection and handle. */
void rk_http_server_close(rk_http_server *hs);

/* For http_api.c: the request `p` is answered (p->out holds the response); send what is now in
 * order. May close the connection. */
void rk_http_server_pending_done(rk_http_pending *p);

/* http_api.c: answer or start one parsed request. Borrows `req` for the call. */
void rk_http_api_handle(rk_http_server *hs, rk_http_pending *p, const rk_http_request *req);
/* http_api.c: let go of a pending request whose connection closed. */
void rk_http_api_pending_free(rk_http_pending *p);

#endif
