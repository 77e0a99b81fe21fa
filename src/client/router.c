/* router.c — libringkv's router (ringkv_router.h): the ring and member table read from a node,
 * key -> primaries through src/core's hash.c and ring.c, and one lazily opened connection per
 * member. Nothing here decides placement: rk_ring_decode validates the node's bytes and
 * rk_ring_preflist computes the list, exactly as the node does in rk_node_preflist. */
#include "ringkv_router.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/hash.h"
#include "../core/ring.h"
#include "ringkv_internal.h"

_Static_assert(RKC_ROUTER_MEMBERS_MAX == RK_RING_NODES_MAX, "the router keeps a ring's members");

/* A member whose connect failed is skipped this long, across refreshes: a node that is down
 * but still reported up by the others must not cost a refused connect (and a refresh) on
 * every request. */
#define ROUTER_RETRY_MS 1000u

typedef struct router_member {
    uint32_t id;
    char host[RKC_ROUTER_HOST_BYTES_MAX];
    uint16_t port;
    bool down;          /* RK.MEMBERS said down: try it only when nothing else connects */
    uint64_t retry_at_ms; /* a connect failed: not tried again before this (monotonic) */
    rkc_conn *conn;     /* NULL until first used; connected when not NULL */
} router_member;

struct rkc_router {
    rkc_options opts;
    char seed_host[RKC_ROUTER_HOST_BYTES_MAX];
    uint16_t seed_port;
    bool ring_loaded;
    bool stale;         /* a member connection failed: refresh before choosing again */
    uint32_t n;
    rk_ring ring;       /* about 64 KiB: the router lives on the heap */
    uint32_t member_count;
    router_member members[RKC_ROUTER_MEMBERS_MAX];
    char errstr[RKC_ERRSTR_BYTES];
};

__attribute__((format(printf, 3, 4)))
static int router_error(rkc_router *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errstr, sizeof(r->errstr), fmt, ap);
    va_end(ap);
    return code;
}

rkc_router *rkc_router_new(const rkc_options *opts)
{
    rkc_router *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    if (opts != NULL) {
        r->opts = *opts;
    } else {
        rkc_options_init(&r->opts);
    }
    return r;
}

static void router_close_members(rkc_router *r)
{
    for (uint32_t i = 0; i < r->member_count; i++) {
        rkc_conn_free(r->members[i].conn);
        r->members[i].conn = NULL;
    }
}

void rkc_router_free(rkc_router *router)
{
    if (router == NULL) {
        return;
    }
    router_close_members(router);
    free(router);
}

const char *rkc_router_errstr(const rkc_router *router)
{
    return router->errstr;
}

/* ---- loading -------------------------------------------------------------------------------- */

int rkc_router_load_ring(rkc_router *router, const void *bytes, size_t len, uint32_t n)
{
    if (n == 0 || n > RK_RING_TARGET_N_MAX) {
        return router_error(router, RKC_EINVAL, "n is %u; expected 1..%u", n,
                            RK_RING_TARGET_N_MAX);
    }
    /* Decode into a scratch ring first: a bad reply must leave the router as it was. */
    rk_ring *next = malloc(sizeof(*next));
    if (next == NULL) {
        return router_error(router, RKC_ENOMEM, "out of memory for a ring");
    }
    if (rk_ring_decode(next, bytes, len) != 0) {
        free(next);
        return router_error(router, RKC_EPROTO, "ring of %zu bytes fails validation", len);
    }
    memcpy(&router->ring, next, sizeof(*next));
    free(next);
    router->n = n;
    router->ring_loaded = true;
    return 0;
}

/* "host:port" into a member's address; false when it has no port or the host is too long. */
static bool router_parse_addr(const rkc_reply *text, router_member *m)
{
    if (text->type != RKC_REPLY_STRING && text->type != RKC_REPLY_STATUS) {
        return false;
    }
    const char *colon = memrchr(text->str, ':', text->len);
    if (colon == NULL) {
        return false;
    }
    size_t host_len = (size_t)(colon - text->str);
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (host_len == 0 || host_len >= sizeof(m->host) || end != text->str + text->len ||
        port == 0 || port > UINT16_MAX) {
        return false;
    }
    memcpy(m->host, text->str, host_len);
    m->host[host_len] = '\0';
    m->port = (uint16_t)port;
    return true;
}

