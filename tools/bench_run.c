/* bench_run.c — one run of `ringkv bench` (bench.h): single-threaded, every connection a
 * libringkv rkc_conn polled together. Each virtual client keeps `pipeline` requests in flight
 * and sends a new one as each reply arrives, so the load stays constant rather than in bursts.
 * With a router a client has one connection per member and sends each request to the first
 * primary of its key; otherwise all its requests go down its one connection.
 *
 * rkc_get_reply blocks until a whole reply is in, so a connection is read only when poll()
 * says bytes arrived or libringkv already buffered some (rkc_buffered): replies are small and
 * the rest of one that started to arrive follows at once. Latency is from the append of a
 * request to the read of its reply, which includes the time the request waited to be flushed
 * behind its batch, as redis-benchmark counts it. */
#include "bench.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench_conn {
    rkc_conn *conn;
    uint32_t client_index;
    uint64_t *sent_us;        /* FIFO of append times, `pipeline` slots */
    uint32_t head;
    uint32_t count;
    bool queued;              /* appended since the last flush */
} bench_conn;

typedef struct bench_state {
    const bench_config *cfg;
    rkc_router *router;
    bench_test test;
    bench_result *out;
    uint32_t node_count;      /* connections per client: members, or 1 without routing */
    uint32_t node_ids[RKC_ROUTER_MEMBERS_MAX];
    bool unreachable[RKC_ROUTER_MEMBERS_MAX]; /* the first client could not connect */
    bench_conn *conns;        /* clients * node_count, client-major */
    uint32_t *inflight;       /* per client */
    uint64_t issued;
    uint64_t rng;
    char *value;
    char *why;
    size_t why_bytes;
} bench_state;

static uint64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* xorshift64*: the key numbers need to be spread, not secret. */
static uint64_t bench_random(bench_state *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545f4914f6cdd1dull;
}

static int bench_fail(bench_state *s, const char *what, const char *detail)
{
    snprintf(s->why, s->why_bytes, "%s: %s", what, detail);
    return -1;
}

/* Open client c's connection to node slot k. With a router, a member the first client cannot
 * reach is left out for every client (its keys go to their next primary); without one, or
 * when no member is left, that is the end of the run. */
static int bench_connect_one(bench_state *s, const rkc_options *opts, uint32_t c, uint32_t k)
{
    bench_conn *bc = &s->conns[c * s->node_count + k];
    const char *host = s->cfg->host;
    uint16_t port = s->cfg->port;
    bc->client_index = c;
    if (s->router != NULL && (s->unreachable[k] ||
                              rkc_router_member(s->router, s->node_ids[k], &host, &port) != 0)) {
        return 0;
    }
    bc->sent_us = calloc(s->cfg->pipeline, sizeof(*bc->sent_us));
    bc->conn = rkc_conn_new(opts);
    if (bc->sent_us == NULL || bc->conn == NULL) {
        return bench_fail(s, "connect", "out of memory");
    }
    if (rkc_connect(bc->conn, host, port) == 0) {
        return 0;
    }
    char where[300];
    snprintf(where, sizeof(where), "cannot connect to %s:%u", host, port);
    if (s->router == NULL || c > 0) {
        return bench_fail(s, where, rkc_errstr(bc->conn));
    }
    fprintf(stderr, "ringkv bench: %s: %s; routing its keys to their next primary\n", where,
            rkc_errstr(bc->conn));
    rkc_conn_free(bc->conn);
    bc->conn = NULL;
    s->unreachable[k] = true;
    s->out->members_unreachable++;
    return 0;
}

void bench_options_init(const bench_config *cfg, rkc_options *opts)
{
    rkc_options_init(opts);
    opts->connect_timeout_ms = cfg->timeout_ms;
    opts->timeout_ms = cfg->timeout_ms;
}

/* Open every connection: per client one to the given node, or one to each member. */
static int bench_connect_all(bench_state *s)
{
    rkc_options opts;
    bench_options_init(s->cfg, &opts);
    for (uint32_t c = 0; c < s->cfg->clients; c++) {
        for (uint32_t k = 0; k < s->node_count; k++) {
            if (bench_connect_one(s, &opts, c, k) != 0) {
                return -1;
            }
        }
        if (c == 0 && s->out->members_unreachable == s->node_count) {
            return bench_fail(s, "routing", "no member of the cluster accepts a connection");
        }
    }
    return 0;
}

