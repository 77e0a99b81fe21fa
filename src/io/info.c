/* info.c — INFO: Redis's "# Section" / "field:value" text, with ringkv's own fields (sync
 * policy and durability counters, latency percentiles) beside the ones clients look for
 * (redis_version, process_id, connected_clients, db0 keyspace line). */
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
             "default_n:%u\r\neffective_n:%u\r\nepoch:%llu\r\n\r\n",
             (int)getpid(), s->port, (unsigned long long)uptime_s,
             (unsigned long long)(uptime_s / 86400u), nc->id, member_count,
             nc->partition_count, nc->default_n, effective_n,
             (unsigned long long)rk_node_stats_get(s->node)->epoch);
}

static void info_clients(rk_server *s, info_text *t)
{
    uint64_t paused = 0;
    for (const rk_client *c = s->clients; c != NULL; c = c->next) {
        paused += !c->reading && !c->closed;
    }
    info_add(t,
             "# Clients\r\nconnected_clients:%u\r\nmaxclients:%u\r\nclients_paused_reading:%llu\r\n"
             "\r\n",
             s->client_count, s->config->max_clients, (unsigned long long)paused);
}

static void info_persistence(rk_server *s, info_text *t)
{
    const rk_node_stats *ns = rk_node_stats_get(s->node);
    double per_sync = ns->sync_calls > 0 ? (double)ns->writes_synced / (double)ns->sync_calls : 0;
    info_add(t,
             "# Persistence\r\nengine:%s\r\nsync:%s\r\nsync_calls:%llu\r\nwrites_synced:%llu\r\n"
             "writes_per_sync:%.2f\r\nacks_before_durable:%llu\r\nsync_failures:%llu\r\n"
             "writes_waiting_durable:%llu\r\ndurable_seq:%llu\r\n\r\n",
             rk_store_engine_name(s->store), rk_sync_policy_name(s->config->sync),
             (unsigned long long)ns->sync_calls, (unsigned long long)ns->writes_synced, per_sync,
             (unsigned long long)ns->acks_before_durable, (unsigned long long)ns->sync_failures,
             (unsigned long long)ns->inflight,
             (unsigned long long)rk_store_durable_seq(s->store));
}

static void info_latency(const rk_latency *h, const char *name, info_text *t)
{
    info_add(t, "latency_%s_p50_us:%llu\r\nlatency_%s_p99_us:%llu\r\nlatency_%s_p999_us:%llu\r\n",
             name, (unsigned long long)rk_latency_percentile(h, 500), name,
             (unsigned long long)rk_latency_percentile(h, 990), name,
             (unsigned long long)rk_latency_percentile(h, 999));
}

static void info_stats(rk_server *s, info_text *t)
{
    const rk_node_stats *ns = rk_node_stats_get(s->node);
    const rk_server_stats *ss = &s->stats;
    info_add(t,
             "# Stats\r\ntotal_connections_received:%llu\r\nrejected_connections:%llu\r\n"
             "total_commands_processed:%llu\r\ntotal_net_input_bytes:%llu\r\n"
             "total_net_output_bytes:%llu\r\nprotocol_errors:%llu\r\n"
             "clients_closed_idle:%llu\r\nclients_closed_output_limit:%llu\r\n"
             "clients_closed_input_limit:%llu\r\nbackpressure_pauses:%llu\r\n"
             "ops_get:%llu\r\nops_put:%llu\r\nops_del:%llu\r\nstore_errors:%llu\r\n"
             "refused_busy:%llu\r\ncoord_gets:%llu\r\ncoord_puts:%llu\r\nforwarded:%llu\r\n"
             "replica_gets:%llu\r\nreplica_puts:%llu\r\nread_repairs:%llu\r\n"
             "timeouts:%llu\r\nunavailable:%llu\r\nsiblings_refused:%llu\r\n"
             "objects_refused:%llu\r\n",
             (unsigned long long)ss->connections_received,
             (unsigned long long)ss->connections_rejected,
             (unsigned long long)ss->commands_processed, (unsigned long long)ss->bytes_in,
             (unsigned long long)ss->bytes_out, (unsigned long long)ss->protocol_errors,
             (unsigned long long)ss->clients_closed_idle,
             (unsigned long long)ss->clients_closed_output,
             (unsigned long long)ss->clients_closed_input,
             (unsigned long long)ss->backpressure_pauses, (unsigned long long)ns->gets,
             (unsigned long long)ns->puts, (unsigned long long)ns->dels,
             (unsigned long long)ns->store_errors, (unsigned long long)ns->refused_busy,
             (unsigned long long)ns->coord_gets, (unsigned long long)ns->coord_puts,
             (unsigned long long)ns->forwarded, (unsigned long long)ns->replica_gets,
             (unsigned long long)ns->replica_puts, (unsigned long long)ns->read_repairs,
             (unsigned long long)ns->timeouts, (unsigned long long)ns->unavailable,
             (unsigned long long)ns->siblings_refused, (unsigned long long)ns->objects_refused);
    info_latency(&ss->latency[RK_LAT_READ], "read", t);
    info_latency(&ss->latency[RK_LAT_WRITE], "write", t);
    info_latency(&ss->latency[RK_LAT_OTHER], "other", t);
    info_add(t, "\r\n");
}

