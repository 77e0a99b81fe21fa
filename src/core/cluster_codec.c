/* cluster_codec.c — the byte format of the cluster metadata (cluster.h), on the wire in gossip
 * and on disk in RK_DB_META. Little-endian:
 *
 *   u8 format | u64 cluster_id | u64 version
 *   | u32 members, each: u32 id, u8 state, u64 stamp, u64 seen_ring, u8 host length, host,
 *     u16 client port, u16 cluster port, u8 zone length, zone (ascending id)
 *   | u32 gone, each u32 id (ascending) | u64 staged_version | u32 staged_origin
 *   | u32 staged, each u32 id, u8 action
 *   | u64 plan | u32 plan_origin | u8 moving | u8 plan_n
 *   | u32 length, the serving ring (ring.h's format) | u32 length, the next ring (0 unless moving)
 *   | u32 length, the done bitmap (over the units the decoder derives from the two rings)
 *   | u32 checksum: the low 32 bits of rk_hash_key over every byte before it.
 *
 * Everything from a peer or the disk is validated; a decode never asserts on bytes. */
#include "cluster.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

typedef struct cluster_writer {
    uint8_t *at;
    uint8_t *end;
    bool overflow;
} cluster_writer;

static uint8_t *cluster_take(cluster_writer *w, size_t bytes)
{
    if (w->overflow || (size_t)(w->end - w->at) < bytes) {
        w->overflow = true;
        return NULL;
    }
    uint8_t *at = w->at;
    w->at += bytes;
    return at;
}

static void cluster_put_u8(cluster_writer *w, uint8_t v)
{
    uint8_t *p = cluster_take(w, 1);
    if (p != NULL) {
        *p = v;
    }
}

static void cluster_put_u16(cluster_writer *w, uint16_t v)
{
    uint8_t *p = cluster_take(w, 2);
    if (p != NULL) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}

static void cluster_put_u32(cluster_writer *w, uint32_t v)
{
    uint8_t *p = cluster_take(w, 4);
    if (p != NULL) {
        rk_le32_put(p, v);
    }
}

static void cluster_put_u64(cluster_writer *w, uint64_t v)
{
    uint8_t *p = cluster_take(w, 8);
    if (p != NULL) {
        rk_le64_put(p, v);
    }
}

static void cluster_put_bytes(cluster_writer *w, const void *bytes, size_t len)
{
    uint8_t *p = cluster_take(w, len);
    if (p != NULL && len > 0) {
        memcpy(p, bytes, len);
    }
}

static void cluster_put_ring(cluster_writer *w, const rk_ring *ring)
{
    uint8_t *len_at = cluster_take(w, 4);
    if (len_at == NULL) {
        return;
    }
    int len = rk_ring_encode(ring, w->at, (size_t)(w->end - w->at));
    if (len < 0) {
        w->overflow = true;
        return;
    }
    rk_le32_put(len_at, (uint32_t)len);
    w->at += len;
}

size_t rk_cluster_encoded_bytes(const rk_cluster_meta *m)
{
    size_t ring_bytes = RK_RING_HEADER_BYTES + RK_RING_CHECKSUM_BYTES +
                        4u * RK_RING_NODES_MAX + m->ring.partition_count;
    return 64u + (size_t)m->member_count * (36u + RK_MEMBER_HOST_BYTES_MAX +
                                            RK_MEMBER_ZONE_BYTES_MAX) +
           4u * m->gone_count + 5u * m->staged_count + 2u * (4u + ring_bytes) + 4u +
           (m->unit_count + 7u) / 8u + 4u;
}

