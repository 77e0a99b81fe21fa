/* commands_hash.c — the commands that carry an increment, on `counter` and `map` buckets
 * (policy_counter.c, policy_map.c): INCR, DECR, INCRBY and DECRBY are one write (RK_OP_INCRBY
 * with a signed 8-byte increment, op.h), HINCRBY a write of the field and its increment as one
 * element list. Both read at R before they apply, so each is a barrier in its connection's
 * pipeline (INCR k; GET k answers the new value, as in Redis). The other hash commands are
 * commands_typed.c's; GET, DEL and EXISTS the plain key commands. */
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
    rk_commands_key_request(s, cmd, a, RK_REQ_WRITE, RK_OP_INCRBY, bytes, sizeof(bytes));
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
    rk_commands_key_request(s, cmd, a, RK_REQ_WRITE, RK_OP_HINCRBY, list, list_len);
    free(list);
}

