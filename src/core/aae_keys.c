/* aae_keys.c — anti-entropy's messages (aae.h): the answering side of every level, the key lists
 * both sides compare, the confirmation of differences and the repair of confirmed keys. */
#include <stdlib.h>
#include <string.h>

#include "aae_internal.h"
#include "parts.h"
#include "policy.h"
#include "replica.h"

/* ---- key lists ------------------------------------------------------------------------------- */

typedef struct aae_key {
    size_t off;                 /* into the list's arena */
    uint32_t len;
    uint32_t segment;
    uint64_t hash;
    const uint8_t *skey;        /* set by aae_keys_seal, once the arena stops moving */
} aae_key;

typedef struct aae_keylist {
    const rk_aae_tree *tree;
    uint8_t *arena;
    size_t arena_len;
    size_t arena_cap;
    aae_key *keys;
    uint32_t count;
    uint32_t cap;
    int error;
} aae_keylist;

static void aae_keys_free(aae_keylist *l)
{
    free(l->arena);
    free(l->keys);
    memset(l, 0, sizeof(*l));
}

static int aae_keys_add(void *ctx, const uint8_t *skey, size_t skey_len, uint64_t hash)
{
    aae_keylist *l = ctx;
    if (l->count == l->cap) {
        uint32_t cap = l->cap == 0 ? 64 : l->cap * 2;
        aae_key *grown = realloc(l->keys, cap * sizeof(*grown));
        if (grown == NULL) {
            return l->error = RK_ENOMEM;
        }
        l->keys = grown;
        l->cap = cap;
    }
    if (l->arena_len + skey_len > l->arena_cap) {
        size_t cap = l->arena_cap == 0 ? 4096 : l->arena_cap * 2;
        while (cap < l->arena_len + skey_len) {
            cap *= 2;
        }
        uint8_t *grown = realloc(l->arena, cap);
        if (grown == NULL) {
            return l->error = RK_ENOMEM;
        }
        l->arena = grown;
        l->arena_cap = cap;
    }
    memcpy(l->arena + l->arena_len, skey, skey_len);
    l->keys[l->count++] = (aae_key){.off = l->arena_len,
                                    .len = (uint32_t)skey_len,
                                    .segment = rk_aae_tree_segment_of(l->tree, skey, skey_len),
                                    .hash = hash};
    l->arena_len += skey_len;
    return 0;
}

static int aae_skey_cmp(const uint8_t *a, uint32_t a_len, const uint8_t *b, uint32_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    return c != 0 ? c : (a_len > b_len) - (a_len < b_len);
}

static int aae_key_order(const void *x, const void *y)
{
    const aae_key *a = x;
    const aae_key *b = y;
    return aae_skey_cmp(a->skey, a->len, b->skey, b->len);
}

/* Point every key into the arena; sorted by storage key when `sort`. */
static void aae_keys_seal(aae_keylist *l, bool sort)
{
    for (uint32_t i = 0; i < l->count; i++) {
        l->keys[i].skey = l->arena + l->keys[i].off;
    }
    if (sort && l->count > 1) {
        qsort(l->keys, l->count, sizeof(*l->keys), aae_key_order);
    }
}

/* ---- the answering side ---------------------------------------------------------------------- */

/* The keys of the asked segments, whole segments only, at most RK_AAE_KEYS_MAX keys (the first
 * segment always, so an exchange moves on). `covered` gets the segments answered. */