int rk_cluster_encode(const rk_cluster_meta *m, uint8_t *out, size_t out_size)
{
    cluster_writer w = {.at = out, .end = out + out_size};
    cluster_put_u8(&w, RK_CLUSTER_FORMAT_V1);
    cluster_put_u64(&w, m->cluster_id);
    cluster_put_u64(&w, m->version);
    cluster_put_u32(&w, m->member_count);
    for (uint32_t i = 0; i < m->member_count; i++) {
        const rk_cmember *cm = &m->members[i];
        size_t host_len = strnlen(cm->addr.host, sizeof(cm->addr.host));
        cluster_put_u32(&w, cm->addr.id);
        cluster_put_u8(&w, cm->state);
        cluster_put_u64(&w, cm->stamp);
        cluster_put_u64(&w, cm->seen_ring);
        cluster_put_u8(&w, (uint8_t)host_len);
        cluster_put_bytes(&w, cm->addr.host, host_len);
        cluster_put_u16(&w, cm->addr.client_port);
        cluster_put_u16(&w, cm->addr.cluster_port);
        size_t zone_len = strnlen(cm->addr.zone, sizeof(cm->addr.zone));
        cluster_put_u8(&w, (uint8_t)zone_len);
        cluster_put_bytes(&w, cm->addr.zone, zone_len);
    }
    cluster_put_u32(&w, m->gone_count);
    for (uint32_t i = 0; i < m->gone_count; i++) {
        cluster_put_u32(&w, m->gone[i]);
    }
    cluster_put_u64(&w, m->staged_version);
    cluster_put_u32(&w, m->staged_origin);
    cluster_put_u32(&w, m->staged_count);
    for (uint32_t i = 0; i < m->staged_count; i++) {
        cluster_put_u32(&w, m->staged[i].id);
        cluster_put_u8(&w, m->staged[i].action);
    }
    cluster_put_u64(&w, m->plan);
    cluster_put_u32(&w, m->plan_origin);
    cluster_put_u8(&w, m->moving ? 1u : 0u);
    cluster_put_u8(&w, m->plan_n);
    cluster_put_ring(&w, &m->ring);
    if (m->moving) {
        cluster_put_ring(&w, &m->next);
        uint32_t done_bytes = (m->unit_count + 7u) / 8u;
        cluster_put_u32(&w, done_bytes);
        cluster_put_bytes(&w, m->done, done_bytes);
    } else {
        cluster_put_u32(&w, 0);
        cluster_put_u32(&w, 0);
    }
    if (w.overflow) {
        return RK_ETOOBIG;
    }
    cluster_put_u32(&w, (uint32_t)rk_hash_key(out, (size_t)(w.at - out)));
    if (w.overflow) {
        return RK_ETOOBIG;
    }
    return (int)(w.at - out);
}

typedef struct cluster_reader {
    const uint8_t *at;
    const uint8_t *end;
    bool bad;
} cluster_reader;

static const uint8_t *cluster_read(cluster_reader *r, size_t bytes)
{
    if (r->bad || (size_t)(r->end - r->at) < bytes) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *at = r->at;
    r->at += bytes;
    return at;
}

static uint8_t cluster_get_u8(cluster_reader *r)
{
    const uint8_t *p = cluster_read(r, 1);
    return p != NULL ? p[0] : 0;
}

static uint16_t cluster_get_u16(cluster_reader *r)
{
    const uint8_t *p = cluster_read(r, 2);
    return p != NULL ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}

static uint32_t cluster_get_u32(cluster_reader *r)
{
    const uint8_t *p = cluster_read(r, 4);
    return p != NULL ? rk_le32_get(p) : 0;
}

static uint64_t cluster_get_u64(cluster_reader *r)
{
    const uint8_t *p = cluster_read(r, 8);
    return p != NULL ? rk_le64_get(p) : 0;
}

static int cluster_get_ring(cluster_reader *r, rk_ring *ring)
{
    uint32_t len = cluster_get_u32(r);
    const uint8_t *bytes = cluster_read(r, len);
    if (bytes == NULL) {
        return RK_ECORRUPT;
    }
    return rk_ring_decode(ring, bytes, len);
}

static int cluster_decode_members(cluster_reader *r, rk_cluster_meta *m)
{
    m->member_count = cluster_get_u32(r);
    if (m->member_count > RK_MEMBERS_MAX) {
        return RK_ECORRUPT;
    }
    for (uint32_t i = 0; i < m->member_count; i++) {
        rk_cmember *cm = &m->members[i];
        memset(cm, 0, sizeof(*cm));
        cm->addr.id = cluster_get_u32(r);
        cm->state = cluster_get_u8(r);
        cm->stamp = cluster_get_u64(r);
        cm->seen_ring = cluster_get_u64(r);
        uint8_t host_len = cluster_get_u8(r);
        if (host_len > RK_MEMBER_HOST_BYTES_MAX) {
            return RK_ECORRUPT;
        }
        const uint8_t *host = cluster_read(r, host_len);
        if (host != NULL) {
            memcpy(cm->addr.host, host, host_len);
        }
        if (memchr(cm->addr.host, 0, host_len) != NULL) {
            return RK_ECORRUPT;
        }
        cm->addr.client_port = cluster_get_u16(r);
        cm->addr.cluster_port = cluster_get_u16(r);
        uint8_t zone_len = cluster_get_u8(r);
        if (zone_len > RK_MEMBER_ZONE_BYTES_MAX) {
            return RK_ECORRUPT;
        }
        const uint8_t *zone = cluster_read(r, zone_len);
        if (zone != NULL) {
            memcpy(cm->addr.zone, zone, zone_len);
        }
        if (memchr(cm->addr.zone, 0, zone_len) != NULL) {
            return RK_ECORRUPT;
        }
        if (cm->addr.id == 0 || cm->state < RK_CMEMBER_JOINING ||
            cm->state > RK_CMEMBER_LEAVING || (i > 0 && m->members[i - 1].addr.id >= cm->addr.id)) {
            return RK_ECORRUPT;
        }
    }
    return r->bad ? RK_ECORRUPT : 0;
}

