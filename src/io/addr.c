/* addr.c — see addr.h. */
#include "addr.h"

#include <stdio.h>

void rk_addr_peer_name(uv_tcp_t *handle, char *out, size_t out_len)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char host[48] = "?";
    int port = 0;
    if (uv_tcp_getpeername(handle, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in4 = (const struct sockaddr_in *)&ss;
            uv_ip4_name(in4, host, sizeof(host));
            port = ntohs(in4->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            uv_ip6_name(in6, host, sizeof(host));
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(out, out_len, "%s:%d", host, port);
}