static int aae_serve_keys(rk_node *n, const rk_msg *m, aae_keylist *l, uint32_t *covered,
                          uint32_t *covered_count)
{
    rk_aae *a = &n->aae;
    uint8_t *marks = calloc(a->tree.segment_count, 1);
    uint32_t *per_segment = calloc(a->tree.segment_count, sizeof(*per_segment));
    int rc = marks == NULL || per_segment == NULL ? RK_ENOMEM : 0;
    for (uint32_t i = 0; rc == 0 && i < m->index_count; i++) {
        rc = m->indices[i] < a->tree.segment_count ? 0 : RK_EINVAL;
        if (rc == 0) {
            marks[m->indices[i]] = 1;
        }
    }
    l->tree = &a->tree;
    if (rc == 0) {
        rc = rk_aae_tree_scan(&a->tree, n->env->store, m->partition, marks, aae_keys_add, l,
                              NULL);
        rc = rc != 0 ? rc : l->error;
    }
    for (uint32_t i = 0; rc == 0 && i < l->count; i++) {
        per_segment[l->keys[i].segment]++;
    }
    uint32_t total = 0;
    *covered_count = 0;
    for (uint32_t i = 0; rc == 0 && i < m->index_count; i++) {
        uint32_t s = m->indices[i];
        if (marks[s] != 1) {
            continue;   /* asked twice */
        }
        if (*covered_count > 0 && total + per_segment[s] > RK_AAE_KEYS_MAX) {
            marks[s] = 0;
            continue;
        }
        marks[s] = 2;
        total += per_segment[s];
        covered[(*covered_count)++] = s;
    }
    /* Keep the keys of covered segments, in place. */
    uint32_t kept = 0;
    for (uint32_t i = 0; rc == 0 && i < l->count; i++) {
        if (marks[l->keys[i].segment] == 2) {
            l->keys[kept++] = l->keys[i];
        }
    }
    l->count = rc == 0 ? kept : 0;
    aae_keys_seal(l, false);
    free(marks);
    free(per_segment);
    return rc;
}

static void aae_serve_objects(rk_node *n, rk_node_id from, rk_msg *resp, const rk_msg *m)
{
    if (m->value_count > RK_AAE_OBJECTS_PER_REQ) {
        resp->status = RK_EINVAL;
        node_send(n, from, resp);
        return;
    }
    rk_buf objects[RK_AAE_OBJECTS_PER_REQ];
    rk_msg_bytes out[RK_AAE_OBJECTS_PER_REQ];
    uint32_t count = 0;
    size_t bytes = 0;
    for (; count < m->value_count; count++) {
        rk_local_key k;
        memset(&objects[count], 0, sizeof(objects[count]));
        if (rk_local_key_init(&n->local, m->values[count].data, m->values[count].len, &k) != 0) {
            memset(&objects[count], 0, sizeof(objects[count]));
        } else if (rk_local_set_count(&n->local, &k) >= RK_SET_STREAM_MEMBERS_MIN) {
            /* A large set goes in chunks, pushed as repairs; its answer here is empty. */
            (void)rk_coord_send_whole_set(n, from, &k, 0, RK_MSG_PUT_REPAIR, 0);
        } else if (rk_local_read_raw(&n->local, &k, &objects[count]) != 0) {
            memset(&objects[count], 0, sizeof(objects[count]));
        }
        if (count > 0 && bytes + objects[count].len > RK_AAE_OBJECT_BYTES_MAX) {
            rk_store_buf_free(&objects[count]);
            break;
        }
        bytes += objects[count].len;
        out[count] = (rk_msg_bytes){.len = objects[count].len, .data = objects[count].data};
    }
    resp->values = m->values;
    resp->value_count = count;
    resp->objects = out;
    resp->object_count = count;
    node_send(n, from, resp);
    for (uint32_t i = 0; i < count; i++) {
        rk_store_buf_free(&objects[i]);
    }
}

