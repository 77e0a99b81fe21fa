/* coord_get.c — the read coordinator (Dynamo 4.5, 5): ask the chosen nodes (coord.c picks
 * them: reachable primaries, and fallbacks under a sloppy quorum), answer once R answered,
 * reconciled by the bucket's policy, keep listening until every one answered or the timeout,
 * then read repair: send the merged object to every primary that answered with less. A
 * fallback's not-found counts toward R (notfound_ok); fallbacks get no repair. Merging and the
 * answer are the bucket policy's (policy.h); an answer of another type is never merged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "elems.h"
#include "parts.h"
#include "policy.h"
#include "replica.h"

static void coord_set_free(rk_dvvset *set)
{
    if (set != NULL) {
        rk_dvvset_deinit(set);
        free(set);
    }
}

/* The read's answer from the merged state, by the bucket's policy (policy.h). On the stack,
 * as the reply was before the tables: a pointer per sibling, about 16 KiB. */
static void coord_get_reply(rk_node *n, rk_coord_get *c)
{
    rk_policy_read answer;
    rk_policy_query q = {.kind = c->req_kind, .op = c->read_op, .arg = c->arg,
                         .arg_len = c->arg_len};
    rk_policy_answer(c->policy, c->merged, &q, &answer);
    /* Siblings per read (Dynamo 6.3 measured how often reads saw more than one version): the
     * live versions of the merged state the client's answer came from. */
    uint64_t live = 0;
    for (uint32_t i = 0; c->merged != NULL && i < c->merged->sibling_count; i++) {
        live += c->merged->siblings[i].tombstone ? 0u : 1u;
    }
    rk_metric_small_hist_record(&n->stats.read_siblings, live);
    rk_coord_reply(n, &c->base, &answer.reply);
    rk_policy_read_deinit(&answer);
}

/* Send the merged object to every primary that answered with less (Dynamo 5: read repair). */
static void coord_read_repair(rk_node *n, rk_coord_get *c)
{
    if (!n->config.read_repair || c->members != NULL) {
        /* The simulator's --no-read-repair: anti-entropy alone converges. A narrowed answer is
         * not a whole state: merged into a replica its clock would claim the other members. */
        return;
    }
    if (c->merged->sibling_count == 0 && c->merged->history.entry_count == 0) {
        return;
    }
    const uint8_t *bytes = NULL;
    size_t len = 0;
    for (uint32_t i = 0; i < c->q.preflist_count; i++) {
        if (c->got[i] == NULL || c->q.hint_for[i] != 0 ||
            rk_dvvset_equal(c->got[i], c->merged)) {
            continue;   /* fallbacks get no repair: their copies are on their way back */
        }
        n->stats.read_repairs++;
        if (c->q.preflist[i] == n->config.id) {
            rk_replica_merge(n, &c->key, c->merged, NULL, 0, c->policy, 0, NULL);
            bytes = NULL;   /* the local write reused the scratch buffer `bytes` pointed into */
            continue;
        }
        if (bytes == NULL && rk_local_encode(&n->local, c->merged, &bytes, &len) != 0) {
            return;
        }
        rk_msg m = {.kind = RK_MSG_PUT_REQ,
                    .flags = RK_MSG_PUT_REPAIR,
                    .key = c->key.key,
                    .key_len = c->key.key_len,
                    .object = bytes,
                    .object_len = len};
        node_send(n, c->q.preflist[i], &m);
    }
}

void rk_coord_get_deinit(rk_coord_get *c)
{
    coord_set_free(c->merged);
    c->merged = NULL;
    free(c->arg);
    c->arg = NULL;
    free(c->members);
    c->members = NULL;
    for (uint32_t i = 0; i < RK_N_MAX; i++) {
        coord_set_free(c->got[i]);
        c->got[i] = NULL;
    }
}

static void coord_get_finish(rk_node *n, rk_coord_get *c)
{
    coord_read_repair(n, c);
    rk_coord_free(n, &c->base);
}

/* One replica's answer (`set` moves into the coordinator; NULL for an error answer). */
static void coord_get_answer(rk_node *n, rk_coord_get *c, uint32_t index, rk_dvvset *set)
{
    uint16_t bit = (uint16_t)(1u << index);
    if (c->q.answered_mask & bit) {
        if (set != NULL) {
            rk_dvvset_deinit(set);
        }
        return;     /* a duplicated answer counts once */
    }
    c->q.answered_mask |= bit;
    if (set != NULL && c->q.preflist_count == 1) {
        /* The only replica: its answer is the merge, and there is nobody to repair. */
        rk_dvvset_deinit(c->merged);
        *c->merged = *set;
        c->q.ok_count++;
    } else if (set != NULL) {
        rk_dvvset *kept = malloc(sizeof(*kept));
        if (kept == NULL) {
            rk_dvvset_deinit(set);
            set = NULL;
        } else {
            *kept = *set;
            c->got[index] = kept;
            int rc = rk_policy_merge(c->policy, c->merged, kept);
            if (rc == RK_EWRONGTYPE) {
                n->stats.objects_type_refused++;    /* never merged: counts as no answer */
            } else if (rc == 0) {
                c->q.ok_count++;
            }
        }
    }
    if (!c->base.replied && c->q.ok_count >= c->q.need) {
        coord_get_reply(n, c);
    }
    if (c->q.answered_mask == rk_coord_expected_mask(&c->q, n->config.id)) {
        if (!c->base.replied && c->q.fallback_need > 0 && c->q.ok_count >= c->q.fallback_need) {
            n->stats.degraded_reads++;
            coord_get_reply(n, c);
        }
        if (!c->base.replied) {
            rk_coord_reply_error(n, &c->base, RK_EUNAVAIL, "replicas answered with errors");
        }
        coord_get_finish(n, c);
    }
}

