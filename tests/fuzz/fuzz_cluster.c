/* fuzz_cluster.c — libFuzzer target for the cluster metadata's codec and merge
 * (src/core/cluster_codec.c, cluster.c) on bytes no node would send: whatever a peer's gossip
 * or a damaged RK_DB_META holds must be refused or decoded into an object that encodes again,
 * and merging it with a real cluster's copy must never crash, trip ASan or UBSan, or give an
 * object that does not survive its own codec.
 *
 * Input: [u8 control][bytes]. Control bit 0: raw, the bytes are a whole encoding as they are;
 * otherwise they are the encoding without its checksum, which the harness appends (so
 * mutations reach the members, lists and rings instead of dying at the checksum; the rings
 * carry checksums of their own, hence the second mode). Control bit 1: operations mode, the
 * bytes are up to FUZZ_OPS_MAX pairs [side and kind][argument] applied to copies A (node 1)
 * and B (node 2) of the bootstrap: stage join, leave or force-remove, clear, commit (n 1..8),
 * a unit done, flip, member left or saw, a sync from the other copy; then merge(A, B) and
 * merge(B, A) must be the same bytes, above both (merging either again changes nothing), and
 * every copy survives the codec.
 * Checked: a decoded object encodes (RK_CLUSTER_ENCODED_BYTES_MAX suffice) to exactly the bytes
 * it came from, and those decode again; a refusal is RK_ECORRUPT and leaves no units behind;
 * the fixed bootstrap (members 1, 2, 3; Q = 64; n = 3: the seeds are its descendants) merged
 * with the decoded object and the other way round succeeds or refuses another cluster with
 * RK_EINVAL, and each merge result encodes, decodes to the same bytes, and is unchanged by the
 * same merge again (idempotent). Seeds: tests/fuzz/corpus/fuzz_cluster (a bootstrap, staged
 * changes, a join moving with units done, a leave, a force-remove, a flipped ring). Build and
 * run: scripts/test-all.sh (make fuzz). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/cluster.h"
#include "../../src/core/hash.h"

#define FUZZ_NAME "fuzz_cluster"
#include "fuzz_log.h"

#define FUZZ_Q 64u
#define FUZZ_N 3u
#define FUZZ_OPS_MAX 64u /* operations per input in operations mode: seconds stay short */

static rk_cluster_meta *fuzz_boot;
static uint8_t *fuzz_bytes; /* the input with its checksum, when wrapped */
static uint8_t *fuzz_out;
static uint8_t *fuzz_again;

static void fuzz_init(void)
{
    rk_member_addr addrs[3];
    memset(addrs, 0, sizeof(addrs));
    for (uint32_t i = 0; i < 3; i++) {
        addrs[i].id = i + 1;
        memcpy(addrs[i].host, "127.0.0.1", 10);
        addrs[i].client_port = (uint16_t)(7001 + i);
        addrs[i].cluster_port = (uint16_t)(17001 + i);
    }
    fuzz_boot = calloc(1, sizeof(*fuzz_boot));
    FUZZ_CHECK(fuzz_boot != NULL);
    FUZZ_CHECK(
        rk_cluster_bootstrap(fuzz_boot, rk_cluster_id_of(addrs, 3), FUZZ_Q, addrs, 3, FUZZ_N) == 0);
    fuzz_bytes = malloc(RK_CLUSTER_ENCODED_BYTES_MAX + 4);
    fuzz_out = malloc(RK_CLUSTER_ENCODED_BYTES_MAX);
    fuzz_again = malloc(RK_CLUSTER_ENCODED_BYTES_MAX);
    FUZZ_CHECK(fuzz_bytes != NULL);
    FUZZ_CHECK(fuzz_out != NULL);
    FUZZ_CHECK(fuzz_again != NULL);
}

