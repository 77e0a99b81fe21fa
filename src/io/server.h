/* server.h — ringkvd's client side: the RESP listener, one rk_client per connection, and the
 * queue of commands each client has in flight. Replies leave in request order (pipelining) even
 * though writes complete later than reads: each command is an rk_cmd in its client's queue and
 * its reply bytes go out only once every command before it has gone. Owns clients, commands
 * and the request table that maps the node's client_req ids back to commands; keeps the node,
 * runtime and config. Command semantics live in commands.c, the replies' RESP shapes in
 * server_reply.c, INFO in info.c, the metrics registry INFO prints from in server_metrics.c. */
#ifndef RK_SERVER_H
#define RK_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../net/resp.h"
#include "config.h"
#include "latency.h"
#include "runtime.h"

/* Commands one client may have in flight before we stop reading it (back-pressure). */
#define RK_CLIENT_PIPELINE_MAX 1024u
/* Replies owed (being written or waiting) above which we stop reading the client. */
#define RK_CLIENT_OUTPUT_SOFT_BYTES (4u << 20)
/* Sub-requests in flight at once across all clients (node requests). */
#define RK_SERVER_REQUESTS_MAX (1u << 20)
#define RK_CLIENT_NAME_BYTES_MAX 128u
#define RK_CLIENT_READ_CHUNK (64u << 10)

typedef struct rk_client rk_client;
typedef struct rk_cmd rk_cmd;

/* How a command combines the node's replies to its sub-requests. */
typedef enum rk_cmd_combine {
    RK_CMD_DONE = 0,        /* answered by the server itself; out holds the reply */
    RK_CMD_SINGLE = 1,      /* one sub-request, its reply is the answer */
    RK_CMD_SUM = 2,         /* integers added up (DEL, EXISTS with many keys) */
    RK_CMD_ARRAY = 3,       /* values or nils in key order (MGET) */
} rk_cmd_combine;

typedef enum rk_latency_class {
    RK_LAT_READ = 0,
    RK_LAT_WRITE = 1,
    RK_LAT_OTHER = 2,
} rk_latency_class;
#define RK_LAT_CLASS_COUNT 3

/* The node's reply to a sub-request of a command with no RESP client (rk_server_cmd_new_detached),
 * borrowed for the call. */
typedef void (*rk_cmd_on_reply)(void *ctx, uint32_t sub_index, const rk_reply *r);

/* What a node request does, for ringkv_requests_total{op} (prom.h): a bounded set, so the
 * label never grows with what clients send. A SET is a put, RK.PUT a vput; requests the
 * commands take themselves (RK.BUCKET SET) are `other`. */
typedef enum rk_server_op {
    RK_SERVER_OP_GET = 0,
    RK_SERVER_OP_PUT,
    RK_SERVER_OP_DEL,
    RK_SERVER_OP_EXISTS,
    RK_SERVER_OP_VGET,
    RK_SERVER_OP_VPUT,
    RK_SERVER_OP_VDEL,
    RK_SERVER_OP_APPEND,
    RK_SERVER_OP_GETDEL,
    RK_SERVER_OP_SADD,
    RK_SERVER_OP_SREM,
    RK_SERVER_OP_SMEMBERS,
    RK_SERVER_OP_SCARD,
    RK_SERVER_OP_SISMEMBER,
    RK_SERVER_OP_SMISMEMBER,
    RK_SERVER_OP_TYPE,
    RK_SERVER_OP_INCRBY,
    RK_SERVER_OP_HSET,
    RK_SERVER_OP_HDEL,
    RK_SERVER_OP_HINCRBY,
    RK_SERVER_OP_HGET,
    RK_SERVER_OP_HMGET,
    RK_SERVER_OP_HGETALL,
    RK_SERVER_OP_HLEN,
    RK_SERVER_OP_HEXISTS,
    RK_SERVER_OP_HKEYS,
    RK_SERVER_OP_HVALS,
    RK_SERVER_OP_OTHER,
    RK_SERVER_OP_COUNT
} rk_server_op;