static void info_keyspace(rk_server *s, info_text *t)
{
    info_add(t, "# Keyspace\r\n");
    uint64_t keys = rk_node_stats_get(s->node)->keys_live;
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

/* The internode transport (peer.h): who is up, what was sent and received, what was dropped.
 * frames_sent / peer_writes is how many messages one write carried (coalescing). */
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
    rk_peer_link_stats total;
    rk_peers_link_totals(p, &total);
    const rk_peers_stats *ps = &p->stats;
    double per_write = total.writes > 0 ? (double)total.frames_sent / (double)total.writes : 0;
    info_add(t,
             "members_up:%u\r\nmsgs_queued:%llu\r\nframes_sent:%llu\r\nbytes_sent:%llu\r\n"
             "peer_writes:%llu\r\nframes_per_write:%.2f\r\nframes_received:%llu\r\n"
             "bytes_received:%llu\r\ndropped_queue_full:%llu\r\ndropped_down:%llu\r\n"
             "dropped_invalid:%llu\r\ndropped_unknown:%llu\r\ngarbage_frames:%llu\r\n"
             "framing_errors:%llu\r\nhandshake_refusals_sent:%llu\r\n"
             "handshake_refusals_received:%llu\r\nhandshake_timeouts:%llu\r\n"
             "inbound_accepted:%llu\r\ninbound_rejected:%llu\r\nfailure_timeout_ms:%u\r\n"
             "suspected_silent:%llu\r\nticks_late:%llu\r\n",
             rk_peers_up_count(p) + 1u, (unsigned long long)total.msgs_queued,
             (unsigned long long)total.frames_sent, (unsigned long long)total.bytes_sent,
             (unsigned long long)total.writes, per_write,
             (unsigned long long)total.frames_received, (unsigned long long)total.bytes_received,
             (unsigned long long)total.dropped_queue_full, (unsigned long long)total.dropped_down,
             (unsigned long long)total.dropped_invalid, (unsigned long long)ps->dropped_unknown,
             (unsigned long long)ps->garbage_frames, (unsigned long long)ps->framing_errors,
             (unsigned long long)ps->handshake_refusals_sent,
             (unsigned long long)ps->handshake_refusals_received,
             (unsigned long long)ps->handshake_timeouts, (unsigned long long)ps->inbound_accepted,
             (unsigned long long)ps->inbound_rejected, s->config->failure_timeout_ms,
             (unsigned long long)total.suspected_silent, (unsigned long long)ps->ticks_late);
    for (uint32_t i = 0; i < p->link_count; i++) {
        info_cluster_peer(p, &p->links[i], t);
    }
    info_add(t, "\r\n");
}

/* Sloppy quorum and hinted handoff (issue 6): what this node holds for others and gave back. */
static void info_hints(rk_server *s, info_text *t)
{
    const rk_node_stats *ns = rk_node_stats_get(s->node);
    info_add(t,
             "# Hints\r\nhints_pending:%llu\r\nhints_written:%llu\r\nhints_delivered:%llu\r\n"
             "handoff_sent:%llu\r\nhandoff_resent:%llu\r\nhandoff_dropped_copies:%llu\r\n"
             "fallback_writes:%llu\r\nfallback_reads:%llu\r\ndegraded_writes:%llu\r\n"
             "degraded_reads:%llu\r\npeers_suspected:%llu\r\n\r\n",
             (unsigned long long)ns->hints_pending, (unsigned long long)ns->hints_written,
             (unsigned long long)ns->hints_delivered, (unsigned long long)ns->handoff_sent,
             (unsigned long long)ns->handoff_resent,
             (unsigned long long)ns->handoff_dropped_copies,
             (unsigned long long)ns->fallback_writes, (unsigned long long)ns->fallback_reads,
             (unsigned long long)ns->degraded_writes, (unsigned long long)ns->degraded_reads,
             (unsigned long long)ns->peers_suspected);
}

typedef void (*info_section_fn)(rk_server *s, info_text *t);

void rk_info_write(rk_server *s, rk_resp_out *out, const char *section)
{
    static const struct {
        const char *name;
        info_section_fn fn;
    } sections[] = {
        {"server", info_server},           {"clients", info_clients},
        {"persistence", info_persistence}, {"stats", info_stats},
        {"keyspace", info_keyspace},       {"cluster", info_cluster},
        {"hints", info_hints},
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
