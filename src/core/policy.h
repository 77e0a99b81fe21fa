/* policy.h — conflict policies as tables (Groundwork II). A bucket's policy decides how a write
 * changes a key's state, how two replicas' states merge, what a read answers, how a state is
 * hashed for anti-entropy and when a deleted one may be reaped. Each policy is one table of
 * functions (policy_lww.c, policy_siblings.c, policy_union.c, policy_set.c; what the value
 * policies share is in policy.c, what the collections share in policy_coll.c), consulted
 * wherever the coordinator, the read path and the replica used to test the policy. Adding a
 * policy touches its table, the command layer and bucket.c's names; an operation (op.h)
 * touches the tables that take it. Pure, no state of its own.
 *
 * A state is an rk_dvvset (the key's siblings and causal history): the policy decides what
 * its siblings hold — values (lww, siblings), versions of a member list (union), or one
 * member per sibling with the set's clock as history (set). Its type tag (dvvset.h) is stored
 * in every object. Two live states of different tags are never merged (the replica refuses and
 * counts it, objects_type_refused); a state with nothing live (deleted) gives way to any type
 * but keeps its history, so no dot it holds is minted again. lww and siblings both hold opaque
 * values (tag RK_POLICY_TAG_VALUES): a bucket may switch between them at any time; to or from a
 * merge type only while it holds no live key (node_bucket.c). */
#ifndef RK_POLICY_H
#define RK_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvvset.h"
#include "node.h"
#include "op.h"

#define RK_POLICY_TAG_VALUES 0u    /* siblings hold opaque values: lww, siblings */
#define RK_POLICY_TAG_UNION 1u     /* siblings are versions of a member list (elems.h) */
#define RK_POLICY_TAG_SET 2u       /* one member per sibling; the history is the set's clock */
#define RK_POLICY_TAG_COUNTER 3u   /* one actor of the counter per sibling (policy_fields.h) */
#define RK_POLICY_TAG_MAP 4u       /* fields: registers and counter actors (policy_fields.h) */
/* A set's clock is never pruned: pruning forgets removes, and a replica still holding a removed
 * member would bring it back. A write that would leave more entries than this is refused (the
 * error names the bound); merges may go to RK_VV_ENTRIES_MAX, so that two replicas each under
 * the write bound always merge. One entry per coordinating node, plus one per gap a crash left
 * (clock.h): a clean restart leaves none. */
#define RK_SET_CLOCK_ENTRIES_MAX 32u
/* Members one command names, and members of one union version or fields of one map (stored
 * whole: every operation is linear in them). A set is bounded by the node's
 * max-collection-members instead (stored by element, setrows.h; up to RK_DVVSET_ELEMENTS_MAX). */
#define RK_COLL_MEMBERS_MAX 100000u
/* A set holding at least this many members is written by deltas (coord_put.c): smaller ones
 * keep whole-state writes, whose read sees every member (a departed node's adds re-adopted,
 * docs/membership.md). */
#define RK_SET_DELTA_MEMBERS_MIN 256u
/* A set of at least this many members moves whole in chunks (setrows.h) rather than as one
 * message (a smaller one always fits a frame); low enough that the simulator's large carts
 * stream, through reordering, loss and crashes. */
#define RK_SET_STREAM_MEMBERS_MIN 1000u
/* Members one delta may touch: its rows, head and records are one store batch. */
#define RK_SET_DELTA_OP_MEMBERS_MAX 1000u
/* Redis's text for a command on a key of another type (prefix WRONGTYPE, added at the edge). */
#define RK_POLICY_WRONGTYPE_MESSAGE "Operation against a key holding the wrong kind of value"
_Static_assert(2u * RK_SET_CLOCK_ENTRIES_MAX <= RK_VV_ENTRIES_MAX,
               "two clocks under the write bound merge without pruning");

