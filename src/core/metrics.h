/* metrics.h — the metrics registry: every counter, gauge and histogram a node shows, declared
 * once with its name, INFO section, kind, unit and one sentence of help (Prometheus's HELP),
 * and where its value lives. INFO (src/io/info.c) prints from it, and so does the Prometheus
 * exposition (src/io/prom.h: /metrics, RK.METRICS). A metric may carry up to two labels from
 * fixed value lists (ringkv_requests_total{op,outcome}); those are Prometheus's only.
 *
 * A metric is updated where its event happens, in the struct that already holds it
 * (`n->stats.coord_puts++` in coord_put.c, `s->stats.ops_get++` in commands.c): the registry
 * holds no values, only descriptors pointing at them, so declaring a metric costs the code
 * that counts nothing. A descriptor says how to read the value from a base pointer given when
 * the table is added: a uint64_t at base + offset (the common case: offsetof into a stats
 * struct), or value_fn(base, offset) for values that are computed (sums over peer links, the
 * number of connected clients), or hist_fn for histograms.
 *
 * Core declares the node's table (rk_node_stats, node.h) here; the runtime adds its own tables
 * (server, peer links, sync) to one registry at start. Pure: no I/O, no allocation; printing
 * is the caller's business (rk_metrics_each). Owns nothing but the registry's fixed array. */
#ifndef RK_METRICS_H
#define RK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rk_metric_kind {
    RK_METRIC_COUNTER = 1,      /* only grows while the process runs */
    RK_METRIC_GAUGE = 2,        /* goes up and down */
    RK_METRIC_HISTOGRAM = 3,    /* samples in buckets: count, sum, bucket counts */
} rk_metric_kind;

const char *rk_metric_kind_name(rk_metric_kind kind);  /* "counter", "gauge", "histogram" */

/* A histogram as the registry reads it: per-bucket counts (not cumulative) and each bucket's
 * upper bound, inclusive, in the metric's unit. Borrowed from the histogram's owner. */
typedef struct rk_metric_hist {
    uint64_t count;                     /* samples */
    uint64_t sum;                       /* of the samples, in the metric's unit */
    uint32_t bucket_count;
    const uint64_t *bucket_counts;      /* bucket_count entries */
    uint64_t (*bucket_top)(uint32_t bucket);    /* the largest value in the bucket */
} rk_metric_hist;

/* The smallest bucket top v with at least permille/1000 of the samples <= v; 0 when empty. */
uint64_t rk_metric_hist_percentile(const rk_metric_hist *h, uint32_t permille);

/* A fixed, bounded set of label values (Prometheus: never unbounded, never a key). */
typedef struct rk_metric_label {
    const char *name;                   /* [a-z_][a-z0-9_]*: "op", "outcome" */
    const char *const *values;          /* value_count entries, each [a-z0-9_]+ */
    uint32_t value_count;
} rk_metric_label;

#define RK_METRIC_LABELS_MAX 2u

/* A small fixed histogram for counts (siblings per read): bucket b holds the samples v with
 * top(b - 1) < v <= top(b), tops from rk_metric_small_hist_top; the last one is unbounded.
 * Lives in the owner's stats struct and is recorded in place (pure: no allocation). */
#define RK_METRIC_SMALL_HIST_BUCKETS 10u
typedef struct rk_metric_small_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t counts[RK_METRIC_SMALL_HIST_BUCKETS];
} rk_metric_small_hist;

void rk_metric_small_hist_record(rk_metric_small_hist *h, uint64_t v);
/* 0, 1, 2, 3, 4, 8, 16, 32, 64, then UINT64_MAX (everything above). */
uint64_t rk_metric_small_hist_top(uint32_t bucket);
/* The registry's view of an rk_metric_small_hist at base + offset (a rk_metric_hist_fn). */
void rk_metric_small_hist_read(const void *base, size_t offset, rk_metric_hist *out);

typedef uint64_t (*rk_metric_value_fn)(const void *base, size_t offset);
typedef void (*rk_metric_hist_fn)(const void *base, size_t offset, rk_metric_hist *out);

