/* fuzz_setrows.c — libFuzzer target for the formats and rules of a set stored by element
 * (src/core/setrows.c): heads and rows come from a disk that may be damaged, deltas from peers
 * that may be hostile, so any bytes must be refused cleanly or decode to something that
 * encodes back to them, and the merge and readiness rules must hold on whatever decodes.
 *
 * Input: [u8 control][u16 LE len][section A][u16 LE len][section B][rest]. Control:
 *   bit 0  raw: sections are whole encodings; otherwise the harness appends (head, rows) or
 *          rewrites (a delta's state) the XXH3 checksum, so mutations reach the fields behind it
 * Section A is tried as a head, as a row and as a delta (its state part through
 * rk_dvvset_decode_view); section B as a row. `rest` is a list of (node, counter) byte pairs
 * building two more clocks. Checked: whatever decodes encodes back to the same bytes; a row's
 * dots are sorted, nonzero, within RK_SETROWS_DOTS_MAX; rk_setrows_merge of the two rows under
 * every pair of clocks matches a brute-force ORSWOT merge, is sorted and the same either way
 * round, and a row merged with itself under one clock is itself; rk_setrows_ready takes an empty
 * delta and a delta equal to the local clock. Build and run: scripts/test-all.sh (make fuzz).
 * Seeds in tests/fuzz/corpus/fuzz_setrows (a head, rows, a delta, in both modes). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "../../src/core/dvvset.h"
#include "../../src/core/elems.h"
#include "../../src/core/setrows.h"

#define FUZZ_NAME "fuzz_setrows"
#include "fuzz_log.h"

#define FUZZ_INPUT_BYTES_MAX (1u << 16)
#define FUZZ_CLOCKS 4u

typedef struct fuzz_row {
    bool ok;
    rk_setrows_dot dots[RK_SETROWS_DOTS_MAX];
    uint32_t count;
} fuzz_row;

/* A copy of `bytes` with the checksum the format puts after them (owned; len + 8). */
static uint8_t *fuzz_sealed(const uint8_t *bytes, size_t len)
{
    uint8_t *out = malloc(len + RK_SETROWS_CHECKSUM_BYTES + 1);
    FUZZ_CHECK(out != NULL);
    if (len > 0) {
        memcpy(out, bytes, len);
    }
    rk_le64_put(out + len, XXH3_64bits(out, len));
    return out;
}

static void fuzz_head(const uint8_t *bytes, size_t len, rk_vv *clock, bool *has_clock)
{
    rk_setrows_head head;
    int rc = rk_setrows_head_decode(bytes, len, &head);
    if (rc != 0) {
        FUZZ_CHECK(rc == RK_ECORRUPT);
        return;
    }
    FUZZ_CHECK(rk_setrows_is_head(bytes, len));
    FUZZ_CHECK(rk_vv_valid(&head.history));
    FUZZ_CHECK(rk_setrows_head_len(&head) == len);
    uint8_t *again = malloc(len);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(rk_setrows_head_encode(&head, again) == len);
    FUZZ_CHECK(memcmp(again, bytes, len) == 0);
    free(again);
    *clock = head.history;
    *has_clock = true;
}

static void fuzz_row_check(const uint8_t *bytes, size_t len, fuzz_row *row)
{
    row->ok = false;
    const uint8_t *member = NULL;
    size_t member_len = 0;
    uint32_t count = 0;
    int rc = rk_setrows_row_check(bytes, len, &member, &member_len, &count);
    if (rc != 0) {
        FUZZ_CHECK(rc == RK_ECORRUPT);
        return;
    }
    FUZZ_CHECK(count >= 1 && count <= RK_SETROWS_DOTS_MAX);
    FUZZ_CHECK(member == bytes + 4 && member_len <= len);
    FUZZ_CHECK(rk_setrows_row_len(member_len, count) == len);
    for (uint32_t i = 0; i < count; i++) {
        row->dots[i] = rk_setrows_row_dot(bytes, member_len, i);
        FUZZ_CHECK(row->dots[i].dot.counter != 0);
        FUZZ_CHECK(i == 0 || rk_dot_cmp(row->dots[i - 1].dot, row->dots[i].dot) < 0);
    }
    uint8_t *again = malloc(len);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(rk_setrows_row_encode(member, member_len, row->dots, count, again) == len);
    FUZZ_CHECK(memcmp(again, bytes, len) == 0);
    FUZZ_CHECK(rk_setrows_row_hash(bytes, len) == rk_le64_get(bytes + len - 8));
    free(again);
    row->count = count;
    row->ok = true;
}

