/* commands_hash.c — Redis's counter and hash commands on `counter` and `map` buckets
 * (policy_counter.c, policy_map.c): INCR, DECR, INCRBY and DECRBY are one write (RK_OP_INCRBY
 * with a signed 8-byte increment); HSET, HDEL and HINCRBY are writes whose arguments travel as
 * one element list (elems.h); HGET, HMGET, HGETALL, HLEN and HEXISTS are typed reads. GET, DEL,
 * EXISTS and TYPE are the plain key commands. Every write reads at R before it applies, so it
 * is a barrier in its connection's pipeline (INCR k; GET k answers the new value, as in
 * Redis). Replies and error texts are Redis's. */
#include <stdlib.h>
#include <string.h>

#include "../core/elems.h"
#include "commands.h"

static void commands_hash_refuse(rk_server *s, rk_cmd *cmd, const char *error)
{
    rk_resp_error(&cmd->out, error);
    rk_server_cmd_complete(s, cmd);
}

void rk_commands_incr(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_WRITE;
    bool decrement = a->argv_len[0] >= 1 && (a->argv[0][0] == 'd' || a->argv[0][0] == 'D');
    int64_t increment = 1;
    if (a->argc == 3 && !rk_commands_arg_int(a, 2, &increment)) {
        commands_hash_refuse(s, cmd, "ERR value is not an integer or out of range");
        return;
    }
    if (decrement && increment == INT64_MIN) {
        commands_hash_refuse(s, cmd, "ERR decrement would overflow");
        return;
    }
    uint8_t bytes[RK_OP_INCREMENT_BYTES];
    rk_op_increment_encode(decrement ? -increment : increment, bytes);
    rk_server_cmd_barrier(cmd);
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    rk_request r = {.kind = RK_REQ_WRITE,
                    .op = RK_OP_INCRBY,
                    .key = a->argv[1],
                    .key_len = a->argv_len[1],
                    .value = bytes,
                    .value_len = sizeof(bytes)};
    rk_server_node_request(s, cmd, 0, &r);
}

void rk_commands_hset(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_WRITE;
    if ((a->argc - 2) % 2 != 0) {
        commands_hash_refuse(s, cmd, "ERR wrong number of arguments for 'hset' command");
        return;
    }
    rk_server_cmd_barrier(cmd);
    rk_commands_list_request(s, cmd, a, RK_REQ_WRITE, RK_OP_HSET, 2);
}

void rk_commands_hdel(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_WRITE;
    rk_server_cmd_barrier(cmd);
    rk_commands_list_request(s, cmd, a, RK_REQ_WRITE, RK_OP_HDEL, 2);
}

/* HINCRBY key field increment: the field and the increment's 8 bytes as one element list. */
void rk_commands_hincrby(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_WRITE;
    int64_t increment = 0;
    if (!rk_commands_arg_int(a, 3, &increment)) {
        commands_hash_refuse(s, cmd, "ERR value is not an integer or out of range");
        return;
    }
    uint8_t bytes[RK_OP_INCREMENT_BYTES];
    rk_op_increment_encode(increment, bytes);
    const uint8_t *parts[2] = {a->argv[2], bytes};
    size_t lens[2] = {a->argv_len[2], sizeof(bytes)};
    size_t list_len = rk_elems_encoded_len(lens, 2);
    uint8_t *list = list_len != SIZE_MAX ? malloc(list_len) : NULL;
    if (list == NULL) {
        commands_hash_refuse(s, cmd, "ERR out of memory");
        return;
    }
    rk_elems_encode(parts, lens, 2, list);
    rk_server_cmd_barrier(cmd);
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    rk_request r = {.kind = RK_REQ_WRITE,
                    .op = RK_OP_HINCRBY,
                    .key = a->argv[1],
                    .key_len = a->argv_len[1],
                    .value = list,
                    .value_len = list_len};
    rk_server_node_request(s, cmd, 0, &r);  /* the node copies what it keeps */
    free(list);
}

/* HGET and HEXISTS carry their one field bare; HMGET its fields as a list; HGETALL and HLEN
 * nothing. */
void rk_commands_hread(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    cmd->latency_class = RK_LAT_READ;
    if (rk_commands_arg_is(a, 0, "hmget")) {
        rk_commands_list_request(s, cmd, a, RK_REQ_READ, RK_READ_HMGET, 2);
        return;
    }
    if (rk_commands_arg_is(a, 0, "hgetall") || rk_commands_arg_is(a, 0, "hlen")) {
        uint8_t op = rk_commands_arg_is(a, 0, "hlen") ? RK_READ_HLEN : RK_READ_HGETALL;
        rk_commands_list_request(s, cmd, a, RK_REQ_READ, op, a->argc);
        return;
    }
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    rk_request r = {.kind = RK_REQ_READ,
                    .op = rk_commands_arg_is(a, 0, "hexists") ? RK_READ_HEXISTS : RK_READ_HGET,
                    .key = a->argv[1],
                    .key_len = a->argv_len[1],
                    .value = a->argv[2],
                    .value_len = a->argv_len[2]};
    rk_server_node_request(s, cmd, 0, &r);
}
