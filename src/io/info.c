/* info.c — INFO: Redis's "# Section" / "field:value" text, with ringkv's own fields (sync
 * policy and durability counters, latency percentiles) beside the ones clients look for
 * (redis_version, process_id, connected_clients, db0 keyspace line). Every counter and gauge
 * comes from the metrics registry (s->metrics, server_metrics.h): a section prints its
 * registered metrics in registration order, a histogram as its percentiles. What is printed by
 * hand is identity, configuration and ratios (rk_info_field_not_metric), the keyspace line and
 * the per-peer lines of the cluster section. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "commands.h"
#include "peer.h"

/* Every section, with one line per peer of a 64-member cluster (~400 bytes each at most). */
#define INFO_TEXT_BYTES_MAX 32768u

typedef struct info_text {
    char data[INFO_TEXT_BYTES_MAX];
    size_t len;
} info_text;

static void info_add(info_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void info_add(info_text *t, const char *fmt, ...)
{
    if (t->len >= sizeof(t->data)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->data + t->len, sizeof(t->data) - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        t->len += (size_t)n;
        if (t->len > sizeof(t->data)) {
            t->len = sizeof(t->data);
        }
    }
}

/* ---- fields from the registry ------------------------------------------------------------ */

/* Fields INFO prints that are not metrics: identity and configuration (Prometheus would show
 * them as labels of an info metric) and ratios of two metrics (Prometheus divides for itself).
 * Every other numeric field comes from the registry; test_metrics checks it. */
static const char *const info_fields_not_metrics[] = {
    "process_id",     "tcp_port",         "uptime_in_seconds", "uptime_in_days",
    "node_id",        "cluster_members",  "partitions",        "default_n",
    "effective_n",    "maxclients",       "writes_per_sync",   "cluster_port",
    "members",        "frames_per_write", "failure_timeout_ms",
};

bool rk_info_field_not_metric(const char *name)
{
    for (size_t i = 0; i < sizeof(info_fields_not_metrics) / sizeof(info_fields_not_metrics[0]);
         i++) {
        if (strcmp(info_fields_not_metrics[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static uint64_t info_metric(const rk_server *s, const char *name)
{
    const rk_metric *m = rk_metrics_find(&s->metrics, name);
    return m != NULL ? rk_metric_value(m) : 0;
}

static double info_ratio(const rk_server *s, const char *numerator, const char *denominator)
{
    uint64_t d = info_metric(s, denominator);
    return d > 0 ? (double)info_metric(s, numerator) / (double)d : 0;
}

static void info_maxclients(rk_server *s, info_text *t)
{
    info_add(t, "maxclients:%u\r\n", s->config->max_clients);
}

static void info_writes_per_sync(rk_server *s, info_text *t)
{
    info_add(t, "writes_per_sync:%.2f\r\n", info_ratio(s, "writes_synced", "sync_calls"));
}

static void info_frames_per_write(rk_server *s, info_text *t)
{
    info_add(t, "frames_per_write:%.2f\r\n", info_ratio(s, "frames_sent", "peer_writes"));
}

static void info_failure_timeout(rk_server *s, info_text *t)
{
    info_add(t, "failure_timeout_ms:%u\r\n", s->config->failure_timeout_ms);
}

typedef void (*info_section_fn)(rk_server *s, info_text *t);

/* Fields that are not metrics, printed right after the metric named `after` so every field
 * keeps the place it had before the registry. */
static const struct {
    const char *after;
    info_section_fn fn;
} info_after_metric[] = {
    {"connected_clients", info_maxclients},
    {"writes_synced", info_writes_per_sync},
    {"peer_writes", info_frames_per_write},
    {"inbound_rejected", info_failure_timeout},
};

typedef struct info_walk {
    rk_server *s;
    info_text *t;
} info_walk;

/* A histogram shows as its p50, p99 and p99.9: in microseconds (within 1/16, latency.h) with
 * a _us suffix, in other units (siblings) as the bucket top, without one. */
static void info_histogram(const rk_metric *m, info_text *t)
{
    bool us = strcmp(m->desc->unit, "microseconds") == 0;
    static const struct {
        const char *suffix;
        uint32_t permille;
    } points[] = {{"p50", 500}, {"p99", 990}, {"p999", 999}};
    rk_metric_hist h;
    rk_metric_hist_get(m, &h);
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        info_add(t, "%s_%s%s:%llu\r\n", m->desc->name, points[i].suffix, us ? "_us" : "",
                 (unsigned long long)rk_metric_hist_percentile(&h, points[i].permille));
    }
}

static void info_metric_line(const rk_metric *m, void *ctx)
{
    info_walk *w = ctx;
    if (m->desc->label_count > 0) {
        return;     /* a Prometheus family (prom.h); INFO has its totals as ops_* already */
    }
    if (m->desc->kind == RK_METRIC_HISTOGRAM) {
        info_histogram(m, w->t);
    } else {
        info_add(w->t, "%s:%llu\r\n", m->desc->name, (unsigned long long)rk_metric_value(m));
    }
    for (size_t i = 0; i < sizeof(info_after_metric) / sizeof(info_after_metric[0]); i++) {
        if (strcmp(info_after_metric[i].after, m->desc->name) == 0) {
            info_after_metric[i].fn(w->s, w->t);
        }
    }
}

/* Every metric of `section`, in registration order. */
static void info_metrics(rk_server *s, const char *section, info_text *t)
{
    info_walk w = {.s = s, .t = t};
    rk_metrics_each(&s->metrics, section, info_metric_line, &w);
}

/* ---- sections ----------------------------------------------------------------------------- */

static void info_server(rk_server *s, info_text *t)
{
    uint64_t uptime_s = (rk_server_now_ms(s) - s->start_ms) / 1000u;
    const rk_node_config *nc = rk_node_config_get(s->node);
    /* A cluster smaller than a bucket's n stores n = the member count: say so. */
    uint32_t member_count = rk_node_members(s->node)->count;
    uint32_t effective_n = nc->default_n < member_count ? nc->default_n : member_count;
    info_add(t,
             "# Server\r\nredis_version:7.0.0\r\nringkv_version:0.1.0\r\nredis_mode:standalone\r\n"
             "os:Linux\r\nprocess_id:%d\r\ntcp_port:%u\r\nuptime_in_seconds:%llu\r\n"
             "uptime_in_days:%llu\r\nnode_id:%u\r\ncluster_members:%u\r\npartitions:%u\r\n"
             "default_n:%u\r\neffective_n:%u\r\n",
             (int)getpid(), s->port, (unsigned long long)uptime_s,
             (unsigned long long)(uptime_s / 86400u), nc->id, member_count,
             nc->partition_count, nc->default_n, effective_n);
    info_metrics(s, "server", t);
    info_add(t, "\r\n");
}

static void info_clients(rk_server *s, info_text *t)
{
    info_add(t, "# Clients\r\n");
    info_metrics(s, "clients", t);
    info_add(t, "\r\n");
}

static void info_persistence(rk_server *s, info_text *t)
{
    info_add(t, "# Persistence\r\nengine:%s\r\nsync:%s\r\n", rk_store_engine_name(s->store),
             rk_sync_policy_name(s->config->sync));
    info_metrics(s, "persistence", t);
    info_add(t, "\r\n");
}

static void info_stats(rk_server *s, info_text *t)
{
    info_add(t, "# Stats\r\n");
    info_metrics(s, "stats", t);
    info_add(t, "\r\n");
}

/* Redis's keyspace line, from the registry's `keys` gauge. */
static void info_keyspace(rk_server *s, info_text *t)
{
    info_add(t, "# Keyspace\r\n");
    uint64_t keys = info_metric(s, "keys");
    if (keys > 0) {
        info_add(t, "db0:keys=%llu,expires=0,avg_ttl=0\r\n", (unsigned long long)keys);
    }
    info_add(t, "\r\n");
}

/* state is the link's (up means connected, even while silence counts the member down);
 * view is what RK.MEMBERS says; heard_ms_ago is -1 before anything was heard. */
static void info_cluster_peer(const rk_peers *p, const rk_peer_link *link, info_text *t)
{
    const rk_peer_link_stats *ls = &link->stats;
    rk_peer_view view;
    int rc = rk_peers_view(p, link->id, &view);
    RK_ASSERT(rc == 0);
    info_add(t,
             "peer_%u:state=%s,view=%s,heard_ms_ago=%lld,suspected_silent=%llu,"
             "heartbeats_sent=%llu,addr=%s:%u,connects=%llu,msgs_queued=%llu,frames_sent=%llu,"
             "bytes_sent=%llu,writes=%llu,frames_received=%llu,bytes_received=%llu,"
             "dropped_queue_full=%llu,dropped_down=%llu,dropped_invalid=%llu\r\n",
             link->id, rk_peer_state_name(link->state), rk_peer_view_state_name(view.state),
             (long long)view.heard_ms_ago, (unsigned long long)ls->suspected_silent,
             (unsigned long long)ls->heartbeats_sent, link->member.host,
             link->member.cluster_port, (unsigned long long)ls->connects,
             (unsigned long long)ls->msgs_queued, (unsigned long long)ls->frames_sent,
             (unsigned long long)ls->bytes_sent, (unsigned long long)ls->writes,
             (unsigned long long)ls->frames_received, (unsigned long long)ls->bytes_received,
             (unsigned long long)ls->dropped_queue_full, (unsigned long long)ls->dropped_down,
             (unsigned long long)ls->dropped_invalid);
}

/* The internode transport (peer.h): who is up, what was sent and received, what was dropped
 * (totals from the registry), then one line per peer. frames_sent / peer_writes is how many
 * messages one write carried (coalescing). */
static void info_cluster(rk_server *s, info_text *t)
{
    const rk_peers *p = s->runtime->peers;
    info_add(t, "# Cluster\r\ncluster_name:%s\r\nnode_id:%u\r\ncluster_port:%u\r\nmembers:%u\r\n",
             s->config->cluster_name, s->config->node_id, s->config->cluster_port,
             rk_node_members(s->node)->count);
    if (p == NULL) {
        info_add(t, "members_up:1\r\n\r\n");
        return;
    }
    info_metrics(s, "cluster", t);
    for (uint32_t i = 0; i < p->link_count; i++) {
        if (p->links[i].retired) {
            continue; /* its member left the cluster */
        }
        info_cluster_peer(p, &p->links[i], t);
    }
    info_add(t, "\r\n");
}

/* Sloppy quorum and hinted handoff (issue 6): what this node holds for others and gave back. */
static void info_hints(rk_server *s, info_text *t)
{
    info_add(t, "# Hints\r\n");
    info_metrics(s, "hints", t);
    info_add(t, "\r\n");
}

/* Anti-entropy (issue 17): so far, the stored objects found damaged. */
static void info_aae(rk_server *s, info_text *t)
{
    info_add(t, "# AAE\r\n");
    info_metrics(s, "aae", t);
    info_add(t, "\r\n");
}

static void info_membership(rk_server *s, info_text *t)
{
    info_add(t, "# Membership\r\n");
    info_metrics(s, "membership", t);
    info_add(t, "\r\n");
}

void rk_info_write(rk_server *s, rk_resp_out *out, const char *section)
{
    static const struct {
        const char *name;
        info_section_fn fn;
    } sections[] = {
        {"server", info_server},           {"clients", info_clients},
        {"persistence", info_persistence}, {"stats", info_stats},
        {"keyspace", info_keyspace},       {"cluster", info_cluster},
        {"hints", info_hints},             {"aae", info_aae},
        {"membership", info_membership},
    };
    bool all = strcasecmp(section, "default") == 0 || strcasecmp(section, "all") == 0 ||
               strcasecmp(section, "everything") == 0;
    info_text t = {.len = 0};
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        if (all || strcasecmp(section, sections[i].name) == 0) {
            sections[i].fn(s, &t);
        }
    }
    /* Redis ends the text without the last blank line. */
    while (t.len >= 2 && t.data[t.len - 2] == '\r' && t.data[t.len - 1] == '\n') {
        t.len -= 2;
    }
    rk_resp_verbatim(out, t.data, t.len);
}
