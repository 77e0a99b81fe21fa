/* cluster.c — the cluster metadata: bootstrap, merge, staging, commit, the transfer units of a
 * plan, and the flip to the plan's ring (cluster.h). The byte format is cluster_codec.c's. */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

static int cluster_member_index(const rk_cluster_meta *m, rk_node_id id)
{
    for (uint32_t i = 0; i < m->member_count; i++) {
        if (m->members[i].addr.id == id) {
            return (int)i;
        }
    }
    return -1;
}

const rk_cmember *rk_cluster_member(const rk_cluster_meta *m, rk_node_id id)
{
    int i = cluster_member_index(m, id);
    return i < 0 ? NULL : &m->members[i];
}

void rk_cluster_ring_zones(const rk_cluster_meta *m, rk_ring *ring)
{
    uint32_t zones[RK_RING_NODES_MAX];
    bool any = false;
    for (uint32_t i = 0; i < ring->member_count; i++) {
        const rk_cmember *cm = rk_cluster_member(m, ring->members[i]);
        const char *zone = cm != NULL ? cm->addr.zone : "";
        zones[i] = (uint32_t)rk_hash_key((const uint8_t *)zone, strlen(zone));
        any = any || zone[0] != '\0';
    }
    rk_ring_set_zones(ring, any ? zones : NULL);
}

void rk_cluster_apply_zones(rk_cluster_meta *m)
{
    rk_cluster_ring_zones(m, &m->ring);
    rk_cluster_ring_zones(m, &m->next);
}

bool rk_cluster_gone(const rk_cluster_meta *m, rk_node_id id)
{
    for (uint32_t i = 0; i < m->gone_count; i++) {
        if (m->gone[i] == id) {
            return true;
        }
    }
    return false;
}

/* Insert `member` keeping the ascending order; the caller checked there is room. */
static void cluster_member_insert(rk_cluster_meta *m, const rk_cmember *member)
{
    RK_ASSERT(m->member_count < RK_MEMBERS_MAX);
    uint32_t at = 0;
    while (at < m->member_count && m->members[at].addr.id < member->addr.id) {
        at++;
    }
    memmove(&m->members[at + 1], &m->members[at],
            (m->member_count - at) * sizeof(m->members[0]));
    m->members[at] = *member;
    m->member_count++;
}

static void cluster_member_drop(rk_cluster_meta *m, uint32_t index)
{
    memmove(&m->members[index], &m->members[index + 1],
            (m->member_count - index - 1) * sizeof(m->members[0]));
    m->member_count--;
}

/* Add `id` to the gone set (ascending) and drop it from the members. */
static void cluster_gone_add(rk_cluster_meta *m, rk_node_id id)
{
    int i = cluster_member_index(m, id);
    if (i >= 0) {
        cluster_member_drop(m, (uint32_t)i);
    }
    if (rk_cluster_gone(m, id) || m->gone_count >= RK_CLUSTER_GONE_MAX) {
        return;
    }
    uint32_t at = 0;
    while (at < m->gone_count && m->gone[at] < id) {
        at++;
    }
    memmove(&m->gone[at + 1], &m->gone[at], (m->gone_count - at) * sizeof(m->gone[0]));
    m->gone[at] = id;
    m->gone_count++;
}

uint64_t rk_cluster_id_of(const rk_member_addr *members, uint32_t member_count)
{
    rk_node_id ids[RK_MEMBERS_MAX];
    uint32_t count = 0;
    for (uint32_t i = 0; i < member_count && count < RK_MEMBERS_MAX; i++) {
        uint32_t at = count;
        while (at > 0 && ids[at - 1] > members[i].id) {
            ids[at] = ids[at - 1];
            at--;
        }
        ids[at] = members[i].id;
        count++;
    }
    uint64_t id = rk_hash_key((const uint8_t *)ids, count * sizeof(ids[0]));
    return id == 0 ? 1 : id;
}

