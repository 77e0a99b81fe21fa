/* bench.h — `ringkv bench`: a load generator with redis-benchmark's flags, on libringkv, that
 * can route each request to a primary of its key (ringkv_router.h, Dynamo 6.4) or send every
 * request to the one node it was given (which then forwards writes it does not own). bench.c
 * owns the command line and the report; bench_run.c owns one run: the virtual clients, their
 * connections and the latencies. */
#ifndef RK_TOOLS_BENCH_H
#define RK_TOOLS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../src/client/ringkv_router.h"

#define BENCH_CLIENTS_MAX    10000u      /* each holds a connection per member when routing */
#define BENCH_PIPELINE_MAX   1024u       /* requests in flight per client */
#define BENCH_REQUESTS_MAX   100000000u  /* a latency of 4 bytes kept per request */
#define BENCH_DATA_BYTES_MAX (16u * 1024u * 1024u) /* ringkvd's default max-value-bytes */
#define BENCH_KEY_BYTES_MAX  512u        /* prefix plus 12 digits, below ringkvd's key limit */
#define BENCH_WHY_BYTES      320u

typedef enum bench_test {
    BENCH_TEST_SET = 0,
    BENCH_TEST_GET,
} bench_test;

typedef struct bench_config {
    const char *host;
    uint16_t port;
    uint32_t clients;         /* -c */
    uint64_t requests;        /* -n, per test */
    uint64_t keyspace;        /* -r; 0: every request uses key number 0 */
    uint32_t data_bytes;      /* -d */
    uint32_t pipeline;        /* -P: requests each client keeps in flight */
    bool routing;             /* --routing on: each request to a primary of its key */
    bool sequential;          /* --sequential: key numbers 0, 1, ... (mod keyspace), not random */
    const char *key_prefix;   /* --key-prefix, "key:" like redis-benchmark */
    uint32_t timeout_ms;      /* connect and per-reply wait */
    uint64_t seed;            /* of the key numbers */
} bench_config;

typedef struct bench_result {
    uint64_t done;            /* replies read */
    uint64_t errors;          /* error replies */
    uint64_t misses;          /* GET answered nil */
    uint32_t members_unreachable; /* routing: members no connection reached, left out */
    char first_error[BENCH_WHY_BYTES];
    double seconds;
    uint32_t *latency_us;     /* `done` of them, sorted after the run; owned: free() */
} bench_result;

/* Connection options for `cfg`: libringkv's defaults with cfg->timeout_ms for the connect
 * and for each reply. */
void bench_options_init(const bench_config *cfg, rkc_options *opts);

/* Run `test` per `cfg`: cfg->clients clients, each with its own connection to cfg's node or,
 * with `router` (not NULL), one to every member the router knows, keeping cfg->pipeline
 * requests in flight until cfg->requests replies came back. A member that refuses the first
 * client's connection is left out (a line on stderr; its keys go to their next primary, or any
 * member, which forwards). Fills `out` (zeroed first; the caller frees out->latency_us). Error
 * replies are counted, not fatal. Returns 0, or -1 with a one-line reason in `why` (the node
 * refused a connection, or every member did; a reply that did not come within timeout_ms; a
 * connection closed by the server). Borrows everything. */
int bench_run(const bench_config *cfg, rkc_router *router, bench_test test, bench_result *out,
              char *why, size_t why_bytes);

/* `ringkv bench ARG...`; argv[0] is "bench". Returns the exit status: 0 when every request
 * was answered without error, 1 when some were answered with errors (counted in the report),
 * 2 on bad usage, a connection failure or a missing reply (one line on stderr). */
int rk_bench_main(int argc, char **argv);

#endif
