/* server_metrics.c — the runtime's metric tables (see server_metrics.h). Every descriptor's
 * base is the rk_server or the rk_peers, and its offset names the field its event updates:
 * server.c and commands.c bump rk_server_stats, peer.c and peer_conn.c bump the link and peers
 * stats, runtime.c counts sync jobs. Computed values (sums over links, connected clients) read
 * through a value_fn. */
#include "server_metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "peer.h"

#define SERVER_METRIC(field, info_name, sect, k, u, h)                                         \
    {.name = (info_name), .section = (sect), .kind = (k), .unit = (u), .help = (h),           \
     .offset = offsetof(rk_server, field)}
#define SERVER_METRIC_FN(fn, info_name, sect, k, u, h)                                         \
    {.name = (info_name), .section = (sect), .kind = (k), .unit = (u), .help = (h),           \
     .value_fn = (fn)}

static uint64_t server_metric_client_count(const void *base, size_t offset)
{
    (void)offset;
    return ((const rk_server *)base)->client_count;
}

/* Clients not being read (back-pressure) but still open. */
static uint64_t server_metric_clients_paused(const void *base, size_t offset)
{
    (void)offset;
    uint64_t paused = 0;
    for (const rk_client *c = ((const rk_server *)base)->clients; c != NULL; c = c->next) {
        paused += !c->reading && !c->closed;
    }
    return paused;
}

static const rk_metric_desc server_metrics_table[] = {
    /* clients */
    SERVER_METRIC_FN(server_metric_client_count, "connected_clients", "clients",
                     RK_METRIC_GAUGE, "clients", "Client connections open."),
    SERVER_METRIC_FN(server_metric_clients_paused, "clients_paused_reading", "clients",
                     RK_METRIC_GAUGE, "clients",
                     "Open clients not being read because of back-pressure."),
    /* stats */
    SERVER_METRIC(stats.connections_received, "total_connections_received", "stats",
                  RK_METRIC_COUNTER, "connections", "Client connections accepted."),
    SERVER_METRIC(stats.connections_rejected, "rejected_connections", "stats",
                  RK_METRIC_COUNTER, "connections", "Client connections refused at maxclients."),
    SERVER_METRIC(stats.commands_processed, "total_commands_processed", "stats",
                  RK_METRIC_COUNTER, "commands", "Client commands parsed and run."),
    SERVER_METRIC(stats.bytes_in, "total_net_input_bytes", "stats", RK_METRIC_COUNTER, "bytes",
                  "Bytes read from clients."),
    SERVER_METRIC(stats.bytes_out, "total_net_output_bytes", "stats", RK_METRIC_COUNTER,
                  "bytes", "Bytes written to clients."),
    SERVER_METRIC(stats.protocol_errors, "protocol_errors", "stats", RK_METRIC_COUNTER,
                  "errors", "Client connections closed for a malformed request."),
    SERVER_METRIC(stats.clients_closed_idle, "clients_closed_idle", "stats", RK_METRIC_COUNTER,
                  "clients", "Clients closed after the idle timeout."),
    SERVER_METRIC(stats.clients_closed_output, "clients_closed_output_limit", "stats",
                  RK_METRIC_COUNTER, "clients",
                  "Clients closed for passing client-output-buffer-limit."),
    SERVER_METRIC(stats.clients_closed_input, "clients_closed_input_limit", "stats",
                  RK_METRIC_COUNTER, "clients",
                  "Clients closed for passing client-query-buffer-limit."),
    SERVER_METRIC(stats.backpressure_pauses, "backpressure_pauses", "stats", RK_METRIC_COUNTER,
                  "pauses", "Times the server stopped reading clients while the node was busy."),
    SERVER_METRIC(stats.ops_get, "ops_get", "stats", RK_METRIC_COUNTER, "commands",
                  "Client read commands received: GET, MGET and RK.GET, one per command."),
    SERVER_METRIC(stats.ops_put, "ops_put", "stats", RK_METRIC_COUNTER, "commands",
                  "Client write commands received: SET and RK.PUT, one per command."),
    SERVER_METRIC(stats.ops_del, "ops_del", "stats", RK_METRIC_COUNTER, "commands",
                  "Client delete commands received: DEL and RK.DEL, one per command."),
};

static void server_metric_latency(const void *base, size_t offset, rk_metric_hist *out)
{
    rk_latency_hist((const rk_latency *)((const uint8_t *)base + offset), out);
}

static uint64_t server_metric_durable_seq(const void *base, size_t offset)
{
    (void)offset;
    return rk_store_durable_seq(((const rk_server *)base)->store);
}

