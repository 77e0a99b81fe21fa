/* admin_cluster_status.c — `ringkv cluster plan` and `ringkv cluster status` (admin_internal.h):
 * what a commit would move and how the moves of the committed plan go (issue 15,
 * docs/membership.md). Both list moves of partitions from one node to another; each move's keys
 * and bytes are asked of the node it moves from (RK.CLUSTER PARTITIONS), quietly: a node that
 * does not answer leaves its sizes "?". The plan also shows each node's replicas now and after
 * it, with the server's warning for every node above 1.5 times the mean (zones, issue 16: a
 * zone with fewer nodes holds more per node); a warning is not an error, exit 0. The staged
 * changes themselves are admin_cluster.c's. */
#include "admin_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A plan moves each partition to at most RK_N_MAX (8) new primaries; a STATUS lists the same
 * units. Larger answers are not from a ringkvd and are refused. */
#define CLUSTER_PARTITIONS_MAX 65536u /* RK_RING_PARTITIONS_MAX */
#define CLUSTER_MOVES_MAX (CLUSTER_PARTITIONS_MAX * 8u)

/* One partition moving from one node to another: a move of PLAN or a transfer of STATUS.
 * keys and bytes are the partition's size in the `from` node's store, when it answered. */
typedef struct cluster_move {
    int64_t partition;
    int64_t from;
    int64_t to;
    bool size_known;
    int64_t keys;
    int64_t bytes;
} cluster_move;

/* What `cluster status` shows of one transfer besides its move. */
typedef struct cluster_transfer {
    char state[16]; /* waiting, running, done, stalled */
    int64_t keys;   /* sent so far */
    int64_t bytes;
    int64_t keys_per_s;
} cluster_transfer;

/* The fields partition, from and to of an object the caller opened. */
static void cluster_json_move(rk_json *j, const cluster_move *move)
{
    admin_cluster_json_int(j, "partition", move->partition);
    admin_cluster_json_int(j, "from", move->from);
    admin_cluster_json_int(j, "to", move->to);
}

/* The table cells PARTITION, FROM and TO of one move, each of cell_bytes. */
static void cluster_move_cells(const cluster_move *move, char *partition, char *from, char *to,
                               size_t cell_bytes)
{
    snprintf(partition, cell_bytes, "%lld", (long long)move->partition);
    snprintf(from, cell_bytes, "%lld", (long long)move->from);
    snprintf(to, cell_bytes, "%lld", (long long)move->to);
}

/* ---- sizes of moving partitions ----------------------------------------------------------- */

/* Scratch for asking sources: tables indexed by partition, zero between sources, and the words
 * of one RK.CLUSTER PARTITIONS command (at most one per move, and two more). */
typedef struct cluster_scratch {
    uint8_t asked[CLUSTER_PARTITIONS_MAX];
    uint8_t answered[CLUSTER_PARTITIONS_MAX];
    int64_t keys[CLUSTER_PARTITIONS_MAX];
    int64_t bytes[CLUSTER_PARTITIONS_MAX];
    const char **argv;
    char (*words)[8]; /* "65535" and a NUL */
} cluster_scratch;

/* Ask one source node (NULL: unreachable) for the sizes of the partitions that move from it,
 * each once. Quiet: a node that fails or answers an error leaves its moves' sizes unknown. */