/* RK.MEMBERS' [[id, client host:port, cluster host:port, state, ms], ...] into `out`. */
static int router_parse_members(rkc_router *r, const rkc_reply *reply, router_member *out,
                                uint32_t *count_out)
{
    if (reply->type != RKC_REPLY_ARRAY || reply->elements_count > RKC_ROUTER_MEMBERS_MAX) {
        return router_error(r, RKC_ETYPE, "RK.MEMBERS: expected an array of at most %u members",
                            RKC_ROUTER_MEMBERS_MAX);
    }
    for (size_t i = 0; i < reply->elements_count; i++) {
        const rkc_reply *e = reply->elements[i];
        router_member *m = &out[i];
        memset(m, 0, sizeof(*m));
        if (e->type != RKC_REPLY_ARRAY || e->elements_count < 4 ||
            e->elements[0]->type != RKC_REPLY_INTEGER || e->elements[0]->integer <= 0 ||
            e->elements[0]->integer > UINT32_MAX || !router_parse_addr(e->elements[1], m) ||
            e->elements[3]->type != RKC_REPLY_STRING) {
            return router_error(r, RKC_ETYPE, "RK.MEMBERS: entry %zu is not [id, host:port, "
                                "cluster address, state, ...]", i);
        }
        m->id = (uint32_t)e->elements[0]->integer;
        m->down = strcmp(e->elements[3]->str, "down") == 0;
    }
    *count_out = (uint32_t)reply->elements_count;
    return 0;
}

static uint64_t router_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Move the open connections and retry times of members whose address did not change into
 * `next`. */
static void router_keep_conns(rkc_router *r, router_member *next, uint32_t next_count)
{
    for (uint32_t i = 0; i < next_count; i++) {
        for (uint32_t j = 0; j < r->member_count; j++) {
            router_member *old = &r->members[j];
            if (old->id == next[i].id && old->port == next[i].port &&
                strcmp(old->host, next[i].host) == 0) {
                next[i].conn = old->conn;
                next[i].retry_at_ms = old->retry_at_ms;
                old->conn = NULL;
                break;
            }
        }
    }
}

/* Send both commands on `conn` and load what they answer. */
static int router_read_from(rkc_router *r, rkc_conn *conn)
{
    static const char *const ring_argv[] = {"RK.RING", "ROUTE"};
    static const char *const members_argv[] = {"RK.MEMBERS"};
    rkc_reply *ring = NULL;
    rkc_reply *members = NULL;
    router_member *next = NULL;
    uint32_t next_count = 0;
    int rc = rkc_append_command(conn, 2, ring_argv, NULL);
    rc = rc == 0 ? rkc_append_command(conn, 1, members_argv, NULL) : rc;
    rc = rc == 0 ? rkc_get_reply(conn, &ring) : rc;
    rc = rc == 0 ? rkc_get_reply(conn, &members) : rc;
    if (rc != 0) {
        router_error(r, rc, "%s", rkc_errstr(conn));
        goto out_free_replies;
    }
    if (ring->type == RKC_REPLY_ERROR || members->type == RKC_REPLY_ERROR) {
        const rkc_reply *e = ring->type == RKC_REPLY_ERROR ? ring : members;
        rc = router_error(r, RKC_ESERVER, "%s", e->str);
        goto out_free_replies;
    }
    if (ring->type != RKC_REPLY_ARRAY || ring->elements_count != 3 ||
        ring->elements[0]->type != RKC_REPLY_INTEGER ||
        ring->elements[1]->type != RKC_REPLY_INTEGER || ring->elements[1]->integer < 0 ||
        ring->elements[1]->integer > UINT32_MAX || ring->elements[2]->type != RKC_REPLY_STRING) {
        rc = router_error(r, RKC_ETYPE, "RK.RING ROUTE: expected [version, n, ring bytes]");
        goto out_free_replies;
    }
    next = calloc(RKC_ROUTER_MEMBERS_MAX, sizeof(*next));
    if (next == NULL) {
        rc = router_error(r, RKC_ENOMEM, "out of memory for members");
        goto out_free_replies;
    }
    rc = router_parse_members(r, members, next, &next_count);
    if (rc == 0) {
        rc = rkc_router_load_ring(r, ring->elements[2]->str, ring->elements[2]->len,
                                  (uint32_t)ring->elements[1]->integer);
    }
    if (rc == 0) {
        router_keep_conns(r, next, next_count);
        router_close_members(r);
        memcpy(r->members, next, next_count * sizeof(*next));
        r->member_count = next_count;
        r->stale = false;
    }
    free(next);
out_free_replies:
    rkc_reply_free(ring);
    rkc_reply_free(members);
    return rc;
}