/* The connection of client `c` for key `key`: with a router the first primary's that
 * connected, else any member's (it forwards); without one, the client's only connection. */
static bench_conn *bench_conn_for(bench_state *s, uint32_t c, const char *key, size_t key_len)
{
    bench_conn *row = &s->conns[c * s->node_count];
    if (s->router == NULL) {
        return row;
    }
    uint32_t primaries[RKC_ROUTER_MEMBERS_MAX];
    int count = rkc_router_primaries(s->router, key, key_len, primaries, RKC_ROUTER_MEMBERS_MAX);
    for (int i = 0; i < count; i++) {
        for (uint32_t k = 0; k < s->node_count; k++) {
            if (s->node_ids[k] == primaries[i] && row[k].conn != NULL) {
                return &row[k];
            }
        }
    }
    for (uint32_t k = 0; k < s->node_count; k++) {
        if (row[k].conn != NULL) {
            return &row[k];
        }
    }
    abort();    /* bench_connect_all left every client a connected member */
}

/* Append one request of client `c`. */
static int bench_issue(bench_state *s, uint32_t c)
{
    const bench_config *cfg = s->cfg;
    uint64_t number = 0;
    if (cfg->keyspace > 0) {
        number = cfg->sequential ? s->issued % cfg->keyspace : bench_random(s) % cfg->keyspace;
    }
    char key[BENCH_KEY_BYTES_MAX + 16];
    int key_len = snprintf(key, sizeof(key), "%s%012llu", cfg->key_prefix,
                           (unsigned long long)number);
    bench_conn *bc = bench_conn_for(s, c, key, (size_t)key_len);
    const char *argv[3] = {s->test == BENCH_TEST_SET ? "SET" : "GET", key, s->value};
    size_t argv_len[3] = {3, (size_t)key_len, cfg->data_bytes};
    int rc = rkc_append_command(bc->conn, s->test == BENCH_TEST_SET ? 3 : 2, argv, argv_len);
    if (rc != 0) {
        return bench_fail(s, "append", rkc_errstr(bc->conn));
    }
    uint32_t slot = (bc->head + bc->count) % cfg->pipeline;
    bc->sent_us[slot] = bench_now_us();
    bc->count++;
    bc->queued = true;
    s->inflight[c]++;
    s->issued++;
    return 0;
}

static int bench_fill(bench_state *s, uint32_t c)
{
    while (s->inflight[c] < s->cfg->pipeline && s->issued < s->cfg->requests) {
        if (bench_issue(s, c) != 0) {
            return -1;
        }
    }
    return 0;
}

static int bench_flush_all(bench_state *s, uint32_t conn_count)
{
    for (uint32_t i = 0; i < conn_count; i++) {
        bench_conn *bc = &s->conns[i];
        if (bc->queued) {
            if (rkc_flush(bc->conn) != 0) {
                return bench_fail(s, "send", rkc_errstr(bc->conn));
            }
            bc->queued = false;
        }
    }
    return 0;
}

/* Count one reply of `bc` and send the client's next request. */
static int bench_on_reply(bench_state *s, bench_conn *bc, const rkc_reply *reply)
{
    bench_result *out = s->out;
    if (bc->count == 0) {
        return bench_fail(s, "reading a reply", "a reply to no request (pushed data?)");
    }
    uint64_t sent_us = bc->sent_us[bc->head];
    bc->head = (bc->head + 1) % s->cfg->pipeline;
    bc->count--;
    uint64_t latency_us = bench_now_us() - sent_us;
    out->latency_us[out->done++] = latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us;
    if (reply->type == RKC_REPLY_ERROR) {
        if (out->errors++ == 0) {
            snprintf(out->first_error, sizeof(out->first_error), "%s", reply->str);
        }
    } else if (reply->type == RKC_REPLY_NIL) {
        out->misses++;
    }
    s->inflight[bc->client_index]--;
    return bench_fill(s, bc->client_index);
}