static void cluster_sizes_from(rkc_conn *source, int64_t from, cluster_move *moves, uint32_t count,
                               cluster_scratch *s)
{
    size_t argc = 2;
    s->argv[0] = "RK.CLUSTER";
    s->argv[1] = "PARTITIONS";
    for (uint32_t i = 0; i < count; i++) {
        int64_t p = moves[i].partition;
        if (moves[i].from == from && !s->asked[p]) {
            s->asked[p] = 1;
            snprintf(s->words[argc], sizeof(s->words[0]), "%lld", (long long)p);
            s->argv[argc] = s->words[argc];
            argc++;
        }
    }
    rkc_reply *reply = NULL;
    if (source != NULL && rkc_command(source, argc, s->argv, NULL, &reply) == 0 &&
        admin_cluster_reply_is_list_of(reply, "iii")) {
        for (size_t i = 0; i < reply->elements_count; i++) {
            const rkc_reply *e = reply->elements[i];
            int64_t p = e->elements[0]->integer;
            if (p >= 0 && p < (int64_t)CLUSTER_PARTITIONS_MAX && s->asked[p]) {
                s->answered[p] = 1;
                s->keys[p] = e->elements[1]->integer;
                s->bytes[p] = e->elements[2]->integer;
            }
        }
    }
    rkc_reply_free(reply);
    for (uint32_t i = 0; i < count; i++) {
        if (moves[i].from == from) {
            int64_t p = moves[i].partition;
            moves[i].size_known = s->answered[p] != 0;
            moves[i].keys = s->keys[p];
            moves[i].bytes = s->bytes[p];
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        if (moves[i].from == from) {
            int64_t p = moves[i].partition;
            s->asked[p] = 0;
            s->answered[p] = 0;
            s->keys[p] = 0;
            s->bytes[p] = 0;
        }
    }
}

/* Fill in keys and bytes of every move (partitions validated < CLUSTER_PARTITIONS_MAX) from
 * its `from` node, found at its client address in RK.MEMBERS of `conn`. Sizes stay unknown
 * where the node cannot be reached. */
static void cluster_sizes_fetch(const rk_admin_target *target, rkc_conn *conn, cluster_move *moves,
                                uint32_t count)
{
    admin_member members[ADMIN_MEMBERS_MAX];
    uint32_t members_count = 0;
    if (count == 0 || admin_members_fetch(conn, members, &members_count) != 0) {
        return; /* admin_members_fetch said why; every size stays "?" */
    }
    cluster_scratch *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        fprintf(stderr, "ringkv: out of memory: partition sizes left out\n");
        return;
    }
    s->argv = calloc((size_t)count + 2u, sizeof(*s->argv));
    s->words = calloc((size_t)count + 2u, sizeof(*s->words));
    if (s->argv == NULL || s->words == NULL) {
        fprintf(stderr, "ringkv: out of memory: partition sizes left out\n");
        goto out_free_scratch;
    }
    for (uint32_t m = 0; m < members_count; m++) {
        bool is_source = false;
        for (uint32_t i = 0; i < count && !is_source; i++) {
            is_source = moves[i].from == members[m].id;
        }
        if (!is_source) {
            continue;
        }
        rkc_conn *source = NULL;
        char host[ADMIN_ADDR_BYTES];
        uint16_t port = 0;
        if (strcmp(members[m].state, "self") == 0) {
            source = conn;
        } else if (admin_addr_split(members[m].client_addr, host, sizeof(host), &port)) {
            (void)admin_connect(target, host, port, true, &source);
        }
        cluster_sizes_from(source, members[m].id, moves, count, s);
        if (source != conn) {
            rkc_conn_free(source);
        }
    }
out_free_scratch:
    free(s->words);
    free(s->argv);
    free(s);
}

/* A move's size as a table cell: the number, or "?" when its source did not say. */
static void cluster_size_cell(const cluster_move *m, bool bytes, char *cell, size_t cell_bytes)
{
    if (!m->size_known) {
        snprintf(cell, cell_bytes, "?");
    } else {
        snprintf(cell, cell_bytes, "%lld", (long long)(bytes ? m->bytes : m->keys));
    }
}

/* "key": value, or null when not `known`. */
static void cluster_json_maybe(rk_json *j, const char *key, bool known, int64_t value)
{
    rk_json_key(j, key);
    if (known) {
        rk_json_int(j, value);
    } else {
        rk_json_null(j);
    }
}

/* Parse a list of moves: elements [partition, from, to, ...] of `types`. NULL and a message
 * on a bad shape or out of memory; otherwise returns owned (free). */
static cluster_move *cluster_moves_parse(const rkc_reply *list, const char *types, const char *what)
{
    if (!admin_cluster_reply_is_list_of(list, types) || list->elements_count > CLUSTER_MOVES_MAX) {
        fprintf(stderr,
                "ringkv: %s: unexpected reply: expected a list of [partition, from, "
                "to, ...] of at most %u\n",
                what, CLUSTER_MOVES_MAX);
        return NULL;
    }
    cluster_move *moves = calloc(list->elements_count + 1u, sizeof(*moves));
    if (moves == NULL) {
        fprintf(stderr, "ringkv: %s: out of memory\n", what);
        return NULL;
    }
    for (size_t i = 0; i < list->elements_count; i++) {
        const rkc_reply *e = list->elements[i];
        moves[i].partition = e->elements[0]->integer;
        moves[i].from = e->elements[1]->integer;
        moves[i].to = e->elements[2]->integer;
        if (moves[i].partition < 0 || moves[i].partition >= (int64_t)CLUSTER_PARTITIONS_MAX) {
            fprintf(stderr, "ringkv: %s: partition %lld; partitions are 0..%u\n", what,
                    (long long)moves[i].partition, CLUSTER_PARTITIONS_MAX - 1u);
            free(moves);
            return NULL;
        }
    }
    return moves;
}

