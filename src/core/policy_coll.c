/* policy_coll.c — what the collection policies (union, set) share (policy.h): checking an
 * operation's member list, sorting members bytewise (Redis clients and tests compare SMEMBERS
 * as sorted lists; a total order keeps replicas' answers byte-equal), and answering the set
 * reads from a list of members. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elems.h"
#include "policy.h"

int rk_policy_coll_arg(const uint8_t *arg, size_t arg_len, uint32_t *count_out, char *message,
                       size_t message_bytes)
{
    uint32_t count = 0;
    if (arg == NULL || rk_elems_check(arg, arg_len, &count) != 0) {
        snprintf(message, message_bytes, "the members are not an element list");
        return RK_EINVAL;
    }
    if (count == 0) {
        snprintf(message, message_bytes, "no member given");
        return RK_EINVAL;
    }
    if (count > RK_COLL_MEMBERS_MAX) {
        snprintf(message, message_bytes, "%u members in one command; at most %u", count,
                 RK_COLL_MEMBERS_MAX);
        return RK_ETOOBIG;
    }
    *count_out = count;
    return 0;
}

int rk_policy_coll_write_check(const rk_op *op, uint32_t *count_out, char *message,
                               size_t message_bytes)
{
    *count_out = 0;
    if (op->kind == RK_OP_DEL) {
        return 0;
    }
    if (op->kind != RK_OP_SADD && op->kind != RK_OP_SREM) {
        return rk_policy_wrongtype(message, message_bytes);
    }
    return rk_policy_coll_arg(op->arg, op->arg_len, count_out, message, message_bytes);
}

int rk_policy_clock_room(const rk_policy_write *w, const rk_dvvset *state, const char *what,
                         char *message, size_t message_bytes)
{
    /* Minting adds an entry when the coordinator has none, or when the dot floor leaves a gap
     * above its last counter. */
    uint64_t known = rk_vv_counter_max(&state->history, w->coordinator);
    bool new_entry = known == 0 || w->dot_floor > known + 1;
    uint32_t entries = state->history.entry_count + (new_entry ? 1u : 0u);
    if (entries > RK_SET_CLOCK_ENTRIES_MAX) {
        snprintf(message, message_bytes, "the %s's clock would hold %u entries; a %s's clock "
                 "holds at most %u (it is never pruned: pruning would undo removes)", what,
                 entries, what, RK_SET_CLOCK_ENTRIES_MAX);
        return RK_ETOOBIG;
    }
    return 0;
}

typedef struct coll_member {
    const uint8_t *bytes;
    size_t len;
} coll_member;

static int coll_bytes_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t common = a_len < b_len ? a_len : b_len;
    int order = common > 0 ? memcmp(a, b, common) : 0;
    if (order != 0) {
        return order;
    }
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

static int coll_member_cmp(const void *a, const void *b)
{
    const coll_member *x = a;
    const coll_member *y = b;
    return coll_bytes_cmp(x->bytes, x->len, y->bytes, y->len);
}

uint32_t rk_policy_coll_sort_unique(const uint8_t **members, size_t *lens, uint32_t count)
{
    if (count < 2) {
        return count;
    }
    coll_member *sorted = malloc(count * sizeof(*sorted));
    RK_ASSERT(sorted != NULL);     /* count * 16 bytes, bounded by RK_COLL_MEMBERS_MAX */
    for (uint32_t i = 0; i < count; i++) {
        sorted[i] = (coll_member){.bytes = members[i], .len = lens[i]};
    }
    /* Equal members are equal bytes, so qsort's instability cannot change the result. */
    qsort(sorted, count, sizeof(*sorted), coll_member_cmp);
    uint32_t unique = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (unique > 0 && coll_member_cmp(&sorted[i], &sorted[unique - 1]) == 0) {
            continue;
        }
        sorted[unique++] = sorted[i];
    }
    for (uint32_t i = 0; i < unique; i++) {
        members[i] = sorted[i].bytes;
        lens[i] = sorted[i].len;
    }
    free(sorted);
    return unique;
}

