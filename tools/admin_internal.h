/* admin_internal.h — what the admin subcommands' files share (admin.h is the API): the
 * connections to nodes and the INFO and RK.MEMBERS parsing (admin_node.c), the table printer
 * (admin_node.c), the opening and closing of a --json document (inline below), the multi-node
 * subcommands status and top (admin_top.c), repair (admin_repair.c) and cluster
 * (admin_cluster.c, its plan and status in admin_cluster_status.c), which admin.c dispatches
 * to. Not for other tools. */
#ifndef RK_ADMIN_INTERNAL_H
#define RK_ADMIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../src/client/ringkv.h"
#include "admin.h"
#include "json.h"

#define ADMIN_MEMBERS_MAX 64u /* RK_MEMBERS_MAX: RK.MEMBERS never lists more */
#define ADMIN_ADDR_BYTES 72u  /* RK_MEMBER_HOST_BYTES_MAX + ":65535" and a NUL */
#define ADMIN_CELL_BYTES 80u  /* one table cell; longer text is cut */
#define ADMIN_TABLE_COLS_MAX 10u
#define ADMIN_POSITIONAL_MAX 18u /* bucket set NAME and RK.BUCKET's 8 prop/value pairs */
#define ADMIN_INTERVAL_MS_DEFAULT 1000u
#define ADMIN_INTERVAL_MS_MAX 3600000u /* an hour: a longer gap says nothing about "now" */
#define ADMIN_ZONE_BYTES 16u /* ringkvd's --zone: 1..15 bytes, and a NUL */

typedef struct admin_args {
    bool json;
    bool once;
    uint32_t interval_ms;
    uint32_t positional_count;
    const char *positional[ADMIN_POSITIONAL_MAX];
} admin_args;

typedef struct admin_member {
    int64_t id;
    char client_addr[ADMIN_ADDR_BYTES];
    char cluster_addr[ADMIN_ADDR_BYTES];
    char state[16];       /* self, up, suspect, connecting, down */
    int64_t heard_ms_ago; /* -1: never heard */
    char zone[ADMIN_ZONE_BYTES]; /* "" when the member has none (or the node predates zones) */
} admin_member;

/* What INFO says of one node, the numbers status and top print. */
typedef struct admin_info {
    bool reachable;
    uint64_t sampled_ms; /* CLOCK_MONOTONIC when the reply came */
    uint64_t ops_get;
    uint64_t ops_put;
    uint64_t ops_del;
    uint64_t keys;
    uint64_t hints_pending;
    uint64_t epoch;
    uint64_t uptime_s;
    uint64_t read_p99_us;
    uint64_t write_p99_us;
} admin_info;

/* Rows of cells, printed with every column as wide as its widest cell. */
typedef struct admin_table {
    uint32_t cols;
    uint32_t rows;
    uint32_t rows_capacity;
    char (*cells)[ADMIN_CELL_BYTES];
} admin_table;

/* ---- admin_node.c: talking to nodes ---- */

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t admin_now_ms(void);
/* Sleep ms milliseconds, resumed after a signal interrupts it. */
void admin_sleep_ms(uint32_t ms);

/* Connect to host:port with target's timeouts. Returns 0 with *conn_out owned
 * (rkc_conn_free), or an exit status after a message on stderr (quiet: no message, for
 * members that status and top show as unreachable). */
int admin_connect(const rk_admin_target *t, const char *host, uint16_t port, bool quiet,
                  rkc_conn **conn_out);

/* Send one command and read its reply. Returns 0 with *reply_out owned (never an error
 * reply), or an exit status after a message: 1 for an error reply or a reply that is not
 * RESP, 3 when the node stopped answering (timeout, closed, socket error). Borrows argv. */
int admin_call(rkc_conn *conn, const char *what, size_t argc, const char *const *argv,
               const size_t *argv_len, rkc_reply **reply_out);

/* Say the reply of `what` was not `expected`, free it and return 1. Takes `reply`. */
int admin_bad_reply(rkc_reply *reply, const char *what, const char *expected);

bool admin_reply_is_list(const rkc_reply *r); /* array, set or map */
bool admin_reply_is_text(const rkc_reply *r); /* bulk, simple or verbatim string */
/* Copy a text reply into dst, cut to fit and NUL-terminated. False when it is not text. */
bool admin_reply_copy(const rkc_reply *r, char *dst, size_t dst_bytes);

/* Split "host:port" at its last colon into host (host_bytes, NUL-terminated) and a port
 * 1..65535. False when it is not of that form or the host does not fit. */
bool admin_addr_split(const char *addr, char *host, size_t host_bytes, uint16_t *port);

/* RK.MEMBERS into members[0..*count_out); members holds ADMIN_MEMBERS_MAX. 0 or an exit
 * status after a message. */
