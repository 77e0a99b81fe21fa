/* latency.h — a fixed-size log-linear latency histogram (the HdrHistogram idea: 16 linear
 * sub-buckets per power of two, so any percentile is within 1/16 of the truth) for INFO's
 * percentiles. Fixed memory, O(1) record, no allocation. */
#ifndef RK_LATENCY_H
#define RK_LATENCY_H

#include <stdint.h>

#define RK_LATENCY_SUB_BITS 4u
#define RK_LATENCY_BUCKETS (64u << RK_LATENCY_SUB_BITS)

typedef struct rk_latency {
    uint64_t count;
    uint64_t counts[RK_LATENCY_BUCKETS];
} rk_latency;

void rk_latency_record(rk_latency *h, uint64_t us);
/* The smallest value v such that at least `permille`/1000 of the samples are <= v (an upper
 * bound within 1/16); 0 when empty. */
uint64_t rk_latency_percentile(const rk_latency *h, uint32_t permille);

#endif