static uint64_t server_metric_sync_jobs(const void *base, size_t offset)
{
    (void)offset;
    return ((const rk_server *)base)->runtime->sync_jobs;
}

#define SERVER_LATENCY(class, info_name, h)                                                    \
    {.name = (info_name), .section = "stats", .kind = RK_METRIC_HISTOGRAM,                    \
     .unit = "microseconds", .help = (h),                                                      \
     .offset = offsetof(rk_server, stats.latency) + (class) * sizeof(rk_latency),             \
     .hist_fn = server_metric_latency}

/* Bytes of the regular files directly in `dir_name`, as allocated; its subdirectories' names
 * go to `on_subdir` (NULL: ignored). 0 for an unreadable directory. */
static uint64_t server_metric_dir_bytes(const char *dir_name,
                                        uint64_t (*on_subdir)(const char *path))
{
    DIR *dir = opendir(dir_name);
    if (dir == NULL) {
        return 0;
    }
    uint64_t total = 0;
    for (struct dirent *e = readdir(dir); e != NULL; e = readdir(dir)) {
        char path[4096];
        struct stat st;
        int len = snprintf(path, sizeof(path), "%s/%s", dir_name, e->d_name);
        if (len <= 0 || (size_t)len >= sizeof(path) || stat(path, &st) != 0) {
            continue;
        }
        if (S_ISREG(st.st_mode)) {
            total += (uint64_t)st.st_blocks * 512u;
        } else if (S_ISDIR(st.st_mode) && on_subdir != NULL && e->d_name[0] != '.') {
            total += on_subdir(path);
        }
    }
    closedir(dir);
    return total;
}

static uint64_t server_metric_subdir_bytes(const char *path)
{
    return server_metric_dir_bytes(path, NULL);
}

/* Bytes the store's files take on disk: the regular files of data-dir and of its immediate
 * subdirectories (rocksdb keeps its files in data-dir/rocksdb), as allocated (a sparse LMDB
 * map counts what it holds, not its map size). 0 for the mem engine or an unreadable
 * directory. Read at each scrape: a readdir of a handful of files (RocksDB: its SST files). */
static uint64_t server_metric_store_disk_bytes(const void *base, size_t offset)
{
    (void)offset;
    const rk_server *s = base;
    const char *dir_name = s->config->data_dir;
    if (!rk_store_is_durable(s->store) || dir_name == NULL) {
        return 0;
    }
    return server_metric_dir_bytes(dir_name, server_metric_subdir_bytes);
}

static void server_metric_sync_latency(const void *base, size_t offset, rk_metric_hist *out)
{
    (void)offset;
    rk_latency_hist(&((const rk_server *)base)->runtime->sync_latency, out);
}

/* ---- labelled: Prometheus families (INFO shows ops_* and latency_* instead) -------------- */

const char *const rk_server_op_names[RK_SERVER_OP_COUNT] = {
    [RK_SERVER_OP_GET] = "get",           [RK_SERVER_OP_PUT] = "put",
    [RK_SERVER_OP_DEL] = "del",           [RK_SERVER_OP_EXISTS] = "exists",
    [RK_SERVER_OP_VGET] = "vget",         [RK_SERVER_OP_VPUT] = "vput",
    [RK_SERVER_OP_VDEL] = "vdel",         [RK_SERVER_OP_APPEND] = "append",
    [RK_SERVER_OP_GETDEL] = "getdel",     [RK_SERVER_OP_SADD] = "sadd",
    [RK_SERVER_OP_SREM] = "srem",         [RK_SERVER_OP_SMEMBERS] = "smembers",
    [RK_SERVER_OP_SCARD] = "scard",       [RK_SERVER_OP_SISMEMBER] = "sismember",
    [RK_SERVER_OP_SMISMEMBER] = "smismember", [RK_SERVER_OP_TYPE] = "type",
    [RK_SERVER_OP_INCRBY] = "incrby",     [RK_SERVER_OP_HSET] = "hset",
    [RK_SERVER_OP_HDEL] = "hdel",         [RK_SERVER_OP_HINCRBY] = "hincrby",
    [RK_SERVER_OP_HGET] = "hget",         [RK_SERVER_OP_HMGET] = "hmget",
    [RK_SERVER_OP_HGETALL] = "hgetall",   [RK_SERVER_OP_HLEN] = "hlen",
    [RK_SERVER_OP_HEXISTS] = "hexists",   [RK_SERVER_OP_HKEYS] = "hkeys",
    [RK_SERVER_OP_HVALS] = "hvals",
    [RK_SERVER_OP_OTHER] = "other",
};

