/* admin_top.c — the admin subcommands that ask every member, not only the node named:
 * `status` (one INFO per member beside RK.MEMBERS) and `top` (two INFO samples per member,
 * an interval apart, turned into rates). A member that cannot be reached is shown as
 * unreachable; the subcommand still succeeds. */
#include "admin_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- status ------------------------------------------------------------------------------- */

static bool admin_member_is_up(const admin_member *m)
{
    return strcmp(m->state, "self") == 0 || strcmp(m->state, "up") == 0;
}

static void admin_status_json(const rkc_reply *info, const admin_member *members,
                              const admin_info *infos, uint32_t count, uint32_t up)
{
    static const char *const node_fields[] = {"node_id", "cluster_name", "ringkv_version", "engine",
                                              "sync",    "partitions",   "default_n"};
    rk_json j;
    rk_json_init(&j, stdout);
    rk_json_object_begin(&j);
    rk_json_key(&j, "node");
    rk_json_object_begin(&j);
    for (size_t f = 0; f < sizeof(node_fields) / sizeof(node_fields[0]); f++) {
        char value[ADMIN_CELL_BYTES];
        admin_info_str(info, node_fields[f], value, sizeof(value));
        rk_json_key(&j, node_fields[f]);
        size_t digits = strspn(value, "0123456789");
        if (digits > 0 && value[digits] == '\0') {
            rk_json_int(&j, (int64_t)strtoll(value, NULL, 10));
        } else {
            rk_json_string(&j, value);
        }
    }
    rk_json_object_end(&j);
    rk_json_key(&j, "members_up");
    rk_json_int(&j, up);
    rk_json_key(&j, "members_down");
    rk_json_int(&j, (int64_t)count - up);
    rk_json_key(&j, "members");
    rk_json_array_begin(&j);
    for (uint32_t i = 0; i < count; i++) {
        const admin_info *n = &infos[i];
        rk_json_object_begin(&j);
        admin_member_json(&j, &members[i]);
        rk_json_key(&j, "reachable");
        rk_json_bool(&j, n->reachable);
        if (n->reachable) {
            static const char *const names[] = {"keys",          "ops_get", "ops_put", "ops_del",
                                                "hints_pending", "epoch",   "uptime_s"};
            const uint64_t values[] = {n->keys,          n->ops_get, n->ops_put, n->ops_del,
                                       n->hints_pending, n->epoch,   n->uptime_s};
            for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
                rk_json_key(&j, names[f]);
                rk_json_int(&j, (int64_t)values[f]);
            }
        }
        rk_json_object_end(&j);
    }
    rk_json_array_end(&j);
    rk_json_object_end(&j);
    rk_json_finish(&j);
}

static void admin_status_table(const rkc_reply *info, const admin_member *members,
                               const admin_info *infos, uint32_t count, uint32_t up)
{
    char node_id[24];
    char cluster[ADMIN_CELL_BYTES];
    char version[24];
    char engine[24];
    char partitions[24];
    admin_info_str(info, "node_id", node_id, sizeof(node_id));
    admin_info_str(info, "cluster_name", cluster, sizeof(cluster));
    admin_info_str(info, "ringkv_version", version, sizeof(version));
    admin_info_str(info, "engine", engine, sizeof(engine));
    admin_info_str(info, "partitions", partitions, sizeof(partitions));
    printf("node %s of cluster %s (ringkv %s, engine %s, %s partitions)\n", node_id, cluster,
           version, engine, partitions);
    printf("members: %u, %u up, %u down\n\n", count, up, count - up);
    admin_table t;
    admin_table_init(&t, 9);
    admin_table_add(&t, (const char *const[]){"ID", "CLIENT", "STATE", "KEYS", "GETS", "PUTS",
                                              "DELS", "HINTS_PENDING", "EPOCH"});
    for (uint32_t i = 0; i < count; i++) {
        const admin_info *n = &infos[i];
        char cells[7][24];
        snprintf(cells[0], sizeof(cells[0]), "%lld", (long long)members[i].id);
        const uint64_t values[] = {n->keys,    n->ops_get,       n->ops_put,
                                   n->ops_del, n->hints_pending, n->epoch};
        for (size_t f = 0; f < 6; f++) {
            snprintf(cells[f + 1], sizeof(cells[0]), n->reachable ? "%llu" : "-",
                     (unsigned long long)values[f]);
        }
        const char *state = n->reachable ? members[i].state : "unreachable";
        admin_table_add(&t,
                        (const char *const[]){cells[0], members[i].client_addr, state, cells[1],
                                              cells[2], cells[3], cells[4], cells[5], cells[6]});
    }
    admin_table_print(&t);
    admin_table_deinit(&t);
}