static void aae_serve(rk_node *n, rk_node_id from, const rk_msg *m)
{
    rk_aae *a = &n->aae;
    rk_msg resp = {.kind = RK_MSG_AAE_RESP,
                   .req_id = m->req_id,
                   .partition = m->partition,
                   .level = m->level};
    if (!a->on || m->partition >= a->tree.partition_count) {
        resp.status = a->on ? RK_EINVAL : RK_EUNAVAIL;
        node_send(n, from, &resp);
        return;
    }
    n->stats.aae_requests_served++;
    if (m->level == RK_AAE_REAP_CHECK || m->level == RK_AAE_REAP) {
        aae_reap_serve(n, from, m, &resp);
        return;
    }
    if (m->level == RK_AAE_OBJECTS) {
        aae_serve_objects(n, from, &resp, m);
        return;
    }
    if (!rk_aae_tree_built(&a->tree, m->partition)) {
        resp.status = RK_EBUSY;     /* built soon: the asker tries again on a later round */
        node_send(n, from, &resp);
        return;
    }
    uint64_t hashes[RK_AAE_TREE_BRANCHES * RK_AAE_SEGMENTS_PER_BRANCH_MAX];
    if (m->level == RK_AAE_BRANCHES) {
        rk_aae_tree_branches(&a->tree, m->partition, hashes);
        resp.hashes = hashes;
        resp.hash_count = RK_AAE_TREE_BRANCHES;
        node_send(n, from, &resp);
        return;
    }
    if (m->level == RK_AAE_SEGMENTS) {
        uint32_t per = a->tree.segments_per_branch;
        for (uint32_t i = 0; i < m->index_count && resp.status == 0; i++) {
            if (m->index_count > RK_AAE_TREE_BRANCHES || m->indices[i] >= RK_AAE_TREE_BRANCHES) {
                resp.status = RK_EINVAL;
            } else {
                rk_aae_tree_branch_segments(&a->tree, m->partition, m->indices[i],
                                            hashes + (size_t)i * per);
            }
        }
        resp.hashes = resp.status == 0 ? hashes : NULL;
        resp.hash_count = resp.status == 0 ? m->index_count * per : 0;
        node_send(n, from, &resp);
        return;
    }
    aae_keylist l = {0};
    uint32_t *covered = calloc(a->tree.segment_count, sizeof(*covered));
    uint32_t covered_count = 0;
    uint64_t *key_hashes = NULL;
    rk_msg_bytes *keys = NULL;
    int rc = covered == NULL ? RK_ENOMEM : aae_serve_keys(n, m, &l, covered, &covered_count);
    if (rc == 0 && l.count > 0) {
        key_hashes = malloc(l.count * sizeof(*key_hashes));
        keys = malloc(l.count * sizeof(*keys));
        rc = key_hashes == NULL || keys == NULL ? RK_ENOMEM : 0;
    }
    for (uint32_t i = 0; rc == 0 && i < l.count; i++) {
        key_hashes[i] = l.keys[i].hash;
        keys[i] = (rk_msg_bytes){.len = l.keys[i].len - RK_SKEY_PREFIX_BYTES,
                                 .data = l.keys[i].skey + RK_SKEY_PREFIX_BYTES};
    }
    resp.status = rc;
    if (rc == 0) {
        resp.indices = covered;
        resp.index_count = covered_count;
        resp.values = keys;
        resp.value_count = l.count;
        resp.hashes = key_hashes;
        resp.hash_count = l.count;
    }
    node_send(n, from, &resp);
    free(covered);
    free(key_hashes);
    free(keys);
    aae_keys_free(&l);
}

/* ---- the requester: from segments to keys ---------------------------------------------------- */

static void aae_diffs_free(aae_diff *d, uint32_t count)
{
    for (uint32_t i = 0; d != NULL && i < count; i++) {
        free(d[i].skey);
    }
    free(d);
}

void aae_exchange_reset(rk_aae *a)
{
    aae_diffs_free(a->diffs, a->diff_count);
    aae_diffs_free(a->confirmed, a->confirmed_count);
    a->diffs = NULL;
    a->confirmed = NULL;
    a->diff_count = 0;
    a->confirmed_count = 0;
    a->confirmed_cursor = 0;
    a->state = RK_AAE_IDLE;
}