/* A delta's state part: in wrapped mode its last 8 bytes are made its checksum. */
static void fuzz_delta(const uint8_t *bytes, size_t len, bool raw, rk_vv *clock,
                       bool *has_clock)
{
    const uint8_t *members = NULL;
    size_t members_len = 0;
    const uint8_t *state = NULL;
    size_t state_len = 0;
    int rc = rk_setrows_delta_split(bytes, len, &members, &members_len, &state, &state_len);
    if (rc != 0) {
        FUZZ_CHECK(rc == RK_ECORRUPT);
        return;
    }
    uint32_t count = 0;
    FUZZ_CHECK(rk_elems_check(members, members_len, &count) == 0);
    FUZZ_CHECK(members == bytes + RK_SETROWS_DELTA_HEAD_BYTES);
    FUZZ_CHECK(RK_SETROWS_DELTA_HEAD_BYTES + members_len + state_len == len);
    uint8_t *again = malloc(len);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(rk_setrows_delta_encode(members, members_len, state, state_len, again) == len);
    FUZZ_CHECK(memcmp(again, bytes, len) == 0);
    free(again);

    uint8_t *sealed = NULL;
    if (!raw && state_len >= RK_SETROWS_CHECKSUM_BYTES) {
        sealed = fuzz_sealed(state, state_len - RK_SETROWS_CHECKSUM_BYTES);
        state = sealed;
    }
    rk_dvvset view;
    rc = rk_dvvset_decode_view(state, state_len, &view);
    if (rc == 0) {
        FUZZ_CHECK(rk_dvvset_valid(&view));
        FUZZ_CHECK(rk_dvvset_encoded_len(&view) == state_len);
        uint8_t *enc = malloc(state_len);
        FUZZ_CHECK(enc != NULL);
        FUZZ_CHECK(rk_dvvset_encode(&view, enc) == state_len);
        FUZZ_CHECK(memcmp(enc, state, state_len) == 0);
        free(enc);
        *clock = view.history;
        *has_clock = true;
        rk_dvvset_deinit(&view);
    } else {
        FUZZ_CHECK(rc == RK_ECORRUPT || rc == RK_ENOMEM);
    }
    free(sealed);
}

static bool fuzz_holds(const rk_setrows_dot *dots, uint32_t n, rk_dot dot, uint64_t *stamp)
{
    for (uint32_t i = 0; i < n; i++) {
        if (rk_dot_cmp(dots[i].dot, dot) == 0) {
            *stamp = dots[i].timestamp_us;
            return true;
        }
    }
    return false;
}

/* ORSWOT's per-member merge the slow way, unsorted; compared as sets below. */
static uint32_t fuzz_brute(const rk_setrows_dot *l, uint32_t nl, const rk_vv *lc,
                           const rk_setrows_dot *in, uint32_t ni, const rk_vv *ic,
                           rk_setrows_dot *out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < nl; i++) {
        uint64_t stamp = 0;
        if (fuzz_holds(in, ni, l[i].dot, &stamp)) {
            out[n] = l[i];
            out[n].timestamp_us = stamp > l[i].timestamp_us ? stamp : l[i].timestamp_us;
            n++;
        } else if (!rk_vv_covers(ic, l[i].dot)) {
            out[n++] = l[i];
        }
    }
    for (uint32_t j = 0; j < ni; j++) {
        uint64_t stamp = 0;
        if (!fuzz_holds(l, nl, in[j].dot, &stamp) && !rk_vv_covers(lc, in[j].dot)) {
            out[n++] = in[j];
        }
    }
    return n;
}

