/* durable.c — the FIFO of work waiting for durability (durable.h). */
#include "durable.h"

#include <stdlib.h>
#include <string.h>

#include "node.h"

_Static_assert((RK_DURABLE_PENDING_MAX & (RK_DURABLE_PENDING_MAX - 1)) == 0,
               "ring index masks");

int rk_durable_init(rk_durable *d, const rk_env *env, rk_node_stats *stats, bool sync_none,
                    rk_durable_run_fn run, void *run_ctx)
{
    memset(d, 0, sizeof(*d));
    d->queue = calloc(RK_DURABLE_PENDING_MAX, sizeof(*d->queue));
    if (d->queue == NULL) {
        return RK_ENOMEM;
    }
    d->env = env;
    d->stats = stats;
    d->sync_none = sync_none;
    d->run = run;
    d->run_ctx = run_ctx;
    d->durable_seq = rk_store_durable_seq(env->store);
    return 0;
}

void rk_durable_deinit(rk_durable *d)
{
    free(d->queue);
    d->queue = NULL;
}

uint32_t rk_durable_room(const rk_durable *d)
{
    return RK_DURABLE_PENDING_MAX - d->count;
}

uint64_t rk_durable_seq(const rk_durable *d)
{
    return d->durable_seq;
}

void rk_durable_after(rk_durable *d, const rk_pending *p)
{
    if (p->seq <= d->durable_seq) {
        d->run(d->run_ctx, p, 0, NULL);
        return;
    }
    if (d->sync_none) {
        d->stats->acks_before_durable++;
        d->run(d->run_ctx, p, 0, NULL);
        d->env->sync(d->env->ctx, p->seq);
        return;
    }
    RK_ASSERT(d->count < RK_DURABLE_PENDING_MAX);
    uint32_t tail = (d->head + d->count) & (RK_DURABLE_PENDING_MAX - 1);
    if (d->count > 0) {
        uint32_t last = (tail - 1) & (RK_DURABLE_PENDING_MAX - 1);
        RK_ASSERT(d->queue[last].seq <= p->seq);
    }
    d->queue[tail] = *p;
    d->count++;
    d->stats->inflight = d->count;
    d->env->sync(d->env->ctx, p->seq);
}

/* Run the items with seq <= `seq`; `status` 0 for durable, an error for a failed sync. An item
 * is taken off the queue before it runs: running may queue more. */
static void durable_settle(rk_durable *d, uint64_t seq, int status, const char *message)
{
    while (d->count > 0) {
        rk_pending *head = &d->queue[d->head];
        if (head->seq > seq) {
            break;
        }
        rk_pending done = *head;
        d->head = (d->head + 1) & (RK_DURABLE_PENDING_MAX - 1);
        d->count--;
        d->run(d->run_ctx, &done, status, message);
    }
    d->stats->inflight = d->count;
}

void rk_durable_on_synced(rk_durable *d, uint64_t seq)
{
    if (seq > d->durable_seq) {
        d->stats->sync_calls++;
        d->stats->writes_synced += seq - d->durable_seq;
        d->durable_seq = seq;
    }
    durable_settle(d, d->durable_seq, 0, NULL);
}

void rk_durable_on_failed(rk_durable *d, uint64_t seq, int error, const char *message)
{
    d->stats->sync_failures++;
    if (seq > d->durable_seq) {
        d->durable_seq = seq;   /* the store rolled those writes back: nothing waits on them */
    }
    durable_settle(d, seq, error, message);
}
