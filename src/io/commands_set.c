/* commands_set.c — Redis's set commands on buckets whose policy is a merge type (`union` or
 * `set`, policy.h): SADD and SREM are writes given as operations (op.h) whose members travel as
 * one element list (elems.h); SMEMBERS, SCARD, SISMEMBER, SMISMEMBER and TYPE are typed reads
 * (RK_REQ_READ). Replies and error texts are Redis's; the node answers WRONGTYPE for a key of
 * another type (a bucket of values). DEL and EXISTS are the plain key commands. A set's write
 * reads at R before it applies, so it is a barrier (rk_server_cmd_barrier): the connection's
 * next command waits for its answer, and a pipeline sees its own writes as in Redis. */
#include <stdlib.h>

#include "../core/elems.h"
#include "commands.h"

void rk_commands_list_request(rk_server *s, rk_cmd *cmd, const commands_args *a,
                              rk_request_kind kind, uint8_t op, uint32_t first)
{
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    uint32_t count = a->argc - first;
    uint8_t *list = NULL;
    size_t list_len = 0;
    if (count > 0) {
        list_len = rk_elems_encoded_len(a->argv_len + first, count);
        list = list_len != SIZE_MAX ? malloc(list_len) : NULL;
        if (list == NULL) {
            cmd->waiting = 0;
            rk_resp_error(&cmd->out, "ERR out of memory");
            rk_server_cmd_complete(s, cmd);
            return;
        }
        rk_elems_encode(a->argv + first, a->argv_len + first, count, list);
    }
    rk_request r = {.kind = kind,
                    .op = op,
                    .key = a->argv[1],
                    .key_len = a->argv_len[1],
                    .value = list,
                    .value_len = list_len};
    rk_server_node_request(s, cmd, 0, &r);  /* the node copies what it keeps */
    free(list);
}

void rk_commands_sadd(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_WRITE;
    rk_server_cmd_barrier(cmd);
    rk_commands_list_request(s, cmd, a, RK_REQ_WRITE, RK_OP_SADD, 2);
}

void rk_commands_srem(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_WRITE;
    rk_server_cmd_barrier(cmd);
    rk_commands_list_request(s, cmd, a, RK_REQ_WRITE, RK_OP_SREM, 2);
}

void rk_commands_smembers(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_READ;
    rk_commands_list_request(s, cmd, a, RK_REQ_READ, RK_READ_SMEMBERS, a->argc);
}

void rk_commands_scard(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_READ;
    rk_commands_list_request(s, cmd, a, RK_REQ_READ, RK_READ_SCARD, a->argc);
}

/* SISMEMBER carries its one member bare, not as a list. */
void rk_commands_sismember(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_READ;
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    rk_request r = {.kind = RK_REQ_READ,
                    .op = RK_READ_SISMEMBER,
                    .key = a->argv[1],
                    .key_len = a->argv_len[1],
                    .value = a->argv[2],
                    .value_len = a->argv_len[2]};
    rk_server_node_request(s, cmd, 0, &r);
}

void rk_commands_smismember(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_READ;
    rk_commands_list_request(s, cmd, a, RK_REQ_READ, RK_READ_SMISMEMBER, 2);
}

void rk_commands_type(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_READ;
    rk_commands_list_request(s, cmd, a, RK_REQ_READ, RK_READ_TYPE, a->argc);
}