/* SISMEMBER or SMISMEMBER of a set this node holds large: read only the members asked
 * (c->members; one row per member on each replica) instead of the whole set. */
static void coord_get_narrow(rk_node *n, rk_coord_get *c)
{
    bool member_read = c->req_kind == RK_REQ_READ &&
                       (c->read_op == RK_READ_SISMEMBER || c->read_op == RK_READ_SMISMEMBER);
    if (!member_read || rk_policy_of(c->policy)->type_tag != RK_POLICY_TAG_SET ||
        rk_local_set_count(&n->local, &c->key) < RK_SET_DELTA_MEMBERS_MIN) {
        return;
    }
    uint32_t count = 0;
    if (c->read_op == RK_READ_SMISMEMBER) {
        if (rk_elems_check(c->arg, c->arg_len, &count) != 0 ||
            count > RK_SET_DELTA_OP_MEMBERS_MAX) {
            return;
        }
        c->members = malloc(c->arg_len);
        if (c->members != NULL) {
            memcpy(c->members, c->arg, c->arg_len);
            c->members_len = c->arg_len;
        }
        return;
    }
    const uint8_t *member = c->arg != NULL ? c->arg : (const uint8_t *)"";
    size_t len = c->arg_len;
    size_t bytes = rk_elems_encoded_len(&len, 1);
    c->members = malloc(bytes);
    if (c->members != NULL) {
        c->members_len = rk_elems_encode(&member, &len, 1, c->members);
    }
}

void rk_coord_get_start(rk_node *n, rk_coord_get *c, uint32_t up_count)
{
    n->stats.coord_gets++;
    if (!rk_coord_need_reachable(n, &c->base, &c->q, up_count, 'R')) {
        return;
    }
    c->merged = malloc(sizeof(*c->merged));
    if (c->merged == NULL) {
        rk_coord_reply_error(n, &c->base, RK_ENOMEM, "out of memory");
        rk_coord_free(n, &c->base);
        return;
    }
    rk_dvvset_init(c->merged);
    coord_get_narrow(n, c);
    rk_msg m = {.kind = RK_MSG_GET_REQ,
                .req_id = c->base.id,
                .key = c->key.key,
                .key_len = c->key.key_len,
                .value = c->members,
                .value_len = c->members_len};
    uint32_t members_flag = c->members != NULL ? RK_MSG_GET_MEMBERS : 0u;
    int self_index = -1;
    bool asked_fallback = false;
    /* Primaries are asked as such (a node that is none any more answers "not owner", which
     * never counts toward R); fallbacks may hold nothing and say so. */
    rk_node_id to[RK_N_MAX];
    uint32_t to_count = 0;
    rk_node_id fallbacks[RK_N_MAX];
    uint32_t fallback_count = 0;
    for (uint32_t i = 0; i < c->q.preflist_count; i++) {
        rk_node_id id = c->q.preflist[i];
        if (id == n->config.id) {
            self_index = (int)i;
        } else if (node_member_up(n, id)) {
            c->q.sent_mask |= (uint16_t)(1u << i);
            if (c->q.hint_for[i] != 0) {
                asked_fallback = true;
                fallbacks[fallback_count++] = id;
            } else {
                to[to_count++] = id;
            }
        }
    }
    m.flags = RK_MSG_GET_PRIMARY | members_flag;
    node_send_many(n, to, to_count, &m);
    m.flags = members_flag;
    node_send_many(n, fallbacks, fallback_count, &m);
    n->stats.fallback_reads += asked_fallback ? 1 : 0;
    rk_coord_table_arm(&n->coords, &c->base);
    if (self_index >= 0) {
        rk_dvvset local;
        int rc = c->members != NULL
                     ? rk_local_set_project(&n->local, &c->key, c->members, c->members_len, &local)
                     : rk_local_read(&n->local, &c->key, &local);
        /* A damaged copy answers as missing, so read repair writes this node an intact one. */
        rc = rc == RK_ECORRUPT && local.sibling_count == 0 && local.history.entry_count == 0
                 ? 0
                 : rc;
        coord_get_answer(n, c, (uint32_t)self_index, rc == 0 ? &local : NULL);
    }
}

void rk_coord_get_on_resp(rk_node *n, rk_coord_get *c, uint32_t index, const rk_msg *m)
{
    rk_dvvset set;
    int rc = m->status == 0 ? rk_dvvset_decode(m->object, m->object_len, &set) : m->status;
    if (m->status == 0 && m->object_len == 0) {
        rk_dvvset_init(&set);
        rc = 0;
    }
    coord_get_answer(n, c, index, rc == 0 ? &set : NULL);
}

void rk_coord_get_expire(rk_node *n, rk_coord_get *c)
{
    if (!c->base.replied && c->q.fallback_need > 0 && c->q.ok_count >= c->q.fallback_need) {
        n->stats.degraded_reads++;
        coord_get_reply(n, c);
    }
    if (!c->base.replied) {
        char message[128];
        snprintf(message, sizeof(message), "needed R=%u replicas, %u answered in time", c->q.need,
                 c->q.ok_count);
        rk_coord_reply_error(n, &c->base, RK_ETIMEDOUT, message);
    }
    coord_get_finish(n, c);
}