static int cluster_decode_lists(cluster_reader *r, rk_cluster_meta *m)
{
    m->gone_count = cluster_get_u32(r);
    if (m->gone_count > RK_CLUSTER_GONE_MAX) {
        return RK_ECORRUPT;
    }
    for (uint32_t i = 0; i < m->gone_count; i++) {
        m->gone[i] = cluster_get_u32(r);
        if (i > 0 && m->gone[i - 1] >= m->gone[i]) {
            return RK_ECORRUPT;
        }
    }
    m->staged_version = cluster_get_u64(r);
    m->staged_origin = cluster_get_u32(r);
    m->staged_count = cluster_get_u32(r);
    if (m->staged_count > RK_CLUSTER_STAGED_MAX) {
        return RK_ECORRUPT;
    }
    for (uint32_t i = 0; i < m->staged_count; i++) {
        m->staged[i].id = cluster_get_u32(r);
        m->staged[i].action = cluster_get_u8(r);
        if (m->staged[i].action < RK_CSTAGE_JOIN || m->staged[i].action > RK_CSTAGE_REMOVE) {
            return RK_ECORRUPT;
        }
    }
    return r->bad ? RK_ECORRUPT : 0;
}

/* The plan and the two rings; the units are derived and the done bitmap read over them. */
static int cluster_decode_plan(cluster_reader *r, rk_cluster_meta *m)
{
    m->plan = cluster_get_u64(r);
    m->plan_origin = cluster_get_u32(r);
    uint8_t moving = cluster_get_u8(r);
    m->plan_n = cluster_get_u8(r);
    if (moving > 1 || m->plan_n > RK_N_MAX) {
        return RK_ECORRUPT;
    }
    m->moving = moving == 1;
    int rc = cluster_get_ring(r, &m->ring);
    if (rc != 0) {
        return rc;
    }
    if (m->moving) {
        rc = cluster_get_ring(r, &m->next);
        if (rc != 0 || m->next.partition_count != m->ring.partition_count || m->plan_n == 0) {
            return RK_ECORRUPT;
        }
    } else {
        if (cluster_get_u32(r) != 0) {
            return RK_ECORRUPT;
        }
        (void)rk_ring_init(&m->next, m->ring.partition_count);
    }
    uint32_t done_bytes = cluster_get_u32(r);
    const uint8_t *done = cluster_read(r, done_bytes);
    if (r->bad) {
        return RK_ECORRUPT;
    }
    rk_cluster_apply_zones(m);
    rc = rk_cluster_install_units(m);
    if (rc != 0) {
        return rc;
    }
    if (done_bytes != (m->unit_count + 7u) / 8u) {
        return RK_ECORRUPT;
    }
    if (done_bytes > 0) {
        /* Bits past the last unit stay 0: equal objects are equal bytes. */
        if (m->unit_count % 8u != 0 && (done[done_bytes - 1] >> (m->unit_count % 8u)) != 0) {
            return RK_ECORRUPT;
        }
        memcpy(m->done, done, done_bytes);
    }
    return 0;
}

int rk_cluster_decode(rk_cluster_meta *m, const uint8_t *bytes, size_t len)
{
    memset(m, 0, offsetof(rk_cluster_meta, ring));
    m->units = NULL;
    m->done = NULL;
    m->unit_count = 0;
    if (bytes == NULL || len < 1 + 16 + 4) {
        return RK_ECORRUPT;
    }
    size_t body = len - 4;
    if ((uint32_t)rk_hash_key(bytes, body) != rk_le32_get(bytes + body)) {
        return RK_ECORRUPT;
    }
    cluster_reader r = {.at = bytes, .end = bytes + body};
    if (cluster_get_u8(&r) != RK_CLUSTER_FORMAT_V1) {
        return RK_ECORRUPT;
    }
    m->cluster_id = cluster_get_u64(&r);
    m->version = cluster_get_u64(&r);
    int rc = cluster_decode_members(&r, m);
    if (rc == 0) {
        rc = cluster_decode_lists(&r, m);
    }
    if (rc == 0) {
        rc = cluster_decode_plan(&r, m);
    }
    if (rc == 0 && (r.at != r.end || m->cluster_id == 0)) {
        rc = RK_ECORRUPT;
    }
    if (rc != 0) {
        rk_cluster_meta_deinit(m);
        return rc == RK_ENOMEM ? rc : RK_ECORRUPT;
    }
    return 0;
}
