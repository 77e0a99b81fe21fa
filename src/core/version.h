/* version.h — causal histories: dots, version vectors and the opaque context tokens clients
 * carry between a read and the write that follows it. dvvset.h builds the sibling set of an
 * object on top of this. Pure: no allocation, no clock, no randomness.
 *
 * The idea comes from Dotted Version Vectors (Preguiça, Baquero, Almeida, Fonte, Gonçalves,
 * "Dotted Version Vectors: Logical Clocks for Optimistic Replication", arXiv 1011.5808) and
 * Riak's dvvset: every write is one event, its *dot* (coordinator node, counter); a history is
 * a set of dots. Riak issue basho/riak_kv#746 shows why plain vector clocks with server actors
 * are not enough: two blind writes through one coordinator either overwrite each other or
 * explode into siblings; a dot per write tells them apart.
 *
 * Representation. A history is a list of entries (node, first, last): the node's counters
 * first..last inclusive. Entries are sorted by (node, first); two entries of one node never
 * overlap nor touch. In the steady state a node has one entry with first == 1 and this is an
 * ordinary version vector node -> counter. A node has a second entry only after it minted a
 * dot above a *gap* (counter_floor in dvvset.h, after a crash lost its unsynced counters): the
 * gap holds dots it may have minted and replicated before the crash, which this history has
 * not seen, so claiming them (as a plain vector would, by raising the counter) would silently
 * supersede writes nobody read. Keeping the gap out of the history keeps those writes alive as
 * siblings.
 *
 * Pruning. A history holds at most RK_VV_ENTRIES_MAX entries. When a merge needs more, the
 * rule removes, oldest first (smallest `last`, then node id), entries that are (a) not the
 * highest entry of their node and (b) do not cover a dot the caller asks to keep (the live
 * siblings). It never removes a node's highest entry, so a node's highest counter is never
 * forgotten and a dot is never minted twice; it never adds a dot, so a pruned history claims
 * less than it saw, never more: pruning can create false concurrency (an old superseded
 * sibling coming back from a replica that still holds it) but never false dominance (a write
 * superseding a sibling its client did not see). When the rule cannot get under the bound —
 * more than RK_VV_ENTRIES_MAX distinct nodes, or live siblings pin the old entries — the
 * operation fails with RK_ETOOBIG instead of dropping a whole node: Riak drops old actors by
 * age and accepts that the forgotten actor may reuse counters; we refuse instead. Sixty-four
 * distinct coordinators of one key is far above N plus fallbacks.
 *
 * Context tokens (what RK.GET returns and RK.PUT takes) are printable and opaque:
 *
 *   base64url, no padding, of  [u8 format = 1][history][u32 LE checksum]
 *   history   = varint entry_count, then per entry varint node, varint first,
 *               varint (last - first)
 *   checksum  = the low 32 bits of XXH3_64bits over the bytes before it
 *
 * Varints are LEB128 (little-endian base 128) and must be minimal. The empty history is
 * always the 8-character token RK_VV_TOKEN_EMPTY. The same `history` bytes are what
 * rk_vv_encode writes into a stored object (dvvset.h). */
#ifndef RK_VERSION_H
#define RK_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "env.h"

/* Entries of one history: one per coordinating node in the steady state, plus one per gap
 * left by a crash. A key is coordinated by its N preference-list nodes and a few fallbacks. */
#define RK_VV_ENTRIES_MAX           64u
/* Longest varint of a uint32 and of a uint64. */
#define RK_VV_VARINT32_BYTES_MAX    5u
#define RK_VV_VARINT64_BYTES_MAX    10u
#define RK_VV_ENTRY_BYTES_MAX       (RK_VV_VARINT32_BYTES_MAX + 2u * RK_VV_VARINT64_BYTES_MAX)
/* rk_vv_encode writes at most this many bytes. */
#define RK_VV_ENCODED_BYTES_MAX     (RK_VV_VARINT32_BYTES_MAX + \
                                     RK_VV_ENTRIES_MAX * RK_VV_ENTRY_BYTES_MAX)
#define RK_VV_TOKEN_FORMAT          1u
#define RK_VV_TOKEN_CHECKSUM_BYTES  4u
#define RK_VV_TOKEN_BYTES_MAX       (1u + RK_VV_ENCODED_BYTES_MAX + RK_VV_TOKEN_CHECKSUM_BYTES)
/* Base64 without padding: 4 characters per 3 bytes, rounded up. */
#define RK_VV_TOKEN_CHARS_MAX       ((RK_VV_TOKEN_BYTES_MAX * 4u + 2u) / 3u)
/* The token of the empty history: format 1, count 0, checksum. */
#define RK_VV_TOKEN_EMPTY           "AQDAdnLO"
#define RK_VV_TOKEN_EMPTY_CHARS     8u

_Static_assert(RK_VV_ENTRIES_MAX < 128u, "the entry count is a one-byte varint");
_Static_assert(RK_VV_TOKEN_CHARS_MAX < 4096u, "a token fits one line of redis-cli");