int rk_cluster_bootstrap(rk_cluster_meta *m, uint64_t cluster_id, uint32_t partition_count,
                         const rk_member_addr *members, uint32_t member_count, uint32_t target_n)
{
    memset(m, 0, offsetof(rk_cluster_meta, ring));
    m->units = NULL;
    m->done = NULL;
    m->unit_count = 0;
    if (member_count == 0 || member_count > RK_MEMBERS_MAX || cluster_id == 0) {
        return RK_EINVAL;
    }
    m->cluster_id = cluster_id;
    m->version = 1;
    rk_node_id ids[RK_MEMBERS_MAX];
    for (uint32_t i = 0; i < member_count; i++) {
        if (members[i].id == 0 || rk_cluster_member(m, members[i].id) != NULL) {
            return RK_EINVAL;
        }
        rk_cmember cm = {.addr = members[i], .state = RK_CMEMBER_VALID, .stamp = 1};
        cluster_member_insert(m, &cm);
        ids[i] = members[i].id;
    }
    int rc = rk_ring_init(&m->ring, partition_count);
    if (rc == 0) {
        rc = rk_ring_claim(&m->ring, ids, member_count,
                           target_n < member_count ? target_n : member_count);
    }
    if (rc == 0) {
        rc = rk_ring_init(&m->next, partition_count);
    }
    if (rc == 0) {
        rk_cluster_apply_zones(m);
    }
    for (uint32_t i = 0; rc == 0 && i < m->member_count; i++) {
        m->members[i].seen_ring = m->ring.version;
    }
    return rc;
}

void rk_cluster_meta_deinit(rk_cluster_meta *m)
{
    free(m->units);
    free(m->done);
    m->units = NULL;
    m->done = NULL;
    m->unit_count = 0;
}

static size_t cluster_done_bytes(uint32_t unit_count)
{
    return (unit_count + 7u) / 8u;
}

/* Copies of `from`'s units and done bitmap into *units_out, *done_out (NULL when none). */
static int cluster_dup_units(const rk_cluster_meta *from, rk_cluster_unit **units_out,
                             uint8_t **done_out)
{
    *units_out = NULL;
    *done_out = NULL;
    if (from->unit_count == 0) {
        return 0;
    }
    rk_cluster_unit *units = malloc(from->unit_count * sizeof(*units));
    uint8_t *done = malloc(cluster_done_bytes(from->unit_count));
    if (units == NULL || done == NULL) {
        free(units);
        free(done);
        return RK_ENOMEM;
    }
    memcpy(units, from->units, from->unit_count * sizeof(*units));
    memcpy(done, from->done, cluster_done_bytes(from->unit_count));
    *units_out = units;
    *done_out = done;
    return 0;
}

int rk_cluster_meta_copy(rk_cluster_meta *to, const rk_cluster_meta *from)
{
    rk_cluster_unit *units = NULL;
    uint8_t *done = NULL;
    int rc = cluster_dup_units(from, &units, &done);
    if (rc != 0) {
        return rc;
    }
    rk_cluster_meta_deinit(to);
    memcpy(to, from, sizeof(*to));
    to->units = units;
    to->done = done;
    return 0;
}

/* ---- merge ---------------------------------------------------------------------------------- */

/* Whether member a's entry beats b's (same id). */
static bool cluster_member_newer(const rk_cmember *a, const rk_cmember *b)
{
    if (a->stamp != b->stamp) {
        return a->stamp > b->stamp;
    }
    if (a->state != b->state) {
        return a->state > b->state;
    }
    return memcmp(&a->addr, &b->addr, sizeof(a->addr)) > 0;
}

static int cluster_plan_cmp(const rk_cluster_meta *a, const rk_cluster_meta *b)
{
    if (a->plan != b->plan) {
        return a->plan > b->plan ? 1 : -1;
    }
    /* Within one plan, flipped (not moving) is later. */
    if (a->moving != b->moving) {
        return a->moving ? -1 : 1;
    }
    if (a->plan_origin != b->plan_origin) {
        return a->plan_origin > b->plan_origin ? 1 : -1;
    }
    if (a->ring.version != b->ring.version) {
        return a->ring.version > b->ring.version ? 1 : -1;
    }
    return 0;
}

