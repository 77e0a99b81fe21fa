/* metrics.c — the registry (see metrics.h) and the node's table: one descriptor per field of
 * rk_node_stats that INFO shows, in INFO's order within each section. */
#include "metrics.h"

#include <string.h>

#include "common.h"
#include "node.h"

#define METRICS_NAME_BYTES_MAX 64u

#define NODE_METRIC(field, info_name, sect, k, u, h)                                           \
    {.name = (info_name), .section = (sect), .kind = (k), .unit = (u), .help = (h),           \
     .offset = offsetof(rk_node_stats, field)}

static const rk_metric_desc metrics_node_table[] = {
    /* server */
    NODE_METRIC(epoch, "epoch", "server", RK_METRIC_GAUGE, "epochs",
                "This run's dot floor epoch (kv679), bumped at every start but one after a "
                "clean stop."),
    NODE_METRIC(epoch_kept, "epoch_kept", "server", RK_METRIC_GAUGE, "starts",
                "1 when this start kept the epoch of a clean stop, 0 when it bumped it."),
    NODE_METRIC(epoch_learning, "epoch_learning", "server", RK_METRIC_GAUGE, "starts",
                "1 while a new (wiped) store learns from its peers the highest epoch they saw "
                "from it; it coordinates no write until then."),
    NODE_METRIC(epoch_learned_partial, "epoch_learned_partial", "server", RK_METRIC_GAUGE,
                "starts", "1 when this start's learning ended with the answers of a majority "
                "only, after epoch-learn-ms-max."),
    /* persistence */
    NODE_METRIC(sync_calls, "sync_calls", "persistence", RK_METRIC_COUNTER, "syncs",
                "Syncs the node asked the runtime for."),
    NODE_METRIC(writes_synced, "writes_synced", "persistence", RK_METRIC_COUNTER, "writes",
                "Store writes covered by completed syncs."),
    NODE_METRIC(acks_before_durable, "acks_before_durable", "persistence", RK_METRIC_COUNTER,
                "writes", "Writes acknowledged before they were durable (sync = none)."),
    NODE_METRIC(sync_failures, "sync_failures", "persistence", RK_METRIC_COUNTER, "syncs",
                "Syncs that failed, rolling back the writes they covered."),
    NODE_METRIC(inflight, "writes_waiting_durable", "persistence", RK_METRIC_GAUGE, "writes",
                "Work waiting for a sync before it is acknowledged."),
    /* stats */
    NODE_METRIC(store_errors, "store_errors", "stats", RK_METRIC_COUNTER, "errors",
                "Store operations that failed."),
    NODE_METRIC(refused_busy, "refused_busy", "stats", RK_METRIC_COUNTER, "requests",
                "Requests refused because the coordinator table or durability queue was full."),
    NODE_METRIC(coord_gets, "coord_gets", "stats", RK_METRIC_COUNTER, "requests",
                "Reads this node coordinated."),
    NODE_METRIC(coord_puts, "coord_puts", "stats", RK_METRIC_COUNTER, "requests",
                "Writes this node coordinated."),
    NODE_METRIC(forwarded, "forwarded", "stats", RK_METRIC_COUNTER, "requests",
                "Writes sent to a primary replica to coordinate."),
    NODE_METRIC(replica_gets, "replica_gets", "stats", RK_METRIC_COUNTER, "requests",
                "Reads served to a coordinator as a replica."),
    NODE_METRIC(replica_puts, "replica_puts", "stats", RK_METRIC_COUNTER, "objects",
                "Objects merged for a coordinator as a replica."),
    NODE_METRIC(read_repairs, "read_repairs", "stats", RK_METRIC_COUNTER, "objects",
                "Objects sent to stale replicas after a read."),
    NODE_METRIC(timeouts, "timeouts", "stats", RK_METRIC_COUNTER, "requests",
                "Requests answered -TIMEOUT."),
    NODE_METRIC(unavailable, "unavailable", "stats", RK_METRIC_COUNTER, "requests",
                "Requests answered -UNAVAILABLE."),
    NODE_METRIC(siblings_refused, "siblings_refused", "stats", RK_METRIC_COUNTER, "requests",
                "Writes refused because they would pass the bucket's sibling limit."),
    NODE_METRIC(objects_refused, "objects_refused", "stats", RK_METRIC_COUNTER, "requests",
                "Writes refused because the object would pass its size limit."),
    NODE_METRIC(objects_type_refused, "objects_type_refused", "stats", RK_METRIC_COUNTER,
                "objects", "Merges refused because the two objects hold different types."),
    NODE_METRIC(set_clock_refused, "set_clock_refused", "stats", RK_METRIC_COUNTER, "requests",
                "Set writes refused because the set's clock is at its bound (never pruned)."),
    NODE_METRIC(set_deltas_sent, "set_deltas_sent", "stats", RK_METRIC_COUNTER, "messages",
                "Set deltas a coordinator sent to replicas instead of the whole set."),
    NODE_METRIC(set_deltas_merged, "set_deltas_merged", "stats", RK_METRIC_COUNTER, "messages",
                "Set deltas this replica merged into its rows."),
    NODE_METRIC(set_deltas_not_ready, "set_deltas_not_ready", "stats", RK_METRIC_COUNTER,
                "messages", "Set deltas this replica refused as not causally ready (it then "
                "gets the whole set)."),
    NODE_METRIC(set_full_resends, "set_full_resends", "stats", RK_METRIC_COUNTER, "objects",
                "Whole sets a coordinator sent to a replica that found its delta not ready."),
    NODE_METRIC(set_members_refused, "set_members_refused", "stats", RK_METRIC_COUNTER,
                "requests", "Set writes refused because the set would pass "
                "max-collection-members."),
    NODE_METRIC(aae_damaged_objects, "aae_damaged_objects", "aae", RK_METRIC_COUNTER, "objects",
                "Stored objects that failed their checksum (each counted once): read as "
                "missing, overwritten by a write or a repair, never sent to another replica."),
    NODE_METRIC(aae_trees_built, "aae_trees_built", "aae", RK_METRIC_COUNTER, "trees",
                "Partition hash trees built or rebuilt from the store (at start-up, after a "
                "damaged object or a failed sync, and periodically)."),
    NODE_METRIC(aae_trees_ready, "aae_trees_ready", "aae", RK_METRIC_GAUGE, "trees",
                "Partition hash trees built now and kept current by every write."),
    NODE_METRIC(aae_exchanges, "aae_exchanges", "aae", RK_METRIC_COUNTER, "exchanges",
                "Anti-entropy exchanges finished with another primary of a partition."),
    NODE_METRIC(aae_exchanges_failed, "aae_exchanges_failed", "aae", RK_METRIC_COUNTER,
                "exchanges", "Exchanges given up: the peer was gone, its tree not built, or an "
                "answer did not come in time. The rotation tries again."),
    NODE_METRIC(aae_keys_repaired, "aae_keys_repaired", "aae", RK_METRIC_COUNTER, "keys",
                "Keys an exchange found differing twice and repaired with the read-repair "
                "merge."),
    NODE_METRIC(aae_keys_unconfirmed, "aae_keys_unconfirmed", "aae", RK_METRIC_COUNTER, "keys",
                "Keys an exchange saw differ once but not the same way on its second look (a "
                "write in flight): left alone."),
    NODE_METRIC(aae_requests_served, "aae_requests_served", "aae", RK_METRIC_COUNTER,
                "requests", "Exchange requests this node answered for its peers."),
    NODE_METRIC(tombstones_reaped, "tombstones_reaped", "aae", RK_METRIC_COUNTER, "objects",
                "Tombstones this node removed: older than the grace delay, held by every "
                "primary, every member up and no hint held anywhere."),
    NODE_METRIC(tombstones_pending, "tombstones_pending", "aae", RK_METRIC_GAUGE, "objects",
                "Tombstones this node holds, as its last reap pass over each partition counted "
                "them, less those reaped since."),
    NODE_METRIC(aae_repair_pending, "aae_repair_pending", "aae", RK_METRIC_GAUGE, "exchanges",
                "Exchanges RK.REPAIR queued that have not started yet."),
    NODE_METRIC(counter_actors_refused, "counter_actors_refused", "stats", RK_METRIC_COUNTER,
                "requests", "Increments refused because the counter's actors are at their bound."),
    NODE_METRIC(counter_actors_created, "counter_actors_created", "stats", RK_METRIC_COUNTER,
                "actors", "Increments that started a fresh actor: no own actor could be advanced "
                "from a base known to hold every replica's view of it."),
    /* keyspace */
    NODE_METRIC(keys_live, "keys", "keyspace", RK_METRIC_GAUGE, "keys",
                "Live (not deleted) keys in this node's store, hinted copies included."),
    /* hints */
    NODE_METRIC(hints_pending, "hints_pending", "hints", RK_METRIC_GAUGE, "hints",
                "Hint records held: (owner, key) pairs to hand back."),
    NODE_METRIC(hints_written, "hints_written", "hints", RK_METRIC_COUNTER, "hints",
                "Hint records created."),
    NODE_METRIC(hints_delivered, "hints_delivered", "hints", RK_METRIC_COUNTER, "hints",
                "Hints the owner acknowledged durable, then deleted."),
    NODE_METRIC(handoff_sent, "handoff_sent", "hints", RK_METRIC_COUNTER, "objects",
                "Handoff objects sent to their owners."),
    NODE_METRIC(handoff_resent, "handoff_resent", "hints", RK_METRIC_COUNTER, "objects",
                "Handoffs acknowledged whose copy had changed meanwhile, so it was kept."),
    NODE_METRIC(handoff_dropped_copies, "handoff_dropped_copies", "hints", RK_METRIC_COUNTER,
                "objects", "Hinted copies removed after their last handoff."),
    NODE_METRIC(fallback_writes, "fallback_writes", "hints", RK_METRIC_COUNTER, "requests",
                "Writes coordinated with at least one fallback node."),
    NODE_METRIC(fallback_reads, "fallback_reads", "hints", RK_METRIC_COUNTER, "requests",
                "Reads that asked at least one fallback node."),
    NODE_METRIC(degraded_writes, "degraded_writes", "hints", RK_METRIC_COUNTER, "requests",
                "Writes accepted below W by the bucket's fallback_w."),
    NODE_METRIC(degraded_reads, "degraded_reads", "hints", RK_METRIC_COUNTER, "requests",
                "Reads answered below R by the bucket's fallback_r."),
    /* membership */
    NODE_METRIC(ring_version, "ring_version", "membership", RK_METRIC_GAUGE, "versions",
                "The version of the ring this node routes requests by."),
    NODE_METRIC(cluster_members, "members", "membership", RK_METRIC_GAUGE, "nodes",
                "Members in this node's copy of the cluster metadata, joining and leaving ones "
                "included."),
    NODE_METRIC(transfers_pending, "transfers_pending", "membership", RK_METRIC_GAUGE, "units",
                "Partitions of the committed plan this node must still receive or send."),
    NODE_METRIC(transfers_done, "transfers_done", "membership", RK_METRIC_COUNTER, "units",
                "Partitions this node finished receiving."),
    NODE_METRIC(transfer_keys_received, "transfer_keys_received", "membership",
                RK_METRIC_COUNTER, "keys", "Keys received in ownership transfers."),
    NODE_METRIC(transfer_bytes_received, "transfer_bytes_received", "membership",
                RK_METRIC_COUNTER, "bytes", "Object bytes received in ownership transfers."),
    NODE_METRIC(transfer_keys_sent, "transfer_keys_sent", "membership", RK_METRIC_COUNTER,
                "keys", "Keys sent to new owners in ownership transfers."),
    NODE_METRIC(transfer_bytes_sent, "transfer_bytes_sent", "membership", RK_METRIC_COUNTER,
                "bytes", "Object bytes sent to new owners in ownership transfers."),
    NODE_METRIC(transfer_retries, "transfer_retries", "membership", RK_METRIC_COUNTER,
                "requests", "Transfer requests left unanswered in time and sent again."),
    NODE_METRIC(transfer_forwards, "transfer_forwards", "membership", RK_METRIC_COUNTER,
                "objects", "Writes applied here and sent on to a moving plan's new owners."),
    NODE_METRIC(cleanup_keys, "cleanup_keys", "membership", RK_METRIC_COUNTER, "keys",
                "Keys this node no longer owns after a ring change, handed to their owners."),
    NODE_METRIC(hints_repointed, "hints_repointed", "membership", RK_METRIC_COUNTER, "hints",
                "Hints whose owner left or no longer owns the key, turned into hints for the "
                "key's owners now."),
    NODE_METRIC(transfers_resumed, "transfers_resumed", "membership", RK_METRIC_COUNTER,
                "units", "Transfer units resumed from their last acknowledged batch after a "
                "restart."),
    NODE_METRIC(not_owner_answers, "not_owner_answers", "membership", RK_METRIC_COUNTER,
                "requests", "Reads asked of this node as a primary of a key it neither owns nor "
                "holds, answered 'not owner'."),
    {.name = "read_siblings", .section = "stats", .kind = RK_METRIC_HISTOGRAM,
     .unit = "siblings",
     .help = "Live versions in each coordinated read's merged answer (0 when not found).",
     .offset = offsetof(rk_node_stats, read_siblings), .hist_fn = rk_metric_small_hist_read},
    NODE_METRIC(peers_suspected, "peers_suspected", "hints", RK_METRIC_COUNTER, "events",
                "Times a peer was suspected because requests to it went unanswered."),
};

