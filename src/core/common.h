/* common.h — what every module shares: the one error table, assertions and the limits that
 * cross module boundaries. Owns nothing at run time. Error codes follow libuv's habit
 * (negative numbers from one table, rk_strerror names them); assertions follow TigerBeetle's
 * (cheap ones stay on in release builds). */
#ifndef RK_COMMON_H
#define RK_COMMON_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    RK_OK = 0,
    RK_EINVAL = -1,     /* bad argument or request */
    RK_ENOMEM = -2,     /* allocation failed */
    RK_ETOOBIG = -3,    /* over a limit */
    RK_EBUSY = -4,      /* a bounded queue is full */
    RK_ETIMEDOUT = -5,  /* no answer in time */
    RK_EUNAVAIL = -6,   /* fewer than R or W replicas */
    RK_ECORRUPT = -7,   /* bytes failed validation */
    RK_EIO = -8,        /* the operating system or the disk failed */
    RK_ENOTFOUND = -9,  /* no such key */
    RK_ENOSPC = -10,    /* the store is full (LMDB map size reached) */
    RK_ELOCKED = -11,   /* the data directory is in use by another process */
    RK_ECRASHED = -12,  /* test stores only: an injected failure */
    RK_ECONFLICT = -13, /* a plain read found several versions: use RK.GET */
    RK_EWRONGTYPE = -14, /* the key holds another type than the bucket's policy writes */
    RK_ENOTREADY = -15, /* a delta is not causally ready: send the full state */
    RK_ENOTOWNER = -16, /* asked as a primary of a key it neither owns nor holds (membership) */
};
#define RK_ERROR_COUNT 17

/* Name of an RK_E* code, e.g. "value too big". Never NULL; unknown codes give "unknown error". */
const char *rk_strerror(int code);

/* Report a broken invariant and abort. The one place core touches the OS: a node with a broken
 * invariant must stop before it sends wrong data to peers. The hook lets the simulator print its
 * seed first. */
_Noreturn void rk_assert_fail(const char *expr, const char *file, int line);
void rk_assert_set_hook(void (*hook)(void *ctx), void *ctx);

#define RK_ASSERT(cond)                                                                        \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            rk_assert_fail(#cond, __FILE__, __LINE__);                                         \
        }                                                                                      \
    } while (0)

#ifdef RK_SLOW_ASSERTS
#define RK_ASSERT_SLOW(cond) RK_ASSERT(cond)
#else
#define RK_ASSERT_SLOW(cond) ((void)0)
#endif

/* Keys: LMDB refuses keys above 511 bytes; a storage key is a 4-byte prefix (partition, bucket
 * length; see skey.h) followed by the user key. */
#define RK_LMDB_KEY_BYTES_MAX    511u
#define RK_SKEY_PREFIX_BYTES     4u
#define RK_KEY_BYTES_MAX         (RK_LMDB_KEY_BYTES_MAX - RK_SKEY_PREFIX_BYTES)
/* Values: Redis allows 512 MiB, Riak warns above 1 MiB; a few MiB must pass by default. */
#define RK_VALUE_BYTES_DEFAULT   (16u * 1024u * 1024u)
#define RK_VALUE_BYTES_MAX       (512u * 1024u * 1024u)

_Static_assert(RK_KEY_BYTES_MAX + RK_SKEY_PREFIX_BYTES <= RK_LMDB_KEY_BYTES_MAX,
               "storage keys must fit LMDB's key limit");

/* Little-endian integers, as every format on the wire and the disk stores them. */
static inline void rk_le32_put(uint8_t *out, uint32_t v)
{
    for (uint32_t i = 0; i < 4; i++) {
        out[i] = (uint8_t)(v >> (8u * i));
    }
}

static inline uint32_t rk_le32_get(const uint8_t *in)
{
    uint32_t v = 0;
    for (uint32_t i = 0; i < 4; i++) {
        v |= (uint32_t)in[i] << (8u * i);
    }
    return v;
}

static inline void rk_le64_put(uint8_t *out, uint64_t v)
{
    for (uint32_t i = 0; i < 8; i++) {
        out[i] = (uint8_t)(v >> (8u * i));
    }
}

static inline uint64_t rk_le64_get(const uint8_t *in)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < 8; i++) {
        v |= (uint64_t)in[i] << (8u * i);
    }
    return v;
}

/* Parse `bytes` as Redis parses an integer (string2ll): an optional '-', digits with no leading
 * zero, no spaces or '+', within int64. False for anything else ("007", "-0", "1 ", "").
 * For commands and for values a counter starts from (HINCRBY over a string). */
bool rk_parse_int64(const uint8_t *bytes, size_t len, int64_t *out);

#endif
