/* latency.c — see latency.h. Percentiles are the registry's (rk_metric_hist_percentile), so
 * INFO and anything else reading the registry agree on them. */
#include "latency.h"

#include "../core/common.h"

static uint32_t latency_bucket(uint64_t us)
{
    if (us < (1u << RK_LATENCY_SUB_BITS)) {
        return (uint32_t)us;
    }
    uint32_t exp = 63u - (uint32_t)__builtin_clzll(us);             /* >= SUB_BITS */
    uint32_t shift = exp - RK_LATENCY_SUB_BITS;
    uint32_t sub = (uint32_t)(us >> shift) & ((1u << RK_LATENCY_SUB_BITS) - 1u);
    return ((shift + 1u) << RK_LATENCY_SUB_BITS) + sub;
}

uint64_t rk_latency_bucket_top(uint32_t bucket)
{
    RK_ASSERT(bucket < RK_LATENCY_BUCKETS);
    if (bucket < (1u << RK_LATENCY_SUB_BITS)) {
        return bucket;
    }
    uint32_t shift = (bucket >> RK_LATENCY_SUB_BITS) - 1u;
    uint64_t sub = bucket & ((1u << RK_LATENCY_SUB_BITS) - 1u);
    uint64_t base = ((1ull << RK_LATENCY_SUB_BITS) | sub) << shift;
    return base + ((1ull << shift) - 1u);
}

void rk_latency_record(rk_latency *h, uint64_t us)
{
    uint32_t bucket = latency_bucket(us);
    RK_ASSERT(bucket < RK_LATENCY_BUCKETS);
    h->counts[bucket]++;
    h->count++;
    h->sum_us += us;
}

void rk_latency_hist(const rk_latency *h, rk_metric_hist *out)
{
    *out = (rk_metric_hist){.count = h->count,
                            .sum = h->sum_us,
                            .bucket_count = RK_LATENCY_BUCKETS,
                            .bucket_counts = h->counts,
                            .bucket_top = rk_latency_bucket_top};
}

uint64_t rk_latency_percentile(const rk_latency *h, uint32_t permille)
{
    rk_metric_hist view;
    rk_latency_hist(h, &view);
    return rk_metric_hist_percentile(&view, permille);
}