const rk_metric_desc *rk_metrics_node_table(uint32_t *count_out)
{
    *count_out = (uint32_t)(sizeof(metrics_node_table) / sizeof(metrics_node_table[0]));
    return metrics_node_table;
}

const char *rk_metric_kind_name(rk_metric_kind kind)
{
    switch (kind) {
    case RK_METRIC_COUNTER:
        return "counter";
    case RK_METRIC_GAUGE:
        return "gauge";
    case RK_METRIC_HISTOGRAM:
        return "histogram";
    }
    return "unknown";
}

uint64_t rk_metric_hist_percentile(const rk_metric_hist *h, uint32_t permille)
{
    RK_ASSERT(permille <= 1000u);
    if (h->count == 0 || h->bucket_count == 0) {
        return 0;
    }
    uint64_t want = (h->count * permille + 999u) / 1000u;
    if (want == 0) {
        want = 1;
    }
    uint64_t seen = 0;
    for (uint32_t b = 0; b < h->bucket_count; b++) {
        seen += h->bucket_counts[b];
        if (seen >= want) {
            return h->bucket_top(b);
        }
    }
    return h->bucket_top(h->bucket_count - 1u);
}

bool rk_metrics_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > METRICS_NAME_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool metrics_labels_valid(const rk_metric_desc *d)
{
    if (d->label_count == 0) {
        return d->labels == NULL;
    }
    if (d->labels == NULL || d->label_count > RK_METRIC_LABELS_MAX || d->stride == 0) {
        return false;
    }
    for (uint32_t l = 0; l < d->label_count; l++) {
        const rk_metric_label *label = d->labels[l];
        if (label == NULL || !rk_metrics_name_valid(label->name) || label->value_count == 0) {
            return false;
        }
        for (uint32_t v = 0; v < label->value_count; v++) {
            if (label->values[v] == NULL || label->values[v][0] == '\0') {
                return false;
            }
        }
    }
    return true;
}

