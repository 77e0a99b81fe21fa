/* admin_node.c — the admin subcommands' side of talking to nodes (admin_internal.h): one
 * libringkv connection per node, a reply that is an error or of the wrong shape turned into an
 * exit status and one message, RK.MEMBERS and INFO parsed into structs, and the aligned
 * tables every subcommand prints for people. */
#include "admin_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- talking to nodes --------------------------------------------------------------------- */

uint64_t admin_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void admin_sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Connect to host:port (admin_internal.h). */
int admin_connect(const rk_admin_target *t, const char *host, uint16_t port, bool quiet,
                  rkc_conn **conn_out)
{
    rkc_options opts;
    rkc_options_init(&opts);
    opts.connect_timeout_ms = t->timeout_ms;
    opts.timeout_ms = t->timeout_ms;
    *conn_out = NULL;
    rkc_conn *conn = rkc_conn_new(&opts);
    if (conn == NULL) {
        fprintf(stderr, "ringkv: out of memory\n");
        return RK_ADMIN_EXIT_SERVER;
    }
    if (rkc_connect(conn, host, port) < 0) {
        if (!quiet) {
            fprintf(stderr, "ringkv: cannot connect to %s:%u: %s\n", host, (unsigned)port,
                    rkc_errstr(conn));
        }
        rkc_conn_free(conn);
        return RK_ADMIN_EXIT_UNREACHABLE;
    }
    *conn_out = conn;
    return 0;
}

/* Send one command and read its reply. Returns 0 with *reply_out owned (never an error
 * reply), or an exit status after a message: 1 for an error reply, 3 when the node stopped
 * answering (timeout, closed, socket error), 1 for a reply that is not RESP. */
int admin_call(rkc_conn *conn, const char *what, size_t argc, const char *const *argv,
               const size_t *argv_len, rkc_reply **reply_out)
{
    int rc = rkc_command(conn, argc, argv, argv_len, reply_out);
    if (rc == RKC_ETIMEDOUT || rc == RKC_ECLOSED || rc == RKC_EIO || rc == RKC_EBROKEN) {
        fprintf(stderr, "ringkv: %s: %s: %s\n", what, rkc_strerror(rc), rkc_errstr(conn));
        return RK_ADMIN_EXIT_UNREACHABLE;
    }
    if (rc < 0) {
        fprintf(stderr, "ringkv: %s: %s: %s\n", what, rkc_strerror(rc), rkc_errstr(conn));
        return RK_ADMIN_EXIT_SERVER;
    }
    if ((*reply_out)->type == RKC_REPLY_ERROR) {
        fprintf(stderr, "ringkv: %s: %.*s\n", what, (int)(*reply_out)->len, (*reply_out)->str);
        rkc_reply_free(*reply_out);
        *reply_out = NULL;
        return RK_ADMIN_EXIT_SERVER;
    }
    return 0;
}

int admin_bad_reply(rkc_reply *reply, const char *what, const char *expected)
{
    fprintf(stderr, "ringkv: %s: unexpected reply: expected %s\n", what, expected);
    rkc_reply_free(reply);
    return RK_ADMIN_EXIT_SERVER;
}

bool admin_reply_is_list(const rkc_reply *r)
{
    return r->type == RKC_REPLY_ARRAY || r->type == RKC_REPLY_SET || r->type == RKC_REPLY_MAP;
}

bool admin_reply_is_text(const rkc_reply *r)
{
    return r->type == RKC_REPLY_STRING || r->type == RKC_REPLY_STATUS ||
           r->type == RKC_REPLY_VERBATIM;
}

/* Copy a text reply into dst (cut to fit). False when it is not text. */
bool admin_reply_copy(const rkc_reply *r, char *dst, size_t dst_bytes)
{
    if (!admin_reply_is_text(r)) {
        return false;
    }
    size_t len = r->len < dst_bytes - 1u ? r->len : dst_bytes - 1u;
    memcpy(dst, r->str, len);
    dst[len] = '\0';
    return true;
}

/* RK.MEMBERS: [[id, client host:port, cluster host:port, state, heard ms ago, zone], ...]; a
 * node from before zones (issue 16) answers without the zone, taken as none. */
