/* commands_typed.c — Redis's commands on the merge types, driven by one table: the set
 * commands (SADD, SREM, SMEMBERS, SCARD, SISMEMBER, SMISMEMBER) on `union` and `set` buckets,
 * the hash commands (HSET, HDEL, HGET, HMGET, HGETALL, HKEYS, HVALS, HLEN, HEXISTS) on `map`
 * buckets, and TYPE of any key. A write is an operation (op.h) whose arguments travel as one
 * element list (elems.h); a read is RK_REQ_READ with its rk_read_kind and argument (none, the
 * one argument bare, or a list). The node answers WRONGTYPE for a key of another type; replies
 * and error texts are Redis's. A merge type's write reads at R before it applies, so it is a
 * barrier (rk_server_cmd_barrier): the connection's next command waits for its answer, and a
 * pipeline sees its own writes as in Redis. INCR and HINCRBY, whose increments are encoded, are
 * commands_hash.c's; DEL and EXISTS are the plain key commands. */
#include <stdlib.h>

#include "../core/elems.h"
#include "commands.h"

void rk_commands_key_request(rk_server *s, rk_cmd *cmd, const commands_args *a,
                             rk_request_kind kind, uint8_t op, const uint8_t *value,
                             size_t value_len)
{
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    rk_request r = {.kind = kind,
                    .op = op,
                    .key = a->argv[1],
                    .key_len = a->argv_len[1],
                    .value = value,
                    .value_len = value_len};
    rk_server_node_request(s, cmd, 0, &r);  /* the node copies what it keeps */
}

void rk_commands_list_request(rk_server *s, rk_cmd *cmd, const commands_args *a,
                              rk_request_kind kind, uint8_t op, uint32_t first)
{
    uint32_t count = a->argc - first;
    uint8_t *list = NULL;
    size_t list_len = 0;
    if (count > 0) {
        list_len = rk_elems_encoded_len(a->argv_len + first, count);
        list = list_len != SIZE_MAX ? malloc(list_len) : NULL;
        if (list == NULL) {
            rk_resp_error(&cmd->out, "ERR out of memory");
            rk_server_cmd_complete(s, cmd);
            return;
        }
        rk_elems_encode(a->argv + first, a->argv_len + first, count, list);
    }
    rk_commands_key_request(s, cmd, a, kind, op, list, list_len);
    free(list);
}

/* What a typed command sends after its key. */
typedef enum typed_arg {
    TYPED_NONE = 0,     /* nothing */
    TYPED_BARE,         /* argv[2] as it is */
    TYPED_LIST,         /* argv[2..argc) as an element list */
} typed_arg;

typedef struct typed_command {
    const char *name;
    rk_request_kind kind;
    uint8_t op;
    typed_arg arg;
} typed_command;

static const typed_command typed_commands[] = {
    {"sadd", RK_REQ_WRITE, RK_OP_SADD, TYPED_LIST},
    {"srem", RK_REQ_WRITE, RK_OP_SREM, TYPED_LIST},
    {"hset", RK_REQ_WRITE, RK_OP_HSET, TYPED_LIST},
    {"hdel", RK_REQ_WRITE, RK_OP_HDEL, TYPED_LIST},
    {"smembers", RK_REQ_READ, RK_READ_SMEMBERS, TYPED_NONE},
    {"scard", RK_REQ_READ, RK_READ_SCARD, TYPED_NONE},
    {"sismember", RK_REQ_READ, RK_READ_SISMEMBER, TYPED_BARE},
    {"smismember", RK_REQ_READ, RK_READ_SMISMEMBER, TYPED_LIST},
    {"type", RK_REQ_READ, RK_READ_TYPE, TYPED_NONE},
    {"hget", RK_REQ_READ, RK_READ_HGET, TYPED_BARE},
    {"hexists", RK_REQ_READ, RK_READ_HEXISTS, TYPED_BARE},
    {"hmget", RK_REQ_READ, RK_READ_HMGET, TYPED_LIST},
    {"hgetall", RK_REQ_READ, RK_READ_HGETALL, TYPED_NONE},
    {"hkeys", RK_REQ_READ, RK_READ_HKEYS, TYPED_NONE},
    {"hvals", RK_REQ_READ, RK_READ_HVALS, TYPED_NONE},
    {"hlen", RK_REQ_READ, RK_READ_HLEN, TYPED_NONE},
};

void rk_commands_typed(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    const typed_command *t = NULL;
    for (size_t i = 0; i < sizeof(typed_commands) / sizeof(typed_commands[0]) && t == NULL; i++) {
        t = rk_commands_arg_is(a, 0, typed_commands[i].name) ? &typed_commands[i] : NULL;
    }
    RK_ASSERT(t != NULL);   /* the command table sends only these names here */
    cmd->latency_class = t->kind == RK_REQ_WRITE ? RK_LAT_WRITE : RK_LAT_READ;
    if (t->op == RK_OP_HSET && t->kind == RK_REQ_WRITE && (a->argc - 2) % 2 != 0) {
        rk_resp_error(&cmd->out, "ERR wrong number of arguments for 'hset' command");
        rk_server_cmd_complete(s, cmd);
        return;
    }
    if (t->kind == RK_REQ_WRITE) {
        rk_server_cmd_barrier(cmd);
    }
    if (t->arg == TYPED_BARE) {
        rk_commands_key_request(s, cmd, a, t->kind, t->op, a->argv[2], a->argv_len[2]);
    } else {
        rk_commands_list_request(s, cmd, a, t->kind, t->op, t->arg == TYPED_LIST ? 2 : a->argc);
    }
}
