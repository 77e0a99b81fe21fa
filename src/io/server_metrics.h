/* server_metrics.h — the runtime's metrics (core/metrics.h): the server's counters (clients,
 * commands, bytes, ops_get/put/del), the latency histograms, the sync worker's and the store's
 * numbers, the peer links' totals, all added with the node's own table (rk_metrics_node_table)
 * to the one registry INFO prints from (s->metrics). Values stay where their events update
 * them (rk_server_stats, rk_peers, rk_runtime); the tables here only point at them. */
#ifndef RK_SERVER_METRICS_H
#define RK_SERVER_METRICS_H

#include "server.h"

/* Build s->metrics from scratch, in INFO's order: the server's table, the node's, the
 * runtime's (latency, durable_seq, sync_jobs), then the peers' when s->runtime->peers is set.
 * Keeps s (and through it the node, runtime and peers) as the bases. Returns 0, or RK_EINVAL /
 * RK_ETOOBIG from rk_metrics_add (a duplicate name or a full registry: a bug to fix). */
int rk_server_metrics_build(rk_server *s);

#endif
