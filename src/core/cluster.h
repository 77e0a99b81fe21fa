/* cluster.h — the cluster metadata (issue 15, docs/membership.md): the members with their
 * addresses and states, the serving ring, the committed plan being carried out (its target
 * ring and which transfer units are done), the staged changes, every node id ever used, and
 * the ring version each member holds. One versioned object every node keeps a copy of,
 * gossips and persists; two copies merge into the same bytes whatever the order (a join: per
 * member by stamp, the plan by (number, phase, origin), done units by union, seen by max), so
 * gossip converges without a leader. Owns the object and its codec; moving data is
 * transfer.h's, the member table the runtime connects by is members.h's (node.c mirrors this
 * object into it). Pure: no clock, no I/O, no randomness (the id is passed in). */
#ifndef RK_CLUSTER_H
#define RK_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bucket.h"
#include "members.h"
#include "ring.h"

/* Format 2 added each member's zone; format 1 (this round's first, never released) is refused
 * and a node holding it bootstraps again from its configuration. */
#define RK_CLUSTER_FORMAT_V1 2u
/* Ids of members that left, kept so that none joins again (their dots are in clocks). */
#define RK_CLUSTER_GONE_MAX 4096u
#define RK_CLUSTER_STAGED_MAX RK_MEMBERS_MAX
/* Upper bound of an encoding: members, gone ids, staged, two rings and the done bitmap. */
#define RK_CLUSTER_ENCODED_BYTES_MAX                                                               \
    (256u + RK_MEMBERS_MAX * (41u + RK_MEMBER_HOST_BYTES_MAX + RK_MEMBER_ZONE_BYTES_MAX) +         \
     RK_CLUSTER_GONE_MAX * 4u +                                                                    \
     RK_CLUSTER_STAGED_MAX * 5u + 2u * RK_RING_ENCODED_BYTES_MAX +                                 \
     RK_RING_PARTITIONS_MAX * RK_N_MAX / 8u + 16u)

typedef enum rk_cmember_state {
    RK_CMEMBER_JOINING = 1, /* staged or committed to join; owns nothing in the serving ring */
    RK_CMEMBER_VALID = 2,
    RK_CMEMBER_LEAVING = 3, /* committed to leave: owns nothing in the plan's ring */
} rk_cmember_state;

typedef enum rk_cstage_action {
    RK_CSTAGE_JOIN = 1,
    RK_CSTAGE_LEAVE = 2,
    RK_CSTAGE_REMOVE = 3, /* force-remove: gone at commit, its data fetched from survivors */
} rk_cstage_action;

typedef struct rk_cmember {
    rk_member_addr addr;
    uint8_t state;      /* rk_cmember_state */
    uint64_t stamp;     /* the metadata version of its last change: the higher one wins */
    uint64_t seen_ring; /* the highest ring version it holds (a max register) */
} rk_cmember;

typedef struct rk_cstaged {
    rk_node_id id;
    uint8_t action;     /* rk_cstage_action */
} rk_cstaged;

/* A transfer unit: `receiver` becomes a primary of `partition`'s keys (for the plan's n) at
 * a better place than it held them, so it pulls the partition whole from the first reachable
 * of `sources` (the partition's primaries in the serving ring, force-removed ones left out). */
typedef struct rk_cluster_unit {
    uint32_t partition;
    rk_node_id receiver;
    uint32_t source_count;
    rk_node_id sources[RK_N_MAX];
} rk_cluster_unit;

typedef struct rk_cluster_meta {
    uint64_t cluster_id;
    uint64_t version;                   /* the highest stamp given out: changes take version+1 */
    uint32_t member_count;
    rk_cmember members[RK_MEMBERS_MAX]; /* ascending id */
    uint32_t gone_count;
    rk_node_id gone[RK_CLUSTER_GONE_MAX]; /* ascending; never members again */
    uint64_t staged_version;            /* (version, origin) orders two staged lists */
    rk_node_id staged_origin;
    uint32_t staged_count;
    rk_cstaged staged[RK_CLUSTER_STAGED_MAX];
    /* The plan: number `plan` was committed by `plan_origin`; while `moving`, `next` is its
     * target and `done` marks the units finished; once every unit is done any node flips:
     * ring = next, moving = false. */
    uint64_t plan;
    rk_node_id plan_origin;
    bool moving;
    uint8_t plan_n;                     /* the n the units were computed for */
    rk_ring ring;                       /* serving */
    rk_ring next;                       /* while moving */
    /* Derived from ring, next and plan_n while moving (not encoded): the units, and the done
     * bitmap (encoded) over them. Owned: rk_cluster_meta_deinit frees them. */
    uint32_t unit_count;
    rk_cluster_unit *units;
    uint8_t *done;
} rk_cluster_meta;

/* A cluster of the given members (any order; each becomes valid), the ring claimed over them
 * for target_n; cluster_id is the bootstrap's (every node of a `--members` start derives the
 * same one from the member list: rk_cluster_id_of). 0 or an RK_E* code. */