int admin_members_fetch(rkc_conn *conn, admin_member *members, uint32_t *count_out);

/* INFO all. Returns 0 with *reply_out owned (the text in str, len), or an exit status (after
 * a message unless quiet). */
int admin_info_fetch(rkc_conn *conn, bool quiet, rkc_reply **reply_out);
/* Copy INFO's field `name` into dst ("" when absent). Borrows everything. */
void admin_info_str(const rkc_reply *info, const char *name, char *dst, size_t dst_bytes);

/* Open conns[i] to every member's client address; self reuses `conn`, NULL where a member
 * cannot be reached. Close them with admin_members_disconnect (which leaves `conn` open). */
void admin_members_connect(const rk_admin_target *t, rkc_conn *conn, const admin_member *members,
                           uint32_t count, rkc_conn **conns);
void admin_members_disconnect(rkc_conn *conn, rkc_conn **conns, uint32_t count);
/* INFO of every member with a connection into infos[i]; one that fails loses its connection
 * and is left unreachable (reachable false). */
void admin_members_sample(rkc_conn *conn, rkc_conn **conns, uint32_t count, admin_info *infos);

/* The fields of one member inside a JSON object the caller opened. */
void admin_member_json(rk_json *j, const admin_member *m);

/* ---- admin_node.c: tables for people ---- */

void admin_table_init(admin_table *t, uint32_t cols);
void admin_table_deinit(admin_table *t);
/* Append a row of t->cols cells (cut to ADMIN_CELL_BYTES). Borrows `cells`. Exits with status
 * 1 when out of memory: a CLI that cannot hold its table has nothing else to do. */
void admin_table_add(admin_table *t, const char *const *cells);
/* Print every row, each column as wide as its widest cell, two spaces apart. */
void admin_table_print(const admin_table *t);

/* ---- admin_top.c: the subcommands that ask every member ---- */

/* status: this node's identity and, per member, state, keys, ops, hints pending, epoch. */
int admin_cmd_status(const rk_admin_target *target, rkc_conn *conn, const admin_args *a);
/* top: ops/s and p99 per member from two INFO samples a->interval_ms apart. */
int admin_cmd_top(const rk_admin_target *target, rkc_conn *conn, const admin_args *a);

/* ---- admin.c ---- */

/* Print "ringkv: <message> (ringkv --help for usage)" on stderr; returns RK_ADMIN_EXIT_USAGE. */
int admin_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- inline here: the --json document ---- */

/* Open the one JSON object a subcommand prints for --json, on stdout. */
static inline void admin_json_begin(rk_json *j)
{
    rk_json_init(j, stdout);
    rk_json_object_begin(j);
}

/* Close the object admin_json_begin opened and finish the output. */
static inline void admin_json_end(rk_json *j)
{
    rk_json_object_end(j);
    rk_json_finish(j);
}

/* ---- admin_cluster.c ---- */

/* Check `cluster SUBCOMMAND ...` before connecting: -1 to go on, or 2 after a message. */
int admin_cluster_check_args(const admin_args *a);
/* cluster join|leave|force-remove|clear|plan|commit|status against the node of `conn` (the
 * joining node for join), RK.CLUSTER underneath (docs/membership.md). */
int admin_cmd_cluster(const rk_admin_target *target, rkc_conn *conn, const admin_args *a);

/* True when r is an array of strlen(types) elements whose types are spelled in `types`: 'i'
 * an integer, 's' text, 'l' a list. Borrows r. */
bool admin_cluster_reply_is(const rkc_reply *r, const char *types);
/* True when r is a list and every element of it has the shape `types`. */
bool admin_cluster_reply_is_list_of(const rkc_reply *r, const char *types);
/* "key": value inside a JSON object the caller opened. */
void admin_cluster_json_int(rk_json *j, const char *key, int64_t value);
/* The fields "id" and `key` of an object the caller opened, from a reply [id, text, ...]
 * already checked to have that shape. */
void admin_cluster_json_id_text(rk_json *j, const rkc_reply *e, const char *key);

/* ---- admin_cluster_status.c ---- */

/* cluster plan: RK.CLUSTER PLAN, the staged changes and the moves with each partition's keys
 * and bytes asked of its source. */
int admin_cluster_plan(const rk_admin_target *target, rkc_conn *conn, const admin_args *a);
/* cluster status: RK.CLUSTER STATUS, members and each transfer's progress and rate. */
int admin_cluster_status(const rk_admin_target *target, rkc_conn *conn, const admin_args *a);

/* ---- admin_repair.c ---- */

/* repair [all|PARTITION]: RK.REPAIR, then INFO aae every 250 ms until the exchanges it queued
 * are over (exit 3 after --timeout-ms, or 10 minutes without it). */
int admin_cmd_repair(const rk_admin_target *target, rkc_conn *conn, const admin_args *a);

#endif
