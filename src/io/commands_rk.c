/* commands_rk.c — the RK.* commands: the Dynamo API, which exposes versions (RK.GET returns the
 * context and every sibling; RK.PUT and RK.DEL supersede what their context saw), and the admin
 * views of one node (its local copy of a key, the ring, a key's preference list, its members).
 *
 *   RK.GET key [R n] [SLOPPY yes|no] -> [context, [value, ...]]
 *   RK.PUT key context value [W n] [SLOPPY yes|no]
 *                                    -> [new context, replicas that acknowledged]
 *                                       (context "" for a blind write)
 *   RK.DEL key context [W n] [SLOPPY yes|no] -> [new context, replicas that acknowledged]
 *   RK.BUCKET SET name prop value [prop value ...] -> members that stored them
 *   RK.BUCKET GET name               -> map n, r, w, policy, sloppy, fallback_w, fallback_r,
 *                                       version
 *   RK.LOCAL key                     -> nil when nothing live, else [context, [value, ...]]
 *   RK.PREFLIST key                  -> [node id, ...] primaries in order
 *   RK.RING                          -> [owner of partition 0, 1, ...]
 *   RK.RING ROUTE                    -> [ring version, default bucket n, encoded ring]: what
 *                                       a client needs to route (libringkv's router): the
 *                                       ring in ring.h's byte format, so the client decodes
 *                                       it and computes preference lists with ring.c itself
 *   RK.METRICS                       -> the Prometheus text exposition (prom.h), one bulk
 *   RK.MEMBERS                       -> [[id, client host:port, cluster host:port,
 *                                        self|up|suspect|connecting|down, ms since heard
 *                                        or -1, zone ("" for none)], ...]
 *                                       as this node sees them (peer.h, rk_peer_view)
 *
 * RK.GET, RK.PUT and RK.DEL count in INFO's ops_get, ops_put and ops_del, one per command, like
 * GET, SET and DEL (commands.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bucket.h"
#include "../core/dvvset.h"
#include "../core/ring.h"
#include "commands.h"
#include "peer.h"
#include "prom.h"

#define COMMANDS_RK_BUCKET_PROPS_MAX 8u

/* Parse trailing "R n" / "W n" / "SLOPPY yes|no" options from argv[first] into `r`. 0, or an
 * error written to cmd. */
static int commands_rk_quorum(rk_cmd *cmd, const commands_args *a, uint32_t first,
                              rk_request *r)
{
    for (uint32_t i = first; i < a->argc; i += 2) {
        if (rk_commands_arg_is(a, i, "SLOPPY") && i + 1 < a->argc) {
            bool yes = rk_commands_arg_is(a, i + 1, "yes") || rk_commands_arg_is(a, i + 1, "true");
            bool no = rk_commands_arg_is(a, i + 1, "no") || rk_commands_arg_is(a, i + 1, "false");
            if (yes || no) {
                r->sloppy = yes ? RK_SLOPPY_ON : RK_SLOPPY_OFF;
                continue;
            }
        }
        int64_t v = 0;
        bool is_r = rk_commands_arg_is(a, i, "R");
        bool is_w = rk_commands_arg_is(a, i, "W");
        if ((!is_r && !is_w) || i + 1 >= a->argc || !rk_commands_arg_int(a, i + 1, &v) ||
            v < 1 || v > RK_N_MAX) {
            rk_resp_errorf(&cmd->out, "ERR syntax: options are R n and W n with n 1 to %u, and "
                           "SLOPPY yes|no", RK_N_MAX);
            return RK_EINVAL;
        }
        *(is_r ? &r->r : &r->w) = (uint32_t)v;
    }
    return 0;
}

static void commands_rk_to_node(rk_server *s, rk_cmd *cmd, const rk_request *r)
{
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    rk_server_node_request(s, cmd, 0, r);
}