/* Connect to host:port and read the ring there. */
static int router_read_at(rkc_router *r, const char *host, uint16_t port)
{
    rkc_conn *conn = rkc_conn_new(&r->opts);
    if (conn == NULL) {
        return router_error(r, RKC_ENOMEM, "out of memory for a connection");
    }
    int rc = rkc_connect(conn, host, port);
    if (rc != 0) {
        router_error(r, rc, "%s:%u: %s", host, port, rkc_errstr(conn));
    } else {
        rc = router_read_from(r, conn);
    }
    rkc_conn_free(conn);
    return rc;
}

int rkc_router_refresh(rkc_router *router)
{
    if (router->seed_port == 0) {
        return router_error(router, RKC_EINVAL, "no seed: call rkc_router_connect first");
    }
    int rc = router_read_at(router, router->seed_host, router->seed_port);
    if (rc != RKC_ECONNECT) {
        return rc;
    }
    /* The seed is gone; any member it named knows the ring as well. Copy the addresses out,
     * since a successful read replaces the table. */
    uint32_t count = router->member_count;
    for (uint32_t i = 0; i < count; i++) {
        char host[RKC_ROUTER_HOST_BYTES_MAX];
        memcpy(host, router->members[i].host, sizeof(host));
        uint16_t port = router->members[i].port;
        if (strcmp(host, router->seed_host) == 0 && port == router->seed_port) {
            continue;
        }
        rc = router_read_at(router, host, port);
        if (rc != RKC_ECONNECT) {
            return rc;
        }
    }
    return rc;
}

int rkc_router_connect(rkc_router *router, const char *host, uint16_t port)
{
    if (host == NULL || port == 0 || strlen(host) >= sizeof(router->seed_host)) {
        return router_error(router, RKC_EINVAL, "bad seed address");
    }
    memcpy(router->seed_host, host, strlen(host) + 1);
    router->seed_port = port;
    return rkc_router_refresh(router);
}

/* ---- lookups -------------------------------------------------------------------------------- */

int rkc_router_partition(const rkc_router *router, const void *key, size_t key_len)
{
    if (!router->ring_loaded || router->ring.member_count == 0 || (key == NULL && key_len > 0)) {
        return RKC_EINVAL;
    }
    uint64_t position = rk_hash_key(key, key_len);
    return (int)rk_ring_partition_of(&router->ring, position);
}

int rkc_router_primaries(const rkc_router *router, const void *key, size_t key_len,
                         uint32_t *ids_out, uint32_t ids_max)
{
    int partition = rkc_router_partition(router, key, key_len);
    if (partition < 0) {
        return partition;
    }
    rk_node_id list[RK_RING_NODES_MAX];
    uint32_t primaries = 0;
    int count = rk_ring_preflist(&router->ring, (uint32_t)partition, router->n, list,
                                 RK_RING_NODES_MAX, &primaries);
    RKC_ASSERT(count >= 0);
    for (uint32_t i = 0; i < primaries && i < ids_max; i++) {
        ids_out[i] = list[i];
    }
    return (int)primaries;
}

static router_member *router_find(const rkc_router *r, uint32_t id)
{
    for (uint32_t i = 0; i < r->member_count; i++) {
        if (r->members[i].id == id) {
            return (router_member *)&r->members[i];
        }
    }
    return NULL;
}

int rkc_router_member(const rkc_router *router, uint32_t id, const char **host_out,
                      uint16_t *port_out)
{
    const router_member *m = router_find(router, id);
    if (m == NULL) {
        return RKC_EINVAL;
    }
    *host_out = m->host;
    *port_out = m->port;
    return 0;
}

uint32_t rkc_router_members(const rkc_router *router, uint32_t *ids_out, uint32_t ids_max)
{
    for (uint32_t i = 0; i < router->member_count && i < ids_max; i++) {
        ids_out[i] = router->members[i].id;
    }
    return router->member_count;
}

