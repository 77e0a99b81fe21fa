/* ringkv_router.h — libringkv's router: client-driven coordination (Dynamo 6.4). Owns a copy of
 * one node's ring and member table, and a connection per member opened on demand, so that a
 * request goes straight to a primary of its key instead of through a node that would forward
 * it (coord.c: a write that reaches a node outside its key's preference list costs one more
 * hop). Connections, replies and their limits are ringkv.h's; retries beyond the one below and
 * pooling across threads are the caller's.
 *
 * The ring comes from `RK.RING ROUTE` (ring version, default bucket n, the ring in ring.h's
 * byte format) and the addresses from `RK.MEMBERS`. A key's partition and preference list are
 * computed by src/core's own hash.c and ring.c, linked in (they are pure: no syscalls), so the
 * client cannot disagree with the node that wrote the ring. Unlike ringkv.h, this part does
 * not stand alone: it links rk_ring and rk_common (CMakeLists.txt).
 *
 * What is approximate, and why it is safe: the router uses the default bucket's n for every
 * key (a bucket configured with another n has a shorter or longer list, but its first primary
 * is the same: the owner of the key's partition), and a ring it read may be stale. Either way
 * the node that gets the request still forwards it where it belongs, so a wrong guess costs a
 * hop, never a wrong answer. ringkvd never refuses a request for being the wrong node; the
 * router refreshes its ring when a connection to a member fails, and when asked.
 *
 * Not thread-safe, like rkc_conn. */
#ifndef RKC_RINGKV_ROUTER_H
#define RKC_RINGKV_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "ringkv.h"

/* Members the router keeps, the ring's own limit (ring.h RK_RING_NODES_MAX). */
#define RKC_ROUTER_MEMBERS_MAX 64u
#define RKC_ROUTER_HOST_BYTES_MAX 256u /* a member's client host, NUL included */

typedef struct rkc_router rkc_router;

/* An empty router whose connections use `opts` (NULL: defaults). Borrows `opts`; keeps a copy.
 * Returns owned (rkc_router_free), or NULL when out of memory. */
rkc_router *rkc_router_new(const rkc_options *opts);

/* Close every connection and free everything. Takes `router`; NULL is allowed. */
void rkc_router_free(rkc_router *router);

/* Remember host:port as the seed and read the ring and members from it (rkc_router_refresh).
 * Borrows `host` (copied). Returns 0 or the errors of rkc_router_refresh; RKC_EINVAL for a
 * NULL or too long host or port 0. */
int rkc_router_connect(rkc_router *router, const char *host, uint16_t port);

/* Read RK.RING ROUTE and RK.MEMBERS again, from the seed or, when it cannot be reached, from
 * the first known member that answers. Returns 0; RKC_ECONNECT when no node answers; RKC_ESERVER
 * when a node refused the commands (an older ringkvd without RK.RING ROUTE); RKC_ETYPE or
 * RKC_EPROTO when a reply has the wrong shape or the ring bytes fail validation; any error of
 * rkc_command. On error the router keeps what it had. */
int rkc_router_refresh(rkc_router *router);

/* Replace the ring with `bytes` (ring.h's encoded format, as RK.RING ROUTE sends it) and the
 * default n with `n` (1..64). For callers that fetched the ring themselves, and tests.
 * Borrows `bytes`. Returns 0, RKC_EINVAL (n out of range) or RKC_EPROTO (the bytes fail
 * rk_ring_decode's validation); the router is unchanged on error. */
int rkc_router_load_ring(rkc_router *router, const void *bytes, size_t len, uint32_t n);

/* The partition of `key`, as every node computes it (hash.c). Returns it (>= 0), or RKC_EINVAL
 * when no ring is loaded or it has no members. Borrows `key`. */
int rkc_router_partition(const rkc_router *router, const void *key, size_t key_len);

/* The primaries of `key` in preference-list order (ring.c's rk_ring_preflist for the default
 * n). Writes at most `ids_max` node ids and returns how many primaries there are (which may
 * be more than ids_max), or RKC_EINVAL as rkc_router_partition. Borrows `key`. */
int rkc_router_primaries(const rkc_router *router, const void *key, size_t key_len,
                         uint32_t *ids_out, uint32_t ids_max);

/* The client address of member `id` from the last RK.MEMBERS: *host_out is borrowed, valid
 * until the next refresh. Returns 0, or RKC_EINVAL when the member is unknown. */
int rkc_router_member(const rkc_router *router, uint32_t id, const char **host_out,
                      uint16_t *port_out);

/* How many members the last RK.MEMBERS named, and their ids in its order: writes at most
 * `ids_max` into `ids_out` (may be NULL when ids_max is 0). */
uint32_t rkc_router_members(const rkc_router *router, uint32_t *ids_out, uint32_t ids_max);

/* The ring's version and the default n from the last load; 0 before one. */
uint64_t rkc_router_ring_version(const rkc_router *router);
uint32_t rkc_router_n(const rkc_router *router);

/* A connection to the first primary of `key` that the router can connect to, skipping
 * members RK.MEMBERS reported down and, for a second, members that refused a connect. A
 * refused connect marks the ring stale: it is refreshed and the primaries tried once more,
 * in this call or, when a primary connected anyway, in the next. Then any member that
 * connects will do (it forwards), the skipped ones last. Returns 0 and *conn_out borrowed
 * (owned by the router: do not free it; call rkc_router_conn_failed after an error on it), or
 * RKC_ECONNECT when no member connects, RKC_EINVAL without a ring. */
int rkc_router_conn(rkc_router *router, const void *key, size_t key_len, rkc_conn **conn_out);

/* Tell the router that `conn` (from rkc_router_conn) failed: it is closed and freed, and the
 * next rkc_router_conn refreshes the ring before choosing. */
void rkc_router_conn_failed(rkc_router *router, rkc_conn *conn);

/* rkc_command on rkc_router_conn's connection for `key`. Connection failures are handled as
 * rkc_router_conn_failed says; a command that may have been sent is not sent again (a write
 * must not be applied twice behind the caller's back). Same ownership and errors as
 * rkc_command, plus those of rkc_router_conn. */
int rkc_router_command(rkc_router *router, const void *key, size_t key_len, size_t argc,
                       const char *const *argv, const size_t *argv_len, rkc_reply **reply_out);

/* Details of the router's last failure (the node and what it said), "" when none. Borrowed:
 * valid until the next call. Never NULL. */
const char *rkc_router_errstr(const rkc_router *router);

#endif /* RKC_RINGKV_ROUTER_H */