void rk_commands_rk_get(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    s->stats.ops_get++;
    cmd->latency_class = RK_LAT_READ;
    rk_request r = {.kind = RK_REQ_VGET, .key = a->argv[1], .key_len = a->argv_len[1]};
    if (commands_rk_quorum(cmd, a, 2, &r) != 0 || r.w != 0) {
        if (r.w != 0) {
            rk_resp_error(&cmd->out, "ERR RK.GET takes R, not W");
        }
        rk_server_cmd_complete(s, cmd);
        return;
    }
    commands_rk_to_node(s, cmd, &r);
}

static void commands_rk_write(rk_server *s, rk_cmd *cmd, const commands_args *a,
                              rk_request_kind kind)
{
    cmd->latency_class = RK_LAT_WRITE;
    rk_request r = {.kind = kind,
                    .key = a->argv[1],
                    .key_len = a->argv_len[1],
                    .context = (const char *)a->argv[2],
                    .context_len = a->argv_len[2]};
    uint32_t first_option = 3;
    if (kind == RK_REQ_VPUT) {
        r.value = a->argv[3];
        r.value_len = a->argv_len[3];
        first_option = 4;
    }
    if (commands_rk_quorum(cmd, a, first_option, &r) != 0 || r.r != 0) {
        if (r.r != 0) {
            rk_resp_error(&cmd->out, "ERR writes take W, not R");
        }
        rk_server_cmd_complete(s, cmd);
        return;
    }
    commands_rk_to_node(s, cmd, &r);
}

void rk_commands_rk_put(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    s->stats.ops_put++;
    commands_rk_write(s, cmd, a, RK_REQ_VPUT);
}

void rk_commands_rk_del(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    s->stats.ops_del++;
    commands_rk_write(s, cmd, a, RK_REQ_VDEL);
}

static void commands_rk_bucket_get(rk_server *s, rk_cmd *cmd, const commands_args *a)
{
    const rk_bucket_table *t = rk_node_buckets(s->node);
    const rk_bucket_entry *e = rk_bucket_find(t, a->argv[2], a->argv_len[2]);
    const rk_bucket_props *p = e != NULL ? &e->props : &t->defaults;
    rk_resp_out *out = &cmd->out;
    rk_resp_map(out, 8);
    rk_resp_bulk_str(out, "n");
    rk_resp_integer(out, p->n);
    rk_resp_bulk_str(out, "r");
    rk_resp_integer(out, p->r);
    rk_resp_bulk_str(out, "w");
    rk_resp_integer(out, p->w);
    rk_resp_bulk_str(out, "policy");
    rk_resp_bulk_str(out, rk_bucket_policy_name(p->policy));
    rk_resp_bulk_str(out, "sloppy");
    rk_resp_bulk_str(out, p->sloppy ? "true" : "false");
    rk_resp_bulk_str(out, "fallback_w");
    rk_resp_integer(out, p->fallback_w);
    rk_resp_bulk_str(out, "fallback_r");
    rk_resp_integer(out, p->fallback_r);
    rk_resp_bulk_str(out, "version");
    rk_resp_integer(out, (int64_t)p->version);
    rk_server_cmd_complete(s, cmd);
}