/* One write: the counter'th event coordinated by `node`. Counters start at 1. */
typedef struct rk_dot {
    rk_node_id node;
    uint64_t counter;
} rk_dot;

/* The order siblings are kept in (dvvset.h): node, then counter. */
static inline int rk_dot_cmp(rk_dot a, rk_dot b)
{
    if (a.node != b.node) {
        return a.node < b.node ? -1 : 1;
    }
    return a.counter < b.counter ? -1 : a.counter > b.counter ? 1 : 0;
}

/* The counters first..last (inclusive, 1 <= first <= last) of one node. */
typedef struct rk_vv_entry {
    rk_node_id node;
    uint32_t zero;          /* always 0: no padding, so equal histories are equal bytes */
    uint64_t first;
    uint64_t last;
} rk_vv_entry;

/* A history: a value type, copied by assignment. Entries past entry_count are zero, so two
 * equal histories are equal bytes (rk_vv_init and every function here keep them so). */
typedef struct rk_vv {
    uint32_t entry_count;
    rk_vv_entry entries[RK_VV_ENTRIES_MAX];
} rk_vv;

typedef enum rk_vv_order {
    RK_VV_EQUAL = 0,      /* the same dots */
    RK_VV_DESCENDS,       /* a saw everything b saw, and more */
    RK_VV_DOMINATED,      /* b saw everything a saw, and more */
    RK_VV_CONCURRENT,     /* each saw a dot the other did not */
} rk_vv_order;

/* The empty history. */
void rk_vv_init(rk_vv *vv);

/* Whether `vv` keeps the invariants above (sorted, disjoint, non-adjacent, 1 <= first <= last,
 * zeroed tail). Every function asserts it of its inputs; decoders check it of bytes. */
bool rk_vv_valid(const rk_vv *vv);

/* Whether the history contains `dot`. */
bool rk_vv_covers(const rk_vv *vv, rk_dot dot);

/* The highest counter of `node` in the history, 0 if none. */
uint64_t rk_vv_counter_max(const rk_vv *vv, rk_node_id node);

/* How `a` relates to `b` as sets of dots. */
rk_vv_order rk_vv_compare(const rk_vv *a, const rk_vv *b);

/* Whether `a` contains every dot of `b` (EQUAL or DESCENDS). */
bool rk_vv_descends(const rk_vv *a, const rk_vv *b);

/* Whether a and b hold the same dots (and so the same bytes). */
bool rk_vv_equal(const rk_vv *a, const rk_vv *b);

/* out = a ∪ b ∪ {dot} (dot may be NULL). If that needs more than RK_VV_ENTRIES_MAX entries,
 * prune by the rule above, never removing a dot of `keep` (keep_count dots, may be NULL when
 * 0). Returns 0, or RK_ETOOBIG when pruning cannot reach the bound (out is then unchanged).
 * out may be a or b. Without pruning the merge is commutative, associative and idempotent. */
int rk_vv_merge(const rk_vv *a, const rk_vv *b, const rk_dot *dot, const rk_dot *keep,
                uint32_t keep_count, rk_vv *out);

/* How many entries a ∪ b holds before any pruning: a caller that must never prune (a set's
 * clock, policy_set.c) refuses a merge whose union passes its bound. */
uint32_t rk_vv_union_count(const rk_vv *a, const rk_vv *b);

/* Prune `vv` in place to at most entry_count_max entries by the rule above, keeping every dot
 * of `keep` covered. Returns 0, or RK_ETOOBIG when the rule cannot reach the bound (vv is then
 * pruned as far as the rule allows). The result is always a subset of the input. */
int rk_vv_prune(rk_vv *vv, uint32_t entry_count_max, const rk_dot *keep, uint32_t keep_count);

/* Bytes rk_vv_encode writes for `vv` (at most RK_VV_ENCODED_BYTES_MAX). */
size_t rk_vv_encoded_len(const rk_vv *vv);

/* Write the `history` bytes above into out (rk_vv_encoded_len bytes). Returns the length. */
size_t rk_vv_encode(const rk_vv *vv, uint8_t *out);

/* Read a history from the front of `bytes`; *used_len tells how many bytes it took. Returns 0
 * or RK_ECORRUPT (truncated, overlong varint, broken invariant). Borrows bytes. */
int rk_vv_decode(const uint8_t *bytes, size_t len, rk_vv *out, size_t *used_len);

/* Write the context token of `vv` into `out` (out_size >= RK_VV_TOKEN_CHARS_MAX + 1 always
 * suffices), NUL-terminated. Returns its length in characters, or RK_ETOOBIG if out_size is
 * too small (out is then the empty string when out_size > 0). */
int rk_vv_token_encode(const rk_vv *vv, char *out, size_t out_size);

/* Parse a token from a client (`len` characters, no NUL needed). Returns 0, or RK_ECORRUPT for
 * anything that is not exactly a token this module wrote: wrong alphabet or length, bad
 * checksum, unknown format, trailing bytes, a broken invariant. Borrows token. */
int rk_vv_token_decode(const char *token, size_t len, rk_vv *out);

#endif
