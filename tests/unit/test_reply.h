/* test_reply.h — what a fake env keeps of a client reply (rk_env.reply), for tests that drive
 * core nodes and look at their answers afterwards. Header-only: each test file is its own
 * program. Include after <cmocka.h> and node.h. */
#ifndef RK_TEST_REPLY_H
#define RK_TEST_REPLY_H

#include <stdint.h>
#include <string.h>

typedef struct test_reply {
    uint64_t client_req;
    rk_reply_kind kind;
    int64_t integer;
    int error;
    char value[64];     /* RK_REPLY_VALUE: tests use short values */
    size_t value_len;
} test_reply;

/* Record `r`, the answer to client_req, in *out. */
static inline void test_reply_record(test_reply *out, uint64_t client_req, const rk_reply *r)
{
    memset(out, 0, sizeof(*out));
    out->client_req = client_req;
    out->kind = r->kind;
    out->integer = r->integer;
    out->error = r->error;
    if (r->kind == RK_REPLY_VALUE) {
        assert_true(r->value_len < sizeof(out->value));
        memcpy(out->value, r->value, r->value_len);
        out->value_len = r->value_len;
    }
}

#endif
