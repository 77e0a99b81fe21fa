/* node_bucket.c — cluster-wide bucket properties: the node's bucket table (bucket.h), stored in
 * RK_DB_META under "bucket:<name>" and loaded at start, set by RK.BUCKET SET through an
 * RK_COORD_BUCKET coordinator that pushes them to every reachable member and answers with how
 * many stored them, and pushed again to any member that comes up (it may have missed a change).
 * The newest version wins everywhere (rk_bucket_apply), so pushes in any order converge. A
 * policy change to or from a merge type (policy.h) is made only while the bucket holds no live
 * key: every member is asked first (check_only) and must answer, and one holding a live key
 * refuses it. A write racing the check may still land under the old policy; its key then
 * answers WRONGTYPE until deleted. The only writer of the node's bucket table and of bucket
 * coordinators. */
#include <stdio.h>
#include <string.h>

#include "coord.h"
#include "parts.h"

static const uint8_t node_bucket_prefix[] = "bucket:";
#define NODE_BUCKET_PREFIX_LEN (sizeof(node_bucket_prefix) - 1)

static int node_bucket_load_one(void *ctx, const uint8_t *key, size_t key_len,
                                const uint8_t *value, size_t value_len)
{
    rk_node *n = ctx;
    if (key_len <= NODE_BUCKET_PREFIX_LEN ||
        memcmp(key, node_bucket_prefix, NODE_BUCKET_PREFIX_LEN) != 0) {
        return 1;   /* past the bucket keys */
    }
    rk_bucket_props props;
    if (rk_bucket_props_decode(value, value_len, &props) != 0) {
        return RK_ECORRUPT;
    }
    int rc = rk_bucket_apply(&n->buckets, key + NODE_BUCKET_PREFIX_LEN,
                             key_len - NODE_BUCKET_PREFIX_LEN, &props);
    return rc < 0 ? rc : 0;
}

int node_bucket_load(rk_node *n)
{
    rk_bucket_table_init(&n->buckets);
    n->buckets.defaults = (rk_bucket_props){.n = n->config.default_n,
                                            .r = n->config.default_r,
                                            .w = n->config.default_w,
                                            .policy = n->config.default_policy,
                                            .sloppy = n->config.default_sloppy ? 1 : 0};
    return rk_store_iterate(n->env->store, RK_DB_META, node_bucket_prefix,
                            NODE_BUCKET_PREFIX_LEN, NULL, 0, node_bucket_load_one, n);
}

/* Keep `props` for bucket `name` if newer, storing them in RK_DB_META; *seq_out is the write to
 * wait for (the last write when nothing changed). 1 changed, 0 not newer, or an error. */
static int node_bucket_store(rk_node *n, const uint8_t *name, size_t name_len,
                             const rk_bucket_props *props, uint64_t *seq_out)
{
    int changed = rk_bucket_apply(&n->buckets, name, name_len, props);
    *seq_out = n->local.written_seq;
    if (changed != 1) {
        return changed;
    }
    uint8_t key[NODE_BUCKET_PREFIX_LEN + RK_BUCKET_NAME_BYTES_MAX];
    uint8_t bytes[RK_BUCKET_PROPS_BYTES];
    memcpy(key, node_bucket_prefix, NODE_BUCKET_PREFIX_LEN);
    memcpy(key + NODE_BUCKET_PREFIX_LEN, name, name_len);
    rk_bucket_props_encode(props, bytes);
    rk_batch_op op = {.kind = RK_BATCH_PUT,
                      .db = RK_DB_META,
                      .key = key,
                      .key_len = NODE_BUCKET_PREFIX_LEN + name_len,
                      .value = bytes,
                      .value_len = sizeof(bytes)};
    int rc = rk_local_write_records(&n->local, &op, 1, seq_out);
    return rc != 0 ? rc : 1;
}

void node_bucket_on_set(rk_node *n, rk_node_id from, const rk_msg *m)
{
    rk_bucket_props props;
    if (m->key_len == 0 || m->key_len > RK_BUCKET_NAME_BYTES_MAX ||
        rk_bucket_props_decode(m->object, m->object_len, &props) != 0) {
        return;     /* a peer speaking garbage: drop it, keep serving */
    }
    if ((m->flags & RK_MSG_BUCKET_CHECK) != 0) {
        int live = rk_local_bucket_live(&n->local, m->key, m->key_len);
        rk_msg ack = {.kind = RK_MSG_BUCKET_ACK,
                      .req_id = m->req_id,
                      .status = live == 1 ? RK_EBUSY : live};
        node_send(n, from, &ack);
        return;
    }
    uint64_t seq = 0;
    if (node_bucket_store(n, m->key, m->key_len, &props, &seq) < 0) {
        return;
    }
    if (m->req_id != 0) {
        rk_pending ack = {.kind = RK_PENDING_PEER,
                          .reply_kind = RK_MSG_BUCKET_ACK,
                          .peer = from,
                          .id = m->req_id,
                          .integer = (int64_t)props.version,
                          .seq = seq};
        rk_durable_after(&n->durable, &ack);
    }
}

