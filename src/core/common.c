/* common.c — the error table and the assertion handler. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const common_error_names[RK_ERROR_COUNT] = {
    "ok",
    "invalid argument",
    "out of memory",
    "over a limit",
    "busy: queue full",
    "timed out",
    "unavailable: not enough replicas",
    "corrupt data",
    "I/O error",
    "not found",
    "store full",
    "data directory locked by another process",
    "injected crash",
    "conflict: several versions",
    "wrong type",
    "not causally ready",
};

const char *rk_strerror(int code)
{
    if (code > 0 || code <= -RK_ERROR_COUNT) {
        return "unknown error";
    }
    return common_error_names[-code];
}

static void (*common_assert_hook)(void *ctx);
static void *common_assert_hook_ctx;

void rk_assert_set_hook(void (*hook)(void *ctx), void *ctx)
{
    common_assert_hook = hook;
    common_assert_hook_ctx = ctx;
}

_Noreturn void rk_assert_fail(const char *expr, const char *file, int line)
{
    if (common_assert_hook != NULL) {
        common_assert_hook(common_assert_hook_ctx);
    }
    fprintf(stderr, "ringkv: assertion failed: %s at %s:%d\n", expr, file, line);
    fflush(stderr);
    abort();
}