/* How the node answered one request, for ringkv_requests_total{outcome}. */
typedef enum rk_server_outcome {
    RK_SERVER_OUTCOME_OK = 0,
    RK_SERVER_OUTCOME_NOT_FOUND,
    RK_SERVER_OUTCOME_UNAVAILABLE,
    RK_SERVER_OUTCOME_TIMEOUT,
    RK_SERVER_OUTCOME_CONFLICT,
    RK_SERVER_OUTCOME_ERROR,
    RK_SERVER_OUTCOME_COUNT
} rk_server_outcome;

/* The op a request counts as, and the outcome a reply counts as (server_metrics.c). */
rk_server_op rk_server_op_of(const rk_request *r);
rk_server_outcome rk_server_outcome_of(const rk_reply *r);
/* The label values, indexed by rk_server_op and rk_server_outcome (server_metrics.c). */
extern const char *const rk_server_op_names[RK_SERVER_OP_COUNT];
extern const char *const rk_server_outcome_names[RK_SERVER_OUTCOME_COUNT];

struct rk_cmd {
    rk_cmd *next;
    rk_client *client;          /* NULL once the client is gone */
    rk_cmd_combine combine;
    rk_latency_class latency_class;
    uint32_t sub_count;
    uint32_t waiting;           /* sub-requests not yet answered */
    int64_t sum;
    rk_buf *values;             /* RK_CMD_ARRAY: owned copies, data NULL for nil */
    char **element_errors;      /* RK_CMD_ARRAY: an element's error text (owned), or NULL */
    int error;                  /* first error among the sub-replies */
    char *error_message;        /* owned */
    uint64_t start_ns;
    bool close_after;           /* QUIT, protocol error: close once this reply is out */
    /* A read-modify-write (a set command): the connection's later commands wait until it is
     * answered, so a pipeline sees its own writes as in Redis (rk_server_cmd_barrier). */
    bool barrier;
    rk_resp_out out;            /* the encoded reply once complete */
    /* Another front end's command (the HTTP API): each reply goes to on_reply(on_reply_ctx)
     * as the node gave it, not encoded into out. Set to NULL when that front end lets go. */
    rk_cmd_on_reply on_reply;
    void *on_reply_ctx;
};

struct rk_client {
    uv_tcp_t handle;
    rk_server *server;
    rk_client *prev;
    rk_client *next;
    rk_client *dirty_next;
    bool dirty;
    uint64_t id;
    char name[RK_CLIENT_NAME_BYTES_MAX + 1];
    char addr[64];
    int proto;                  /* 2 or 3 (HELLO 3) */
    /* input */
    uint8_t *in;
    size_t in_start;            /* first byte not yet consumed */
    size_t in_len;
    size_t in_capacity;
    rk_resp_parser parser;
    bool reading;
    bool closing;               /* no more input; close once output is out */
    bool replies_over;          /* a closing reply (QUIT, protocol error) was queued */
    bool closed;                /* uv_close called */
    /* commands in flight, oldest first */
    rk_cmd *cmd_head;
    rk_cmd *cmd_tail;
    uint32_t cmd_count;
    uint32_t barriers;          /* barrier commands in flight: parse nothing more until 0 */
    /* output: `out` fills while `wout` is being written */
    rk_resp_out out;
    rk_resp_out wout;
    bool writing;
    uv_write_t write_req;
    uint64_t last_active_ms;
    uint64_t created_ms;
};

typedef struct rk_server_stats {
    uint64_t connections_received;
    uint64_t connections_rejected;
    uint64_t commands_processed;
    uint64_t protocol_errors;
    uint64_t clients_closed_idle;
    uint64_t clients_closed_output;
    uint64_t clients_closed_input;
    uint64_t backpressure_pauses;
    uint64_t bytes_in;
    uint64_t bytes_out;
    /* Client commands by kind, one per command whatever its key count (commands.c):
     * GET/MGET/RK.GET, SET/RK.PUT, DEL/RK.DEL. */
    uint64_t ops_get;
    uint64_t ops_put;
    uint64_t ops_del;
    rk_latency latency[RK_LAT_CLASS_COUNT];
    /* Every node request by op and outcome, and its time from taken to answered, counted in
     * rk_server_on_reply: the one place every answer to a client passes, whatever the
     * protocol. Per sub-request: an MGET of three keys counts three gets. */
    uint64_t requests[RK_SERVER_OP_COUNT][RK_SERVER_OUTCOME_COUNT];
    rk_latency request_latency[RK_SERVER_OP_COUNT];
} rk_server_stats;