static int cluster_take_plan(rk_cluster_meta *m, const rk_cluster_meta *other)
{
    rk_cluster_unit *units = NULL;
    uint8_t *done = NULL;
    if (other->moving) {
        int rc = cluster_dup_units(other, &units, &done);
        if (rc != 0) {
            return rc;
        }
    }
    rk_cluster_meta_deinit(m);
    m->plan = other->plan;
    m->plan_origin = other->plan_origin;
    m->moving = other->moving;
    m->plan_n = other->plan_n;
    m->ring = other->ring;
    m->next = other->next;
    m->units = units;
    m->done = done;
    m->unit_count = other->moving ? other->unit_count : 0;
    return 0;
}

int rk_cluster_merge(rk_cluster_meta *m, const rk_cluster_meta *other)
{
    if (m->cluster_id != other->cluster_id ||
        m->ring.partition_count != other->ring.partition_count) {
        return RK_EINVAL;
    }
    bool changed = false;
    if (other->version > m->version) {
        m->version = other->version;
        changed = true;
    }
    for (uint32_t i = 0; i < other->gone_count; i++) {
        if (!rk_cluster_gone(m, other->gone[i])) {
            cluster_gone_add(m, other->gone[i]);
            changed = true;
        }
    }
    for (uint32_t i = 0; i < other->member_count; i++) {
        const rk_cmember *theirs = &other->members[i];
        if (rk_cluster_gone(m, theirs->addr.id)) {
            continue;
        }
        int at = cluster_member_index(m, theirs->addr.id);
        if (at < 0) {
            if (m->member_count < RK_MEMBERS_MAX) {
                cluster_member_insert(m, theirs);
                changed = true;
            }
            continue;
        }
        rk_cmember *mine = &m->members[at];
        uint64_t seen = mine->seen_ring > theirs->seen_ring ? mine->seen_ring : theirs->seen_ring;
        if (cluster_member_newer(theirs, mine)) {
            *mine = *theirs;
            changed = true;
        }
        if (mine->seen_ring != seen) {
            mine->seen_ring = seen;
            changed = true;
        }
    }
    if (other->staged_version > m->staged_version ||
        (other->staged_version == m->staged_version && other->staged_origin > m->staged_origin)) {
        m->staged_version = other->staged_version;
        m->staged_origin = other->staged_origin;
        m->staged_count = other->staged_count;
        memcpy(m->staged, other->staged, other->staged_count * sizeof(m->staged[0]));
        changed = true;
    }
    int cmp = cluster_plan_cmp(other, m);
    if (cmp > 0) {
        int rc = cluster_take_plan(m, other);
        if (rc != 0) {
            return rc;
        }
        changed = true;
    } else if (cmp == 0 && m->moving && m->unit_count == other->unit_count) {
        for (size_t b = 0; b < cluster_done_bytes(m->unit_count); b++) {
            uint8_t merged = m->done[b] | other->done[b];
            if (merged != m->done[b]) {
                m->done[b] = merged;
                changed = true;
            }
        }
    }
    rk_cluster_apply_zones(m);
    return changed ? 1 : 0;
}

bool rk_cluster_saw(rk_cluster_meta *m, rk_node_id id, uint64_t ring_version)
{
    int i = cluster_member_index(m, id);
    if (i < 0 || m->members[i].seen_ring >= ring_version) {
        return false;
    }
    m->members[i].seen_ring = ring_version;
    return true;
}

/* ---- staging -------------------------------------------------------------------------------- */

