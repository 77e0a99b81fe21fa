/* dvvset.h — the versioned state of one key: its siblings (concurrent values or tombstones,
 * each named by the dot of the write that made it) and the causal history of the whole set.
 * Owns the sibling array and every value in it; histories, dots and tokens are version.h's;
 * choosing one sibling (LWW, merge types) and reaching replicas are the caller's business.
 *
 * It follows Riak's dvvset (Almeida, Gonçalves et al., the compact form of Dotted Version
 * Vectors) in behaviour, not in layout: a sibling carries its dot explicitly, and the history
 * is version.h's range list, so a dot minted above a crash gap stays exact.
 *
 *   update  a client write through coordinator c with the context it read: mint a dot for c,
 *           drop every sibling the context covers, keep the rest as concurrent siblings.
 *   sync    merge two replicas: keep a sibling if the other side holds it too or has not
 *           seen it; histories unite. Commutative, associative, idempotent (while no merge
 *           has to prune, version.h).
 *   join    the history, which is the context a client gets with a read.
 *
 * Invariants (RK_ASSERT_SLOW after every change): siblings are sorted by dot (node, then
 * counter) with no dot twice; the history covers every sibling's dot; a tombstone has no value.
 *
 * Store encoding, little-endian:
 *
 *   [u8 'D'][u8 format = 1][u8 type tag][u8 0]
 *   [history: rk_vv_encode]
 *   [u32 sibling_count]
 *   sibling_count x [u32 node][u64 counter][u64 timestamp_us][u8 flags: bit 0 tombstone]
 *                   [u32 value_len][value bytes]
 *   [u64 XXH3_64bits of every byte before it]
 *
 * Decoding validates everything (RK_ECORRUPT) and copies the values into the set, so the set
 * never points into a store's pages (a read-only view may borrow them instead);
 * encode(decode(bytes)) == bytes. */
#ifndef RK_DVVSET_H
#define RK_DVVSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "version.h"

/* Riak's default max_siblings: a client write that would leave more is refused. */
#define RK_DVVSET_SIBLINGS_DEFAULT  100u
/* Hard bound of any set, syncs and decoded bytes included: replicas each under the client
 * bound may still merge to more, and a merge must not be refused lightly (it would stall
 * convergence), so the hard bound leaves ten times room. */
#define RK_DVVSET_SIBLINGS_MAX      1000u
/* The bound of a merge-type state (type tag not 0), whose siblings are its elements: a set's
 * members each carry a dot (policy_set.c). Every operation on a whole state is linear in it; a
 * large set is written by deltas and stored by element (setrows.h), and only repair, handoff
 * and transfer handle its whole state. */
#define RK_DVVSET_ELEMENTS_MAX      4000000u
/* The default member limit of a set (max-collection-members). */
#define RK_COLLECTION_MEMBERS_DEFAULT 1000000u
#define RK_DVVSET_MAGIC             0x44u  /* 'D' */
#define RK_DVVSET_SET_HEAD_MAGIC    0x53u  /* 'S': a set stored by element (setrows.h) */
#define RK_DVVSET_FORMAT            1u
#define RK_DVVSET_FLAG_TOMBSTONE    0x01u
#define RK_DVVSET_HEAD_BYTES        4u
#define RK_DVVSET_SIBLING_HEAD_BYTES (4u + 8u + 8u + 1u + 4u)
#define RK_DVVSET_CHECKSUM_BYTES    8u
/* The type tag (byte 2) names what the siblings hold (policy.h): 0 for opaque values, the one
 * type today; objects of two types are never merged. Bytes written before tags existed held 0
 * there, so they read as values. */
#define RK_DVVSET_TYPE_TAG_MAX      15u

_Static_assert(RK_DVVSET_SIBLINGS_DEFAULT <= RK_DVVSET_SIBLINGS_MAX, "default under the bound");
_Static_assert(RK_DVVSET_SIBLINGS_MAX <= RK_DVVSET_ELEMENTS_MAX, "elements bound the larger");
_Static_assert(RK_VALUE_BYTES_MAX <= UINT32_MAX, "value lengths are u32 on disk");

typedef struct rk_sibling {
    rk_dot dot;
    uint64_t timestamp_us;   /* wall clock of the coordinator at the write, for LWW */
    bool tombstone;
    uint8_t *value;          /* owned by the set; NULL when value_len is 0 */
    uint32_t value_len;
} rk_sibling;

typedef struct rk_dvvset {
    rk_vv history;
    uint32_t sibling_count;
    rk_sibling *siblings;    /* owned; sibling_count entries sorted by dot */
    bool values_borrowed;    /* a view (rk_dvvset_decode_view): the values are not the set's */
    uint8_t type_tag;        /* the policy type whose state this is (policy.h); 0: values */
} rk_dvvset;

/* What a client writes: a value, or a tombstone when deleting. Borrowed by update. */
typedef struct rk_dvvset_write {
    const uint8_t *value;    /* may be NULL when value_len is 0; ignored for a tombstone */
    size_t value_len;
    bool tombstone;
    uint64_t timestamp_us;
} rk_dvvset_write;

/* The most siblings a state of `type_tag` may hold (decode, sync, update): values are bounded
 * by RK_DVVSET_SIBLINGS_MAX, merge types by RK_DVVSET_ELEMENTS_MAX. */
static inline uint32_t rk_dvvset_siblings_bound(uint8_t type_tag)
{
    return type_tag == 0 ? RK_DVVSET_SIBLINGS_MAX : RK_DVVSET_ELEMENTS_MAX;
}