/* ---- plan --------------------------------------------------------------------------------- */

/* RK.CLUSTER PLAN's shares and warnings (zones, issue 16): elements 4 and 5 of
 * [plan, ring version, staged, moves, shares, warnings], or NULL from a node that predates
 * zones and answers the first four only. shares: [[id, zone, replicas after, replicas now], ...];
 * warnings: one line of text per node above 1.5 times the mean. */
static const rkc_reply *cluster_plan_shares(const rkc_reply *plan)
{
    return plan->elements_count == 6 ? plan->elements[4] : NULL;
}

static const rkc_reply *cluster_plan_warnings(const rkc_reply *plan)
{
    return plan->elements_count == 6 ? plan->elements[5] : NULL;
}

/* True when the shares and warnings of a six-element PLAN have their shapes: at most one share
 * and one warning per member. */
static bool cluster_plan_shares_valid(const rkc_reply *plan)
{
    const rkc_reply *shares = plan->elements[4];
    const rkc_reply *warnings = plan->elements[5];
    if (!admin_cluster_reply_is_list_of(shares, "isii") ||
        shares->elements_count > ADMIN_MEMBERS_MAX || !admin_reply_is_list(warnings) ||
        warnings->elements_count > ADMIN_MEMBERS_MAX) {
        return false;
    }
    for (size_t i = 0; i < warnings->elements_count; i++) {
        if (!admin_reply_is_text(warnings->elements[i])) {
            return false;
        }
    }
    return true;
}

/* "shares" and "warnings" inside the plan's JSON object (empty from a node before zones). */
static void cluster_shares_json(rk_json *j, const rkc_reply *plan)
{
    const rkc_reply *shares = cluster_plan_shares(plan);
    const rkc_reply *warnings = cluster_plan_warnings(plan);
    rk_json_key(j, "shares");
    rk_json_array_begin(j);
    for (size_t i = 0; shares != NULL && i < shares->elements_count; i++) {
        const rkc_reply *e = shares->elements[i];
        rk_json_object_begin(j);
        admin_cluster_json_id_text(j, e, "zone");
        admin_cluster_json_int(j, "replicas_now", e->elements[3]->integer);
        admin_cluster_json_int(j, "replicas_after", e->elements[2]->integer);
        rk_json_object_end(j);
    }
    rk_json_array_end(j);
    rk_json_key(j, "warnings");
    rk_json_array_begin(j);
    for (size_t i = 0; warnings != NULL && i < warnings->elements_count; i++) {
        rk_json_string_len(j, warnings->elements[i]->str, warnings->elements[i]->len);
    }
    rk_json_array_end(j);
}

/* Each node's replicas now and after the plan (a blank line before; nothing when the node
 * predates zones), unless `warnings_only`; then a line "warning: ..." for each warning. */
static void cluster_shares_table(const rkc_reply *plan, bool warnings_only)
{
    const rkc_reply *shares = cluster_plan_shares(plan);
    const rkc_reply *warnings = cluster_plan_warnings(plan);
    if (!warnings_only && shares != NULL && shares->elements_count > 0) {
        putchar('\n');
        admin_table t;
        admin_table_init(&t, 4);
        admin_table_add(&t, (const char *const[]){"ID", "ZONE", "REPLICAS_NOW", "REPLICAS_AFTER"});
        for (size_t i = 0; i < shares->elements_count; i++) {
            const rkc_reply *e = shares->elements[i];
            char cells[4][ADMIN_CELL_BYTES];
            snprintf(cells[0], sizeof(cells[0]), "%lld", (long long)e->elements[0]->integer);
            admin_reply_copy(e->elements[1], cells[1], sizeof(cells[1]));
            if (cells[1][0] == '\0') {
                snprintf(cells[1], sizeof(cells[1]), "-");
            }
            snprintf(cells[2], sizeof(cells[2]), "%lld", (long long)e->elements[3]->integer);
            snprintf(cells[3], sizeof(cells[3]), "%lld", (long long)e->elements[2]->integer);
            admin_table_add(&t, (const char *const[]){cells[0], cells[1], cells[2], cells[3]});
        }
        admin_table_print(&t);
        admin_table_deinit(&t);
    }
    for (size_t i = 0; warnings != NULL && i < warnings->elements_count; i++) {
        const rkc_reply *w = warnings->elements[i];
        printf("warning: %.*s\n", (int)w->len, w->str);
    }
}

