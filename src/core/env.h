/* env.h — what a node may ask of the world (DESIGN.md, "the one rule"). The real runtime
 * (src/io) and the simulator (src/sim) each implement it; core code sees nothing else. Time,
 * randomness, messages, timers, replies, durability and storage all come through here, so the
 * same node code replays exactly under the simulator's seed. */
#ifndef RK_ENV_H
#define RK_ENV_H

#include <stdint.h>

#include "../store/store.h"
#include "common.h"

typedef uint32_t rk_node_id;
typedef struct rk_msg rk_msg;       /* internode message; the cluster issue defines it */
typedef struct rk_reply rk_reply;   /* node.h */

typedef struct rk_env {
    void *ctx;
    uint64_t (*now_ms)(void *ctx);   /* monotonic: timers, timeouts */
    uint64_t (*wall_us)(void *ctx);  /* wall clock: LWW stamps; skewed in the simulator */
    uint64_t (*random)(void *ctx);   /* seeded in the simulator */
    void (*send)(void *ctx, rk_node_id to, const rk_msg *m);  /* may be lost */
    /* The same message to `count` nodes (a write to its replicas): one encode for all of them.
     * Optional: NULL sends to each with `send`, which is what it must be equivalent to. */
    void (*send_many)(void *ctx, const rk_node_id *to, uint32_t count, const rk_msg *m);
    void (*set_timer)(void *ctx, uint64_t at_ms, uint64_t timer_id);
    /* Answer client request `client_req`; the reply is borrowed for the call only. */
    void (*reply)(void *ctx, uint64_t client_req, const rk_reply *r);
    /* Make store writes up to `seq` durable, then call rk_node_on_durable(n, seq') with
     * seq' >= seq (or rk_node_on_sync_failed). Never completes inside the call. */
    void (*sync)(void *ctx, uint64_t seq);
    rk_store *store;
} rk_env;

#endif