const char *const rk_server_outcome_names[RK_SERVER_OUTCOME_COUNT] = {
    [RK_SERVER_OUTCOME_OK] = "ok",
    [RK_SERVER_OUTCOME_NOT_FOUND] = "not_found",
    [RK_SERVER_OUTCOME_UNAVAILABLE] = "unavailable",
    [RK_SERVER_OUTCOME_TIMEOUT] = "timeout",
    [RK_SERVER_OUTCOME_CONFLICT] = "conflict",
    [RK_SERVER_OUTCOME_ERROR] = "error",
};

/* The op and outcome a request counts as (server.h): bounded, whatever clients send. */
rk_server_op rk_server_op_of(const rk_request *r)
{
    static const rk_server_op by_kind[RK_REQ_KIND_MAX + 1] = {
        [RK_REQ_GET] = RK_SERVER_OP_GET,     [RK_REQ_PUT] = RK_SERVER_OP_PUT,
        [RK_REQ_DEL] = RK_SERVER_OP_DEL,     [RK_REQ_EXISTS] = RK_SERVER_OP_EXISTS,
        [RK_REQ_VGET] = RK_SERVER_OP_VGET,   [RK_REQ_VPUT] = RK_SERVER_OP_VPUT,
        [RK_REQ_VDEL] = RK_SERVER_OP_VDEL,
    };
    static const rk_server_op by_write[RK_OP_KIND_MAX + 1] = {
        [RK_OP_PUT] = RK_SERVER_OP_PUT,       [RK_OP_DEL] = RK_SERVER_OP_DEL,
        [RK_OP_APPEND] = RK_SERVER_OP_APPEND, [RK_OP_GETDEL] = RK_SERVER_OP_GETDEL,
        [RK_OP_SADD] = RK_SERVER_OP_SADD,     [RK_OP_SREM] = RK_SERVER_OP_SREM,
        [RK_OP_INCRBY] = RK_SERVER_OP_INCRBY, [RK_OP_HSET] = RK_SERVER_OP_HSET,
        [RK_OP_HDEL] = RK_SERVER_OP_HDEL,     [RK_OP_HINCRBY] = RK_SERVER_OP_HINCRBY,
    };
    static const rk_server_op by_read[RK_READ_KIND_MAX + 1] = {
        [RK_READ_SMEMBERS] = RK_SERVER_OP_SMEMBERS,
        [RK_READ_SCARD] = RK_SERVER_OP_SCARD,
        [RK_READ_SISMEMBER] = RK_SERVER_OP_SISMEMBER,
        [RK_READ_SMISMEMBER] = RK_SERVER_OP_SMISMEMBER,
        [RK_READ_TYPE] = RK_SERVER_OP_TYPE,
        [RK_READ_HGET] = RK_SERVER_OP_HGET,
        [RK_READ_HMGET] = RK_SERVER_OP_HMGET,
        [RK_READ_HGETALL] = RK_SERVER_OP_HGETALL,
        [RK_READ_HLEN] = RK_SERVER_OP_HLEN,
        [RK_READ_HEXISTS] = RK_SERVER_OP_HEXISTS,
        [RK_READ_HKEYS] = RK_SERVER_OP_HKEYS,
        [RK_READ_HVALS] = RK_SERVER_OP_HVALS,
    };
    /* Index 0 of each table is RK_SERVER_OP_GET (0), never a valid kind: check it first. */
    if (r->kind == RK_REQ_WRITE) {
        return r->op >= 1 && r->op <= RK_OP_KIND_MAX ? by_write[r->op] : RK_SERVER_OP_OTHER;
    }
    if (r->kind == RK_REQ_READ) {
        return r->op >= 1 && r->op <= RK_READ_KIND_MAX ? by_read[r->op] : RK_SERVER_OP_OTHER;
    }
    if (r->kind >= RK_REQ_GET && r->kind <= RK_REQ_VDEL) {
        return by_kind[r->kind];
    }
    return RK_SERVER_OP_OTHER;
}

rk_server_outcome rk_server_outcome_of(const rk_reply *r)
{
    if (r->kind == RK_REPLY_ERROR) {
        switch (r->error) {
        case RK_EUNAVAIL:
            return RK_SERVER_OUTCOME_UNAVAILABLE;
        case RK_ETIMEDOUT:
            return RK_SERVER_OUTCOME_TIMEOUT;
        case RK_ECONFLICT:
            return RK_SERVER_OUTCOME_CONFLICT;
        case RK_ENOTFOUND:
            return RK_SERVER_OUTCOME_NOT_FOUND;
        default:
            return RK_SERVER_OUTCOME_ERROR;
        }
    }
    if (r->kind == RK_REPLY_NIL || (r->kind == RK_REPLY_VERSIONS && r->value_count == 0)) {
        return RK_SERVER_OUTCOME_NOT_FOUND;
    }
    return RK_SERVER_OUTCOME_OK;
}

