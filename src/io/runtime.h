/* runtime.h — the real world behind rk_env (DESIGN.md): libuv's clocks and timers, a seeded
 * random source, and durability. env->sync hands the fsync to libuv's thread pool, one job at
 * a time, so the event loop never blocks on the disk: under `batch` a job covers every write
 * that arrived before it started (group commit), under `always` each job covers one write.
 * An engine without durability (mem) completes syncs at once, on the next loop turn. Replies
 * go to the server (server.h), which owns the clients; messages to other nodes go to the peer
 * links (peer.h). Owns the env; keeps loop, store, server and peers. */
#ifndef RK_RUNTIME_H
#define RK_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../core/env.h"
#include "../core/node.h"
#include "latency.h"

typedef struct rk_server rk_server;
typedef struct runtime_timer runtime_timer;
typedef struct rk_peers rk_peers;

typedef struct rk_runtime {
    rk_env env;
    uv_loop_t *loop;
    rk_node *node;              /* set once the node exists */
    rk_server *server;
    rk_peers *peers;            /* internode links (peer.h); NULL until started */
    rk_sync_policy sync_policy;
    uint64_t random_state;
    /* Durability: the highest seq asked for, the highest known durable, the job under way. */
    uint64_t sync_wanted_seq;
    uint64_t sync_done_seq;
    uint64_t sync_job_seq;
    int sync_job_rc;
    bool sync_job_running;
    uv_work_t sync_work;
    uint64_t sync_jobs;         /* fsync jobs run (INFO) */
    uint64_t sync_job_us;       /* the running job's rk_store_sync time, set by the worker */
    /* Each thread-pool sync job's rk_store_sync time (the fsync and what the engine does with
     * it), recorded on the loop thread once the job is back. */
    rk_latency sync_latency;
    uint32_t timers_live;
    runtime_timer *timers;      /* live env timers (owned), closed by rk_runtime_close */
} rk_runtime;

/* Initialise in place; keeps loop, store and server. Seeds the random source from the OS. */
void rk_runtime_init(rk_runtime *rt, uv_loop_t *loop, rk_store *store, rk_server *server,
                     rk_sync_policy policy);

/* Complete what may complete on this loop turn (syncs of a non-durable engine). The server
 * calls it before flushing replies. */
void rk_runtime_poll(rk_runtime *rt);

/* Close every env timer still pending (shutdown); the loop frees them as it runs out. */
void rk_runtime_close(rk_runtime *rt);

/* True while a sync job runs or a sync is still wanted. */
bool rk_runtime_sync_busy(const rk_runtime *rt);

#endif
