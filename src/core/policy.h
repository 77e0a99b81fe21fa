/* policy.h — conflict policies as tables (Groundwork II). A bucket's policy decides how a write
 * changes a key's state, how two replicas' states merge, what a read answers, how a state is
 * hashed for anti-entropy and when a deleted one may be reaped. Each policy is one table of
 * functions (policy_lww.c, policy_siblings.c; the value-holding helpers they share are in
 * policy.c), consulted wherever the coordinator, the read path and the replica used to test
 * the policy. Adding a policy touches its table, the command layer and bucket.c's names; an
 * operation (op.h) touches the tables that take it. Pure, no state of its own.
 *
 * A state is an rk_dvvset (the key's siblings and causal history): the policy decides what
 * its siblings hold. Its type tag (dvvset.h) is stored in every object: states of two tags are
 * never merged; the replica refuses and counts it (objects_type_refused). lww and siblings both
 * hold opaque values (tag RK_POLICY_TAG_VALUES): a bucket may switch between them. */
#ifndef RK_POLICY_H
#define RK_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvvset.h"
#include "node.h"
#include "op.h"

#define RK_POLICY_TAG_VALUES 0u    /* siblings hold opaque values: lww, siblings */

/* What a coordinator's write needs besides the op and the state. */
typedef struct rk_policy_write {
    rk_op op;
    const rk_vv *context;       /* RK.PUT/RK.DEL's token, decoded; NULL for a plain write */
    rk_node_id coordinator;
    uint64_t dot_floor;         /* clock.h: the lowest counter this node may mint */
    uint64_t stamp_us;          /* the write's LWW stamp (hybrid clock, above what it saw) */
    uint32_t siblings_max;      /* concurrent versions a client write may leave */
    uint64_t value_bytes_max;   /* the node's max-value-bytes: a value an op makes fits it */
} rk_policy_write;

/* What applying it gave: the reply of a plain (not versioned) write. The delta for the
 * replicas is the whole new state for value policies (their merge_delta is merge). */
typedef struct rk_policy_applied {
    rk_dot dot;                 /* the dot minted */
    rk_reply_kind reply_kind;   /* RK_REPLY_OK, _INT, _VALUE or _NIL */
    int64_t integer;
    uint8_t *value;             /* RK_REPLY_VALUE: owned by the caller (free) */
    size_t value_len;
} rk_policy_applied;

/* A read's answer, pointing into the state and into this struct (keep both alive). */
typedef struct rk_policy_read {
    rk_reply reply;
    char token[RK_VV_TOKEN_CHARS_MAX + 1];
    char message[128];
    const uint8_t *values[RK_DVVSET_SIBLINGS_MAX];
    size_t lens[RK_DVVSET_SIBLINGS_MAX];
} rk_policy_read;

typedef struct rk_policy {
    const char *name;
    uint8_t type_tag;
    /* Apply `w` to `state`, the coordinator's copy (owned, not a view): mint a dot, supersede
     * what the write's context saw, resolve. 0, or an error with a message for the client
     * (RK_ETOOBIG at siblings_max, RK_EINVAL for an op this policy does not take); the state
     * is then unchanged. */
    int (*apply)(const rk_policy_write *w, rk_dvvset *state, rk_policy_applied *out,
                 char *message, size_t message_bytes);
    /* Merge another replica's full state into `state` (read repair, handoff, replication). */
    int (*merge)(rk_dvvset *state, const rk_dvvset *other);
    /* Merge a delta; RK_ENOTREADY when it is not causally ready (send full state instead). */
    int (*merge_delta)(rk_dvvset *state, const rk_dvvset *delta);
    /* The answer to a read of `kind` (GET, EXISTS, VGET) from the merged state. */
    void (*read)(const rk_dvvset *state, rk_request_kind kind, rk_policy_read *out);
    /* For anti-entropy: equal states hash equal (values and clock: a clock-only hash would
     * miss a damaged value). */
    uint64_t (*hash)(const rk_dvvset *state);
    /* A state that holds nothing live and may be reaped once every replica has it. */
    bool (*is_reapable)(const rk_dvvset *state);
} rk_policy;

/* The table of bucket policy `policy` (rk_bucket_policy). Never NULL for a valid policy. */
const rk_policy *rk_policy_of(uint8_t policy);
/* Whether `state` is of `policy`'s type, or empty (a key never written, which any takes). */
bool rk_policy_holds(const rk_policy *policy, const rk_dvvset *state);
/* Whether two states may merge: one is empty (a key never written) or their tags agree. */
bool rk_policy_mergeable(const rk_dvvset *a, const rk_dvvset *b);

/* ---- shared by the value policies (policy.c) ------------------------------------------------ */

/* The context a write supersedes: the client's token when `client_context` (siblings), else
 * everything `state` holds (lww always; plain SET/DEL: a client's own SET x 1; SET x 2 never
 * conflicts and DEL really deletes). */
void rk_policy_values_context(const rk_dvvset *state, const rk_vv *client_context, rk_vv *out);
/* GETDEL: take a copy of the one live value (RK_ECONFLICT if there are several, nil if none)
 * into `out`, then mint a tombstone as DEL does. 0 or an error with message. */
int rk_policy_values_getdel(const rk_policy_write *w, const rk_vv *context, rk_dvvset *state,
                            rk_policy_applied *out, char *message, size_t message_bytes);
/* Mint `w`'s op into `state` under `context`: PUT and DEL; 0 or an error with message. */
int rk_policy_values_update(const rk_policy_write *w, const rk_vv *context, rk_dvvset *state,
                            rk_policy_applied *out, char *message, size_t message_bytes);
void rk_policy_values_read(const rk_dvvset *state, rk_request_kind kind, rk_policy_read *out);
uint64_t rk_policy_values_hash(const rk_dvvset *state);
bool rk_policy_values_reapable(const rk_dvvset *state);

#endif