void node_bucket_push_all(rk_node *n, rk_node_id to)
{
    for (uint32_t i = 0; i < n->buckets.count; i++) {
        const rk_bucket_entry *e = &n->buckets.entries[i];
        uint8_t bytes[RK_BUCKET_PROPS_BYTES];
        rk_bucket_props_encode(&e->props, bytes);
        rk_msg m = {.kind = RK_MSG_BUCKET_SET,
                    .key = (const uint8_t *)e->name,
                    .key_len = e->name_len,
                    .object = bytes,
                    .object_len = sizeof(bytes),
                    .version = e->props.version};
        node_send(n, to, &m);
    }
}

/* ---- the coordinator ------------------------------------------------------------------------ */

/* Done once this node stored the properties and every member sent them answered. */
static void coord_bucket_maybe_done(rk_node *n, rk_coord_bucket *c)
{
    RK_ASSERT(c->answered_count <= c->sent_count);
    if (c->self_answered && c->answered_count == c->sent_count) {
        rk_reply r = {.kind = RK_REPLY_INT, .integer = c->ok_count};
        rk_coord_reply(n, &c->base, &r);
        rk_coord_free(n, &c->base);
    }
}

void rk_coord_bucket_on_local_durable(rk_node *n, rk_coord_bucket *c, int status)
{
    RK_ASSERT(!c->self_answered);
    c->self_answered = true;
    c->ok_count += status == 0 ? 1 : 0;
    coord_bucket_maybe_done(n, c);
}

static void node_bucket_push_change(rk_node *n, rk_coord_bucket *c);
static void node_bucket_refuse(rk_node *n, rk_coord_bucket *c, int error, rk_node_id holder);

void rk_coord_bucket_on_ack(rk_node *n, rk_coord_bucket *c, rk_node_id from, const rk_msg *m)
{
    for (uint32_t i = 0; i < c->sent_count; i++) {
        if (c->sent_to[i] == from && !c->answered[i]) {
            c->answered[i] = true;
            c->answered_count++;
            c->ok_count += m->status == 0 ? 1 : 0;
            if (!c->checking) {
                coord_bucket_maybe_done(n, c);
            } else if (m->status != 0) {
                node_bucket_refuse(n, c, m->status, from);
            } else if (c->answered_count == c->sent_count) {
                node_bucket_push_change(n, c);  /* nobody holds a live key: change it */
            }
            return;
        }
    }
    /* not asked, or a duplicated ack: counts once */
}

void rk_coord_bucket_expire(rk_node *n, rk_coord_bucket *c)
{
    if (c->checking) {
        rk_coord_reply_error(n, &c->base, RK_ETIMEDOUT, "members did not answer in time "
                             "whether the bucket holds a live key; the policy is unchanged");
        rk_coord_free(n, &c->base);
        return;
    }
    rk_reply r = {.kind = RK_REPLY_INT, .integer = c->ok_count};
    rk_coord_reply(n, &c->base, &r);
    rk_coord_free(n, &c->base);
}

/* The change refused (the check found a live key on `holder`, or failed): the policy stays. */
static void node_bucket_refuse(rk_node *n, rk_coord_bucket *c, int error, rk_node_id holder)
{
    char message[256];
    if (error == RK_EBUSY) {
        snprintf(message, sizeof(message), "bucket %.*s holds live keys (node %u stores some): "
                 "its policy changes to or from a merge type only while it holds none; delete "
                 "them first", (int)c->name_len, c->name, holder);
    } else {
        snprintf(message, sizeof(message), "node %u could not check bucket %.*s for live keys: "
                 "%s", holder, (int)c->name_len, c->name, rk_strerror(error));
    }
    rk_coord_reply_error(n, &c->base, error == RK_EBUSY ? RK_EINVAL : error, message);
    rk_coord_free(n, &c->base);
}

/* Send the properties the coordinator holds to every member in its sent_to list. */
static void node_bucket_send(rk_node *n, const rk_coord_bucket *c, uint32_t flags)
{
    uint8_t bytes[RK_BUCKET_PROPS_BYTES];
    rk_bucket_props_encode(&c->next, bytes);
    rk_msg m = {.kind = RK_MSG_BUCKET_SET,
                .flags = flags,
                .req_id = c->base.id,
                .key = (const uint8_t *)c->name,
                .key_len = c->name_len,
                .object = bytes,
                .object_len = sizeof(bytes),
                .version = c->next.version};
    for (uint32_t i = 0; i < c->sent_count; i++) {
        node_send(n, c->sent_to[i], &m);
    }
}