int admin_cmd_status(const rk_admin_target *target, rkc_conn *conn, const admin_args *a)
{
    admin_member members[ADMIN_MEMBERS_MAX];
    admin_info infos[ADMIN_MEMBERS_MAX];
    rkc_conn *conns[ADMIN_MEMBERS_MAX];
    uint32_t count = 0;
    rkc_reply *info = NULL;
    int status = admin_info_fetch(conn, false, &info);
    if (status == 0) {
        status = admin_members_fetch(conn, members, &count);
    }
    if (status != 0) {
        rkc_reply_free(info);
        return status;
    }
    admin_members_connect(target, conn, members, count, conns);
    admin_members_sample(conn, conns, count, infos);
    admin_members_disconnect(conn, conns, count);
    uint32_t up = 0;
    for (uint32_t i = 0; i < count; i++) {
        up += admin_member_is_up(&members[i]) ? 1u : 0u;
    }
    if (a->json) {
        admin_status_json(info, members, infos, count, up);
    } else {
        admin_status_table(info, members, infos, count, up);
    }
    rkc_reply_free(info);
    return 0;
}

/* ---- top ---------------------------------------------------------------------------------- */

typedef struct admin_rate {
    bool sampled; /* reachable at both samples */
    double get_per_s;
    double put_per_s;
    double del_per_s;
    uint64_t read_p99_us;
    uint64_t write_p99_us;
} admin_rate;

static double admin_per_s(uint64_t before, uint64_t after, uint64_t ms)
{
    double delta = after >= before ? (double)(after - before) : 0.0;
    return ms > 0 ? delta * 1000.0 / (double)ms : 0.0;
}

static void admin_rate_compute(const admin_info *before, const admin_info *after, admin_rate *rate)
{
    memset(rate, 0, sizeof(*rate));
    if (!before->reachable || !after->reachable) {
        return;
    }
    uint64_t ms = after->sampled_ms - before->sampled_ms;
    rate->sampled = true;
    rate->get_per_s = admin_per_s(before->ops_get, after->ops_get, ms);
    rate->put_per_s = admin_per_s(before->ops_put, after->ops_put, ms);
    rate->del_per_s = admin_per_s(before->ops_del, after->ops_del, ms);
    rate->read_p99_us = after->read_p99_us;
    rate->write_p99_us = after->write_p99_us;
}

static void admin_top_json(const admin_member *members, const admin_rate *rates, uint32_t count,
                           uint32_t interval_ms)
{
    rk_json j;
    rk_json_init(&j, stdout);
    rk_json_object_begin(&j);
    rk_json_key(&j, "interval_ms");
    rk_json_int(&j, interval_ms);
    rk_json_key(&j, "nodes");
    rk_json_array_begin(&j);
    for (uint32_t i = 0; i < count; i++) {
        const admin_rate *r = &rates[i];
        rk_json_object_begin(&j);
        rk_json_key(&j, "id");
        rk_json_int(&j, members[i].id);
        rk_json_key(&j, "client");
        rk_json_string(&j, members[i].client_addr);
        rk_json_key(&j, "reachable");
        rk_json_bool(&j, r->sampled);
        if (r->sampled) {
            static const char *const names[] = {"ops_per_s", "get_per_s", "put_per_s", "del_per_s"};
            const double values[] = {r->get_per_s + r->put_per_s + r->del_per_s, r->get_per_s,
                                     r->put_per_s, r->del_per_s};
            for (size_t f = 0; f < 4; f++) {
                rk_json_key(&j, names[f]);
                rk_json_double(&j, (double)(int64_t)(values[f] * 10.0 + 0.5) / 10.0);
            }
            rk_json_key(&j, "read_p99_us");
            rk_json_int(&j, (int64_t)r->read_p99_us);
            rk_json_key(&j, "write_p99_us");
            rk_json_int(&j, (int64_t)r->write_p99_us);
        }
        rk_json_object_end(&j);
    }
    rk_json_array_end(&j);
    rk_json_object_end(&j);
    rk_json_finish(&j);
}