static int cluster_staged_index(const rk_cluster_meta *m, rk_node_id id)
{
    for (uint32_t i = 0; i < m->staged_count; i++) {
        if (m->staged[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

/* A change to the staged list: it takes the next version, from `by`. */
static void cluster_staged_touch(rk_cluster_meta *m, rk_node_id by)
{
    m->version++;
    m->staged_version = m->version;
    m->staged_origin = by;
}

int rk_cluster_stage_join(rk_cluster_meta *m, rk_node_id by, const rk_member_addr *addr,
                          char *message, size_t message_bytes)
{
    if (addr->id == 0) {
        snprintf(message, message_bytes, "node id 0 is not valid");
        return RK_EINVAL;
    }
    if (memchr(addr->host, 0, sizeof(addr->host)) == NULL) {
        snprintf(message, message_bytes, "host is longer than %u bytes", RK_MEMBER_HOST_BYTES_MAX);
        return RK_EINVAL;
    }
    if (rk_cluster_member(m, addr->id) != NULL) {
        snprintf(message, message_bytes, "node id %u is in use in this cluster", addr->id);
        return RK_EINVAL;
    }
    if (rk_cluster_gone(m, addr->id)) {
        snprintf(message, message_bytes,
                 "node id %u was used in this cluster before; give the node a new id", addr->id);
        return RK_EINVAL;
    }
    if (m->member_count >= RK_MEMBERS_MAX || m->staged_count >= RK_CLUSTER_STAGED_MAX) {
        snprintf(message, message_bytes, "the cluster has %u members, the most it can have",
                 m->member_count);
        return RK_ETOOBIG;
    }
    cluster_staged_touch(m, by);
    rk_cmember cm = {.addr = *addr, .state = RK_CMEMBER_JOINING, .stamp = m->version};
    cluster_member_insert(m, &cm);
    m->staged[m->staged_count++] = (rk_cstaged){.id = addr->id, .action = RK_CSTAGE_JOIN};
    return 0;
}

int rk_cluster_stage_leave(rk_cluster_meta *m, rk_node_id by, rk_node_id id, bool force,
                           char *message, size_t message_bytes)
{
    const rk_cmember *cm = rk_cluster_member(m, id);
    if (cm == NULL) {
        snprintf(message, message_bytes, "node %u is not a member of this cluster", id);
        return RK_ENOTFOUND;
    }
    if (cm->state == RK_CMEMBER_LEAVING && !force) {
        snprintf(message, message_bytes, "node %u is already leaving", id);
        return RK_EINVAL;
    }
    int at = cluster_staged_index(m, id);
    if (at >= 0 && m->staged[at].action == RK_CSTAGE_JOIN) {
        snprintf(message, message_bytes,
                 "node %u is staged to join; 'cluster clear' drops the staged join", id);
        return RK_EINVAL;
    }
    if (at < 0 && m->staged_count >= RK_CLUSTER_STAGED_MAX) {
        snprintf(message, message_bytes, "%u changes are staged; the most is %u", m->staged_count,
                 RK_CLUSTER_STAGED_MAX);
        return RK_ETOOBIG;
    }
    uint32_t staying = 0;
    for (uint32_t i = 0; i < m->member_count; i++) {
        const rk_cmember *other = &m->members[i];
        int s = cluster_staged_index(m, other->addr.id);
        bool going = other->addr.id == id || other->state == RK_CMEMBER_LEAVING ||
                     (s >= 0 && m->staged[s].action != RK_CSTAGE_JOIN);
        staying += going ? 0u : 1u;
    }
    if (staying == 0) {
        snprintf(message, message_bytes, "node %u is the last member; a cluster keeps one", id);
        return RK_EINVAL;
    }
    cluster_staged_touch(m, by);
    rk_cstaged s = {.id = id, .action = force ? RK_CSTAGE_REMOVE : RK_CSTAGE_LEAVE};
    if (at >= 0) {
        m->staged[at] = s;
    } else {
        m->staged[m->staged_count++] = s;
    }
    return 0;
}

void rk_cluster_stage_clear(rk_cluster_meta *m, rk_node_id by)
{
    for (uint32_t i = 0; i < m->staged_count; i++) {
        if (m->staged[i].action == RK_CSTAGE_JOIN) {
            cluster_gone_add(m, m->staged[i].id);
        }
    }
    cluster_staged_touch(m, by);
    m->staged_count = 0;
}

/* ---- plans ---------------------------------------------------------------------------------- */

int rk_cluster_plan_ring(const rk_cluster_meta *m, uint32_t n_max, rk_ring *next,
                         uint32_t *plan_n_out)
{
    rk_node_id ids[RK_MEMBERS_MAX];
    uint32_t count = 0;
    for (uint32_t i = 0; i < m->member_count; i++) {
        const rk_cmember *cm = &m->members[i];
        int s = cluster_staged_index(m, cm->addr.id);
        bool in_ring = rk_ring_owned_count(&m->ring, cm->addr.id) > 0;
        if (s >= 0) {
            in_ring = m->staged[s].action == RK_CSTAGE_JOIN;
        } else if (cm->state == RK_CMEMBER_LEAVING) {
            in_ring = false;
        }
        if (in_ring) {
            ids[count++] = cm->addr.id;
        }
    }
    if (count == 0) {
        return RK_EINVAL;
    }
    /* Units are computed for the largest n in use; each preference list is capped at its
     * ring's member count where they are computed. */
    *plan_n_out = n_max == 0 ? 1 : n_max;
    uint32_t target_n = n_max < count ? n_max : count;
    int rc = rk_ring_rebalance(&m->ring, ids, count, target_n == 0 ? 1 : target_n, next, NULL);
    if (rc == 0) {
        rk_cluster_ring_zones(m, next);
    }
    return rc;
}

/* Where `id` stands in `list` (count entries), or count when absent. */
static uint32_t cluster_list_index(const rk_node_id *list, uint32_t count, rk_node_id id)
{
    for (uint32_t i = 0; i < count; i++) {
        if (list[i] == id) {
            return i;
        }
    }
    return count;
}

int rk_cluster_units_of(const rk_cluster_meta *m, const rk_ring *next, uint32_t plan_n,
                        rk_cluster_unit **units_out)
{
    *units_out = NULL;
    uint32_t q = m->ring.partition_count;
    uint32_t cap = 0;
    rk_cluster_unit *units = NULL;
    uint32_t count = 0;
    for (uint32_t p = 0; p < q; p++) {
        rk_node_id before[RK_N_MAX];
        rk_node_id after[RK_N_MAX];
        uint32_t before_primaries = 0;
        uint32_t after_primaries = 0;
        uint32_t nb = plan_n < m->ring.member_count ? plan_n : m->ring.member_count;
        uint32_t na = plan_n < next->member_count ? plan_n : next->member_count;
        int rc = rk_ring_preflist(&m->ring, p, nb, before, RK_N_MAX, &before_primaries);
        if (rc < 0) {
            free(units);
            return rc;
        }
        rc = rk_ring_preflist(next, p, na, after, RK_N_MAX, &after_primaries);
        if (rc < 0) {
            free(units);
            return rc;
        }
        for (uint32_t i = 0; i < after_primaries; i++) {
            uint32_t was = cluster_list_index(before, before_primaries, after[i]);
            if (was <= i) {
                continue; /* it held every key of the partition it holds now */
            }
            if (count == cap) {
                cap = cap == 0 ? 64 : cap * 2;
                rk_cluster_unit *grown = realloc(units, cap * sizeof(*units));
                if (grown == NULL) {
                    free(units);
                    return RK_ENOMEM;
                }
                units = grown;
            }
            rk_cluster_unit *u = &units[count++];
            memset(u, 0, sizeof(*u));
            u->partition = p;
            u->receiver = after[i];
            for (uint32_t j = 0; j < before_primaries; j++) {
                if (!rk_cluster_gone(m, before[j]) && before[j] != after[i]) {
                    u->sources[u->source_count++] = before[j];
                }
            }
        }
    }
    *units_out = units;
    return (int)count;
}

/* Install the plan's units with nothing done (m->next and plan_n set). */
static int cluster_install_units(rk_cluster_meta *m)
{
    rk_cluster_unit *units = NULL;
    int count = rk_cluster_units_of(m, &m->next, m->plan_n, &units);
    if (count < 0) {
        return count;
    }
    uint8_t *done = count > 0 ? calloc(cluster_done_bytes((uint32_t)count), 1) : NULL;
    if (count > 0 && done == NULL) {
        free(units);
        return RK_ENOMEM;
    }
    rk_cluster_meta_deinit(m);
    m->units = units;
    m->done = done;
    m->unit_count = (uint32_t)count;
    return 0;
}

int rk_cluster_install_units(rk_cluster_meta *m)
{
    return m->moving ? cluster_install_units(m) : 0;
}

int rk_cluster_commit(rk_cluster_meta *m, rk_node_id by, uint32_t n_max, char *message,
                      size_t message_bytes)
{
    if (rk_cluster_moving_message(m, message, message_bytes)) {
        return RK_EBUSY;
    }
    if (m->staged_count == 0) {
        snprintf(message, message_bytes, "no changes staged");
        return RK_EINVAL;
    }
    if (n_max > RK_N_MAX) {
        /* plan_n is a u8 the decoder takes up to RK_N_MAX: refuse before anything changes. */
        snprintf(message, message_bytes, "n is %u; the most is %u", n_max, RK_N_MAX);
        return RK_EINVAL;
    }
    rk_ring *next = malloc(sizeof(*next));
    if (next == NULL) {
        return RK_ENOMEM;
    }
    uint32_t plan_n = 0;
    int rc = rk_cluster_plan_ring(m, n_max, next, &plan_n);
    if (rc != 0) {
        free(next);
        snprintf(message, message_bytes, "cannot compute the plan's ring: %s", rk_strerror(rc));
        return rc;
    }
    m->version++;
    for (uint32_t i = 0; i < m->staged_count; i++) {
        const rk_cstaged *s = &m->staged[i];
        int at = cluster_member_index(m, s->id);
        if (s->action == RK_CSTAGE_REMOVE) {
            cluster_gone_add(m, s->id);
        } else if (s->action == RK_CSTAGE_LEAVE && at >= 0) {
            m->members[at].state = RK_CMEMBER_LEAVING;
            m->members[at].stamp = m->version;
        }
    }
    m->staged_count = 0;
    m->staged_version = m->version;
    m->staged_origin = by;
    m->plan++;
    m->plan_origin = by;
    m->plan_n = (uint8_t)plan_n;
    m->next = *next;
    free(next);
    m->moving = true;
    rc = cluster_install_units(m);
    if (rc != 0) {
        return rc;
    }
    rk_cluster_flip(m); /* a plan that moves nothing is done at once */
    return 0;
}

bool rk_cluster_moving_message(const rk_cluster_meta *m, char *message, size_t message_bytes)
{
    if (!m->moving) {
        return false;
    }
    snprintf(message, message_bytes, "transfers of plan %llu running: %u of %u partitions left",
             (unsigned long long)m->plan, rk_cluster_units_left(m), m->unit_count);
    return true;
}

uint32_t rk_cluster_units_left(const rk_cluster_meta *m)
{
    uint32_t left = 0;
    for (uint32_t i = 0; m->moving && i < m->unit_count; i++) {
        left += rk_cluster_unit_is_done(m, i) ? 0u : 1u;
    }
    return left;
}

bool rk_cluster_unit_is_done(const rk_cluster_meta *m, uint32_t index)
{
    RK_ASSERT(index < m->unit_count);
    return (m->done[index / 8u] >> (index % 8u)) & 1u;
}

bool rk_cluster_unit_done(rk_cluster_meta *m, uint32_t index)
{
    if (!m->moving || index >= m->unit_count || rk_cluster_unit_is_done(m, index)) {
        return false;
    }
    m->done[index / 8u] |= (uint8_t)(1u << (index % 8u));
    return true;
}

bool rk_cluster_flip(rk_cluster_meta *m)
{
    if (!m->moving || rk_cluster_units_left(m) > 0) {
        return false;
    }
    m->version++;
    m->ring = m->next;
    m->moving = false;
    rk_cluster_meta_deinit(m);
    for (uint32_t i = 0; i < m->member_count; i++) {
        rk_cmember *cm = &m->members[i];
        if (cm->state == RK_CMEMBER_JOINING && rk_ring_owned_count(&m->ring, cm->addr.id) > 0) {
            cm->state = RK_CMEMBER_VALID;
            cm->stamp = m->version;
        }
    }
    return true;
}

void rk_cluster_member_left(rk_cluster_meta *m, rk_node_id id)
{
    if (rk_cluster_member(m, id) == NULL) {
        return;
    }
    m->version++;
    cluster_gone_add(m, id);
}

const char *rk_cmember_state_name(uint8_t state)
{
    switch (state) {
    case RK_CMEMBER_JOINING:
        return "joining";
    case RK_CMEMBER_VALID:
        return "valid";
    case RK_CMEMBER_LEAVING:
        return "leaving";
    }
    return "unknown";
}

const char *rk_cstage_action_name(uint8_t action)
{
    switch (action) {
    case RK_CSTAGE_JOIN:
        return "join";
    case RK_CSTAGE_LEAVE:
        return "leave";
    case RK_CSTAGE_REMOVE:
        return "force-remove";
    }
    return "unknown";
}