void rk_commands_rk_bucket(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    if (rk_commands_arg_is(a, 1, "GET") && a->argc == 3) {
        commands_rk_bucket_get(s, cmd, a);
        return;
    }
    uint32_t pairs = a->argc > 3 ? (a->argc - 3) / 2 : 0;
    if (!rk_commands_arg_is(a, 1, "SET") || a->argc < 5 || (a->argc - 3) % 2 != 0 ||
        pairs > COMMANDS_RK_BUCKET_PROPS_MAX) {
        rk_resp_error(&cmd->out, "ERR syntax: RK.BUCKET SET name prop value [prop value ...] "
                                 "| RK.BUCKET GET name");
        rk_server_cmd_complete(s, cmd);
        return;
    }
    char names[COMMANDS_RK_BUCKET_PROPS_MAX][16];
    char values[COMMANDS_RK_BUCKET_PROPS_MAX][16];
    const char *name_ptrs[COMMANDS_RK_BUCKET_PROPS_MAX];
    const char *value_ptrs[COMMANDS_RK_BUCKET_PROPS_MAX];
    for (uint32_t i = 0; i < pairs; i++) {
        name_ptrs[i] = rk_commands_arg_str(a, 3 + 2 * i, names[i], sizeof(names[i]));
        value_ptrs[i] = rk_commands_arg_str(a, 4 + 2 * i, values[i], sizeof(values[i]));
    }
    uint64_t id = 0;
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    if (rk_server_request_take(s, cmd, 0, &id) != 0) {
        cmd->combine = RK_CMD_DONE;
        cmd->waiting = 0;
        rk_resp_error(&cmd->out, "BUSY too many requests");
        rk_server_cmd_complete(s, cmd);
        return;
    }
    rk_node_bucket_set(s->node, id, a->argv[2], a->argv_len[2], name_ptrs, value_ptrs, pairs);
}

void rk_commands_rk_local(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    rk_resp_out *out = &cmd->out;
    rk_buf buf;
    rk_dvvset set;
    int rc = rk_node_local_get(s->node, a->argv[1], a->argv_len[1], &buf);
    if (rc == 0 && buf.len == 0) {
        rk_resp_null(out);
        rk_server_cmd_complete(s, cmd);
        return;
    }
    if (rc == 0) {
        rc = rk_dvvset_decode(buf.data, buf.len, &set);
        rk_store_buf_free(&buf);
    }
    if (rc != 0) {
        rk_commands_error(out, rc, "cannot read the local copy");
        rk_server_cmd_complete(s, cmd);
        return;
    }
    /* What this node's own store holds, without coordination: nil when nothing live. */
    uint32_t live = 0;
    for (uint32_t i = 0; i < set.sibling_count; i++) {
        live += set.siblings[i].tombstone ? 0 : 1;
    }
    if (live == 0) {
        rk_resp_null(out);
    } else {
        char token[RK_VV_TOKEN_CHARS_MAX + 1];
        rk_vv context;
        rk_dvvset_join(&set, &context);
        rk_vv_token_encode(&context, token, sizeof(token));
        rk_resp_array(out, 2);
        rk_resp_bulk_str(out, token);
        rk_resp_array(out, live);
        for (uint32_t i = 0; i < set.sibling_count; i++) {
            if (!set.siblings[i].tombstone) {
                rk_resp_bulk(out, set.siblings[i].value, set.siblings[i].value_len);
            }
        }
    }
    rk_dvvset_deinit(&set);
    rk_server_cmd_complete(s, cmd);
}

void rk_commands_rk_preflist(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    rk_node_id list[RK_MEMBERS_MAX];
    uint32_t primaries = 0;
    rk_node_preflist(s->node, a->argv[1], a->argv_len[1], list, RK_MEMBERS_MAX, &primaries);
    rk_resp_array(&cmd->out, primaries);
    for (uint32_t i = 0; i < primaries; i++) {
        rk_resp_integer(&cmd->out, list[i]);
    }
    rk_server_cmd_complete(s, cmd);
}

/* RK.RING ROUTE: the ring whole, as the node keeps it, for clients that route by key. */
static void commands_rk_ring_route(rk_server *s, rk_cmd *cmd)
{
    const rk_ring *ring = rk_node_ring(s->node);
    uint8_t *bytes = malloc(RK_RING_ENCODED_BYTES_MAX);
    int len = bytes != NULL ? rk_ring_encode(ring, bytes, RK_RING_ENCODED_BYTES_MAX) : RK_ENOMEM;
    if (len < 0) {
        rk_commands_error(&cmd->out, len, "cannot encode the ring");
    } else {
        rk_resp_array(&cmd->out, 3);
        rk_resp_integer(&cmd->out, (int64_t)ring->version);
        rk_resp_integer(&cmd->out, rk_node_buckets(s->node)->defaults.n);
        rk_resp_bulk(&cmd->out, bytes, (size_t)len);
    }
    free(bytes);
    rk_server_cmd_complete(s, cmd);
}

