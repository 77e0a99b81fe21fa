/* runtime.c — rk_env on libuv (see runtime.h). */
#include "runtime.h"

#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "peer.h"
#include "server.h"

static uint64_t runtime_now_ms(void *ctx)
{
    rk_runtime *rt = ctx;
    uv_update_time(rt->loop);
    return uv_now(rt->loop);
}

static uint64_t runtime_wall_us(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* xorshift64*: plenty for jitter and ids; the simulator has its own seeded source. */
static uint64_t runtime_random(void *ctx)
{
    rk_runtime *rt = ctx;
    uint64_t x = rt->random_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rt->random_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void runtime_send(void *ctx, rk_node_id to, const rk_msg *m)
{
    rk_runtime *rt = ctx;
    if (rt->peers != NULL) {
        rk_peers_send(rt->peers, to, m);    /* may drop it: the core tolerates loss */
    }
}

static void runtime_send_many(void *ctx, const rk_node_id *to, uint32_t count, const rk_msg *m)
{
    rk_runtime *rt = ctx;
    if (rt->peers != NULL) {
        rk_peers_send_many(rt->peers, to, count, m);
    }
}

struct runtime_timer {
    uv_timer_t handle;
    rk_runtime *rt;
    uint64_t timer_id;
    runtime_timer *prev;    /* the runtime's list of live timers, for rk_runtime_close */
    runtime_timer *next;
};

static void runtime_timer_on_close(uv_handle_t *h)
{
    free(h->data);
}

/* Take `t` off the live list and close it; its memory goes with the close callback. */
static void runtime_timer_close(rk_runtime *rt, runtime_timer *t)
{
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        rt->timers = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
    rt->timers_live--;
    uv_close((uv_handle_t *)&t->handle, runtime_timer_on_close);
}

static void runtime_timer_on_fire(uv_timer_t *h)
{
    runtime_timer *t = h->data;
    rk_runtime *rt = t->rt;
    uint64_t timer_id = t->timer_id;
    runtime_timer_close(rt, t);
    if (rt->node != NULL) {
        rk_node_on_timer(rt->node, timer_id);
    }
}

void rk_runtime_close(rk_runtime *rt)
{
    while (rt->timers != NULL) {
        uv_timer_stop(&rt->timers->handle);
        runtime_timer_close(rt, rt->timers);
    }
}

static void runtime_set_timer(void *ctx, uint64_t at_ms, uint64_t timer_id)
{
    rk_runtime *rt = ctx;
    runtime_timer *t = calloc(1, sizeof(*t));
    RK_ASSERT(t != NULL);
    t->rt = rt;
    t->timer_id = timer_id;
    t->handle.data = t;
    uv_timer_init(rt->loop, &t->handle);
    uint64_t now_ms = uv_now(rt->loop);
    uv_timer_start(&t->handle, runtime_timer_on_fire, at_ms > now_ms ? at_ms - now_ms : 0, 0);
    t->next = rt->timers;
    if (rt->timers != NULL) {
        rt->timers->prev = t;
    }
    rt->timers = t;
    rt->timers_live++;
}

static void runtime_reply(void *ctx, uint64_t client_req, const rk_reply *r)
{
    rk_runtime *rt = ctx;
    rk_server_on_reply(rt->server, client_req, r);
}

static void runtime_sync_kick(rk_runtime *rt);

static void runtime_sync_work(uv_work_t *w)
{
    rk_runtime *rt = w->data;
    /* On a pool thread: only this job's fields are written here, read back after the work. */
    uint64_t start_ns = uv_hrtime();
    rt->sync_job_rc = rk_store_sync(rt->env.store, rt->sync_job_seq);
    rt->sync_job_us = (uv_hrtime() - start_ns) / 1000u;
}

static void runtime_sync_done(rk_runtime *rt, uint64_t seq, int rc)
{
    if (rc == 0) {
        if (seq > rt->sync_done_seq) {
            rt->sync_done_seq = seq;
        }
        rk_node_on_durable(rt->node, seq);
    } else {
        rk_log_error("store sync up to write %llu failed: %s (%s)", (unsigned long long)seq,
                     rk_strerror(rc), rk_store_last_error(rt->env.store));
        /* The store rolled those writes back; nothing below seq is wanted any more. */
        rt->sync_done_seq = seq;
        rk_node_on_sync_failed(rt->node, seq, rc);
    }
    rk_server_after_node_event(rt->server);
}

static void runtime_sync_after_work(uv_work_t *w, int status)
{
    rk_runtime *rt = w->data;
    RK_ASSERT(rt->sync_job_running);
    rt->sync_job_running = false;
    if (status == 0) {
        rk_latency_record(&rt->sync_latency, rt->sync_job_us);
    }
    int rc = status == 0 ? rt->sync_job_rc : RK_EIO;
    runtime_sync_done(rt, rt->sync_job_seq, rc);
    runtime_sync_kick(rt);
}

static void runtime_sync_kick(rk_runtime *rt)
{
    if (rt->sync_job_running || rt->sync_wanted_seq <= rt->sync_done_seq) {
        return;
    }
    if (!rk_store_is_durable(rt->env.store)) {
        return;     /* rk_runtime_poll completes it on this loop turn */
    }
    /* `always` syncs one write per job; `batch` and `none` take everything asked so far. */
    rt->sync_job_seq = rt->sync_policy == RK_SYNC_ALWAYS ? rt->sync_done_seq + 1
                                                         : rt->sync_wanted_seq;
    rt->sync_job_running = true;
    rt->sync_jobs++;
    rt->sync_work.data = rt;
    int rc = uv_queue_work(rt->loop, &rt->sync_work, runtime_sync_work, runtime_sync_after_work);
    RK_ASSERT(rc == 0);
}

static void runtime_sync(void *ctx, uint64_t seq)
{
    rk_runtime *rt = ctx;
    if (seq > rt->sync_wanted_seq) {
        rt->sync_wanted_seq = seq;
    }
    runtime_sync_kick(rt);
}

void rk_runtime_poll(rk_runtime *rt)
{
    if (rk_store_is_durable(rt->env.store) || rt->sync_wanted_seq <= rt->sync_done_seq) {
        return;
    }
    uint64_t seq = rt->sync_wanted_seq;
    rt->sync_jobs++;
    runtime_sync_done(rt, seq, rk_store_sync(rt->env.store, seq));
}

bool rk_runtime_sync_busy(const rk_runtime *rt)
{
    return rt->sync_job_running || rt->sync_wanted_seq > rt->sync_done_seq;
}

void rk_runtime_init(rk_runtime *rt, uv_loop_t *loop, rk_store *store, rk_server *server,
                     rk_sync_policy policy)
{
    *rt = (rk_runtime){0};
    rt->loop = loop;
    rt->server = server;
    rt->sync_policy = policy;
    rt->sync_done_seq = rk_store_durable_seq(store);
    rt->sync_wanted_seq = rt->sync_done_seq;
    if (getrandom(&rt->random_state, sizeof(rt->random_state), 0) !=
        (ssize_t)sizeof(rt->random_state)) {
        rt->random_state = (uint64_t)runtime_wall_us(NULL);
    }
    rt->random_state |= 1;
    rt->env = (rk_env){
        .ctx = rt,
        .now_ms = runtime_now_ms,
        .wall_us = runtime_wall_us,
        .random = runtime_random,
        .send = runtime_send,
        .send_many = runtime_send_many,
        .set_timer = runtime_set_timer,
        .reply = runtime_reply,
        .sync = runtime_sync,
        .store = store,
    };
}
