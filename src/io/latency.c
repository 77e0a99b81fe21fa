/* latency.c — see latency.h. */
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

/* The largest value that falls into `bucket`. */
static uint64_t latency_bucket_top(uint32_t bucket)
{
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
}

uint64_t rk_latency_percentile(const rk_latency *h, uint32_t permille)
{
    if (h->count == 0) {
        return 0;
    }
    uint64_t want = (h->count * permille + 999u) / 1000u;
    if (want == 0) {
        want = 1;
    }
    uint64_t seen = 0;
    for (uint32_t b = 0; b < RK_LATENCY_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen >= want) {
            return latency_bucket_top(b);
        }
    }
    return latency_bucket_top(RK_LATENCY_BUCKETS - 1u);
}
