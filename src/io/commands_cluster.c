/* commands_cluster.c — RK.CLUSTER: staged membership changes and their plan, as operators know
 * them from `riak-admin cluster` (docs/membership.md has the table of subcommands and answers;
 * `ringkv cluster ...` in tools/admin_cluster.c wraps them). Every refusal is one `-ERR` line
 * naming the reason. The changes themselves are the core's (membership.c, cluster.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cluster.h"
#include "../core/skey.h"
#include "../core/transfer.h"
#include "commands.h"

#define CLUSTER_MESSAGE_BYTES 200u

static void cluster_done(rk_server *s, rk_cmd *cmd)
{
    rk_server_cmd_complete(s, cmd);
}

static void cluster_reply(rk_cmd *cmd, int rc, const char *message)
{
    if (rc == 0) {
        rk_resp_simple(&cmd->out, "OK");
    } else {
        rk_resp_errorf(&cmd->out, "ERR %s", message[0] != '\0' ? message : rk_strerror(rc));
    }
}

static bool cluster_arg_id(const commands_args *a, uint32_t i, rk_node_id *out)
{
    int64_t v = 0;
    if (!rk_commands_arg_int(a, i, &v) || v < 1 || v > (int64_t)UINT32_MAX) {
        return false;
    }
    *out = (rk_node_id)v;
    return true;
}

static void cluster_self(rk_server *s, rk_cmd *cmd)
{
    const rk_cluster_meta *m = rk_node_cluster(s->node);
    const rk_node_config *nc = rk_node_config_get(s->node);
    const rk_cmember *me = rk_cluster_member(m, nc->id);
    rk_resp_array(&cmd->out, 8);
    rk_resp_integer(&cmd->out, nc->id);
    rk_resp_bulk_str(&cmd->out, me != NULL ? me->addr.host : "");
    rk_resp_integer(&cmd->out, me != NULL ? me->addr.client_port : 0);
    rk_resp_integer(&cmd->out, me != NULL ? me->addr.cluster_port : 0);
    rk_resp_integer(&cmd->out, (int64_t)rk_node_stats_get(s->node)->keys_live);
    rk_resp_integer(&cmd->out, m->member_count);
    rk_resp_integer(&cmd->out, (int64_t)m->ring.version);
    rk_resp_bulk_str(&cmd->out, me != NULL ? me->addr.zone : "");
}

/* STAGE-JOIN id host client_port cluster_port [zone]: the encoded metadata with the join
 * staged. */