static bool metrics_desc_valid(const rk_metric_desc *d)
{
    if (!metrics_labels_valid(d)) {
        return false;
    }
    if (d->name == NULL || !rk_metrics_name_valid(d->name)) {
        return false;
    }
    if (d->section == NULL || d->section[0] == '\0') {
        return false;
    }
    if (d->unit == NULL || d->unit[0] == '\0' || d->help == NULL || d->help[0] == '\0') {
        return false;
    }
    if (d->kind == RK_METRIC_HISTOGRAM) {
        return d->hist_fn != NULL && d->value_fn == NULL;
    }
    return (d->kind == RK_METRIC_COUNTER || d->kind == RK_METRIC_GAUGE) && d->hist_fn == NULL;
}

void rk_metrics_init(rk_metrics_registry *reg)
{
    memset(reg, 0, sizeof(*reg));
}

const rk_metric *rk_metrics_find(const rk_metrics_registry *reg, const char *name)
{
    for (uint32_t i = 0; i < reg->count; i++) {
        if (strcmp(reg->metrics[i].desc->name, name) == 0) {
            return &reg->metrics[i];
        }
    }
    return NULL;
}

int rk_metrics_add(rk_metrics_registry *reg, const rk_metric_desc *table, uint32_t count,
                   const void *base)
{
    RK_ASSERT(reg->count <= RK_METRICS_MAX);
    RK_ASSERT(base != NULL);
    if (count > RK_METRICS_MAX - reg->count) {
        return RK_ETOOBIG;
    }
    /* Check the whole table first, so an error adds nothing. */
    for (uint32_t i = 0; i < count; i++) {
        if (!metrics_desc_valid(&table[i]) || rk_metrics_find(reg, table[i].name) != NULL) {
            return RK_EINVAL;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(table[i].name, table[j].name) == 0) {
                return RK_EINVAL;
            }
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        reg->metrics[reg->count++] = (rk_metric){.desc = &table[i], .base = base};
    }
    return 0;
}

