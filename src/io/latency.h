/* latency.h — a fixed-size log-linear latency histogram (the HdrHistogram idea: 16 linear
 * sub-buckets per power of two, so any percentile is within 1/16 of the truth) for INFO's
 * percentiles. Fixed memory, O(1) record, no allocation. Samples are in microseconds; the
 * metrics registry (core/metrics.h) reads one through rk_latency_hist, and INFO's percentiles
 * are rk_metric_hist_percentile over that view. */
#ifndef RK_LATENCY_H
#define RK_LATENCY_H

#include <stdint.h>

#include "../core/metrics.h"

#define RK_LATENCY_SUB_BITS 4u
#define RK_LATENCY_BUCKETS (64u << RK_LATENCY_SUB_BITS)

typedef struct rk_latency {
    uint64_t count;
    uint64_t sum_us;            /* of every sample, for a Prometheus histogram's _sum */
    uint64_t counts[RK_LATENCY_BUCKETS];
} rk_latency;

void rk_latency_record(rk_latency *h, uint64_t us);
/* The largest value, in microseconds, that falls into `bucket` (< RK_LATENCY_BUCKETS). */
uint64_t rk_latency_bucket_top(uint32_t bucket);
/* The registry's view of h (borrowed while h lives): buckets in microseconds. */
void rk_latency_hist(const rk_latency *h, rk_metric_hist *out);
/* The smallest value v such that at least `permille`/1000 of the samples are <= v (an upper
 * bound within 1/16); 0 when empty. */
uint64_t rk_latency_percentile(const rk_latency *h, uint32_t permille);

#endif