/* One metric, declared once in a static table. */
typedef struct rk_metric_desc {
    const char *name;       /* INFO's field name, [a-z_][a-z0-9_]*, unique in the registry */
    const char *section;    /* INFO section, lower case: "stats", "persistence", "hints", ... */
    rk_metric_kind kind;
    const char *unit;       /* plural noun: "requests", "bytes", "microseconds" */
    const char *help;       /* one sentence, Prometheus style */
    size_t offset;          /* from the table's base: the uint64_t, or what the fn reads */
    rk_metric_value_fn value_fn;    /* counters and gauges: NULL reads the uint64_t itself */
    rk_metric_hist_fn hist_fn;      /* histograms: required */
    /* Labelled metrics (a Prometheus family of series): up to RK_METRIC_LABELS_MAX labels,
     * each from a fixed set of values. Series i, numbered row-major over the labels (the last
     * label varies fastest), is read as above at offset + i * stride. Unlabelled: labels NULL.
     * INFO prints only unlabelled metrics; its own fields already cover the totals. */
    const rk_metric_label *const *labels;
    uint32_t label_count;
    size_t stride;
} rk_metric_desc;

/* A registered metric: its descriptor and the base its value is read from. */
typedef struct rk_metric {
    const rk_metric_desc *desc;
    const void *base;
} rk_metric;

/* Every metric a node shows fits: the node's ~35, the server's ~20, peers' ~20, latency. */
#define RK_METRICS_MAX 128u

typedef struct rk_metrics_registry {
    rk_metric metrics[RK_METRICS_MAX];
    uint32_t count;
} rk_metrics_registry;

void rk_metrics_init(rk_metrics_registry *reg);

/* Register table[0 .. count) reading from `base` (kept: the caller keeps it alive as long as
 * the registry is read). Metrics keep the order they were added in, which is the order INFO
 * prints them. Returns 0; RK_EINVAL when a descriptor is malformed (name, help, unit, kind, a
 * histogram without hist_fn) or its name is taken, RK_ETOOBIG past RK_METRICS_MAX; on error
 * nothing of the table is added. */
int rk_metrics_add(rk_metrics_registry *reg, const rk_metric_desc *table, uint32_t count,
                   const void *base);

/* The node's own table, over rk_node_stats (node.h, which includes this header for the
 * histogram types): base is rk_node_stats_get(node). */
const rk_metric_desc *rk_metrics_node_table(uint32_t *count_out);

/* The metric named `name`, or NULL. */
const rk_metric *rk_metrics_find(const rk_metrics_registry *reg, const char *name);

/* A counter's or gauge's current value (histograms: the sample count); of a labelled metric,
 * the total over its series. */
uint64_t rk_metric_value(const rk_metric *m);
/* A histogram's buckets, borrowed until its owner records again (a labelled one: series 0). */
void rk_metric_hist_get(const rk_metric *m, rk_metric_hist *out);

/* How many series m has: 1 unlabelled, else the product of its labels' value counts. */
uint32_t rk_metric_series_count(const rk_metric *m);
/* Series `series` (< rk_metric_series_count): its value, its histogram, and the value index
 * of each label in label_values_out[0 .. label_count). */
uint64_t rk_metric_series_value(const rk_metric *m, uint32_t series);
void rk_metric_series_hist(const rk_metric *m, uint32_t series, rk_metric_hist *out);
void rk_metric_series_labels(const rk_metric *m, uint32_t series,
                             uint32_t label_values_out[RK_METRIC_LABELS_MAX]);

/* Call fn for every metric of `section` (NULL: every metric) in registration order. Returns
 * how many were visited. */
typedef void (*rk_metrics_each_fn)(const rk_metric *m, void *ctx);
uint32_t rk_metrics_each(const rk_metrics_registry *reg, const char *section,
                         rk_metrics_each_fn fn, void *ctx);

/* Whether `name` is a valid metric name: [a-z_][a-z0-9_]*, 1 to 64 bytes. */
bool rk_metrics_name_valid(const char *name);

#endif