bool rk_policy_coll_has(const uint8_t *const *members, const size_t *lens, uint32_t count,
                        const uint8_t *member, size_t member_len)
{
    uint32_t low = 0;
    uint32_t high = count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        int order = coll_bytes_cmp(members[mid], lens[mid], member, member_len);
        if (order == 0) {
            return true;
        }
        if (order < 0) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return false;
}

static void coll_error(rk_policy_read *out, int error, const char *text)
{
    snprintf(out->message, sizeof(out->message), "%s", text);
    out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = error, .message = out->message};
}

/* SMISMEMBER: 1 or 0 per member of the argument, in its order. */
static void coll_answer_smismember(const uint8_t **members, const size_t *lens, uint32_t count,
                                   const rk_policy_query *q, rk_policy_read *out)
{
    uint32_t asked = 0;
    if (rk_policy_coll_arg(q->arg, q->arg_len, &asked, out->message, sizeof(out->message)) != 0) {
        out->reply = (rk_reply){.kind = RK_REPLY_ERROR, .error = RK_EINVAL,
                                .message = out->message};
        return;
    }
    out->heap_integers = calloc(asked, sizeof(*out->heap_integers));
    if (out->heap_integers == NULL) {
        coll_error(out, RK_ENOMEM, "out of memory");
        return;
    }
    rk_elems_iter it;
    rk_elems_iter_init(&it, q->arg, q->arg_len);
    const uint8_t *member = NULL;
    size_t member_len = 0;
    for (uint32_t i = 0; rk_elems_next(&it, &member, &member_len); i++) {
        out->heap_integers[i] = rk_policy_coll_has(members, lens, count, member, member_len);
    }
    out->reply = (rk_reply){.kind = RK_REPLY_INTS,
                            .value_count = asked,
                            .integers = out->heap_integers};
}

void rk_policy_coll_answer(const uint8_t **members, size_t *lens, uint32_t count,
                           const rk_policy_query *q, rk_policy_read *out)
{
    memset(&out->reply, 0, sizeof(out->reply));
    count = rk_policy_coll_sort_unique(members, lens, count);
    if (q->kind == RK_REQ_EXISTS) {
        out->reply = (rk_reply){.kind = RK_REPLY_INT, .integer = count > 0 ? 1 : 0};
    } else if (q->kind != RK_REQ_READ) {
        coll_error(out, RK_EWRONGTYPE, RK_POLICY_WRONGTYPE_MESSAGE);    /* GET, RK.GET */
    } else {
        switch ((rk_read_kind)q->op) {
        case RK_READ_SMEMBERS:
            out->heap_values = members;     /* taken: rk_policy_read_deinit frees them */
            out->heap_lens = lens;
            out->reply = (rk_reply){.kind = RK_REPLY_SET,
                                    .value_count = count,
                                    .values = members,
                                    .value_lens = lens};
            return;
        case RK_READ_SCARD:
            out->reply = (rk_reply){.kind = RK_REPLY_INT, .integer = count};
            break;
        case RK_READ_SISMEMBER:
            out->reply = (rk_reply){.kind = RK_REPLY_INT,
                                    .integer = rk_policy_coll_has(members, lens, count, q->arg,
                                                                  q->arg_len)};
            break;
        case RK_READ_SMISMEMBER:
            coll_answer_smismember(members, lens, count, q, out);
            break;
        case RK_READ_TYPE:
            RK_ASSERT(!"TYPE is answered by rk_policy_answer");
            break;
        case RK_READ_HGET:
        case RK_READ_HMGET:
        case RK_READ_HGETALL:
        case RK_READ_HLEN:
        case RK_READ_HEXISTS:
        case RK_READ_HKEYS:
        case RK_READ_HVALS:
            coll_error(out, RK_EWRONGTYPE, RK_POLICY_WRONGTYPE_MESSAGE);   /* a map's reads */
            break;
        }
    }
    free(members);     /* every answer but SMEMBERS is made: the members go */
    free(lens);
}
