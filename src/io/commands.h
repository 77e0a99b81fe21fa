/* commands.h — the Redis commands ringkvd answers: the table (name, arity, flags for COMMAND)
 * and one handler each. Key commands become node requests (rk_server_node_request); the rest
 * (PING, HELLO, INFO, CLIENT, CONFIG GET, ...) are answered here. Behaviour follows Redis
 * where we implement a command, and refuses with the reason where we do not (SET NX: no
 * compare-and-set yet). */
#ifndef RK_COMMANDS_H
#define RK_COMMANDS_H

#include "server.h"

/* A new command at the tail of c's queue, its latency clock started. Returns NULL when out of
 * memory. */
rk_cmd *rk_commands_new_cmd(rk_client *c);

/* Run one parsed command of client c. The command's argv is borrowed for the call. */
void rk_commands_dispatch(rk_server *s, rk_client *c, const rk_resp_cmd *parsed);

/* Encode an RK_E* error as a RESP error: -UNAVAILABLE, -TIMEOUT, -BUSY or -ERR, then message. */
void rk_commands_error(rk_resp_out *out, int code, const char *message);

/* INFO's text for `section` ("default", "all", "everything", "server", "clients", "stats",
 * "keyspace", "persistence") into out as one bulk (verbatim in RESP3). info.c. */
void rk_info_write(rk_server *s, rk_resp_out *out, const char *section);

#endif