static int aae_diff_push(aae_diff **d, uint32_t *count, const aae_key *k, uint64_t mine,
                         uint64_t theirs)
{
    /* The capacity is the next power of two: grow when the count reaches one. */
    if ((*count & (*count - 1)) == 0) {
        aae_diff *grown = realloc(*d, (*count == 0 ? 1 : *count * 2) * sizeof(**d));
        if (grown == NULL) {
            return RK_ENOMEM;
        }
        *d = grown;
    }
    aae_diff *grown = *d;
    uint8_t *skey = malloc(k->len);
    if (skey == NULL) {
        return RK_ENOMEM;
    }
    memcpy(skey, k->skey, k->len);
    grown[(*count)++] = (aae_diff){.skey = skey, .skey_len = k->len, .mine = mine,
                                   .theirs = theirs};
    return 0;
}

/* Walk both sorted lists; every key whose hashes differ goes into *out (sorted). */
static int aae_diff_lists(const aae_keylist *mine, const aae_keylist *theirs, aae_diff **out,
                          uint32_t *out_count)
{
    uint32_t i = 0;
    uint32_t j = 0;
    int rc = 0;
    while (rc == 0 && (i < mine->count || j < theirs->count)) {
        const aae_key *a = i < mine->count ? &mine->keys[i] : NULL;
        const aae_key *b = j < theirs->count ? &theirs->keys[j] : NULL;
        int c = a == NULL ? 1 : b == NULL ? -1 : aae_skey_cmp(a->skey, a->len, b->skey, b->len);
        if (c < 0) {
            rc = aae_diff_push(out, out_count, a, a->hash, 0);
            i++;
        } else if (c > 0) {
            rc = aae_diff_push(out, out_count, b, 0, b->hash);
            j++;
        } else {
            if (a->hash != b->hash) {
                rc = aae_diff_push(out, out_count, a, a->hash, b->hash);
            }
            i++;
            j++;
        }
    }
    return rc;
}

/* The keys of the segments the peer answered for, here and there, and how they differ. */
static int aae_keys_compare(rk_node *n, const rk_msg *m, aae_diff **out, uint32_t *out_count)
{
    rk_aae *a = &n->aae;
    if (m->hash_count != m->value_count) {
        return RK_ECORRUPT;
    }
    memset(a->marks, 0, a->tree.segment_count);
    for (uint32_t i = 0; i < m->index_count; i++) {
        if (m->indices[i] >= a->tree.segment_count) {
            return RK_ECORRUPT;
        }
        a->marks[m->indices[i]] = 1;
    }
    aae_keylist mine = {.tree = &a->tree};
    aae_keylist theirs = {.tree = &a->tree};
    int rc = rk_aae_tree_scan(&a->tree, n->env->store, a->partition, a->marks, aae_keys_add,
                              &mine, NULL);
    rc = rc != 0 ? rc : mine.error;
    for (uint32_t i = 0; rc == 0 && i < m->value_count; i++) {
        rk_local_key k;
        if (rk_local_key_init(&n->local, m->values[i].data, m->values[i].len, &k) != 0 ||
            k.partition != a->partition ||
            !a->marks[rk_aae_tree_segment_of(&a->tree, k.skey, k.skey_len)]) {
            continue;   /* not one of this partition's asked segments: a confused peer */
        }
        rc = aae_keys_add(&theirs, k.skey, k.skey_len, m->hashes[i]);
    }
    if (rc == 0) {
        aae_keys_seal(&mine, true);
        aae_keys_seal(&theirs, true);
        rc = aae_diff_lists(&mine, &theirs, out, out_count);
    }
    aae_keys_free(&mine);
    aae_keys_free(&theirs);
    return rc;
}

static int aae_diff_cmp(const aae_diff *a, const aae_diff *b)
{
    return aae_skey_cmp(a->skey, a->skey_len, b->skey, b->skey_len);
}