static const rk_metric_label server_label_op = {
    .name = "op", .values = rk_server_op_names, .value_count = RK_SERVER_OP_COUNT};
static const rk_metric_label server_label_outcome = {
    .name = "outcome", .values = rk_server_outcome_names, .value_count = RK_SERVER_OUTCOME_COUNT};
static const rk_metric_label *const server_labels_op_outcome[] = {&server_label_op,
                                                                  &server_label_outcome};
static const rk_metric_label *const server_labels_op[] = {&server_label_op};

/* After the node's table: INFO prints these after the node's fields of the same section. */
static const rk_metric_desc server_metrics_after_node_table[] = {
    SERVER_LATENCY(RK_LAT_READ, "latency_read",
                   "Time from a read command (GET, MGET, EXISTS, RK.GET) parsed to its reply ready."),
    SERVER_LATENCY(RK_LAT_WRITE, "latency_write",
                   "Time from a write command (SET, DEL, RK.PUT, RK.DEL) parsed to its reply ready."),
    SERVER_LATENCY(RK_LAT_OTHER, "latency_other",
                   "Time from any other command parsed to its reply ready."),
    SERVER_METRIC_FN(server_metric_durable_seq, "durable_seq", "persistence", RK_METRIC_GAUGE,
                     "writes", "The store's highest write sequence known durable."),
    SERVER_METRIC_FN(server_metric_sync_jobs, "sync_jobs", "persistence", RK_METRIC_COUNTER,
                     "syncs", "Sync jobs the runtime ran (one fsync each; several writes each "
                     "under sync = batch)."),
    {.name = "sync_duration", .section = "persistence", .kind = RK_METRIC_HISTOGRAM,
     .unit = "microseconds",
     .help = "Time each sync job on the thread pool spent in the store's sync (the fsync).",
     .hist_fn = server_metric_sync_latency},
    SERVER_METRIC_FN(server_metric_store_disk_bytes, "store_disk_bytes", "persistence",
                     RK_METRIC_GAUGE, "bytes",
                     "Bytes the store's files in data-dir take on disk (0 for the mem engine)."),
    {.name = "requests", .section = "stats", .kind = RK_METRIC_COUNTER, .unit = "requests",
     .help = "Node requests answered to clients, by op and outcome (one per key of a "
             "multi-key command).",
     .offset = offsetof(rk_server, stats.requests), .stride = sizeof(uint64_t),
     .labels = server_labels_op_outcome, .label_count = 2},
    {.name = "request_duration", .section = "stats", .kind = RK_METRIC_HISTOGRAM,
     .unit = "microseconds",
     .help = "Time from a node request taken to its answer, by op.",
     .offset = offsetof(rk_server, stats.request_latency), .stride = sizeof(rk_latency),
     .hist_fn = server_metric_latency, .labels = server_labels_op, .label_count = 1},
};
_Static_assert(sizeof(((rk_server_stats *)0)->requests) ==
                   RK_SERVER_OP_COUNT * RK_SERVER_OUTCOME_COUNT * sizeof(uint64_t),
               "requests is read as op-major rows of outcomes, stride one uint64_t");

/* ---- peers: base is the rk_peers ---------------------------------------------------------- */

static uint64_t peers_metric_members_up(const void *base, size_t offset)
{
    (void)offset;
    return rk_peers_up_count((const rk_peers *)base) + 1u;     /* this node is up */
}

/* A rk_peer_link_stats field summed over every link. */
static uint64_t peers_metric_link_total(const void *base, size_t offset)
{
    const rk_peers *p = base;
    uint64_t total = 0;
    /* Links whose slot a later member took over keep counting, so totals never go down. */
    memcpy(&total, (const uint8_t *)&p->retired_stats + offset, sizeof(total));
    for (uint32_t i = 0; i < p->link_count; i++) {
        uint64_t v;
        memcpy(&v, (const uint8_t *)&p->links[i].stats + offset, sizeof(v));
        total += v;
    }
    return total;
}