/* What a coordinator's write needs besides the op and the state. */
typedef struct rk_policy_write {
    rk_op op;
    const rk_vv *context;       /* RK.PUT/RK.DEL's token, decoded; NULL for a plain write */
    rk_node_id coordinator;
    uint64_t dot_floor;         /* clock.h: the lowest counter this node may mint */
    uint64_t stamp_us;          /* the write's LWW stamp (hybrid clock, above what it saw) */
    uint32_t siblings_max;      /* concurrent versions a client write may leave */
    uint64_t value_bytes_max;   /* the node's max-value-bytes: a value an op makes fits it */
    /* Counters (policy_fields.h): which of the coordinator's actors it may advance. */
    uint64_t lineage;           /* rk_clock_lineage: the copies this node's actors live in */
    uint64_t handback_floor;    /* a fallback's: its actors at or below it are not its own */
    const rk_dvvset *own_base;  /* this node's copy before the read's answers merged in */
    /* Members that left the cluster (cluster.h), ascending: they never mint again. */
    const rk_node_id *gone;
    uint32_t gone_count;
} rk_policy_write;

/* What applying it gave: the reply of a plain (not versioned) write. The delta for the
 * replicas is the whole new state for value policies (their merge_delta is merge). */
typedef struct rk_policy_applied {
    rk_dot dot;                 /* the dot minted */
    rk_reply_kind reply_kind;   /* RK_REPLY_OK, _INT, _VALUE or _NIL */
    int64_t integer;
    uint8_t *value;             /* RK_REPLY_VALUE: owned by the caller (free) */
    size_t value_len;
    bool clock_full;            /* on RK_ETOOBIG: a set's clock is at its bound (counted) */
    bool actors_full;           /* on RK_ETOOBIG: a counter's actors are at their bound */
    uint64_t actor_minted;      /* a counter's fresh actor: its dot's counter (0: none) */
} rk_policy_applied;

/* What a read asks: GET, EXISTS, VGET, or RK_REQ_READ with its rk_read_kind and argument. */
typedef struct rk_policy_query {
    rk_request_kind kind;
    uint8_t op;                 /* RK_REQ_READ: rk_read_kind */
    const uint8_t *arg;         /* SISMEMBER: the member; SMISMEMBER: an element list */
    size_t arg_len;
} rk_policy_query;

/* A read's answer, pointing into the state and into this struct (keep both alive; then
 * rk_policy_read_deinit frees what a collection's answer allocated). */
typedef struct rk_policy_read {
    rk_reply reply;
    char token[RK_VV_TOKEN_CHARS_MAX + 1];
    char message[128];
    const uint8_t *values[RK_DVVSET_SIBLINGS_MAX];
    size_t lens[RK_DVVSET_SIBLINGS_MAX];
    const uint8_t **heap_values;    /* owned: a collection's members */
    size_t *heap_lens;
    int64_t *heap_integers;
    char *heap_text;                /* owned: counters' values as decimal text */
} rk_policy_read;

typedef struct rk_policy {
    const char *name;
    uint8_t type_tag;
    const char *type_name;      /* what Redis's TYPE answers for a live key: string, set */
    /* The coordinator reads the key at R and merges before it applies a write (the merge
     * types: a reply and a remove must include every write acknowledged before). */
    bool read_before_write;
    /* The coordinator's own copy is made durable before the write is sent anywhere, so no dot
     * it minted can survive on a replica while lost on it: its primary mints need no epoch
     * floor (clock.h), and a crash leaves no gap in the key's clock — which a set's clock,
     * never pruned, must not collect (unless sync = none, which makes nothing durable first). */
    bool durable_before_send;
    /* Its writes may advance the coordinator's own actor, so the coordinator hands apply its
     * copy from before the read (rk_policy_write.own_base). */
    bool advances_actors;
    /* Whether the key exists for EXISTS and TYPE; NULL: it has a live sibling (a counter keeps
     * its actors after DEL, so live siblings do not make it exist). */
    bool (*exists)(const rk_dvvset *state);
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
    /* The answer to `q` from the merged state (the table's type or empty: rk_policy_answer
     * answers the other cases). */
    void (*read)(const rk_dvvset *state, const rk_policy_query *q, rk_policy_read *out);
    /* For anti-entropy: equal states hash equal (values and clock: a clock-only hash would
     * miss a damaged value). */
    uint64_t (*hash)(const rk_dvvset *state);
    /* A state that holds nothing live and may be reaped once every replica has it. */
    bool (*is_reapable)(const rk_dvvset *state);
} rk_policy;

