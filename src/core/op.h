/* op.h — a write as an operation (Groundwork II): what a client asked to do to a key, apart
 * from how the key's bucket resolves conflicts (policy.h). A request carries one, a forwarded
 * write carries it encoded, and the coordinator hands it to the bucket's policy, which applies
 * it or refuses it. Adding an operation touches this file, the policies that take it and the
 * command that makes it; never the coordinator or the replica. Owns nothing: an op borrows its
 * argument. A forwarded write carries it as it is: FWD_REQ's `op` and `value` (the argument);
 * an operation with several arguments encodes them into its one argument. */
#ifndef RK_OP_H
#define RK_OP_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef enum rk_op_kind {
    RK_OP_PUT = 1,      /* SET: the value replaces what it supersedes; reply OK */
    RK_OP_DEL = 2,      /* DEL: a tombstone; reply 1 if a live value was deleted, else 0 */
    RK_OP_APPEND = 3,   /* APPEND (lww only): the value grows by arg; reply its new length */
    RK_OP_GETDEL = 4,   /* GETDEL: a tombstone; reply the value it deleted, or nil */
    RK_OP_SADD = 5,     /* SADD (union, set): arg is an element list (elems.h) of members;
                         * reply how many were not members before */
    RK_OP_SREM = 6,     /* SREM (union, set): arg is an element list; reply how many were */
    RK_OP_INCRBY = 7,   /* INCRBY, INCR, DECR, DECRBY (counter): arg is the int64 increment,
                         * 8 bytes little-endian; reply the new value */
    RK_OP_HSET = 8,     /* HSET (map): arg is an element list field, value, field, value...;
                         * reply how many fields were new */
    RK_OP_HDEL = 9,     /* HDEL (map): arg is an element list of fields; reply how many were */
    RK_OP_HINCRBY = 10, /* HINCRBY (map): arg is an element list [field, int64 as 8 bytes
                         * little-endian]; reply the field's new value */
} rk_op_kind;
#define RK_OP_KIND_MAX 10
/* The bytes of an INCRBY argument and of HINCRBY's increment. */
#define RK_OP_INCREMENT_BYTES 8u

typedef struct rk_op {
    rk_op_kind kind;
    const uint8_t *arg;     /* PUT: the value; APPEND: the bytes appended; SADD, SREM, HSET,
                             * HDEL, HINCRBY: an element list (elems.h); INCRBY: 8 bytes;
                             * DEL, GETDEL: none */
    size_t arg_len;
} rk_op;

/* The increment of INCRBY and HINCRBY as its RK_OP_INCREMENT_BYTES, little-endian. */
static inline void rk_op_increment_encode(int64_t increment, uint8_t out[RK_OP_INCREMENT_BYTES])
{
    rk_le64_put(out, (uint64_t)increment);
}

static inline int64_t rk_op_increment_decode(const uint8_t bytes[RK_OP_INCREMENT_BYTES])
{
    return (int64_t)rk_le64_get(bytes);
}

/* "put", "del", "append"; "unknown" otherwise. Never NULL. */
static inline const char *rk_op_name(rk_op_kind kind)
{
    switch (kind) {
    case RK_OP_PUT:
        return "put";
    case RK_OP_DEL:
        return "del";
    case RK_OP_APPEND:
        return "append";
    case RK_OP_GETDEL:
        return "getdel";
    case RK_OP_SADD:
        return "sadd";
    case RK_OP_SREM:
        return "srem";
    case RK_OP_INCRBY:
        return "incrby";
    case RK_OP_HSET:
        return "hset";
    case RK_OP_HDEL:
        return "hdel";
    case RK_OP_HINCRBY:
        return "hincrby";
    }
    return "unknown";
}

#endif