/* m encodes, and its bytes decode to an object that encodes to the same bytes. */
static void fuzz_check_codec(const rk_cluster_meta *m)
{
    int len = rk_cluster_encode(m, fuzz_out, RK_CLUSTER_ENCODED_BYTES_MAX);
    FUZZ_CHECK(len > 0);
    FUZZ_CHECK((size_t)len <= rk_cluster_encoded_bytes(m)); /* the bound membership.c sizes by */
    rk_cluster_meta *d = calloc(1, sizeof(*d));
    FUZZ_CHECK(d != NULL);
    FUZZ_CHECK(rk_cluster_decode(d, fuzz_out, (size_t)len) == 0);
    int len2 = rk_cluster_encode(d, fuzz_again, RK_CLUSTER_ENCODED_BYTES_MAX);
    FUZZ_CHECK(len2 == len);
    FUZZ_CHECK(memcmp(fuzz_again, fuzz_out, (size_t)len) == 0);
    rk_cluster_meta_deinit(d);
    free(d);
}

/* into := copy of `into`, merged with `from`: a result or RK_EINVAL, and idempotent. */
static void fuzz_merge(const rk_cluster_meta *into, const rk_cluster_meta *from)
{
    rk_cluster_meta *r = calloc(1, sizeof(*r));
    FUZZ_CHECK(r != NULL);
    FUZZ_CHECK(rk_cluster_meta_copy(r, into) == 0);
    int rc = rk_cluster_merge(r, from);
    if (rc == RK_EINVAL) {
        FUZZ_CHECK(into->cluster_id != from->cluster_id ||
                   into->ring.partition_count != from->ring.partition_count);
    } else {
        FUZZ_CHECK(rc == 0 || rc == 1);
        fuzz_check_codec(r);
        FUZZ_CHECK(rk_cluster_merge(r, from) == 0);
        (void)rk_cluster_units_left(r);
        (void)rk_cluster_flip(r);
        fuzz_check_codec(r);
    }
    rk_cluster_meta_deinit(r);
    free(r);
}

static bool fuzz_same_bytes(const rk_cluster_meta *a, const rk_cluster_meta *b)
{
    int la = rk_cluster_encode(a, fuzz_out, RK_CLUSTER_ENCODED_BYTES_MAX);
    int lb = rk_cluster_encode(b, fuzz_again, RK_CLUSTER_ENCODED_BYTES_MAX);
    FUZZ_CHECK(la > 0);
    FUZZ_CHECK(lb > 0);
    return la == lb && memcmp(fuzz_out, fuzz_again, (size_t)la) == 0;
}

/* One operation on copy `m` acting as node `by`, from two input bytes; refusals are fine. */
static void fuzz_op(rk_cluster_meta *m, rk_node_id by, uint8_t kind, uint8_t arg,
                    rk_node_id *next_id, const rk_cluster_meta *peer)
{
    char message[160];
    if (m->member_count == 0) {
        return; /* each copy force-removed the others' members: the union is nobody */
    }
    rk_node_id some = m->members[arg % m->member_count].addr.id;
    switch (kind % 8u) {
    case 0:
        if (m->member_count < 16) {
            rk_member_addr addr;
            memset(&addr, 0, sizeof(addr));
            addr.id = *next_id;
            addr.client_port = (uint16_t)arg;
            *next_id += 2;
            (void)rk_cluster_stage_join(m, by, &addr, message, sizeof(message));
        }
        break;
    case 1:
        (void)rk_cluster_stage_leave(m, by, some, (arg & 0x80u) != 0, message, sizeof(message));
        break;
    case 2:
        rk_cluster_stage_clear(m, by);
        break;
    case 3:
        (void)rk_cluster_commit(m, by, 1u + arg % RK_N_MAX, message, sizeof(message));
        break;
    case 4:
        if (m->unit_count > 0) {
            (void)rk_cluster_unit_done(m, arg % m->unit_count);
        }
        break;
    case 5:
        (void)rk_cluster_flip(m);
        break;
    case 6:
        if (!m->moving && rk_cluster_member(m, some)->state == RK_CMEMBER_LEAVING) {
            rk_cluster_member_left(m, some);
        } else {
            (void)rk_cluster_saw(m, some, m->ring.version);
        }
        break;
    default:
        FUZZ_CHECK(rk_cluster_merge(m, peer) >= 0);
        break;
    }
}

