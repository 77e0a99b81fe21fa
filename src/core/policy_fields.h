/* policy_fields.h — what the counter and map policies share (policy_counter.c, policy_map.c):
 * a state whose siblings are entries of named fields, each entry either a register value or
 * one actor of a counter; their codec, their merge, and the rules for changing them. A counter
 * bucket's key is a map with one counter field, named "" (so both merge by the same code).
 *
 *   register  sibling dot = the write that set it (HSET); value = the field's bytes; timestamp
 *             = its LWW stamp. Observed-remove as a set's member (policy_set.c): a remove drops
 *             the register dots it saw; a merge keeps a dot both hold, or one the other side
 *             has not seen. Concurrent HSETs leave two registers; a read shows the later stamp.
 *   actor     sibling dot = the actor's id, minted once when the actor is created; value =
 *             [lineage][P][N][RP][RN]: the sums of its increments and decrements (absolute,
 *             merged by maximum, so a duplicated or replayed state never counts twice) and the
 *             part of each a remove observed (RP <= P, RN <= N, also merged by maximum). The
 *             field's value is the sum over its actors of (P - RP) - (N - RN), in 128 bits. A
 *             remove (HDEL, DEL, HSET over a counter) sets RP = P and RN = N of every actor it
 *             saw, so an increment it did not see — a concurrent one, on any actor — survives
 *             it exactly: neither lost nor counted with what was removed (the anomaly of
 *             basho/riak_dt#98 and riak_dt PR #53, where an actor's absolute entry brought the
 *             removed increments back). Actors are never dropped: a replica still holding an
 *             older entry of a dropped actor would bring its whole sum back.
 *   base      sibling dot = the register it was made from, or a fresh one; value = an int64 the
 *             counter starts from. HINCRBY over a register holding an integer turns that very
 *             sibling into a base of its value (same dot, same stamp): two coordinators that
 *             convert one register concurrently make the same base, counted once, and a merge
 *             that meets the register and its base under one dot keeps the base. An increment
 *             of 0 on a field that does not exist adds a base of 0, so the field exists with
 *             value 0 as in Redis. Observed-remove as a register: a remove drops the bases it
 *             saw (so a concurrent HDEL removes the register's value, not the increments).
 *
 * Who may advance an actor. An actor's entry is absolute, so a coordinator that advanced its
 * own actor from a stale base (a copy lost and restored older: a wiped disk, a fallback that
 * handed the key back and deleted it) would write a smaller sum and the maximum would drop
 * acknowledged increments. A coordinator advances its own actor only when its own copy, from
 * before the read merged in the replicas' answers, holds that actor exactly as the merge does
 * (no replica it heard from knows more), in the lineage it still holds (rk_clock_lineage: the
 * same store, and with sync = none the same epoch), and, as a fallback, minted after its last
 * handback (handback_floor). Its copy is written durably before the write is sent anywhere
 * (durable_before_send), so that copy holds every value the actor ever had. Otherwise it
 * creates a fresh actor for that field, as Riak's per-key epochs do.
 *
 * Bounds: a field holds at most RK_FIELD_ACTORS_MAX actors; an increment that would create one
 * more is refused with an error naming the bound (counted, counter_actors_refused). A state's
 * clock, never pruned (registers are observed-remove), holds at most RK_SET_CLOCK_ENTRIES_MAX
 * entries on a write, as a set's does. */
#ifndef RK_POLICY_FIELDS_H
#define RK_POLICY_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define RK_FIELD_KIND_COUNTER 0x63u   /* 'c' */
#define RK_FIELD_KIND_REGISTER 0x72u  /* 'r' */
#define RK_FIELD_KIND_BASE 0x62u      /* 'b' */
/* [i64 value], little-endian. */
#define RK_FIELD_BASE_BYTES 8u
/* [u8 kind][u32 LE name_len][name]... */
#define RK_FIELD_HEAD_BYTES 5u
/* [u64 lineage][u64 P][u64 N][u64 RP][u64 RN], little-endian. */
#define RK_FIELD_ACTOR_BYTES 40u
/* Actors of one counter field. One per coordinating node and lineage: a node's store wiped,
 * a fallback's handback, a restart of a fallback, or with sync = none an unclean start each
 * make one more. Every read and write is linear in them. */
#define RK_FIELD_ACTORS_MAX 32u
/* The longest decimal text of an int64, with its sign. */
#define RK_FIELD_DECIMAL_BYTES 20u

__extension__ typedef __int128 rk_field_sum;