/* Keep the keys of the first look that differ the same way in the second. */
static int aae_confirm(rk_node *n, const aae_diff *second, uint32_t second_count)
{
    rk_aae *a = &n->aae;
    uint32_t j = 0;
    for (uint32_t i = 0; i < a->diff_count; i++) {
        const aae_diff *d = &a->diffs[i];
        while (j < second_count && aae_diff_cmp(&second[j], d) < 0) {
            j++;
        }
        if (j < second_count && aae_diff_cmp(&second[j], d) == 0 && second[j].mine == d->mine &&
            second[j].theirs == d->theirs) {
            aae_key k = {.skey = d->skey, .len = d->skey_len};
            int rc = aae_diff_push(&a->confirmed, &a->confirmed_count, &k, d->mine, d->theirs);
            if (rc != 0) {
                return rc;
            }
        } else {
            n->stats.aae_keys_unconfirmed++;
        }
    }
    return 0;
}

void aae_confirm_send(rk_node *n)
{
    rk_aae *a = &n->aae;
    memset(a->marks, 0, a->tree.segment_count);
    uint32_t *segments = malloc(a->diff_count * sizeof(*segments));
    if (segments == NULL) {
        aae_exchange_done(n, true);
        return;
    }
    uint32_t count = 0;
    for (uint32_t i = 0; i < a->diff_count; i++) {
        uint32_t s = rk_aae_tree_segment_of(&a->tree, a->diffs[i].skey, a->diffs[i].skey_len);
        if (!a->marks[s]) {
            a->marks[s] = 1;
            segments[count++] = s;
        }
    }
    a->state = RK_AAE_WAIT_CONFIRM;
    aae_send_req(n, RK_AAE_KEYS, segments, count, NULL, 0);
    free(segments);
}

/* Ask for the objects of the next confirmed keys. */
static void aae_objects_send(rk_node *n)
{
    rk_aae *a = &n->aae;
    rk_msg_bytes keys[RK_AAE_OBJECTS_PER_REQ];
    uint32_t count = 0;
    for (uint32_t i = a->confirmed_cursor;
         i < a->confirmed_count && count < RK_AAE_OBJECTS_PER_REQ; i++) {
        const aae_diff *d = &a->confirmed[i];
        keys[count++] = (rk_msg_bytes){.len = d->skey_len - RK_SKEY_PREFIX_BYTES,
                                       .data = d->skey + RK_SKEY_PREFIX_BYTES};
    }
    a->state = RK_AAE_WAIT_OBJECTS;
    aae_send_req(n, RK_AAE_OBJECTS, NULL, 0, keys, count);
}

static void aae_on_keys(rk_node *n, const rk_msg *m, bool confirming)
{
    rk_aae *a = &n->aae;
    aae_diff *diffs = NULL;
    uint32_t count = 0;
    int rc = aae_keys_compare(n, m, &diffs, &count);
    if (rc == 0 && !confirming) {
        a->diffs = diffs;
        a->diff_count = count;
        if (count == 0) {
            aae_exchange_done(n, false);
            return;
        }
        a->state = RK_AAE_CONFIRM_PAUSE;
        a->deadline_ms = node_now_ms(n) + RK_AAE_CONFIRM_MS;
        return;
    }
    if (rc == 0) {
        rc = aae_confirm(n, diffs, count);
    }
    aae_diffs_free(diffs, count);
    if (rc != 0 || a->confirmed_count == 0) {
        aae_exchange_done(n, rc != 0);
        return;
    }
    aae_objects_send(n);
}

/* ---- repair ---------------------------------------------------------------------------------- */

/* The read-repair merge of one key: the peer's object into this node's, and this node's merged
 * object back to the peer when it holds something the peer's lacks. */
