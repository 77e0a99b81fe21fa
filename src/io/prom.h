/* prom.h — the Prometheus text exposition (format 0.0.4) of the metrics registry
 * (core/metrics.h): what /metrics answers over HTTP and RK.METRICS over RESP. Owns no state;
 * every value is read from the registry at the call, as INFO reads it.
 *
 * Naming follows Prometheus's conventions (prometheus.io/docs/practices/naming): every family
 * is `ringkv_` + the registry name, in base units with the unit last, counters ending in
 * `_total`. The registry keeps INFO's Redis-style names, so the renderer derives:
 *   - a counter's leading `total_` (Redis's total_commands_processed) is dropped;
 *   - a leading `bytes_` moves to the end (bytes_sent -> sent_bytes), and a metric in bytes
 *     whose name does not say so gets `_bytes`;
 *   - microseconds become seconds: `_seconds` is appended and values are divided by 10^6;
 *   - counters end in `_total`.
 * Histograms print cumulative `_bucket{le="..."}` lines ending in le="+Inf" (equal to
 * `_count`), then `_sum` and `_count`. A latency histogram (1,024 log-linear buckets) prints
 * at fixed bounds from 100 us to 10 s: a bound counts the buckets whose top is at or below it,
 * so it may show up to 1/16 of the bound's neighbourhood fewer than the exact count, never
 * more. A small histogram (siblings per read) prints every bucket's top. Labels come only from
 * the registry's fixed label sets (op, outcome), never from keys. */
#ifndef RK_PROM_H
#define RK_PROM_H

#include <stddef.h>

#include "../core/metrics.h"

typedef struct rk_server rk_server;

/* The exposition grows to at most this; the registry's ~100 metrics print in ~100 KiB. */
#define RK_PROM_TEXT_BYTES_MAX (4u << 20)
/* Prometheus names: ringkv_ + up to 64 bytes of registry name + suffixes. */
#define RK_PROM_NAME_BYTES_MAX 128u

/* The Prometheus text exposition (format 0.0.4) of every metric in the node's registry. 0 or
 * RK_ENOMEM; *text_out is owned by the caller (free). */
int rk_prom_render(rk_server *s, char **text_out, size_t *len_out);

/* The same for any registry (borrowed for the call): 0, or RK_ENOMEM when out of memory or
 * past RK_PROM_TEXT_BYTES_MAX. *text_out is NUL-terminated and owned by the caller (free). */
int rk_prom_render_registry(const rk_metrics_registry *reg, char **text_out, size_t *len_out);

/* The family name of `d` by the rules above into out (NUL-terminated). Returns its length,
 * or RK_ETOOBIG when it does not fit in out_size. */
int rk_prom_family_name(const rk_metric_desc *d, char *out, size_t out_size);

#endif