uint32_t rk_metric_series_count(const rk_metric *m)
{
    uint32_t count = 1;
    for (uint32_t l = 0; l < m->desc->label_count; l++) {
        count *= m->desc->labels[l]->value_count;
    }
    return count;
}

void rk_metric_series_labels(const rk_metric *m, uint32_t series,
                             uint32_t label_values_out[RK_METRIC_LABELS_MAX])
{
    RK_ASSERT(series < rk_metric_series_count(m));
    for (uint32_t l = m->desc->label_count; l > 0; l--) {
        uint32_t value_count = m->desc->labels[l - 1u]->value_count;
        label_values_out[l - 1u] = series % value_count;
        series /= value_count;
    }
}

void rk_metric_series_hist(const rk_metric *m, uint32_t series, rk_metric_hist *out)
{
    const rk_metric_desc *d = m->desc;
    RK_ASSERT(d->kind == RK_METRIC_HISTOGRAM);
    RK_ASSERT(series < rk_metric_series_count(m));
    memset(out, 0, sizeof(*out));
    d->hist_fn(m->base, d->offset + series * d->stride, out);
}

uint64_t rk_metric_series_value(const rk_metric *m, uint32_t series)
{
    const rk_metric_desc *d = m->desc;
    RK_ASSERT(series < rk_metric_series_count(m));
    size_t offset = d->offset + series * d->stride;
    if (d->kind == RK_METRIC_HISTOGRAM) {
        rk_metric_hist h;
        rk_metric_series_hist(m, series, &h);
        return h.count;
    }
    if (d->value_fn != NULL) {
        return d->value_fn(m->base, offset);
    }
    uint64_t v;
    memcpy(&v, (const uint8_t *)m->base + offset, sizeof(v));
    return v;
}

