/* server_reply.c — the node's replies in their RESP shapes (rk_server_encode_reply, server.h):
 * one place that says how each rk_reply kind looks on the wire in RESP2 and RESP3. Moved out
 * of server.c, which keeps the clients and their queues. tests/unit/test_server_reply.c. */
#include <string.h>

#include "commands.h"

void rk_server_encode_reply(rk_resp_out *out, const rk_reply *r)
{
    switch (r->kind) {
    case RK_REPLY_OK:
        rk_resp_simple(out, "OK");
        return;
    case RK_REPLY_NIL:
        rk_resp_null(out);
        return;
    case RK_REPLY_VALUE:
        rk_resp_bulk(out, r->value, r->value_len);
        return;
    case RK_REPLY_INT:
        rk_resp_integer(out, r->integer);
        return;
    case RK_REPLY_ERROR:
        rk_commands_error(out, r->error, r->message);
        return;
    case RK_REPLY_VERSIONS:
        /* RK.GET: [context, [value, ...]] */
        rk_resp_array(out, 2);
        rk_resp_bulk_str(out, r->context);
        rk_resp_array(out, r->value_count);
        for (uint32_t i = 0; i < r->value_count; i++) {
            rk_resp_bulk(out, r->values[i], r->value_lens[i]);
        }
        return;
    case RK_REPLY_WRITTEN:
        /* RK.PUT / RK.DEL: [new context, replicas that acknowledged] */
        rk_resp_array(out, 2);
        rk_resp_bulk_str(out, r->context != NULL ? r->context : "");
        rk_resp_integer(out, r->integer);
        return;
    case RK_REPLY_ARRAY:
    case RK_REPLY_MAP:
    case RK_REPLY_SET:
        /* As Redis answers: a RESP3 map (%) or set (~); in RESP2 both are flat arrays. */
        if (r->kind == RK_REPLY_MAP) {
            rk_resp_map(out, r->value_count / 2);
        } else if (r->kind == RK_REPLY_SET) {
            rk_resp_set(out, r->value_count);
        } else {
            rk_resp_array(out, r->value_count);
        }
        for (uint32_t i = 0; i < r->value_count; i++) {
            if (r->values[i] == NULL && r->kind == RK_REPLY_ARRAY) {
                rk_resp_null(out);   /* HMGET's missing field */
            } else {
                rk_resp_bulk(out, r->values[i], r->value_lens[i]);
            }
        }
        return;
    case RK_REPLY_INTS:
        rk_resp_array(out, r->value_count);
        for (uint32_t i = 0; i < r->value_count; i++) {
            rk_resp_integer(out, r->integers[i]);
        }
        return;
    case RK_REPLY_STATUS: {
        char line[32];
        size_t len = r->value_len < sizeof(line) - 1 ? r->value_len : sizeof(line) - 1;
        memcpy(line, r->value, len);
        line[len] = '\0';
        rk_resp_simple(out, line);
        return;
    }
    }
    rk_resp_error(out, "ERR internal: unknown reply");
}