static void aae_repair_key(rk_node *n, const rk_msg_bytes *key, const rk_msg_bytes *object)
{
    rk_aae *a = &n->aae;
    rk_local_key k;
    if (rk_local_key_init(&n->local, key->data, key->len, &k) != 0 ||
        !node_is_primary(n, &k) || !node_key_primary(n, &k, a->peer)) {
        return;     /* a key of a bucket whose n leaves one of the two out */
    }
    rk_buf mine;
    bool damaged = false;
    if (rk_local_read_checked(&n->local, &k, &mine, &damaged) != 0) {
        return;
    }
    /* An expired tombstone meets nothing: it is being reaped (aae_reap.c). Copying it either
     * way would bring back what the reap removed. A damaged copy is not nothing: it is
     * repaired (it would answer "different" to every reap check). */
    bool skip = (mine.len == 0 && !damaged &&
                 aae_tombstone_expired(n, object->data, object->len)) ||
                (object->len == 0 && aae_tombstone_expired(n, mine.data, mine.len));
    rk_store_buf_free(&mine);
    if (skip) {
        return;
    }
    const rk_bucket_props *props = rk_bucket_lookup(&n->buckets, k.key, k.key_len);
    if (object->len > 0) {
        rk_dvvset incoming;
        if (rk_dvvset_decode_view(object->data, object->len, &incoming) != 0) {
            return;
        }
        int rc = rk_replica_merge(n, &k, &incoming, object->data, object->len, props->policy, 0,
                                  NULL);
        rk_dvvset_deinit(&incoming);
        if (rc != 0) {
            return;
        }
    }
    if (rk_local_read_raw(&n->local, &k, &mine) != 0) {
        return;
    }
    bool differs = mine.len > 0 &&
                   (mine.len != object->len || memcmp(mine.data, object->data, mine.len) != 0);
    if (differs && rk_local_set_count(&n->local, &k) >= RK_SET_STREAM_MEMBERS_MIN) {
        (void)rk_coord_send_whole_set(n, a->peer, &k, 0, RK_MSG_PUT_REPAIR, 0);
    } else if (differs) {
        rk_msg put = {.kind = RK_MSG_PUT_REQ,
                      .flags = RK_MSG_PUT_REPAIR,
                      .key = k.key,
                      .key_len = k.key_len,
                      .object = mine.data,
                      .object_len = mine.len};
        node_send(n, a->peer, &put);
    }
    rk_store_buf_free(&mine);
    a->repaired++;
    n->stats.aae_keys_repaired++;
}

static void aae_on_objects(rk_node *n, const rk_msg *m)
{
    rk_aae *a = &n->aae;
    uint32_t left = a->confirmed_count - a->confirmed_cursor;
    if (m->value_count == 0 || m->value_count > left || m->object_count != m->value_count) {
        aae_exchange_done(n, true);
        return;
    }
    for (uint32_t i = 0; i < m->value_count; i++) {
        const aae_diff *d = &a->confirmed[a->confirmed_cursor + i];
        if (m->values[i].len != d->skey_len - RK_SKEY_PREFIX_BYTES ||
            (m->values[i].len > 0 && memcmp(m->values[i].data, d->skey + RK_SKEY_PREFIX_BYTES,
                                            m->values[i].len) != 0)) {
            aae_exchange_done(n, true);     /* not the keys asked for */
            return;
        }
        aae_repair_key(n, &m->values[i], &m->objects[i]);
    }
    /* Repairs wait for no one; ask for their sync so they are not left to the next client
     * write. */
    n->env->sync(n->env->ctx, n->local.written_seq);
    a->confirmed_cursor += m->value_count;
    if (a->confirmed_cursor < a->confirmed_count) {
        aae_objects_send(n);
    } else {
        aae_exchange_done(n, false);
    }
}

/* ---- dispatch -------------------------------------------------------------------------------- */

/* The differing branches' segments that differ too. */
static void aae_on_segments(rk_node *n, const rk_msg *m, const uint32_t *branches,
                            uint32_t branch_count)
{
    rk_aae *a = &n->aae;
    uint32_t per = a->tree.segments_per_branch;
    if (m->hash_count != branch_count * per) {
        aae_exchange_done(n, true);
        return;
    }
    uint32_t segments[RK_AAE_TREE_BRANCHES * RK_AAE_SEGMENTS_PER_BRANCH_MAX];
    uint64_t mine[RK_AAE_SEGMENTS_PER_BRANCH_MAX];
    uint32_t count = 0;
    for (uint32_t b = 0; b < branch_count; b++) {
        rk_aae_tree_branch_segments(&a->tree, a->partition, branches[b], mine);
        for (uint32_t i = 0; i < per; i++) {
            if (mine[i] != m->hashes[b * per + i]) {
                segments[count++] = branches[b] * per + i;
            }
        }
    }
    if (count == 0) {
        aae_exchange_done(n, false);    /* the branches agree again: writes landed meanwhile */
        return;
    }
    a->state = RK_AAE_WAIT_KEYS;
    aae_send_req(n, RK_AAE_KEYS, segments, count, NULL, 0);
}