static void cluster_plan_json(const rkc_reply *plan, const cluster_move *moves, uint32_t count)
{
    const rkc_reply *staged = plan->elements[2];
    rk_json j;
    admin_json_begin(&j);
    admin_cluster_json_int(&j, "plan", plan->elements[0]->integer);
    admin_cluster_json_int(&j, "ring_version", plan->elements[1]->integer);
    rk_json_key(&j, "staged");
    rk_json_array_begin(&j);
    for (size_t i = 0; i < staged->elements_count; i++) {
        const rkc_reply *e = staged->elements[i];
        rk_json_object_begin(&j);
        admin_cluster_json_id_text(&j, e, "change");
        rk_json_object_end(&j);
    }
    rk_json_array_end(&j);
    rk_json_key(&j, "moves");
    rk_json_array_begin(&j);
    int64_t keys = 0;
    int64_t bytes = 0;
    int64_t unknown = 0;
    for (uint32_t i = 0; i < count; i++) {
        rk_json_object_begin(&j);
        cluster_json_move(&j, &moves[i]);
        cluster_json_maybe(&j, "keys", moves[i].size_known, moves[i].keys);
        cluster_json_maybe(&j, "bytes", moves[i].size_known, moves[i].bytes);
        rk_json_object_end(&j);
        keys += moves[i].size_known ? moves[i].keys : 0;
        bytes += moves[i].size_known ? moves[i].bytes : 0;
        unknown += moves[i].size_known ? 0 : 1;
    }
    rk_json_array_end(&j);
    rk_json_key(&j, "total");
    rk_json_object_begin(&j);
    admin_cluster_json_int(&j, "moves", count);
    admin_cluster_json_int(&j, "keys", keys);
    admin_cluster_json_int(&j, "bytes", bytes);
    admin_cluster_json_int(&j, "moves_size_unknown", unknown);
    rk_json_object_end(&j);
    cluster_shares_json(&j, plan);
    admin_json_end(&j);
}

static void cluster_plan_table(const rkc_reply *plan, const cluster_move *moves, uint32_t count)
{
    const rkc_reply *staged = plan->elements[2];
    printf("plan %lld on ring version %lld; staged:\n", (long long)plan->elements[0]->integer,
           (long long)plan->elements[1]->integer);
    admin_table t;
    admin_table_init(&t, 2);
    admin_table_add(&t, (const char *const[]){"ID", "CHANGE"});
    for (size_t i = 0; i < staged->elements_count; i++) {
        char id[24];
        char change[24];
        snprintf(id, sizeof(id), "%lld", (long long)staged->elements[i]->elements[0]->integer);
        admin_reply_copy(staged->elements[i]->elements[1], change, sizeof(change));
        admin_table_add(&t, (const char *const[]){id, change});
    }
    admin_table_print(&t);
    admin_table_deinit(&t);
    int64_t keys = 0;
    int64_t bytes = 0;
    uint32_t unknown = 0;
    if (count > 0) {
        putchar('\n');
        admin_table_init(&t, 5);
        admin_table_add(&t, (const char *const[]){"PARTITION", "FROM", "TO", "KEYS", "BYTES"});
        for (uint32_t i = 0; i < count; i++) {
            char cells[5][24];
            cluster_move_cells(&moves[i], cells[0], cells[1], cells[2], sizeof(cells[0]));
            cluster_size_cell(&moves[i], false, cells[3], sizeof(cells[3]));
            cluster_size_cell(&moves[i], true, cells[4], sizeof(cells[4]));
            admin_table_add(
                &t, (const char *const[]){cells[0], cells[1], cells[2], cells[3], cells[4]});
            keys += moves[i].size_known ? moves[i].keys : 0;
            bytes += moves[i].size_known ? moves[i].bytes : 0;
            unknown += moves[i].size_known ? 0u : 1u;
        }
        admin_table_print(&t);
        admin_table_deinit(&t);
    }
    printf("\ntotal: %u move%s, %lld keys, %lld bytes", count, count == 1u ? "" : "s",
           (long long)keys, (long long)bytes);
    if (unknown > 0) {
        printf("; and %u move%s from a node that did not answer (?)", unknown,
               unknown == 1u ? "" : "s");
    }
    putchar('\n');
    cluster_shares_table(plan, false);
}

