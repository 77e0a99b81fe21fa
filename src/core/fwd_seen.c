/* fwd_seen.c — forwarded writes already taken (fwd_seen.h). */
#include "fwd_seen.h"

#include <string.h>

static uint32_t fwd_seen_bucket(rk_node_id origin, uint64_t req_id)
{
    /* splitmix64's finaliser: request ids differ in their low bits (the slot) and high bits
     * (the generation and run); mixing spreads both. */
    uint64_t x = req_id ^ ((uint64_t)origin << 32) ^ origin;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (uint32_t)(x & (RK_FWD_SEEN_BUCKETS - 1u));
}

void rk_fwd_seen_init(rk_fwd_seen *f)
{
    memset(f, 0, sizeof(*f));
    for (uint32_t i = 0; i < RK_FWD_SEEN_BUCKETS; i++) {
        f->buckets[i] = RK_FWD_SEEN_NONE;
    }
}

/* Unlink ring entry `pos` from its bucket's chain. */
static void fwd_seen_unlink(rk_fwd_seen *f, uint16_t pos)
{
    rk_fwd_seen_entry *e = &f->ring[pos];
    uint16_t *link = &f->buckets[fwd_seen_bucket(e->origin, e->req_id)];
    uint32_t steps = 0;
    while (*link != pos) {
        RK_ASSERT(*link != RK_FWD_SEEN_NONE);
        RK_ASSERT(++steps <= RK_FWD_SEEN_MAX);
        link = &f->ring[*link].next;
    }
    *link = e->next;
    e->used = false;
}

bool rk_fwd_seen_check(rk_fwd_seen *f, rk_node_id origin, uint64_t req_id)
{
    uint32_t bucket = fwd_seen_bucket(origin, req_id);
    uint32_t steps = 0;
    for (uint16_t pos = f->buckets[bucket]; pos != RK_FWD_SEEN_NONE; pos = f->ring[pos].next) {
        RK_ASSERT(++steps <= RK_FWD_SEEN_MAX);
        if (f->ring[pos].req_id == req_id && f->ring[pos].origin == origin) {
            return true;
        }
    }
    uint16_t pos = (uint16_t)f->next;
    if (f->ring[pos].used) {
        fwd_seen_unlink(f, pos);     /* the oldest goes */
    }
    f->ring[pos] = (rk_fwd_seen_entry){
        .origin = origin, .req_id = req_id, .next = f->buckets[bucket], .used = true};
    f->buckets[bucket] = pos;
    f->next = (f->next + 1u) % RK_FWD_SEEN_MAX;
    return false;
}
