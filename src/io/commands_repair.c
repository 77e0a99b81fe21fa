/* commands_repair.c — anti-entropy's operator commands (aae.h, docs/cluster.md):
 *
 *   RK.REPAIR all | PARTITION        -> exchanges queued: this node compares the partition (every
 *                                       partition it holds) with each other primary now, after
 *                                       rebuilding its tree from the store; progress in INFO aae
 *                                       (aae_repair_pending, aae_exchanges, aae_keys_repaired)
 *   RK.DEBUG DAMAGE key              -> +OK: flip a byte of this node's stored copy of key
 *                                       without fixing its checksum, behind the node's back (a
 *                                       damaged disk). Only with --test-hooks yes. */
#include <stdio.h>

#include "commands.h"

void rk_commands_rk_repair(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    rk_resp_out *out = &cmd->out;
    bool all = rk_commands_arg_is(a, 1, "all");
    int64_t partition = 0;
    uint32_t q = rk_node_config_get(s->node)->partition_count;
    if (!all && (!rk_commands_arg_int(a, 1, &partition) || partition < 0 || partition >= q)) {
        char message[128];
        snprintf(message, sizeof(message),
                 "ERR RK.REPAIR takes all or a partition number from 0 to %u", q - 1);
        rk_resp_error(out, message);
        rk_server_cmd_complete(s, cmd);
        return;
    }
    int queued = rk_node_aae_repair(s->node, all, (uint32_t)partition);
    if (queued == RK_EUNAVAIL) {
        rk_resp_error(out, "ERR anti-entropy is off on this node (--aae off)");
    } else if (queued < 0) {
        rk_commands_error(out, queued, "cannot queue the repair");
    } else {
        rk_resp_integer(out, queued);
    }
    rk_server_cmd_complete(s, cmd);
}

void rk_commands_rk_debug(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    rk_resp_out *out = &cmd->out;
    if (!s->config->test_hooks) {
        rk_resp_error(out, "ERR RK.DEBUG is for tests: start the node with --test-hooks yes");
    } else if (a->argc != 3 || !rk_commands_arg_is(a, 1, "damage")) {
        rk_resp_error(out, "ERR usage: RK.DEBUG DAMAGE key");
    } else {
        int rc = rk_node_test_damage(s->node, a->argv[2], a->argv_len[2]);
        if (rc == RK_ENOTFOUND) {
            rk_resp_error(out, "ERR this node stores no copy of the key");
        } else if (rc != 0) {
            rk_commands_error(out, rc, "cannot damage the copy");
        } else {
            rk_resp_simple(out, "OK");
        }
    }
    rk_server_cmd_complete(s, cmd);
}