int admin_cluster_plan(const rk_admin_target *target, rkc_conn *conn, const admin_args *a)
{
    static const char *const argv[] = {"RK.CLUSTER", "PLAN"};
    rkc_reply *plan = NULL;
    int status = admin_call(conn, "RK.CLUSTER PLAN", 2, argv, NULL, &plan);
    if (status != 0) {
        return status;
    }
    bool zoned = admin_cluster_reply_is(plan, "iillll");
    if ((!zoned && !admin_cluster_reply_is(plan, "iill")) ||
        !admin_cluster_reply_is_list_of(plan->elements[2], "is") ||
        (zoned && !cluster_plan_shares_valid(plan))) {
        return admin_bad_reply(plan, "RK.CLUSTER PLAN",
                               "[plan, ring version, staged, moves, shares, warnings]");
    }
    cluster_move *moves = cluster_moves_parse(plan->elements[3], "iii", "RK.CLUSTER PLAN");
    if (moves == NULL) {
        rkc_reply_free(plan);
        return RK_ADMIN_EXIT_SERVER;
    }
    uint32_t count = (uint32_t)plan->elements[3]->elements_count;
    if (count == 0 && plan->elements[2]->elements_count == 0 && !a->json) {
        puts("no changes staged");
        cluster_shares_table(plan, true); /* the layout now can be lopsided too */
    } else {
        cluster_sizes_fetch(target, conn, moves, count);
        if (a->json) {
            cluster_plan_json(plan, moves, count);
        } else {
            cluster_plan_table(plan, moves, count);
        }
    }
    free(moves);
    rkc_reply_free(plan);
    return 0;
}

/* ---- status ------------------------------------------------------------------------------- */

/* A transfer's progress: keys sent of the partition's keys at its source, "-" when not known.
 * A live partition grows while it moves, so a running transfer shows at most 99%. */
static void cluster_progress_cell(const cluster_move *m, const cluster_transfer *x, char *cell,
                                  size_t cell_bytes)
{
    if (strcmp(x->state, "done") == 0) {
        snprintf(cell, cell_bytes, "100%%");
    } else if (!m->size_known || m->keys <= 0) {
        snprintf(cell, cell_bytes, "-");
    } else {
        int64_t percent = x->keys >= m->keys ? 99 : x->keys * 100 / m->keys;
        snprintf(cell, cell_bytes, "%lld%% of %lld", (long long)percent, (long long)m->keys);
    }
}

static void cluster_status_json(const rkc_reply *st, const cluster_move *moves,
                                const cluster_transfer *xs, uint32_t count, uint32_t done)
{
    const rkc_reply *members = st->elements[2];
    rk_json j;
    admin_json_begin(&j);
    admin_cluster_json_int(&j, "ring_version", st->elements[0]->integer);
    admin_cluster_json_int(&j, "plan", st->elements[1]->integer);
    rk_json_key(&j, "members");
    rk_json_array_begin(&j);
    for (size_t i = 0; i < members->elements_count; i++) {
        const rkc_reply *e = members->elements[i];
        rk_json_object_begin(&j);
        admin_cluster_json_id_text(&j, e, "state");
        admin_cluster_json_int(&j, "owned", e->elements[2]->integer);
        admin_cluster_json_int(&j, "owned_after_plan", e->elements[3]->integer);
        rk_json_object_end(&j);
    }
    rk_json_array_end(&j);
    rk_json_key(&j, "transfers");
    rk_json_array_begin(&j);
    for (uint32_t i = 0; i < count; i++) {
        rk_json_object_begin(&j);
        cluster_json_move(&j, &moves[i]);
        rk_json_key(&j, "state");
        rk_json_string(&j, xs[i].state);
        admin_cluster_json_int(&j, "keys", xs[i].keys);
        admin_cluster_json_int(&j, "bytes", xs[i].bytes);
        admin_cluster_json_int(&j, "keys_per_s", xs[i].keys_per_s);
        cluster_json_maybe(&j, "source_keys", moves[i].size_known, moves[i].keys);
        rk_json_object_end(&j);
    }
    rk_json_array_end(&j);
    admin_cluster_json_int(&j, "transfers_done", done);
    admin_cluster_json_int(&j, "transfers_total", count);
    admin_json_end(&j);
}