/* Read every reply `bc` has buffered or that poll() said arrived. */
static int bench_read(bench_state *s, bench_conn *bc)
{
    do {
        rkc_reply *reply = NULL;
        if (rkc_get_reply(bc->conn, &reply) != 0) {
            return bench_fail(s, "reading a reply", rkc_errstr(bc->conn));
        }
        int rc = bench_on_reply(s, bc, reply);
        rkc_reply_free(reply);
        if (rc != 0) {
            return rc;
        }
    } while (bc->count > 0 && rkc_buffered(bc->conn) > 0);
    return 0;
}

static int bench_loop(bench_state *s, uint32_t conn_count, struct pollfd *fds, uint32_t *index)
{
    const bench_config *cfg = s->cfg;
    while (s->out->done < cfg->requests) {
        uint32_t fd_count = 0;
        bool buffered = false;
        for (uint32_t i = 0; i < conn_count; i++) {
            bench_conn *bc = &s->conns[i];
            if (bc->count == 0) {
                continue;
            }
            buffered = buffered || rkc_buffered(bc->conn) > 0;
            fds[fd_count] = (struct pollfd){.fd = rkc_fd(bc->conn), .events = POLLIN};
            index[fd_count++] = i;
        }
        if (fd_count == 0) {
            return bench_fail(s, "bench", "no request in flight before the last reply");
        }
        int ready = poll(fds, fd_count, buffered ? 0 : (int)cfg->timeout_ms);
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready < 0) {
            return bench_fail(s, "poll", strerror(errno));
        }
        if (ready == 0 && !buffered) {
            return bench_fail(s, "waiting for replies", "none came within the timeout");
        }
        for (uint32_t f = 0; f < fd_count; f++) {
            bench_conn *bc = &s->conns[index[f]];
            if (bc->count > 0 && (fds[f].revents != 0 || rkc_buffered(bc->conn) > 0) &&
                bench_read(s, bc) != 0) {
                return -1;
            }
        }
        if (bench_flush_all(s, conn_count) != 0) {
            return -1;
        }
    }
    return 0;
}

static int bench_compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

int bench_run(const bench_config *cfg, rkc_router *router, bench_test test, bench_result *out,
              char *why, size_t why_bytes)
{
    memset(out, 0, sizeof(*out));
    bench_state s = {.cfg = cfg, .router = router, .test = test, .out = out, .why = why,
                     .why_bytes = why_bytes, .rng = cfg->seed | 1u, .node_count = 1};
    if (router != NULL) {
        s.node_count = rkc_router_members(router, s.node_ids, RKC_ROUTER_MEMBERS_MAX);
        if (s.node_count == 0) {
            return bench_fail(&s, "routing", "the node named no members");
        }
    }
    uint32_t conn_count = cfg->clients * s.node_count;
    int rc = -1;
    struct pollfd *fds = calloc(conn_count, sizeof(*fds));
    uint32_t *index = calloc(conn_count, sizeof(*index));
    s.conns = calloc(conn_count, sizeof(*s.conns));
    s.inflight = calloc(cfg->clients, sizeof(*s.inflight));
    s.value = malloc(cfg->data_bytes > 0 ? cfg->data_bytes : 1);
    out->latency_us = calloc(cfg->requests, sizeof(*out->latency_us));
    if (fds == NULL || index == NULL || s.conns == NULL || s.inflight == NULL ||
        s.value == NULL || out->latency_us == NULL) {
        bench_fail(&s, "bench", "out of memory");
        goto out_free;
    }
    memset(s.value, 'x', cfg->data_bytes);  /* redis-benchmark's payload */
    if (bench_connect_all(&s) != 0) {
        goto out_free;
    }
    uint64_t start_us = bench_now_us();
    for (uint32_t c = 0; c < cfg->clients; c++) {
        if (bench_fill(&s, c) != 0) {
            goto out_free;
        }
    }
    if (bench_flush_all(&s, conn_count) != 0 || bench_loop(&s, conn_count, fds, index) != 0) {
        goto out_free;
    }
    out->seconds = (double)(bench_now_us() - start_us) / 1e6;
    qsort(out->latency_us, out->done, sizeof(*out->latency_us), bench_compare_u32);
    rc = 0;
out_free:
    for (uint32_t i = 0; s.conns != NULL && i < conn_count; i++) {
        rkc_conn_free(s.conns[i].conn);
        free(s.conns[i].sent_us);
    }
    free(s.conns);
    free(s.inflight);
    free(s.value);
    free(fds);
    free(index);
    return rc;
}
