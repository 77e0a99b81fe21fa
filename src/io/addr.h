/* addr.h — the "host:port" text of a connection's peer, for logs, INFO and CLIENT LIST. Shared
 * by the client side (server.c) and the internode side (peer_conn.c). */
#ifndef RK_ADDR_H
#define RK_ADDR_H

#include <stddef.h>
#include <uv.h>

/* Write the peer address of `handle` into out ("?:0" when the OS cannot say). */
void rk_addr_peer_name(uv_tcp_t *handle, char *out, size_t out_len);

#endif