static void cluster_status_table(const rkc_reply *st, const cluster_move *moves,
                                 const cluster_transfer *xs, uint32_t count, uint32_t done)
{
    const rkc_reply *members = st->elements[2];
    printf("ring version %lld, plan %lld\n\n", (long long)st->elements[0]->integer,
           (long long)st->elements[1]->integer);
    admin_table t;
    admin_table_init(&t, 4);
    admin_table_add(&t, (const char *const[]){"ID", "STATE", "OWNED", "OWNED_AFTER_PLAN"});
    for (size_t i = 0; i < members->elements_count; i++) {
        const rkc_reply *e = members->elements[i];
        char cells[4][24];
        snprintf(cells[0], sizeof(cells[0]), "%lld", (long long)e->elements[0]->integer);
        admin_reply_copy(e->elements[1], cells[1], sizeof(cells[1]));
        snprintf(cells[2], sizeof(cells[2]), "%lld", (long long)e->elements[2]->integer);
        snprintf(cells[3], sizeof(cells[3]), "%lld", (long long)e->elements[3]->integer);
        admin_table_add(&t, (const char *const[]){cells[0], cells[1], cells[2], cells[3]});
    }
    admin_table_print(&t);
    admin_table_deinit(&t);
    if (count > 0) {
        putchar('\n');
        admin_table_init(&t, 8);
        admin_table_add(&t, (const char *const[]){"PARTITION", "FROM", "TO", "STATE", "KEYS",
                                                  "BYTES", "PROGRESS", "KEYS/S"});
        for (uint32_t i = 0; i < count; i++) {
            char cells[8][32];
            cluster_move_cells(&moves[i], cells[0], cells[1], cells[2], sizeof(cells[0]));
            snprintf(cells[3], sizeof(cells[3]), "%s", xs[i].state);
            snprintf(cells[4], sizeof(cells[4]), "%lld", (long long)xs[i].keys);
            snprintf(cells[5], sizeof(cells[5]), "%lld", (long long)xs[i].bytes);
            cluster_progress_cell(&moves[i], &xs[i], cells[6], sizeof(cells[6]));
            snprintf(cells[7], sizeof(cells[7]), "%lld", (long long)xs[i].keys_per_s);
            admin_table_add(&t, (const char *const[]){cells[0], cells[1], cells[2], cells[3],
                                                      cells[4], cells[5], cells[6], cells[7]});
        }
        admin_table_print(&t);
        admin_table_deinit(&t);
    }
    printf("\ntransfers: %u of %u done\n", done, count);
}

int admin_cluster_status(const rk_admin_target *target, rkc_conn *conn, const admin_args *a)
{
    static const char *const argv[] = {"RK.CLUSTER", "STATUS"};
    rkc_reply *st = NULL;
    int status = admin_call(conn, "RK.CLUSTER STATUS", 2, argv, NULL, &st);
    if (status != 0) {
        return status;
    }
    if (!admin_cluster_reply_is(st, "iill") ||
        !admin_cluster_reply_is_list_of(st->elements[2], "isii")) {
        return admin_bad_reply(st, "RK.CLUSTER STATUS", "[ring version, plan, members, transfers]");
    }
    const rkc_reply *list = st->elements[3];
    cluster_move *moves = cluster_moves_parse(list, "iiisiii", "RK.CLUSTER STATUS");
    cluster_transfer *xs = moves == NULL ? NULL : calloc(list->elements_count + 1u, sizeof(*xs));
    if (xs == NULL) {
        free(moves);
        rkc_reply_free(st);
        return RK_ADMIN_EXIT_SERVER;
    }
    uint32_t count = (uint32_t)list->elements_count;
    uint32_t done = 0;
    for (uint32_t i = 0; i < count; i++) {
        const rkc_reply *e = list->elements[i];
        admin_reply_copy(e->elements[3], xs[i].state, sizeof(xs[i].state));
        xs[i].keys = e->elements[4]->integer;
        xs[i].bytes = e->elements[5]->integer;
        xs[i].keys_per_s = e->elements[6]->integer;
        done += strcmp(xs[i].state, "done") == 0 ? 1u : 0u;
    }
    if (done < count) {
        cluster_sizes_fetch(target, conn, moves, count); /* for the progress of those left */
    }
    if (a->json) {
        cluster_status_json(st, moves, xs, count, done);
    } else {
        cluster_status_table(st, moves, xs, count, done);
    }
    free(xs);
    free(moves);
    rkc_reply_free(st);
    return 0;
}