/* One entry, parsed: pointers into the sibling's value. */
typedef struct rk_field_entry {
    uint8_t kind;
    const uint8_t *name;
    uint32_t name_len;
    const uint8_t *value;       /* register: its bytes */
    uint32_t value_len;
    uint64_t lineage;           /* actor: */
    uint64_t p;
    uint64_t n;
    uint64_t rp;
    uint64_t rn;
    int64_t base;               /* base: its value */
} rk_field_entry;

/* Parse `s` as an entry: false when its bytes are not one (damaged, or another type's). */
bool rk_fields_parse(const rk_sibling *s, rk_field_entry *out);
/* Whether every sibling of `state` parses (bytes from a peer or the disk). */
bool rk_fields_valid(const rk_dvvset *state);
/* Whether `e` is named `name`. */
bool rk_fields_named(const rk_field_entry *e, const uint8_t *name, size_t name_len);
/* The merge of two field states (the tables' merge): registers by observed-remove, actors by
 * maximum of each sum, clocks united unpruned. 0, RK_ETOOBIG (a clock past RK_VV_ENTRIES_MAX,
 * more than RK_COLL_MEMBERS_MAX entries), RK_ECORRUPT (an entry that does not parse), or
 * RK_ENOMEM; `state` is then unchanged. */
int rk_fields_merge(rk_dvvset *state, const rk_dvvset *other);
/* A state of another type with nothing live becomes an empty one of `tag`, keeping its
 * history. */
void rk_fields_take_over(rk_dvvset *state, uint8_t tag);

/* The counter `name`'s value; *live_out: it exists (a base, or an increment no remove saw). */
rk_field_sum rk_fields_counter(const rk_dvvset *state, const uint8_t *name, size_t name_len,
                               bool *live_out);
/* The register `name` a read shows (the latest stamp, ties by the later dot), or NULL. */
const rk_sibling *rk_fields_register(const rk_dvvset *state, const uint8_t *name,
                                     size_t name_len, rk_field_entry *entry_out);
/* Whether field `name` exists: a register, or a counter with an increment no remove saw. */
bool rk_fields_live(const rk_dvvset *state, const uint8_t *name, size_t name_len);
/* Remove what `state` holds of field `name` (every field when `name` is NULL): drop its
 * registers and bases, set its actors' RP = P and RN = N. Returns whether it existed. */
bool rk_fields_remove(rk_dvvset *state, const uint8_t *name, size_t name_len);
/* Drop field `name`'s registers only (HINCRBY turning a register into a counter). */
void rk_fields_drop_registers(rk_dvvset *state, const uint8_t *name, size_t name_len);
/* Set register `name` to `value`: a fresh dot that supersedes the registers it saw. 0 or an
 * error with a message. */
int rk_fields_set_register(const rk_policy_write *w, rk_dvvset *state, const uint8_t *name,
                           size_t name_len, const uint8_t *value, size_t value_len,
                           rk_policy_applied *out, char *message, size_t message_bytes);
/* Add a base of 0 to counter `name` (a fresh dot in out->dot): an increment of 0 makes it exist.
 * 0 or an error with a message. */
int rk_fields_add_base(const rk_policy_write *w, rk_dvvset *state, const uint8_t *name,
                       size_t name_len, rk_policy_applied *out, char *message,
                       size_t message_bytes);
/* Turn the register `shown` (a sibling of `state`, the one a read shows) into a base of `value`
 * under its own dot, and drop the name's other registers. 0 or RK_ENOMEM (state unchanged). */
int rk_fields_register_to_base(rk_dvvset *state, const rk_sibling *shown, int64_t value);
/* Add `delta` to counter `name`: advance the coordinator's own actor where the rules above
 * allow, else create a fresh one (its dot's counter in out->actor_minted). The caller checked
 * the result fits int64. 0 or an error with a message (RK_ETOOBIG with out->actors_full at the
 * actor bound). */
int rk_fields_increment(const rk_policy_write *w, rk_dvvset *state, const uint8_t *name,
                        size_t name_len, int64_t delta, rk_policy_applied *out, char *message,
                        size_t message_bytes);
/* Whether `sum` fits int64. */
bool rk_fields_sum_fits(rk_field_sum sum);
/* Write `value` in decimal into `out` (RK_FIELD_DECIMAL_BYTES + 1); returns its length. */
size_t rk_fields_decimal(int64_t value, char *out);
/* The error of an increment whose result would leave int64 (Redis's text). */
int rk_fields_overflow(char *message, size_t message_bytes);

#endif