int admin_members_fetch(rkc_conn *conn, admin_member *members, uint32_t *count_out)
{
    static const char *const argv[] = {"RK.MEMBERS"};
    rkc_reply *reply = NULL;
    int status = admin_call(conn, "RK.MEMBERS", 1, argv, NULL, &reply);
    if (status != 0) {
        return status;
    }
    if (reply->type != RKC_REPLY_ARRAY || reply->elements_count > ADMIN_MEMBERS_MAX) {
        return admin_bad_reply(reply, "RK.MEMBERS", "an array of at most 64 members");
    }
    for (size_t i = 0; i < reply->elements_count; i++) {
        const rkc_reply *e = reply->elements[i];
        admin_member *m = &members[i];
        memset(m, 0, sizeof(*m));
        if (e->type != RKC_REPLY_ARRAY || (e->elements_count != 5 && e->elements_count != 6) ||
            e->elements[0]->type != RKC_REPLY_INTEGER ||
            e->elements[4]->type != RKC_REPLY_INTEGER ||
            !admin_reply_copy(e->elements[1], m->client_addr, sizeof(m->client_addr)) ||
            !admin_reply_copy(e->elements[2], m->cluster_addr, sizeof(m->cluster_addr)) ||
            !admin_reply_copy(e->elements[3], m->state, sizeof(m->state)) ||
            (e->elements_count == 6 &&
             !admin_reply_copy(e->elements[5], m->zone, sizeof(m->zone)))) {
            return admin_bad_reply(reply, "RK.MEMBERS", "[id, client, cluster, state, ms, zone]");
        }
        m->id = e->elements[0]->integer;
        m->heard_ms_ago = e->elements[4]->integer;
    }
    *count_out = (uint32_t)reply->elements_count;
    rkc_reply_free(reply);
    return 0;
}

/* The value of "name:value" in INFO text, or NULL; *len_out is its length. */
static const char *admin_info_field(const char *text, size_t text_len, const char *name,
                                    size_t *len_out)
{
    size_t name_len = strlen(name);
    const char *end = text + text_len;
    const char *line = text;
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        const char *line_end = eol != NULL ? eol : end;
        if ((size_t)(line_end - line) > name_len && memcmp(line, name, name_len) == 0 &&
            line[name_len] == ':') {
            const char *value = line + name_len + 1u;
            size_t len = (size_t)(line_end - value);
            if (len > 0 && value[len - 1u] == '\r') {
                len--;
            }
            *len_out = len;
            return value;
        }
        line = line_end + 1;
    }
    return NULL;
}

static uint64_t admin_info_u64(const char *text, size_t text_len, const char *name)
{
    size_t len = 0;
    const char *value = admin_info_field(text, text_len, name, &len);
    return value != NULL ? strtoull(value, NULL, 10) : 0;
}

/* Copy an INFO field's text into dst ("" when absent). */
void admin_info_str(const rkc_reply *info, const char *name, char *dst, size_t dst_bytes)
{
    size_t len = 0;
    const char *value = admin_info_field(info->str, info->len, name, &len);
    len = value == NULL ? 0 : len < dst_bytes - 1u ? len : dst_bytes - 1u;
    if (len > 0) {
        memcpy(dst, value, len);
    }
    dst[len] = '\0';
}

/* INFO all: returns 0 with *reply_out owned (text in str, len), or an exit status. */
int admin_info_fetch(rkc_conn *conn, bool quiet, rkc_reply **reply_out)
{
    static const char *const argv[] = {"INFO", "all"};
    int status = 0;
    if (quiet) {
        status = rkc_command(conn, 2, argv, NULL, reply_out) < 0 ? RK_ADMIN_EXIT_UNREACHABLE : 0;
    } else {
        status = admin_call(conn, "INFO", 2, argv, NULL, reply_out);
    }
    if (status != 0) {
        return status;
    }
    if (!admin_reply_is_text(*reply_out)) {
        if (quiet) {
            rkc_reply_free(*reply_out);
            *reply_out = NULL;
            return RK_ADMIN_EXIT_SERVER;
        }
        return admin_bad_reply(*reply_out, "INFO", "text");
    }
    return 0;
}

static void admin_info_parse(const rkc_reply *r, admin_info *info)
{
    memset(info, 0, sizeof(*info));
    info->reachable = true;
    info->sampled_ms = admin_now_ms();
    info->ops_get = admin_info_u64(r->str, r->len, "ops_get");
    info->ops_put = admin_info_u64(r->str, r->len, "ops_put");
    info->ops_del = admin_info_u64(r->str, r->len, "ops_del");
    info->hints_pending = admin_info_u64(r->str, r->len, "hints_pending");
    info->epoch = admin_info_u64(r->str, r->len, "epoch");
    info->uptime_s = admin_info_u64(r->str, r->len, "uptime_in_seconds");
    info->read_p99_us = admin_info_u64(r->str, r->len, "latency_read_p99_us");
    info->write_p99_us = admin_info_u64(r->str, r->len, "latency_write_p99_us");
    /* Redis's keyspace line, "db0:keys=N,expires=0,avg_ttl=0", absent when there are none. */
    size_t len = 0;
    const char *db0 = admin_info_field(r->str, r->len, "db0", &len);
    if (db0 != NULL && len > 5 && strncmp(db0, "keys=", 5) == 0) {
        info->keys = strtoull(db0 + 5, NULL, 10);
    }
}