static void cluster_stage_join(rk_server *s, rk_cmd *cmd, const commands_args *a)
{
    rk_member_addr addr = {0};
    int64_t client_port = 0;
    int64_t cluster_port = 0;
    bool zone_ok = a->argc == 6 || (a->argc == 7 && a->argv_len[6] <= RK_MEMBER_ZONE_BYTES_MAX &&
                                    memchr(a->argv[6], 0, a->argv_len[6]) == NULL);
    if (!zone_ok || !cluster_arg_id(a, 2, &addr.id) || a->argv_len[3] == 0 ||
        a->argv_len[3] > RK_MEMBER_HOST_BYTES_MAX || !rk_commands_arg_int(a, 4, &client_port) ||
        !rk_commands_arg_int(a, 5, &cluster_port) || client_port < 1 || client_port > 65535 ||
        cluster_port < 1 || cluster_port > 65535) {
        rk_resp_error(&cmd->out, "ERR syntax: RK.CLUSTER STAGE-JOIN id host client-port "
                                 "cluster-port [zone] (id 1..2^32-1, ports 1..65535, a zone of "
                                 "at most 15 bytes)");
        return;
    }
    memcpy(addr.host, a->argv[3], a->argv_len[3]);
    if (memchr(addr.host, 0, a->argv_len[3]) != NULL) {
        rk_resp_error(&cmd->out, "ERR host holds a NUL byte");
        return;
    }
    addr.client_port = (uint16_t)client_port;
    addr.cluster_port = (uint16_t)cluster_port;
    if (a->argc == 7) {
        memcpy(addr.zone, a->argv[6], a->argv_len[6]);
    }
    char message[CLUSTER_MESSAGE_BYTES] = "";
    int rc = rk_node_cluster_stage_join(s->node, &addr, message, sizeof(message));
    if (rc != 0) {
        cluster_reply(cmd, rc, message);
        return;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    rc = rk_node_cluster_encode(s->node, &bytes, &len);
    if (rc != 0) {
        rk_commands_error(&cmd->out, rc, "cannot encode the cluster metadata");
        return;
    }
    rk_resp_bulk(&cmd->out, bytes, len);
    free(bytes);
}

/* Replicas of the default bucket's n each member of `ring` holds: partitions whose primaries
 * include it, into counts (by the ring's member index). */
static void cluster_replicas(const rk_ring *ring, uint32_t n, uint32_t *counts)
{
    memset(counts, 0, sizeof(uint32_t) * RK_RING_NODES_MAX);
    uint32_t nn = n < ring->member_count ? n : ring->member_count;
    for (uint32_t p = 0; nn > 0 && p < ring->partition_count; p++) {
        rk_node_id list[RK_N_MAX];
        uint32_t primaries = 0;
        if (rk_ring_preflist(ring, p, nn, list, RK_N_MAX, &primaries) < 0) {
            continue;
        }
        for (uint32_t i = 0; i < primaries; i++) {
            for (uint32_t m = 0; m < ring->member_count; m++) {
                counts[m] += ring->members[m] == list[i] ? 1u : 0u;
            }
        }
    }
}

static uint32_t cluster_count_of(const rk_ring *ring, const uint32_t *counts, rk_node_id id)
{
    for (uint32_t m = 0; m < ring->member_count; m++) {
        if (ring->members[m] == id) {
            return counts[m];
        }
    }
    return 0;
}

/* PLAN's shares and warnings (issue 16: uneven zones can load a small zone's nodes heavily,
 * CASSANDRA-3810): each member's replicas now and after, and a warning for every node the plan
 * gives more than 1.5 times the mean. */
static void cluster_plan_shares(rk_server *s, rk_cmd *cmd, const rk_cluster_meta *m,
                                const rk_ring *after)
{
    uint32_t n = rk_node_buckets(s->node)->defaults.n;
    uint32_t now_counts[RK_RING_NODES_MAX];
    uint32_t after_counts[RK_RING_NODES_MAX];
    cluster_replicas(&m->ring, n, now_counts);
    cluster_replicas(after, n, after_counts);
    rk_resp_array(&cmd->out, m->member_count);
    for (uint32_t i = 0; i < m->member_count; i++) {
        const rk_cmember *cm = &m->members[i];
        rk_resp_array(&cmd->out, 4);
        rk_resp_integer(&cmd->out, cm->addr.id);
        rk_resp_bulk_str(&cmd->out, cm->addr.zone);
        rk_resp_integer(&cmd->out, cluster_count_of(after, after_counts, cm->addr.id));
        rk_resp_integer(&cmd->out, cluster_count_of(&m->ring, now_counts, cm->addr.id));
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < after->member_count; i++) {
        total += after_counts[i];
    }
    double mean = after->member_count > 0 ? (double)total / after->member_count : 0.0;
    uint32_t warned[RK_RING_NODES_MAX];
    uint32_t warn_count = 0;
    for (uint32_t i = 0; i < after->member_count; i++) {
        if (mean > 0.0 && after_counts[i] > 1.5 * mean) {
            warned[warn_count++] = i;
        }
    }
    rk_resp_array(&cmd->out, warn_count);
    for (uint32_t w = 0; w < warn_count; w++) {
        uint32_t i = warned[w];
        const rk_cmember *cm = rk_cluster_member(m, after->members[i]);
        char text[200];
        snprintf(text, sizeof(text), "node %u (zone %s) would hold %u replicas, %.2f times the "
                 "mean of %.0f", after->members[i],
                 cm != NULL && cm->addr.zone[0] != '\0' ? cm->addr.zone : "none",
                 after_counts[i], after_counts[i] / mean, mean);
        rk_resp_bulk_str(&cmd->out, text);
    }
}

static void cluster_plan(rk_server *s, rk_cmd *cmd)
{
    const rk_cluster_meta *m = rk_node_cluster(s->node);
    rk_ring *next = malloc(sizeof(*next));
    rk_cluster_unit *units = NULL;
    int count = 0;
    uint32_t plan_n = 0;
    char message[CLUSTER_MESSAGE_BYTES];
    if (rk_cluster_moving_message(m, message, sizeof(message))) {
        free(next);
        rk_resp_errorf(&cmd->out, "ERR %s", message);
        return;
    }
    if (next == NULL) {
        rk_commands_error(&cmd->out, RK_ENOMEM, "out of memory");
        return;
    }
    if (m->staged_count > 0) {
        count = rk_cluster_plan_ring(m, rk_node_cluster_n_max(s->node), next, &plan_n);
        if (count == 0) {
            count = rk_cluster_units_of(m, next, plan_n, &units);
        }
        if (count < 0) {
            free(next);
            rk_resp_errorf(&cmd->out, "ERR cannot compute the plan: %s", rk_strerror(count));
            return;
        }
    }
    rk_resp_array(&cmd->out, 6);
    rk_resp_integer(&cmd->out, (int64_t)m->plan + (m->staged_count > 0 ? 1 : 0));
    rk_resp_integer(&cmd->out, (int64_t)m->ring.version);
    rk_resp_array(&cmd->out, m->staged_count);
    for (uint32_t i = 0; i < m->staged_count; i++) {
        rk_resp_array(&cmd->out, 2);
        rk_resp_integer(&cmd->out, m->staged[i].id);
        rk_resp_bulk_str(&cmd->out, rk_cstage_action_name(m->staged[i].action));
    }
    rk_resp_array(&cmd->out, (size_t)count);
    for (int i = 0; i < count; i++) {
        rk_resp_array(&cmd->out, 3);
        rk_resp_integer(&cmd->out, units[i].partition);
        rk_resp_integer(&cmd->out, units[i].source_count > 0 ? units[i].sources[0] : 0);
        rk_resp_integer(&cmd->out, units[i].receiver);
    }
    cluster_plan_shares(s, cmd, m, m->staged_count > 0 ? next : &m->ring);
    free(units);
    free(next);
}

/* One transfer of the moving plan: its state as this node knows it. */
static void cluster_status_unit(rk_server *s, rk_cmd *cmd, const rk_cluster_meta *m, uint32_t i)
{
    const rk_cluster_unit *u = &m->units[i];
    const rk_xfer *x = rk_transfer_find(s->node, i);
    uint64_t now = rk_server_now_ms(s);
    const char *state = "waiting";
    uint64_t keys = 0;
    uint64_t bytes = 0;
    uint64_t rate = 0;
    rk_node_id from = u->source_count > 0 ? u->sources[0] : 0;
    if (x != NULL) {
        from = u->source_count > 0 ? u->sources[x->source_at % u->source_count] : 0;
        keys = x->keys;
        bytes = x->bytes;
        uint64_t end = x->state == RK_XFER_DONE ? x->finished_ms : now;
        if (x->started_ms > 0 && end > x->started_ms) {
            rate = keys * 1000u / (end - x->started_ms);
        }
        uint32_t timeout = rk_node_config_get(s->node)->request_timeout_ms;
        if (x->state == RK_XFER_RUNNING) {
            state = x->retries > 0 && now > x->progress_ms + 2u * timeout ? "stalled" : "running";
        }
    }
    if (rk_cluster_unit_is_done(m, i)) {
        state = "done";
    }
    rk_resp_array(&cmd->out, 7);
    rk_resp_integer(&cmd->out, u->partition);
    rk_resp_integer(&cmd->out, from);
    rk_resp_integer(&cmd->out, u->receiver);
    rk_resp_bulk_str(&cmd->out, state);
    rk_resp_integer(&cmd->out, (int64_t)keys);
    rk_resp_integer(&cmd->out, (int64_t)bytes);
    rk_resp_integer(&cmd->out, (int64_t)rate);
}

static void cluster_status(rk_server *s, rk_cmd *cmd)
{
    const rk_cluster_meta *m = rk_node_cluster(s->node);
    rk_resp_array(&cmd->out, 4);
    rk_resp_integer(&cmd->out, (int64_t)m->ring.version);
    rk_resp_integer(&cmd->out, (int64_t)m->plan);
    rk_resp_array(&cmd->out, m->member_count);
    for (uint32_t i = 0; i < m->member_count; i++) {
        const rk_cmember *cm = &m->members[i];
        rk_resp_array(&cmd->out, 4);
        rk_resp_integer(&cmd->out, cm->addr.id);
        rk_resp_bulk_str(&cmd->out, rk_cmember_state_name(cm->state));
        rk_resp_integer(&cmd->out, rk_ring_owned_count(&m->ring, cm->addr.id));
        rk_resp_integer(&cmd->out, rk_ring_owned_count(m->moving ? &m->next : &m->ring,
                                                       cm->addr.id));
    }
    uint32_t units = m->moving ? m->unit_count : 0;
    rk_resp_array(&cmd->out, units);
    for (uint32_t i = 0; i < units; i++) {
        cluster_status_unit(s, cmd, m, i);
    }
}

typedef struct cluster_count {
    uint64_t keys;
    uint64_t bytes;
} cluster_count;

static int cluster_count_one(void *ctx, const uint8_t *key, size_t key_len,
                             const uint8_t *value, size_t value_len)
{
    (void)key;
    (void)key_len;
    (void)value;
    cluster_count *c = ctx;
    c->keys++;
    c->bytes += value_len;
    return 0;
}

/* PARTITIONS p...: keys and bytes of each partition in this node's store. */
static void cluster_partitions(rk_server *s, rk_cmd *cmd, const commands_args *a)
{
    uint32_t q = rk_node_config_get(s->node)->partition_count;
    for (uint32_t i = 2; i < a->argc; i++) {
        int64_t p = 0;
        if (!rk_commands_arg_int(a, i, &p) || p < 0 || p >= (int64_t)q) {
            rk_resp_errorf(&cmd->out, "ERR partition must be 0 to %u", q - 1u);
            return;
        }
    }
    rk_resp_array(&cmd->out, a->argc - 2u);
    for (uint32_t i = 2; i < a->argc; i++) {
        int64_t p = 0;
        (void)rk_commands_arg_int(a, i, &p);
        uint8_t start[2];
        uint8_t end[2];
        rk_skey_partition_range((uint32_t)p, start, end);
        bool last = p == RK_RING_PARTITIONS_MAX - 1;
        cluster_count c = {0};
        (void)rk_store_iterate(s->store, RK_DB_DATA, start, sizeof(start), last ? NULL : end,
                               last ? 0 : sizeof(end), cluster_count_one, &c);
        rk_resp_array(&cmd->out, 3);
        rk_resp_integer(&cmd->out, p);
        rk_resp_integer(&cmd->out, (int64_t)c.keys);
        rk_resp_integer(&cmd->out, (int64_t)c.bytes);
    }
}

/* The subcommands that change the metadata: LEAVE, FORCE-REMOVE, CLEAR, COMMIT, ADOPT,
 * THROTTLE. Returns false when `a` is none of them. */
static bool cluster_change(rk_server *s, rk_cmd *cmd, const commands_args *a)
{
    char message[CLUSTER_MESSAGE_BYTES] = "";
    rk_node_id id = 0;
    if (rk_commands_arg_is(a, 1, "LEAVE") && (a->argc == 2 || a->argc == 3)) {
        if (a->argc == 3 && !cluster_arg_id(a, 2, &id)) {
            rk_resp_error(&cmd->out, "ERR syntax: RK.CLUSTER LEAVE [id]");
            return true;
        }
        cluster_reply(cmd, rk_node_cluster_leave(s->node, id, false, message, sizeof(message)),
                      message);
    } else if (rk_commands_arg_is(a, 1, "FORCE-REMOVE") && a->argc == 3) {
        if (!cluster_arg_id(a, 2, &id)) {
            rk_resp_error(&cmd->out, "ERR syntax: RK.CLUSTER FORCE-REMOVE id");
            return true;
        }
        cluster_reply(cmd, rk_node_cluster_leave(s->node, id, true, message, sizeof(message)),
                      message);
    } else if (rk_commands_arg_is(a, 1, "CLEAR") && a->argc == 2) {
        rk_node_cluster_clear(s->node);
        rk_resp_simple(&cmd->out, "OK");
    } else if (rk_commands_arg_is(a, 1, "COMMIT") && a->argc == 2) {
        int rc = rk_node_cluster_commit(s->node, message, sizeof(message));
        if (rc == 0) {
            rk_resp_simple(&cmd->out, message);
        } else {
            cluster_reply(cmd, rc, message);
        }
    } else if (rk_commands_arg_is(a, 1, "ADOPT") && a->argc == 3) {
        cluster_reply(cmd, rk_node_cluster_adopt(s->node, a->argv[2], a->argv_len[2], message,
                                                 sizeof(message)),
                      message);
    } else if (rk_commands_arg_is(a, 1, "THROTTLE") && a->argc == 3) {
        int64_t v = 0;
        if (!rk_commands_arg_int(a, 2, &v) || v < 0 || v > 100000000) {
            rk_resp_error(&cmd->out, "ERR syntax: RK.CLUSTER THROTTLE objects-per-second "
                                     "(0 to 100000000; 0 pauses transfers)");
            return true;
        }
        rk_node_transfer_limit(s->node, (uint32_t)v);
        rk_resp_simple(&cmd->out, "OK");
    } else {
        return false;
    }
    return true;
}

void rk_commands_rk_cluster(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    if (rk_commands_arg_is(a, 1, "SELF") && a->argc == 2) {
        cluster_self(s, cmd);
    } else if (rk_commands_arg_is(a, 1, "STAGE-JOIN")) {
        cluster_stage_join(s, cmd, a);
    } else if (rk_commands_arg_is(a, 1, "PLAN") && a->argc == 2) {
        cluster_plan(s, cmd);
    } else if (rk_commands_arg_is(a, 1, "STATUS") && a->argc == 2) {
        cluster_status(s, cmd);
    } else if (rk_commands_arg_is(a, 1, "PARTITIONS") && a->argc >= 3) {
        cluster_partitions(s, cmd, a);
    } else if (!cluster_change(s, cmd, a)) {
        rk_resp_error(&cmd->out,
                      "ERR syntax: RK.CLUSTER SELF | STAGE-JOIN id host client-port cluster-port "
                      "| ADOPT meta | LEAVE [id] | FORCE-REMOVE id | CLEAR | PLAN | COMMIT | "
                      "STATUS | PARTITIONS p... | THROTTLE objects-per-second");
    }
    cluster_done(s, cmd);
}