/* An empty set: no siblings, empty history (a key never written). */
void rk_dvvset_init(rk_dvvset *set);

/* Forget the history entries of the nodes in `gone` (gone_count ids) that no sibling's dot
 * names: members that left the cluster never mint again, so their counters cannot be reused,
 * and churn cannot grow a key's history until writes are refused (docs/membership.md). Like
 * pruning it claims less than was seen, never more: an old version a stale replica still holds
 * may come back as concurrent (for a set: a member removed there may reappear), never a write
 * superseded unseen. Returns how many entries it removed. */
uint32_t rk_dvvset_forget(rk_dvvset *set, const rk_node_id *gone, uint32_t gone_count);

/* Free the siblings and values; the set is empty afterwards and may be reused. */
void rk_dvvset_deinit(rk_dvvset *set);

/* Make *out (uninitialised memory) a deep copy of src. Returns 0 or RK_ENOMEM (out is then
 * empty). */
int rk_dvvset_copy(const rk_dvvset *src, rk_dvvset *out);

/* Apply a client write coordinated by `coordinator`. `context` is the history the client read
 * (rk_dvvset_join of some replica, through a token), the empty history for a blind write.
 * The new dot's counter is max(highest counter of coordinator in set or context + 1,
 * counter_floor): a node that may have lost counters it minted (a crash before they were
 * synced) passes a floor above all of them, so no dot is ever minted twice; 0 means no floor.
 * Siblings covered by `context` are dropped, the others stay, the new one joins them; the
 * history becomes history ∪ context ∪ {new dot}. The context is trusted: a token's checksum
 * catches damage, not a client that forges a history (as in Riak).
 * Returns 0 and the new dot in *dot_out, or, leaving the set unchanged:
 *   RK_ETOOBIG  the set would hold more than siblings_max siblings, the value is above
 *               RK_VALUE_BYTES_MAX, the counter would pass UINT64_MAX, or the history could
 *               not be pruned to RK_VV_ENTRIES_MAX entries;
 *   RK_EINVAL   siblings_max is 0 or above rk_dvvset_siblings_bound of the set's tag;
 *   RK_ENOMEM.
 * Borrows context and write (the value is copied). */
int rk_dvvset_update(rk_dvvset *set, const rk_vv *context, const rk_dvvset_write *write,
                     rk_node_id coordinator, uint64_t counter_floor, uint32_t siblings_max,
                     rk_dot *dot_out);

/* Merge `other` into `set` (a replica receiving another's version: read repair, handoff,
 * anti-entropy). Returns 0, or, leaving the set unchanged, RK_ETOOBIG (more than
 * rk_dvvset_siblings_bound siblings, or a history version.h cannot prune) or RK_ENOMEM. Two
 * siblings with one dot should be one write; if their contents differ anyway (a node reused
 * a dot), the later timestamp wins, then the greater bytes, so replicas still converge.
 * Borrows other. */
int rk_dvvset_sync(rk_dvvset *set, const rk_dvvset *other);

/* The context to hand a client with a read: the set's whole history. */
void rk_dvvset_join(const rk_dvvset *set, rk_vv *context_out);

/* Point out[0..) at the siblings that hold values (not tombstones), in dot order; writes at
 * most out_count_max and returns how many values there are (which may be more). 0 means the
 * key reads as absent, though its history (join) may be non-empty. Pointers are borrowed
 * until the set next changes. */
uint32_t rk_dvvset_values(const rk_dvvset *set, const rk_sibling **out, uint32_t out_count_max);

/* Whether a and b have the same history and the same siblings, value bytes included. */
bool rk_dvvset_equal(const rk_dvvset *a, const rk_dvvset *b);

/* The sibling of `set` whose dot is `dot`, or NULL (a binary search: siblings are sorted). */
const rk_sibling *rk_dvvset_find(const rk_dvvset *set, rk_dot dot);

/* Whether `bytes` carry an intact frame: long enough, the magic and format, and the checksum of
 * everything before it. What a store read checks before anything uses an object (local.c): a
 * damaged one reads as missing and is repaired, never merged into the replicas. A set's head
 * (setrows.h: magic 'S') is an intact frame too; the rest of its state is in its rows. */
bool rk_dvvset_frame_ok(const uint8_t *bytes, size_t len);

/* Whether `set` keeps the invariants above. O(siblings * entries); for asserts and tests. */
bool rk_dvvset_valid(const rk_dvvset *set);

/* Bytes rk_dvvset_encode writes. */
size_t rk_dvvset_encoded_len(const rk_dvvset *set);

/* Encode into out (rk_dvvset_encoded_len bytes). Returns the length written. */
size_t rk_dvvset_encode(const rk_dvvset *set, uint8_t *out);

/* Make *out (uninitialised memory) the set encoded in `bytes`, copying the values. Returns 0,
 * RK_ECORRUPT (anything but exactly an encoding this module wrote), or RK_ENOMEM; on error
 * *out is an empty set. Borrows bytes. */
int rk_dvvset_decode(const uint8_t *bytes, size_t len, rk_dvvset *out);

/* The same check, but the values point into `bytes`, which must outlive *out: for a set that
 * is only read (the source of a sync, a comparison), it saves a copy of every value. A view is
 * never the target of update or sync (asserted); rk_dvvset_deinit frees only its array. */
int rk_dvvset_decode_view(const uint8_t *bytes, size_t len, rk_dvvset *out);

#endif
