/* prom_stub.c — TEMPORARY stand-in for rk_prom_render until src/io/prom.c (branch prom-metrics)
 * lands; delete this file in that merge. Weak, so a real definition wins where both are
 * linked. It renders nothing: /metrics answers 503 until then. */
#include <stddef.h>

#include "http_server.h"

__attribute__((weak)) int rk_prom_render(rk_server *s, char **text_out, size_t *len_out)
{
    (void)s;
    *text_out = NULL;
    *len_out = 0;
    return RK_EUNAVAIL;
}