typedef struct server_request {
    rk_cmd *cmd;
    uint32_t sub_index;
    uint32_t generation;
    uint64_t start_ns;          /* when it was taken, for request_latency */
    rk_server_op op;
} server_request;

struct rk_server {
    uv_loop_t *loop;
    const rk_config *config;
    uint64_t damaged_logged;    /* INFO aae_damaged_objects when the cron last logged it */
    rk_runtime *runtime;
    rk_node *node;
    rk_store *store;
    uv_tcp_t listener;
    uv_check_t flush_check;
    uv_idle_t flush_idle;       /* active while clients are dirty: poll must not block */
    uv_timer_t cron;
    rk_client *clients;
    rk_client *dirty;
    uint32_t client_count;
    uint64_t next_client_id;
    bool node_was_busy;
    bool stopping;
    uint64_t start_ms;
    uint16_t port;
    /* request table: index | generation << 32 is the node's client_req */
    server_request *requests;
    uint32_t request_capacity;
    uint32_t *request_free;
    uint32_t request_free_count;
    rk_resp_limits limits;
    rk_server_stats stats;
    /* What INFO prints: this struct's stats, the node's, the runtime's and the peers', built
     * once everything has started (server_metrics.h). Empty until then. */
    rk_metrics_registry metrics;
};

/* Initialise and start listening on config->bind:config->port. Keeps everything it is given.
 * Returns 0, or RK_EIO with the OS text in err (address in use, bad address). */
int rk_server_start(rk_server *s, uv_loop_t *loop, const rk_config *config, rk_runtime *rt,
                    rk_node *node, rk_store *store, char *err, size_t err_len);

/* Stop accepting and stop reading every client; in-flight commands still complete. */
void rk_server_stop_accepting(rk_server *s);
/* True when no command is in flight and no output is waiting. */
bool rk_server_drained(const rk_server *s);
/* Close every client and handle; the loop then runs to completion. */
void rk_server_close(rk_server *s);
/* Free what is left once the loop has finished. */
void rk_server_deinit(rk_server *s);

/* The node answered sub-request `client_req` (env->reply). */
void rk_server_on_reply(rk_server *s, uint64_t client_req, const rk_reply *r);
/* After a node event outside a client callback (a durability event): flush and resume. */
void rk_server_after_node_event(rk_server *s);

/* Write the node's reply `r` to `out` in its RESP shape for out->proto (2 or 3): a map as
 * RESP3's % or a flat array in RESP2, a set as ~ or an array, RK.GET's versions and RK.PUT's
 * answer as arrays. */
void rk_server_encode_reply(rk_resp_out *out, const rk_reply *r);

/* For commands.c: issue one sub-request of `cmd` to the node. */
void rk_server_node_request(rk_server *s, rk_cmd *cmd, uint32_t sub_index,
                            const rk_request *r);
/* For commands that call the node themselves: an id for sub-request `sub_index` of `cmd`, to
 * pass as client_req. Returns 0, RK_EBUSY or RK_ENOMEM. */
int rk_server_request_take(rk_server *s, rk_cmd *cmd, uint32_t sub_index, uint64_t *id_out);
/* For front ends other than RESP (http_server.h): a command with no client, whose node replies
 * go to on_reply(ctx) as they are; it is freed once complete (after its last reply, or at
 * rk_server_cmd_complete). NULL when out of memory. Requests go through the same table, so
 * they count wherever RESP commands count. */
rk_cmd *rk_server_cmd_new_detached(rk_latency_class latency_class, rk_cmd_on_reply on_reply,
                                   void *ctx);
/* For commands.c: `cmd` is complete (its out holds the reply). */
void rk_server_cmd_complete(rk_server *s, rk_cmd *cmd);
/* Make `cmd` (not yet sent to the node) a barrier: the client's later commands are parsed only
 * once it is answered. A merge type's write reads at R before it applies, so without it a read
 * pipelined behind it could overtake it. */
void rk_server_cmd_barrier(rk_cmd *cmd);
/* Whether `key`'s bucket holds a merge type (its writes read before they apply). */
bool rk_server_key_merge_typed(const rk_server *s, const uint8_t *key, size_t key_len);

uint64_t rk_server_now_ms(const rk_server *s);

#endif