static void fuzz_merge(const fuzz_row *a, const rk_vv *ac, const fuzz_row *b, const rk_vv *bc)
{
    rk_setrows_dot ab[2 * RK_SETROWS_DOTS_MAX];
    rk_setrows_dot ba[2 * RK_SETROWS_DOTS_MAX];
    rk_setrows_dot want[2 * RK_SETROWS_DOTS_MAX];
    uint32_t nab = rk_setrows_merge(a->dots, a->count, ac, b->dots, b->count, bc, ab);
    uint32_t nba = rk_setrows_merge(b->dots, b->count, bc, a->dots, a->count, ac, ba);
    uint32_t nw = fuzz_brute(a->dots, a->count, ac, b->dots, b->count, bc, want);
    FUZZ_CHECK(nab <= a->count + b->count);
    FUZZ_CHECK(nab == nba && nab == nw);
    for (uint32_t i = 0; i < nab; i++) {
        FUZZ_CHECK(i == 0 || rk_dot_cmp(ab[i - 1].dot, ab[i].dot) < 0);
        FUZZ_CHECK(rk_dot_cmp(ab[i].dot, ba[i].dot) == 0);
        FUZZ_CHECK(ab[i].timestamp_us == ba[i].timestamp_us);
        uint64_t stamp = 0;
        FUZZ_CHECK(fuzz_holds(want, nw, ab[i].dot, &stamp) && stamp == ab[i].timestamp_us);
    }
    rk_setrows_dot aa[2 * RK_SETROWS_DOTS_MAX];
    uint32_t naa = rk_setrows_merge(a->dots, a->count, ac, a->dots, a->count, ac, aa);
    FUZZ_CHECK(naa == a->count);
    for (uint32_t i = 0; i < naa; i++) {    /* fields, not memcmp: rk_dot has padding */
        FUZZ_CHECK(rk_dot_cmp(aa[i].dot, a->dots[i].dot) == 0);
        FUZZ_CHECK(aa[i].timestamp_us == a->dots[i].timestamp_us);
    }
}

/* Two clocks from (node, counter) byte pairs of `rest`, alternating. */
static void fuzz_clocks(const uint8_t *rest, size_t len, rk_vv *x, rk_vv *y)
{
    rk_vv_init(x);
    rk_vv_init(y);
    for (size_t i = 0; i + 1 < len && i < 512; i += 2) {
        rk_dot dot = {.node = (rk_node_id)(rest[i] % 5u) + 1u, .counter = rest[i + 1] % 24u + 1u};
        rk_vv *vv = (i / 2) % 2 == 0 ? x : y;
        if (rk_vv_union_count(vv, vv) < RK_VV_ENTRIES_MAX - 1) {
            FUZZ_CHECK(rk_vv_merge(vv, vv, &dot, NULL, 0, vv) == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_INPUT_BYTES_MAX) {
        return 0;
    }
    bool raw = (data[0] & 1u) != 0;
    const uint8_t *sections[2] = {NULL, NULL};
    size_t lens[2] = {0, 0};
    size_t pos = 1;
    for (uint32_t s = 0; s < 2 && pos + 2 <= size; s++) {
        size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
        pos += 2;
        len = len < size - pos ? len : size - pos;
        sections[s] = data + pos;
        lens[s] = len;
        pos += len;
    }
    const uint8_t *rest = data + pos;
    size_t rest_len = size - pos;

    rk_vv clocks[FUZZ_CLOCKS];
    bool has[FUZZ_CLOCKS] = {false, false, true, true};
    for (uint32_t c = 0; c < FUZZ_CLOCKS; c++) {
        rk_vv_init(&clocks[c]);
    }
    fuzz_row rows[2];
    memset(rows, 0, sizeof(rows));
    uint8_t *a = fuzz_sealed(sections[0], lens[0]);
    uint8_t *b = fuzz_sealed(sections[1], lens[1]);
    size_t a_len = lens[0] + (raw ? 0u : RK_SETROWS_CHECKSUM_BYTES);
    size_t b_len = lens[1] + (raw ? 0u : RK_SETROWS_CHECKSUM_BYTES);
    fuzz_head(a, a_len, &clocks[0], &has[0]);
    fuzz_row_check(a, a_len, &rows[0]);
    fuzz_row_check(b, b_len, &rows[1]);
    fuzz_delta(sections[0] != NULL ? sections[0] : a, lens[0], raw, &clocks[1], &has[1]);
    fuzz_clocks(rest, rest_len, &clocks[2], &clocks[3]);
    free(a);
    free(b);

    for (uint32_t x = 0; x < FUZZ_CLOCKS; x++) {
        if (!has[x]) {
            continue;
        }
        rk_vv empty;
        rk_vv_init(&empty);
        FUZZ_CHECK(rk_setrows_ready(&clocks[x], &empty));
        FUZZ_CHECK(rk_setrows_ready(&clocks[x], &clocks[x]));
        for (uint32_t y = 0; y < FUZZ_CLOCKS; y++) {
            if (!has[y]) {
                continue;
            }
            (void)rk_setrows_ready(&clocks[x], &clocks[y]);
            if (rows[0].ok && rows[1].ok) {
                fuzz_merge(&rows[0], &clocks[x], &rows[1], &clocks[y]);
            }
        }
    }
    return 0;
}
