/* check_cart.h — the cart checkers (issues 12 and 13): judge a recorded history of the cart's
 * operations by what the clients saw, and nothing else: each request's kind, key, member or
 * field, outcome and INT reply, and one final read of every key taken after every fault healed
 * and the cluster went quiet. No dots, stores or clocks from inside, so the same code judges a
 * history recorded by the simulator (check.c builds one from its ops) or one recorded from real
 * processes.
 *
 * Sets (`union` and `set` buckets: SADD, SREM, a final SMEMBERS):
 *
 *   lost_adds            an SADD acknowledged with an INT reply whose member is absent from
 *                        its key's final read, although no SREM of that member was
 *                        acknowledged with reply 1 (it observed and removed the member) and
 *                        none ended with an unknown outcome (it may have removed it).
 *   resurrected_removes  an SREM acknowledged with reply 1 whose member is present in the
 *                        final read: the remove observed the member and removed it, yet it
 *                        came back. Dynamo's cart (`union`) does this by design, when a
 *                        version without the remove is united with the remove's; an observed-
 *                        remove set (`set`, Riak's ORSWOT) must never.
 *
 * Both rely on each member being added at most once (the workload adds "m<op id>"), so an
 * absence or a presence at the end names exactly one add. The idea is Jepsen's set checker
 * (an acknowledged add must be in the final read) and Shapiro et al.'s observed-remove
 * semantics (a remove deletes exactly the adds it observed).
 *
 * Counters (`counter` buckets: INCRBY, a final GET; `map` buckets: HINCRBY, a final HGETALL):
 *
 *   counter_out_of_range a counter (a counter key, or one (key, field) of a map) whose final
 *                        value lies outside [acked + the unknown decrements, acked + the
 *                        unknown increments], where acked sums the increments acknowledged
 *                        and the unknown ones are those that timed out or failed after being
 *                        sent (each may or may not have applied). Refused ones did not happen.
 *                        A counter absent at the end reads 0; one that reads as no decimal
 *                        int64 is out of range. The rule assumes nothing removes a counter
 *                        (no DEL of a counter key, no HDEL of a counter field): the workload's
 *                        never do.
 *
 * The interval is Jepsen's counter checker (a final read between the acknowledged and the
 * attempted sum), with decrements bounding the low side. Owns nothing: every function borrows
 * the history for the call. */
#ifndef RK_SIM_CHECK_CART_H
#define RK_SIM_CHECK_CART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rk_cart_op_kind {
    RK_CART_SADD = 1,       /* SADD key member: reply how many members were new */
    RK_CART_SREM = 2,       /* SREM key member: reply how many it removed (1: it saw it) */
    RK_CART_SMEMBERS = 3,   /* a read; the checkers judge only the final reads */
} rk_cart_op_kind;

typedef enum rk_cart_outcome {
    RK_CART_OK = 1,         /* answered: an SADD or SREM has its INT reply in `reply` */
    RK_CART_REFUSED = 2,    /* refused before anything was sent (RK_EUNAVAIL): did not happen */
    RK_CART_UNKNOWN = 3,    /* timed out or never answered: may or may not take effect */
    RK_CART_FAILED = 4,     /* a read that answered an error */
} rk_cart_outcome;

/* One request as the client saw it. */
typedef struct rk_cart_op {
    uint8_t kind;               /* rk_cart_op_kind */
    uint8_t outcome;            /* rk_cart_outcome */
    uint32_t key;               /* index into the history's finals */
    const uint8_t *member;      /* SADD, SREM: the one member (never NULL; may be empty) */
    size_t member_len;
    int64_t reply;              /* SADD, SREM answered OK: the INT reply */
} rk_cart_op;

/* The final read of one key: what SMEMBERS answered, in any order. */
typedef struct rk_cart_final {
    bool read;                  /* false: the final read failed; its key's ops go unjudged */
    const uint8_t *const *members;
    const size_t *member_lens;
    uint32_t member_count;
} rk_cart_final;

typedef struct rk_cart_history {
    const rk_cart_op *ops;      /* in any order: the checkers need no times */
    size_t op_count;
    const rk_cart_final *finals;    /* finals[key], key < key_count */
    uint32_t key_count;
} rk_cart_history;

typedef struct rk_cart_verdict {
    uint64_t acked_adds;        /* SADDs answered OK */
    uint64_t acked_removes;     /* SREMs answered OK with reply 1 */
    uint64_t lost_adds;
    uint64_t resurrected_removes;
    uint64_t keys_unread;       /* keys whose final read failed: nothing on them was judged */
} rk_cart_verdict;

/* Judge `h` into *out (zeroed first). Returns 0; RK_EINVAL if an op names a key at or above
 * key_count, has an unknown kind or outcome, or is an SADD/SREM whose member is NULL (then
 * *out says nothing); or RK_ENOMEM. Borrows h; keeps nothing. */
int rk_cart_check(const rk_cart_history *h, rk_cart_verdict *out);

/* ---- counters --------------------------------------------------------------------------- */

/* One INCRBY or HINCRBY as the client saw it. Its outcome is an rk_cart_outcome: RK_CART_OK
 * (answered with the new value), RK_CART_REFUSED (it did not happen: refused before anything
 * was sent, or an error that says nothing was applied, such as an overflow refused) or
 * RK_CART_UNKNOWN (timed out, or an error after it was sent). */
typedef struct rk_counter_op {
    uint8_t outcome;            /* rk_cart_outcome, never RK_CART_FAILED */
    uint32_t key;               /* index into the history's finals */
    const uint8_t *field;       /* map: the field; a counter key: "" (never NULL) */
    size_t field_len;
    int64_t increment;          /* negative for a decrement */
} rk_counter_op;

/* The final read of one key: its counters and the decimal text each read as. A counter key
 * that read a value is one counter with field ""; one that read nil has none. */
typedef struct rk_counter_final {
    bool read;                  /* false: the final read failed; its key's ops go unjudged */
    const uint8_t *const *fields;
    const size_t *field_lens;
    const uint8_t *const *values;
    const size_t *value_lens;
    uint32_t field_count;
} rk_counter_final;

typedef struct rk_counter_history {
    const rk_counter_op *ops;   /* in any order */
    size_t op_count;
    const rk_counter_final *finals;     /* finals[key], key < key_count */
    uint32_t key_count;
} rk_counter_history;

typedef struct rk_counter_verdict {
    uint64_t counters;          /* (key, field)s judged: named by an op or a final read */
    uint64_t acked_increments;  /* ops answered OK (decrements too) */
    uint64_t unknown_increments;    /* ops whose outcome is unknown */
    uint64_t out_of_range;      /* below: an increment lost (or a decrement counted twice);
                                 * above: the reverse. The total alone cannot tell which. */
    uint64_t keys_unread;       /* keys whose final read failed: nothing on them was judged */
    /* The first counter out of range in (key, field bytes) order, to report: the value it
     * read (NULL: absent, so 0) and the interval, saturated to int64 (the judging is exact). */
    bool example;
    uint32_t example_key;
    const uint8_t *example_field;
    size_t example_field_len;
    const uint8_t *example_value;
    size_t example_value_len;
    int64_t example_low;
    int64_t example_high;
} rk_counter_verdict;

/* Judge `h` into *out (zeroed first): counter_out_of_range. Returns 0; RK_EINVAL if an op
 * names a key at or above key_count, has an unknown outcome or RK_CART_FAILED, or a NULL
 * field (then *out says nothing); or RK_ENOMEM. Borrows h; *out points into it. */
int rk_counter_check(const rk_counter_history *h, rk_counter_verdict *out);

#endif