int rk_cluster_bootstrap(rk_cluster_meta *m, uint64_t cluster_id, uint32_t partition_count,
                         const rk_member_addr *members, uint32_t member_count, uint32_t target_n);
/* The cluster id every member of a bootstrap list derives alike. */
uint64_t rk_cluster_id_of(const rk_member_addr *members, uint32_t member_count);
void rk_cluster_meta_deinit(rk_cluster_meta *m);
/* A deep copy into `to` (deinit first if it held units). 0 or RK_ENOMEM. */
int rk_cluster_meta_copy(rk_cluster_meta *to, const rk_cluster_meta *from);

/* Bytes that always suffice for encoding `m` (far fewer than RK_CLUSTER_ENCODED_BYTES_MAX for a
 * small ring). */
size_t rk_cluster_encoded_bytes(const rk_cluster_meta *m);
/* Encode into out (RK_CLUSTER_ENCODED_BYTES_MAX suffice). Returns the length or an error. */
int rk_cluster_encode(const rk_cluster_meta *m, uint8_t *out, size_t out_size);
/* Decode and validate bytes from a peer or the disk (format, lengths, checksum, order). */
int rk_cluster_decode(rk_cluster_meta *m, const uint8_t *bytes, size_t len);

/* Merge `other` into `m`. Returns 1 when m changed, 0 when not, RK_EINVAL for another
 * cluster's metadata (m unchanged). */
int rk_cluster_merge(rk_cluster_meta *m, const rk_cluster_meta *other);

const rk_cmember *rk_cluster_member(const rk_cluster_meta *m, rk_node_id id);
/* Give `ring` its members' zones from the metadata (ring.h: preference lists take distinct zones
 * first); rk_cluster_apply_zones does it for the serving ring and the plan's. Every change of the
 * metadata ends with it, so the rings' zones always follow the members'. */
void rk_cluster_ring_zones(const rk_cluster_meta *m, rk_ring *ring);
void rk_cluster_apply_zones(rk_cluster_meta *m);
bool rk_cluster_gone(const rk_cluster_meta *m, rk_node_id id);
/* Record that `id` holds ring version `ring_version`. Returns true when it changed. */
bool rk_cluster_saw(rk_cluster_meta *m, rk_node_id id, uint64_t ring_version);

/* Staging (each a change: version + 1, origin `by`). `message` gets the reason of a refusal. */
int rk_cluster_stage_join(rk_cluster_meta *m, rk_node_id by, const rk_member_addr *addr,
                          char *message, size_t message_bytes);
int rk_cluster_stage_leave(rk_cluster_meta *m, rk_node_id by, rk_node_id id, bool force,
                           char *message, size_t message_bytes);
/* Drop the staged changes; a staged joiner becomes gone. */
void rk_cluster_stage_clear(rk_cluster_meta *m, rk_node_id by);

/* The ring the staged changes give (into `next`) and the n its units are computed for. */
int rk_cluster_plan_ring(const rk_cluster_meta *m, uint32_t n_max, rk_ring *next,
                         uint32_t *plan_n_out);
/* Compute the transfer units of moving from m->ring to `next` for plan_n into *units_out
 * (malloc'd; NULL when none). Returns the count or RK_ENOMEM. */
int rk_cluster_units_of(const rk_cluster_meta *m, const rk_ring *next, uint32_t plan_n,
                        rk_cluster_unit **units_out);
/* Commit the staged changes (by `by`): refused (RK_EBUSY) while a plan moves, RK_EINVAL when
 * nothing is staged. n_max: the largest n any bucket uses. */
int rk_cluster_commit(rk_cluster_meta *m, rk_node_id by, uint32_t n_max, char *message,
                      size_t message_bytes);
/* Recompute the units of a moving plan from ring, next and plan_n, none done (the decoder's
 * first step; the done bitmap is then read over them). 0 or RK_ENOMEM. */
int rk_cluster_install_units(rk_cluster_meta *m);
/* While a plan moves: true, with `transfers of plan N running: X of Y partitions left` in
 * message (what a plan or a commit is refused with). */
bool rk_cluster_moving_message(const rk_cluster_meta *m, char *message, size_t message_bytes);
/* Units left of the moving plan (0 when not moving). */
uint32_t rk_cluster_units_left(const rk_cluster_meta *m);
/* Mark unit `index` done. Returns true when it changed. */
bool rk_cluster_unit_done(rk_cluster_meta *m, uint32_t index);
bool rk_cluster_unit_is_done(const rk_cluster_meta *m, uint32_t index);
/* Every unit done: flip to the plan's ring (joiners become valid). Returns true if it did. */
bool rk_cluster_flip(rk_cluster_meta *m);
/* A leaving member whose data is all handed off: it becomes gone. */
void rk_cluster_member_left(rk_cluster_meta *m, rk_node_id id);

const char *rk_cmember_state_name(uint8_t state);
const char *rk_cstage_action_name(uint8_t action);

#endif