#define PEERS_METRIC(field, info_name, k, u, h)                                                \
    {.name = (info_name), .section = "cluster", .kind = (k), .unit = (u), .help = (h),        \
     .offset = offsetof(rk_peers, stats.field)}
#define LINKS_METRIC(field, info_name, u, h)                                                   \
    {.name = (info_name), .section = "cluster", .kind = RK_METRIC_COUNTER, .unit = (u),       \
     .help = (h), .offset = offsetof(rk_peer_link_stats, field),                               \
     .value_fn = peers_metric_link_total}

static const rk_metric_desc peers_metrics_table[] = {
    {.name = "members_up", .section = "cluster", .kind = RK_METRIC_GAUGE, .unit = "members",
     .help = "Members whose link is up and counted up, this node included.",
     .value_fn = peers_metric_members_up},
    LINKS_METRIC(msgs_queued, "msgs_queued", "messages", "Messages encoded for peers."),
    LINKS_METRIC(frames_sent, "frames_sent", "frames", "Frames whose write to a peer completed."),
    LINKS_METRIC(bytes_sent, "bytes_sent", "bytes", "Bytes written to peers."),
    LINKS_METRIC(writes, "peer_writes", "writes",
                 "Writes to peer sockets; frames_sent / peer_writes is the coalescing."),
    LINKS_METRIC(frames_received, "frames_received", "frames",
                 "Frames received from peers on inbound connections."),
    LINKS_METRIC(bytes_received, "bytes_received", "bytes", "Bytes received from peers."),
    LINKS_METRIC(dropped_queue_full, "dropped_queue_full", "messages",
                 "Messages dropped because a link's queue was full."),
    LINKS_METRIC(dropped_down, "dropped_down", "messages",
                 "Messages dropped because their peer was down."),
    LINKS_METRIC(dropped_invalid, "dropped_invalid", "messages",
                 "Messages dropped because they would not encode."),
    PEERS_METRIC(dropped_unknown, "dropped_unknown", RK_METRIC_COUNTER, "messages",
                 "Messages dropped because they were addressed to no other member."),
    PEERS_METRIC(garbage_frames, "garbage_frames", RK_METRIC_COUNTER, "frames",
                 "Frames dropped for a bad payload or message."),
    PEERS_METRIC(framing_errors, "framing_errors", RK_METRIC_COUNTER, "connections",
                 "Peer connections closed for a bad frame header."),
    PEERS_METRIC(handshake_refusals_sent, "handshake_refusals_sent", RK_METRIC_COUNTER,
                 "handshakes",
                 "Handshakes this node refused."),
    PEERS_METRIC(handshake_refusals_received, "handshake_refusals_received", RK_METRIC_COUNTER,
                 "handshakes", "Handshakes a peer refused."),
    PEERS_METRIC(handshake_timeouts, "handshake_timeouts", RK_METRIC_COUNTER, "handshakes",
                 "Handshakes that did not complete in time."),
    PEERS_METRIC(inbound_accepted, "inbound_accepted", RK_METRIC_COUNTER, "connections",
                 "Inbound peer connections accepted."),
    PEERS_METRIC(inbound_rejected, "inbound_rejected", RK_METRIC_COUNTER, "connections",
                 "Inbound peer connections refused (over the limit, or while stopping)."),
    LINKS_METRIC(suspected_silent, "suspected_silent", "events",
                 "Times a peer was counted down for silence while its link was up."),
    PEERS_METRIC(ticks_late, "ticks_late", RK_METRIC_COUNTER, "ticks",
                 "Times this node stalled and restarted its silence clocks."),
};

#define SERVER_METRICS_COUNT(table) ((uint32_t)(sizeof(table) / sizeof((table)[0])))

int rk_server_metrics_build(rk_server *s)
{
    rk_metrics_init(&s->metrics);
    uint32_t node_count;
    const rk_metric_desc *node_table = rk_metrics_node_table(&node_count);
    int rc = rk_metrics_add(&s->metrics, server_metrics_table,
                            SERVER_METRICS_COUNT(server_metrics_table), s);
    if (rc == 0) {
        rc = rk_metrics_add(&s->metrics, node_table, node_count, rk_node_stats_get(s->node));
    }
    if (rc == 0) {
        rc = rk_metrics_add(&s->metrics, server_metrics_after_node_table,
                            SERVER_METRICS_COUNT(server_metrics_after_node_table), s);
    }
    if (rc == 0 && s->runtime->peers != NULL) {
        rc = rk_metrics_add(&s->metrics, peers_metrics_table,
                            SERVER_METRICS_COUNT(peers_metrics_table), s->runtime->peers);
    }
    return rc;
}