static void admin_top_table(const admin_member *members, const admin_rate *rates, uint32_t count)
{
    admin_table t;
    admin_table_init(&t, 8);
    admin_table_add(&t, (const char *const[]){"ID", "CLIENT", "OPS/S", "GET/S", "PUT/S", "DEL/S",
                                              "READ_P99_US", "WRITE_P99_US"});
    for (uint32_t i = 0; i < count; i++) {
        const admin_rate *r = &rates[i];
        char cells[7][24];
        snprintf(cells[0], sizeof(cells[0]), "%lld", (long long)members[i].id);
        if (!r->sampled) {
            admin_table_add(&t, (const char *const[]){cells[0], members[i].client_addr,
                                                      "unreachable", "-", "-", "-", "-", "-"});
            continue;
        }
        snprintf(cells[1], sizeof(cells[1]), "%.1f", r->get_per_s + r->put_per_s + r->del_per_s);
        snprintf(cells[2], sizeof(cells[2]), "%.1f", r->get_per_s);
        snprintf(cells[3], sizeof(cells[3]), "%.1f", r->put_per_s);
        snprintf(cells[4], sizeof(cells[4]), "%.1f", r->del_per_s);
        snprintf(cells[5], sizeof(cells[5]), "%llu", (unsigned long long)r->read_p99_us);
        snprintf(cells[6], sizeof(cells[6]), "%llu", (unsigned long long)r->write_p99_us);
        admin_table_add(&t,
                        (const char *const[]){cells[0], members[i].client_addr, cells[1], cells[2],
                                              cells[3], cells[4], cells[5], cells[6]});
    }
    admin_table_print(&t);
    admin_table_deinit(&t);
}

/* Two INFO samples of every member interval_ms apart, one table (or document) of the rates;
 * without --once, again and again with each sample the next one's start. p99 is the node's
 * latency histogram since it started (INFO's latency_*_p99_us), not the interval's. */
int admin_cmd_top(const rk_admin_target *target, rkc_conn *conn, const admin_args *a)
{
    admin_member members[ADMIN_MEMBERS_MAX];
    admin_info before[ADMIN_MEMBERS_MAX];
    admin_info after[ADMIN_MEMBERS_MAX];
    admin_rate rates[ADMIN_MEMBERS_MAX];
    rkc_conn *conns[ADMIN_MEMBERS_MAX];
    uint32_t count = 0;
    int status = admin_members_fetch(conn, members, &count);
    if (status != 0) {
        return status;
    }
    admin_members_connect(target, conn, members, count, conns);
    admin_members_sample(conn, conns, count, before);
    for (;;) {
        admin_sleep_ms(a->interval_ms);
        admin_members_sample(conn, conns, count, after);
        for (uint32_t i = 0; i < count; i++) {
            admin_rate_compute(&before[i], &after[i], &rates[i]);
        }
        if (a->json) {
            admin_top_json(members, rates, count, a->interval_ms);
        } else {
            admin_top_table(members, rates, count);
        }
        if (a->once || fflush(stdout) != 0) {
            break;
        }
        memcpy(before, after, sizeof(before));
        if (!a->json) {
            putchar('\n');
        }
    }
    admin_members_disconnect(conn, conns, count);
    return 0;
}