/* Split "host:port" at its last colon (admin_internal.h). */
bool admin_addr_split(const char *addr, char *host, size_t host_bytes, uint16_t *port)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= host_bytes || colon[1] == '\0') {
        return false;
    }
    char *end = NULL;
    unsigned long value = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || value == 0 || value > 65535u) {
        return false;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    *port = (uint16_t)value;
    return true;
}

/* Open a connection to every member (self reuses `conn`; NULL where it cannot be reached). */
void admin_members_connect(const rk_admin_target *t, rkc_conn *conn, const admin_member *members,
                           uint32_t count, rkc_conn **conns)
{
    for (uint32_t i = 0; i < count; i++) {
        conns[i] = NULL;
        char host[ADMIN_ADDR_BYTES];
        uint16_t port = 0;
        if (strcmp(members[i].state, "self") == 0) {
            conns[i] = conn;
        } else if (admin_addr_split(members[i].client_addr, host, sizeof(host), &port)) {
            (void)admin_connect(t, host, port, true, &conns[i]);
        }
    }
}

void admin_members_disconnect(rkc_conn *conn, rkc_conn **conns, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if (conns[i] != conn) {
            rkc_conn_free(conns[i]);
        }
        conns[i] = NULL;
    }
}

/* INFO of every member that has a connection; the others (and any whose INFO fails, which
 * then loses its connection) are left unreachable. */
void admin_members_sample(rkc_conn *conn, rkc_conn **conns, uint32_t count, admin_info *infos)
{
    for (uint32_t i = 0; i < count; i++) {
        memset(&infos[i], 0, sizeof(infos[i]));
        rkc_reply *reply = NULL;
        if (conns[i] == NULL) {
            continue;
        }
        if (admin_info_fetch(conns[i], true, &reply) != 0) {
            if (conns[i] != conn) {
                rkc_conn_free(conns[i]);
            }
            conns[i] = NULL;
            continue;
        }
        admin_info_parse(reply, &infos[i]);
        rkc_reply_free(reply);
    }
}

/* ---- tables for people -------------------------------------------------------------------- */

void admin_table_init(admin_table *t, uint32_t cols)
{
    memset(t, 0, sizeof(*t));
    t->cols = cols;
}

void admin_table_deinit(admin_table *t)
{
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Append a row of t->cols cells, the strings of `cells`. Exits on out of memory: a CLI that
 * cannot hold its table has nothing else to do. */
void admin_table_add(admin_table *t, const char *const *cells)
{
    if (t->rows == t->rows_capacity) {
        uint32_t capacity = t->rows_capacity == 0 ? 16u : t->rows_capacity * 2u;
        void *grown = realloc(t->cells, (size_t)capacity * t->cols * ADMIN_CELL_BYTES);
        if (grown == NULL) {
            fprintf(stderr, "ringkv: out of memory\n");
            exit(RK_ADMIN_EXIT_SERVER);
        }
        t->cells = grown;
        t->rows_capacity = capacity;
    }
    for (uint32_t c = 0; c < t->cols; c++) {
        snprintf(t->cells[t->rows * t->cols + c], ADMIN_CELL_BYTES, "%s", cells[c]);
    }
    t->rows++;
}

void admin_table_print(const admin_table *t)
{
    size_t width[ADMIN_TABLE_COLS_MAX] = {0};
    for (uint32_t r = 0; r < t->rows; r++) {
        for (uint32_t c = 0; c < t->cols; c++) {
            size_t len = strlen(t->cells[r * t->cols + c]);
            width[c] = len > width[c] ? len : width[c];
        }
    }
    for (uint32_t r = 0; r < t->rows; r++) {
        for (uint32_t c = 0; c < t->cols; c++) {
            const char *cell = t->cells[r * t->cols + c];
            if (c + 1u == t->cols) {
                printf("%s\n", cell);
            } else {
                printf("%-*s  ", (int)width[c], cell);
            }
        }
    }
}

/* ---- a member as JSON --------------------------------------------------------------------- */

void admin_member_json(rk_json *j, const admin_member *m)
{
    rk_json_key(j, "id");
    rk_json_int(j, m->id);
    rk_json_key(j, "client");
    rk_json_string(j, m->client_addr);
    rk_json_key(j, "cluster");
    rk_json_string(j, m->cluster_addr);
    rk_json_key(j, "state");
    rk_json_string(j, m->state);
    rk_json_key(j, "heard_ms_ago");
    if (m->heard_ms_ago < 0) {
        rk_json_null(j);
    } else {
        rk_json_int(j, m->heard_ms_ago);
    }
    rk_json_key(j, "zone");
    rk_json_string(j, m->zone);
}