void rk_commands_rk_ring(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    if (a->argc == 2 && rk_commands_arg_is(a, 1, "ROUTE")) {
        commands_rk_ring_route(s, cmd);
        return;
    }
    if (a->argc != 1) {
        rk_resp_error(&cmd->out, "ERR syntax: RK.RING | RK.RING ROUTE");
        rk_server_cmd_complete(s, cmd);
        return;
    }
    const rk_ring *ring = rk_node_ring(s->node);
    uint32_t q = rk_node_config_get(s->node)->partition_count;
    rk_resp_array(&cmd->out, q);
    for (uint32_t p = 0; p < q; p++) {
        rk_resp_integer(&cmd->out, rk_ring_owner(ring, p));
    }
    rk_server_cmd_complete(s, cmd);
}

/* One entry per member of the node's table. The state and last-heard time are the transport's
 * (peer.h): "connecting" is a member still counted up while its first connection is set up;
 * without a transport (not started) the node's own view decides between up and down. */
void rk_commands_rk_members(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    const rk_peers *peers = s->runtime->peers;
    const rk_members *members = rk_node_members(s->node);
    rk_resp_array(&cmd->out, members->count);
    for (uint32_t slot = 0; slot < members->slot_end; slot++) {
        const rk_member *entry = rk_members_at(members, slot);
        if (entry == NULL) {
            continue;
        }
        const rk_member_addr *m = &entry->addr;
        char client_addr[RK_MEMBER_HOST_BYTES_MAX + 8];
        char cluster_addr[RK_MEMBER_HOST_BYTES_MAX + 8];
        snprintf(client_addr, sizeof(client_addr), "%s:%u", m->host, m->client_port);
        snprintf(cluster_addr, sizeof(cluster_addr), "%s:%u", m->host, m->cluster_port);
        const char *state = NULL;
        int64_t heard_ms_ago = 0;
        rk_peer_view view;
        if (m->id == rk_node_config_get(s->node)->id) {
            state = "self";
        } else if (peers != NULL && rk_peers_view(peers, m->id, &view) == 0) {
            state = rk_peer_view_state_name(view.state);
            heard_ms_ago = view.heard_ms_ago;
            if (strcmp(state, "up") == 0 && rk_node_member_suspected(s->node, m->id)) {
                state = "suspect";  /* alive to heartbeats, but its requests go unanswered */
            }
        } else {
            state = rk_node_member_reachable(s->node, m->id) ? "up" : "down";
            heard_ms_ago = -1;
        }
        rk_resp_array(&cmd->out, 6);
        rk_resp_integer(&cmd->out, m->id);
        rk_resp_bulk_str(&cmd->out, client_addr);
        rk_resp_bulk_str(&cmd->out, cluster_addr);
        rk_resp_bulk_str(&cmd->out, state);
        rk_resp_integer(&cmd->out, heard_ms_ago);
        rk_resp_bulk_str(&cmd->out, m->zone);
    }
    rk_server_cmd_complete(s, cmd);
}

/* What /metrics will answer over HTTP, for RESP clients and tests until then. */
void rk_commands_rk_metrics(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    (void)c;
    (void)a;
    char *text = NULL;
    size_t len = 0;
    if (rk_prom_render(s, &text, &len) != 0) {
        rk_resp_error(&cmd->out, "ERR out of memory rendering the metrics");
    } else {
        rk_resp_bulk(&cmd->out, (const uint8_t *)text, len);
        free(text);
    }
    rk_server_cmd_complete(s, cmd);
}
