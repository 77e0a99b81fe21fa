/* msg.c — deep copies of rk_msg (msg.h), for whoever must keep a message past the send call
 * that lent it: the simulator's network and the unit tests' clusters. */
#include "msg.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t *msg_copy_field(uint8_t **cursor, const uint8_t *src, size_t len,
                                     size_t *len_out)
{
    *len_out = src != NULL ? len : 0;
    if (src == NULL || len == 0) {
        return NULL;
    }
    uint8_t *dst = *cursor;
    memcpy(dst, src, len);
    *cursor += len;
    return dst;
}

int rk_msg_copy(const rk_msg *m, rk_msg *out, uint8_t **buf_out)
{
    size_t total = m->key_len + m->object_len + m->value_len + m->context_len + m->message_len;
    uint8_t *buf = total > 0 ? malloc(total) : NULL;
    if (total > 0 && buf == NULL) {
        return RK_ENOMEM;
    }
    *out = *m;
    uint8_t *cursor = buf;
    out->key = msg_copy_field(&cursor, m->key, m->key_len, &out->key_len);
    out->object = msg_copy_field(&cursor, m->object, m->object_len, &out->object_len);
    out->value = msg_copy_field(&cursor, m->value, m->value_len, &out->value_len);
    out->context = msg_copy_field(&cursor, m->context, m->context_len, &out->context_len);
    out->message = msg_copy_field(&cursor, m->message, m->message_len, &out->message_len);
    *buf_out = buf;
    return 0;
}