uint64_t rkc_router_ring_version(const rkc_router *router)
{
    return router->ring_loaded ? router->ring.version : 0;
}

uint32_t rkc_router_n(const rkc_router *router)
{
    return router->ring_loaded ? router->n : 0;
}

/* ---- connections ---------------------------------------------------------------------------- */

/* The member's connection, opened now if need be; NULL when it does not connect. */
static rkc_conn *router_member_conn(rkc_router *r, router_member *m)
{
    if (m->conn != NULL) {
        return m->conn;
    }
    rkc_conn *conn = rkc_conn_new(&r->opts);
    if (conn == NULL) {
        router_error(r, RKC_ENOMEM, "out of memory for a connection");
        return NULL;
    }
    if (rkc_connect(conn, m->host, m->port) != 0) {
        router_error(r, RKC_ECONNECT, "node %u at %s:%u: %s", m->id, m->host, m->port,
                     rkc_errstr(conn));
        rkc_conn_free(conn);
        m->retry_at_ms = router_now_ms() + ROUTER_RETRY_MS;
        r->stale = true;
        return NULL;
    }
    m->conn = conn;
    m->down = false;
    m->retry_at_ms = 0;
    return conn;
}

/* Whether to try `m` now: connected, or not reported down and not refused lately. */
static bool router_member_usable(const router_member *m)
{
    return m->conn != NULL || (!m->down && router_now_ms() >= m->retry_at_ms);
}

/* The first primary of `key` that connects, skipping members known down. */
static rkc_conn *router_primary_conn(rkc_router *r, const void *key, size_t key_len)
{
    uint32_t ids[RK_RING_NODES_MAX];
    int count = rkc_router_primaries(r, key, key_len, ids, RK_RING_NODES_MAX);
    for (int i = 0; i < count; i++) {
        router_member *m = router_find(r, ids[i]);
        if (m == NULL || !router_member_usable(m)) {
            continue;
        }
        rkc_conn *conn = router_member_conn(r, m);
        if (conn != NULL) {
            return conn;
        }
    }
    return NULL;
}

int rkc_router_conn(rkc_router *router, const void *key, size_t key_len, rkc_conn **conn_out)
{
    *conn_out = NULL;
    if (!router->ring_loaded) {
        return router_error(router, RKC_EINVAL, "no ring: call rkc_router_connect first");
    }
    if (router->stale) {
        (void)rkc_router_refresh(router);   /* on failure the old ring still routes */
    }
    /* A primary refused just now: the ring may have moved on. Primaries merely skipped (down,
     * or refused lately) do not ask for a refresh, or every request would cost one. */
    rkc_conn *conn = router_primary_conn(router, key, key_len);
    if (conn == NULL && router->stale && rkc_router_refresh(router) == 0) {
        conn = router_primary_conn(router, key, key_len);
    }
    /* Any member forwards to a primary it can reach; members down or refused lately last. */
    for (int pass = 0; pass < 2 && conn == NULL; pass++) {
        for (uint32_t i = 0; i < router->member_count && conn == NULL; i++) {
            router_member *m = &router->members[i];
            if (router_member_usable(m) == (pass == 1)) {
                continue;
            }
            conn = router_member_conn(router, m);
        }
    }
    if (conn == NULL) {
        return router_error(router, RKC_ECONNECT, "no member connects (last: %s)",
                            router->errstr);
    }
    *conn_out = conn;
    return 0;
}

void rkc_router_conn_failed(rkc_router *router, rkc_conn *conn)
{
    for (uint32_t i = 0; i < router->member_count; i++) {
        if (router->members[i].conn == conn) {
            rkc_conn_free(conn);
            router->members[i].conn = NULL;
            router->stale = true;
            return;
        }
    }
}

int rkc_router_command(rkc_router *router, const void *key, size_t key_len, size_t argc,
                       const char *const *argv, const size_t *argv_len, rkc_reply **reply_out)
{
    *reply_out = NULL;
    rkc_conn *conn = NULL;
    int rc = rkc_router_conn(router, key, key_len, &conn);
    if (rc != 0) {
        return rc;
    }
    rc = rkc_command(conn, argc, argv, argv_len, reply_out);
    if (rc != 0 && conn->broken_code != 0) {
        router_error(router, rc, "%s", rkc_errstr(conn));
        rkc_router_conn_failed(router, conn);
    }
    return rc;
}