/* Store the new properties here and push them to every reachable member. */
static void node_bucket_push_change(rk_node *n, rk_coord_bucket *c)
{
    c->checking = false;
    c->sent_count = 0;
    c->answered_count = 0;
    c->ok_count = 0;
    memset(c->answered, 0, sizeof(c->answered));
    const uint8_t *name = (const uint8_t *)c->name;
    uint64_t seq = 0;
    int rc = node_bucket_store(n, name, c->name_len, &c->next, &seq);
    if (rc < 0) {
        rk_coord_reply_error(n, &c->base, rc, "cannot store bucket properties");
        rk_coord_free(n, &c->base);
        return;
    }
    for (uint32_t slot = 0; slot < n->members.slot_end; slot++) {
        const rk_member *mb = rk_members_at(&n->members, slot);
        rk_node_id id = mb != NULL ? mb->addr.id : 0;
        if (id != 0 && id != n->config.id && node_member_up(n, id)) {
            RK_ASSERT(c->sent_count < RK_MEMBERS_MAX);
            c->sent_to[c->sent_count++] = id;
        }
    }
    node_bucket_send(n, c, 0);
    if (!c->base.armed) {
        rk_coord_table_arm(&n->coords, &c->base);
    }
    rk_pending p = {.seq = seq, .id = c->base.id, .kind = RK_PENDING_COORD};
    rk_durable_after(&n->durable, &p);
}

/* Ask every member (all must be reachable) whether it stores a live key of the bucket. */
static void node_bucket_check(rk_node *n, rk_coord_bucket *c)
{
    c->checking = true;
    int live = rk_local_bucket_live(&n->local, (const uint8_t *)c->name, c->name_len);
    if (live != 0) {
        node_bucket_refuse(n, c, live == 1 ? RK_EBUSY : live, n->config.id);
        return;
    }
    for (uint32_t slot = 0; slot < n->members.slot_end; slot++) {
        const rk_member *mb = rk_members_at(&n->members, slot);
        rk_node_id id = mb != NULL ? mb->addr.id : 0;
        if (id == 0 || id == n->config.id) {
            continue;
        }
        if (!node_member_up(n, id)) {
            char message[200];
            snprintf(message, sizeof(message), "cannot check that bucket %.*s holds no live key: "
                     "node %u is unreachable; the policy is unchanged", (int)c->name_len,
                     c->name, id);
            rk_coord_reply_error(n, &c->base, RK_EUNAVAIL, message);
            rk_coord_free(n, &c->base);
            return;
        }
        RK_ASSERT(c->sent_count < RK_MEMBERS_MAX);
        c->sent_to[c->sent_count++] = id;
    }
    if (c->sent_count == 0) {
        node_bucket_push_change(n, c);
        return;
    }
    node_bucket_send(n, c, RK_MSG_BUCKET_CHECK);
    rk_coord_table_arm(&n->coords, &c->base);
}

void rk_node_bucket_set(rk_node *n, uint64_t client_req, const uint8_t *name, size_t name_len,
                        const char *const *props, const char *const *values, uint32_t count)
{
    if (name_len == 0 || name_len > RK_BUCKET_NAME_BYTES_MAX) {
        node_reply_error(n, client_req, RK_ETOOBIG, "bucket name must be 1 to 64 bytes");
        return;
    }
    const rk_bucket_entry *e = rk_bucket_find(&n->buckets, name, name_len);
    rk_bucket_props next = e != NULL ? e->props : n->buckets.defaults;
    uint8_t policy_before = next.policy;
    char err[128];
    for (uint32_t i = 0; i < count; i++) {
        if (rk_bucket_props_set(&next, props[i], values[i], err, sizeof(err)) != 0) {
            node_reply_error(n, client_req, RK_EINVAL, err);
            return;
        }
    }
    next.version = (e != NULL ? e->props.version : 0) + 1;
    next.origin = n->config.id;
    rk_coord_bucket *c = (rk_coord_bucket *)rk_coord_table_new(&n->coords, RK_COORD_BUCKET,
                                                               sizeof(*c));
    if (c == NULL) {
        node_reply_error(n, client_req, RK_EBUSY, "too many requests in flight");
        return;
    }
    c->base.origin_req = client_req;
    memcpy(c->name, name, name_len);
    c->name_len = (uint32_t)name_len;
    c->next = next;
    bool retype = next.policy != policy_before && (RK_POLICY_IS_MERGE_TYPE(next.policy) ||
                                                   RK_POLICY_IS_MERGE_TYPE(policy_before));
    if (retype) {
        node_bucket_check(n, c);
        return;
    }
    node_bucket_push_change(n, c);
}