/* Operations mode: copies A (node 1) and B (node 2) of the bootstrap take the input's ops; the
 * merge either way round gives the same bytes, is idempotent, and survives the codec. */
static void fuzz_ops(const uint8_t *data, size_t size)
{
    rk_cluster_meta *c[2];
    rk_node_id next_id[2] = {100, 101};
    for (uint32_t k = 0; k < 2; k++) {
        c[k] = calloc(1, sizeof(*c[k]));
        FUZZ_CHECK(c[k] != NULL);
        FUZZ_CHECK(rk_cluster_meta_copy(c[k], fuzz_boot) == 0);
    }
    for (size_t i = 0; i + 1 < size && i < 2u * FUZZ_OPS_MAX; i += 2) {
        uint32_t side = data[i] & 1u;
        fuzz_op(c[side], side + 1, (uint8_t)(data[i] >> 1), data[i + 1], &next_id[side],
                c[1 - side]);
    }
    rk_cluster_meta *ab = calloc(1, sizeof(*ab));
    rk_cluster_meta *ba = calloc(1, sizeof(*ba));
    FUZZ_CHECK(ab != NULL);
    FUZZ_CHECK(ba != NULL);
    FUZZ_CHECK(rk_cluster_meta_copy(ab, c[0]) == 0);
    FUZZ_CHECK(rk_cluster_meta_copy(ba, c[1]) == 0);
    FUZZ_CHECK(rk_cluster_merge(ab, c[1]) >= 0);
    FUZZ_CHECK(rk_cluster_merge(ba, c[0]) >= 0);
    FUZZ_CHECK(fuzz_same_bytes(ab, ba));
    FUZZ_CHECK(rk_cluster_merge(ab, c[0]) == 0);
    FUZZ_CHECK(rk_cluster_merge(ab, c[1]) == 0);
    fuzz_check_codec(c[0]);
    fuzz_check_codec(c[1]);
    fuzz_check_codec(ab);
    for (uint32_t k = 0; k < 2; k++) {
        rk_cluster_meta_deinit(c[k]);
        free(c[k]);
    }
    rk_cluster_meta_deinit(ab);
    rk_cluster_meta_deinit(ba);
    free(ab);
    free(ba);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_boot == NULL) {
        fuzz_init();
    }
    if (size < 1 || size - 1 > RK_CLUSTER_ENCODED_BYTES_MAX) {
        return 0;
    }
    if ((data[0] & 2u) != 0) {
        fuzz_ops(data + 1, size - 1);
        return 0;
    }
    bool raw = (data[0] & 1u) != 0;
    const uint8_t *bytes = data + 1;
    size_t len = size - 1;
    if (!raw) {
        memcpy(fuzz_bytes, bytes, len);
        rk_le32_put(fuzz_bytes + len, (uint32_t)rk_hash_key(fuzz_bytes, len));
        bytes = fuzz_bytes;
        len += 4;
    }
    rk_cluster_meta *m = calloc(1, sizeof(*m));
    FUZZ_CHECK(m != NULL);
    int rc = rk_cluster_decode(m, bytes, len);
    if (rc != 0) {
        FUZZ_CHECK(rc == RK_ECORRUPT);
        FUZZ_CHECK(m->units == NULL);
        FUZZ_CHECK(m->done == NULL);
        free(m);
        return 0;
    }
    int out_len = rk_cluster_encode(m, fuzz_out, RK_CLUSTER_ENCODED_BYTES_MAX);
    FUZZ_CHECK(out_len > 0);
    FUZZ_CHECK((size_t)out_len == len);
    FUZZ_CHECK(memcmp(fuzz_out, bytes, len) == 0);
    fuzz_check_codec(m);
    fuzz_merge(fuzz_boot, m);
    fuzz_merge(m, fuzz_boot);
    rk_cluster_meta_deinit(m);
    free(m);
    return 0;
}