/* The table of bucket policy `policy` (rk_bucket_policy). Never NULL for a valid policy. */
const rk_policy *rk_policy_of(uint8_t policy);
/* The table of the type `state` holds (its tag; values by the bucket's value policy, or keep-all
 * siblings when the bucket `policy` holds a collection). */
const rk_policy *rk_policy_of_state(uint8_t policy, const rk_dvvset *state);
/* Whether any sibling of `state` is live (not a tombstone): the key exists. */
bool rk_policy_live(const rk_dvvset *state);
/* Whether `policy` may write `state`: of its type, or with nothing live (a key never written
 * or deleted, which any type takes over, keeping its history). */
bool rk_policy_holds(const rk_policy *policy, const rk_dvvset *state);
/* Merge `other` into `state` (replica writes, read repair, handoff, a coordinator's reads)
 * whatever their tags: states of one tag merge by that tag's table (values by the bucket's
 * policy `policy`, or keep-all siblings when the bucket holds another type); a state with
 * nothing live gives way to the other and lends it its history. 0, RK_EWRONGTYPE (both live,
 * of different tags: never merged), or the table's error; `state` is then unchanged. */
int rk_policy_merge(uint8_t policy, rk_dvvset *state, const rk_dvvset *other);
/* The answer to `q` from `state` under bucket policy `policy`: TYPE of any key, EXISTS of any
 * key, WRONGTYPE when the state holds another live type, else the table's read. */
void rk_policy_answer(uint8_t policy, const rk_dvvset *state, const rk_policy_query *q,
                      rk_policy_read *out);
/* Free what an answer allocated (safe on any answer, once). */
void rk_policy_read_deinit(rk_policy_read *out);
/* Drop every sibling of `state` (freeing its values), keeping its history and tag: a deleted
 * state taken over by another type, a set's DEL. */
void rk_policy_clear_siblings(rk_dvvset *state);
/* Set `out` to Redis's WRONGTYPE error (for reads and applies alike). */
int rk_policy_wrongtype(char *message, size_t message_bytes);

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
void rk_policy_values_read(const rk_dvvset *state, const rk_policy_query *q,
                           rk_policy_read *out);
uint64_t rk_policy_values_hash(const rk_dvvset *state);
bool rk_policy_values_reapable(const rk_dvvset *state);

/* ---- shared by the collections (policy_coll.c) ------------------------------------------- */

/* The answer to a collection read from its members: members[0..count) and lens are malloc'd
 * arrays it takes (the bytes they point to are borrowed from the state), in any order with
 * duplicates allowed. Sorted bytewise and unique; SMEMBERS keeps them in `out` (freed by
 * rk_policy_read_deinit); GET and VGET answer WRONGTYPE. */
void rk_policy_coll_answer(const uint8_t **members, size_t *lens, uint32_t count,
                           const rk_policy_query *q, rk_policy_read *out);
/* Whether a collection policy takes `op`: SADD and SREM with a checked member list (its count
 * in *count_out), or DEL (count 0); 0, RK_EWRONGTYPE for any other operation, or
 * rk_policy_coll_arg's error; with `message`. */
int rk_policy_coll_write_check(const rk_op *op, uint32_t *count_out, char *message,
                               size_t message_bytes);
/* The members of `arg` (an element list) checked: 0 with the count, or RK_EINVAL with a
 * message naming the problem (not an element list, empty, more than RK_COLL_MEMBERS_MAX). */
int rk_policy_coll_arg(const uint8_t *arg, size_t arg_len, uint32_t *count_out, char *message,
                       size_t message_bytes);
/* Sort members (pointers and lens in parallel) bytewise and drop duplicates; returns the new
 * count. */
uint32_t rk_policy_coll_sort_unique(const uint8_t **members, size_t *lens, uint32_t count);
/* Whether minting at `w`'s coordinator keeps `state`'s clock within RK_SET_CLOCK_ENTRIES_MAX
 * (set, map: their clocks are never pruned). 0, or RK_ETOOBIG with a message naming it. */
int rk_policy_clock_room(const rk_policy_write *w, const rk_dvvset *state, const char *what,
                         char *message, size_t message_bytes);
/* Whether `member` is among the sorted unique members[0..count). */
bool rk_policy_coll_has(const uint8_t *const *members, const size_t *lens, uint32_t count,
                        const uint8_t *member, size_t member_len);

#endif
