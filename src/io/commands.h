/* commands.h — the Redis commands ringkvd answers: the table (name, arity, flags for COMMAND)
 * and one handler each. Key commands become node requests (rk_server_node_request); the rest
 * (PING, HELLO, INFO, CLIENT, CONFIG GET, ...) are answered here. Behaviour follows Redis
 * where we implement a command, and refuses with the reason where we do not (SET NX: no
 * compare-and-set yet). */
#ifndef RK_COMMANDS_H
#define RK_COMMANDS_H

#include "server.h"

/* A command's arguments, borrowed from the parser for the handler's call. */
typedef struct commands_args {
    uint32_t argc;
    const uint8_t **argv;
    const size_t *argv_len;
} commands_args;

typedef void (*commands_handler)(rk_server *s, rk_client *c, rk_cmd *cmd,
                                 const commands_args *a);

/* Helpers the command files share (commands.c). */
bool rk_commands_arg_is(const commands_args *a, uint32_t i, const char *word);
const char *rk_commands_arg_str(const commands_args *a, uint32_t i, char *buf, size_t size);
bool rk_commands_arg_int(const commands_args *a, uint32_t i, int64_t *out);

/* The RK.* commands (commands_rk.c): the Dynamo API (versions and contexts) and admin. */
void rk_commands_rk_get(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_rk_put(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_rk_del(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_rk_bucket(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_rk_local(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_rk_preflist(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_rk_ring(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_rk_members(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_rk_cluster(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_rk_metrics(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
/* commands_repair.c */
void rk_commands_rk_repair(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_rk_debug(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);

/* The commands on merge types driven by commands_typed.c's table (SADD, SREM, SMEMBERS, SCARD,
 * SISMEMBER, SMISMEMBER, TYPE, HSET, HDEL, HGET, HMGET, HGETALL, HKEYS, HVALS, HLEN, HEXISTS):
 * the command's name picks the request. */
void rk_commands_typed(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
/* One request of `kind` and `op` for the key argv[1] carrying `value` (borrowed), answered as
 * the node answers it (commands_typed.c). */
void rk_commands_key_request(rk_server *s, rk_cmd *cmd, const commands_args *a,
                             rk_request_kind kind, uint8_t op, const uint8_t *value,
                             size_t value_len);
/* The same carrying argv[first..argc) as an element list (none when first is argc). */
void rk_commands_list_request(rk_server *s, rk_cmd *cmd, const commands_args *a,
                              rk_request_kind kind, uint8_t op, uint32_t first);
/* INCR, DECR, INCRBY, DECRBY (one handler: the name decides) and HINCRBY (commands_hash.c). */
void rk_commands_incr(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);
void rk_commands_hincrby(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);

/* A new command at the tail of c's queue, its latency clock started. Returns NULL when out of
 * memory. */
rk_cmd *rk_commands_new_cmd(rk_client *c);

/* Run one parsed command of client c. The command's argv is borrowed for the call. */
void rk_commands_dispatch(rk_server *s, rk_client *c, const rk_resp_cmd *parsed);

/* Encode an RK_E* error as a RESP error: -UNAVAILABLE, -TIMEOUT, -BUSY or -ERR, then message. */
void rk_commands_error(rk_resp_out *out, int code, const char *message);

/* INFO's text for `section` ("default", "all", "everything", "server", "clients", "stats",
 * "keyspace", "persistence", "cluster") into out as one bulk (verbatim in RESP3). info.c. */
void rk_info_write(rk_server *s, rk_resp_out *out, const char *section);
/* True for the numeric INFO fields that are identity, configuration or a ratio, not metrics
 * (process_id, maxclients, writes_per_sync, ...); every other one is a registered metric. */
bool rk_info_field_not_metric(const char *name);

#endif