static void aae_on_branches(rk_node *n, const rk_msg *m)
{
    rk_aae *a = &n->aae;
    if (m->hash_count != RK_AAE_TREE_BRANCHES) {
        aae_exchange_done(n, true);
        return;
    }
    uint64_t mine[RK_AAE_TREE_BRANCHES];
    rk_aae_tree_branches(&a->tree, a->partition, mine);
    uint32_t branches[RK_AAE_TREE_BRANCHES];
    uint32_t count = 0;
    for (uint32_t b = 0; b < RK_AAE_TREE_BRANCHES; b++) {
        if (mine[b] != m->hashes[b]) {
            branches[count++] = b;
        }
    }
    if (count == 0) {
        aae_exchange_done(n, false);
        return;
    }
    /* Remember which branches were asked: the answer lists their segments in this order. */
    memset(a->marks, 0, a->tree.segment_count);
    for (uint32_t i = 0; i < count; i++) {
        a->marks[branches[i]] = 1;
    }
    a->state = RK_AAE_WAIT_SEGMENTS;
    aae_send_req(n, RK_AAE_SEGMENTS, branches, count, NULL, 0);
}

static void aae_on_resp(rk_node *n, rk_node_id from, const rk_msg *m)
{
    rk_aae *a = &n->aae;
    if (m->level == RK_AAE_REAP_CHECK || m->level == RK_AAE_REAP) {
        aae_reap_on_resp(n, from, m);
        return;
    }
    if (a->state == RK_AAE_IDLE || a->state == RK_AAE_CONFIRM_PAUSE || from != a->peer ||
        m->req_id != a->req_id || m->partition != a->partition) {
        return;     /* late, duplicated or not ours */
    }
    if (m->status != 0 || !rk_aae_tree_built(&a->tree, a->partition)) {
        aae_exchange_done(n, true);     /* the peer's tree is not built, or ours was dropped */
        return;
    }
    switch (a->state) {
    case RK_AAE_WAIT_BRANCHES:
        if (m->level == RK_AAE_BRANCHES) {
            aae_on_branches(n, m);
        }
        return;
    case RK_AAE_WAIT_SEGMENTS:
        if (m->level == RK_AAE_SEGMENTS) {
            uint32_t branches[RK_AAE_TREE_BRANCHES];
            uint32_t count = 0;
            for (uint32_t b = 0; b < RK_AAE_TREE_BRANCHES; b++) {
                if (a->marks[b]) {
                    branches[count++] = b;
                }
            }
            aae_on_segments(n, m, branches, count);
        }
        return;
    case RK_AAE_WAIT_KEYS:
    case RK_AAE_WAIT_CONFIRM:
        if (m->level == RK_AAE_KEYS) {
            aae_on_keys(n, m, a->state == RK_AAE_WAIT_CONFIRM);
        }
        return;
    case RK_AAE_WAIT_OBJECTS:
        if (m->level == RK_AAE_OBJECTS) {
            aae_on_objects(n, m);
        }
        return;
    case RK_AAE_IDLE:
    case RK_AAE_CONFIRM_PAUSE:
        return;
    }
}

void rk_aae_on_message(rk_node *n, rk_node_id from, const rk_msg *m)
{
    if (m->kind == RK_MSG_AAE_REQ) {
        aae_serve(n, from, m);
    } else {
        aae_on_resp(n, from, m);
    }
}