uint64_t rk_metric_value(const rk_metric *m)
{
    uint64_t total = 0;
    uint32_t series_count = rk_metric_series_count(m);
    for (uint32_t i = 0; i < series_count; i++) {
        total += rk_metric_series_value(m, i);
    }
    return total;
}

void rk_metric_hist_get(const rk_metric *m, rk_metric_hist *out)
{
    rk_metric_series_hist(m, 0, out);
}

/* ---- small histograms ------------------------------------------------------------------- */

static const uint64_t metrics_small_hist_tops[RK_METRIC_SMALL_HIST_BUCKETS] = {
    0, 1, 2, 3, 4, 8, 16, 32, 64, UINT64_MAX,
};

uint64_t rk_metric_small_hist_top(uint32_t bucket)
{
    RK_ASSERT(bucket < RK_METRIC_SMALL_HIST_BUCKETS);
    return metrics_small_hist_tops[bucket];
}

void rk_metric_small_hist_record(rk_metric_small_hist *h, uint64_t v)
{
    uint32_t bucket = 0;
    while (v > metrics_small_hist_tops[bucket]) {
        bucket++;       /* ends at the last bucket: its top is UINT64_MAX */
    }
    RK_ASSERT(bucket < RK_METRIC_SMALL_HIST_BUCKETS);
    h->counts[bucket]++;
    h->count++;
    h->sum += v;
}

void rk_metric_small_hist_read(const void *base, size_t offset, rk_metric_hist *out)
{
    const rk_metric_small_hist *h =
        (const rk_metric_small_hist *)((const uint8_t *)base + offset);
    *out = (rk_metric_hist){.count = h->count,
                            .sum = h->sum,
                            .bucket_count = RK_METRIC_SMALL_HIST_BUCKETS,
                            .bucket_counts = h->counts,
                            .bucket_top = rk_metric_small_hist_top};
}

uint32_t rk_metrics_each(const rk_metrics_registry *reg, const char *section,
                         rk_metrics_each_fn fn, void *ctx)
{
    uint32_t visited = 0;
    for (uint32_t i = 0; i < reg->count; i++) {
        const rk_metric *m = &reg->metrics[i];
        if (section == NULL || strcmp(m->desc->section, section) == 0) {
            fn(m, ctx);
            visited++;
        }
    }
    return visited;
}
