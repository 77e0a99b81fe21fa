/* check_cart.h — the cart checkers (issue 12): judge a recorded history of set operations on
 * `union` and `set` buckets by what the clients saw, and nothing else: each request's kind,
 * key, member, outcome and INT reply, and one final SMEMBERS of every key taken after every
 * fault healed and the cluster went quiet. No dots, stores or clocks from inside, so the same
 * code judges a history recorded by the simulator (check.c builds one from its ops) or one
 * recorded from real processes.
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
 * semantics (a remove deletes exactly the adds it observed). Owns nothing: it borrows the
 * history for the call. */
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

#endif
