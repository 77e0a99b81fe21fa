/* admin.c — the admin subcommands of `ringkv` (admin.h). Each subcommand asks the node named
 * by --host/--port, and for status and top every member it lists in RK.MEMBERS (at the client
 * address the member advertises), then prints a table or one JSON document (json.h). A member
 * that cannot be reached is shown as such; only the first node being unreachable is exit 3. */
#include "admin_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char rk_admin_usage_text[] =
    "Admin commands (any node; tables for people, --json for one JSON document):\n"
    "  status [--json]              this node and every member: up/down, keys, ops, hints\n"
    "                               pending, epoch\n"
    "  members [--json]             the members as this node sees them, with their zones\n"
    "                               (RK.MEMBERS)\n"
    "  ring [--json]                which node owns each partition (RK.RING)\n"
    "  preflist KEY [--json]        the nodes that hold KEY, in order (RK.PREFLIST)\n"
    "  bucket get NAME [--json]     a bucket's properties (RK.BUCKET GET)\n"
    "  bucket set NAME PROP VALUE [PROP VALUE...] [--json]\n"
    "                               change properties on every member (RK.BUCKET SET)\n"
    "  top [--once] [--interval-ms N] [--json]\n"
    "                               ops/s and p99 latency per node from two INFO samples N ms\n"
    "                               apart (default 1000); without --once, repeats until killed\n"
    "  repair [all|PARTITION] [--json]\n"
    "                               anti-entropy exchanges of every partition (or one) with\n"
    "                               the other replicas now (RK.REPAIR), followed until over\n"
    "Membership changes are staged, planned, then committed (RK.CLUSTER):\n"
    "  cluster join HOST:PORT       stage the empty node at --host/--port to join the cluster\n"
    "                               of the node at HOST:PORT\n"
    "  cluster leave [ID]           stage node ID (default: the node asked) to leave\n"
    "  cluster force-remove ID      stage node ID's removal without handing its data off\n"
    "  cluster clear                drop every staged change\n"
    "  cluster plan [--json]        the staged changes and the partitions they move, with\n"
    "                               keys and bytes of each asked of the node it moves from,\n"
    "                               each node's replicas now and after, and a warning for\n"
    "                               each node above 1.5 times the mean\n"
    "  cluster commit               carry out the plan: partitions move to their new owners\n"
    "  cluster status [--json]      members, partitions owned now and after the plan, and\n"
    "                               each transfer's progress and rate\n"
    "Admin exit status: 0 ok; 1 the node answered an error; 2 bad usage (one line on stderr);\n"
    "3 the node is unreachable (cannot connect, timeout).\n";

int admin_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ringkv: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (ringkv --help for usage)\n", stderr);
    va_end(ap);
    return RK_ADMIN_EXIT_USAGE;
}

/* ---- members ------------------------------------------------------------------------------ */

static int admin_cmd_members(rkc_conn *conn, const admin_args *a)
{
    admin_member members[ADMIN_MEMBERS_MAX];
    uint32_t count = 0;
    int status = admin_members_fetch(conn, members, &count);
    if (status != 0) {
        return status;
    }
    if (a->json) {
        rk_json j;
        admin_json_begin(&j);
        rk_json_key(&j, "members");
        rk_json_array_begin(&j);
        for (uint32_t i = 0; i < count; i++) {
            rk_json_object_begin(&j);
            admin_member_json(&j, &members[i]);
            rk_json_object_end(&j);
        }
        rk_json_array_end(&j);
        admin_json_end(&j);
        return 0;
    }
    admin_table t;
    admin_table_init(&t, 6);
    admin_table_add(&t,
                    (const char *const[]){"ID", "CLIENT", "CLUSTER", "ZONE", "STATE", "HEARD_MS"});
    for (uint32_t i = 0; i < count; i++) {
        char id[24];
        char heard[24];
        snprintf(id, sizeof(id), "%lld", (long long)members[i].id);
        snprintf(heard, sizeof(heard), "%lld", (long long)members[i].heard_ms_ago);
        const admin_member *m = &members[i];
        admin_table_add(&t, (const char *const[]){id, m->client_addr, m->cluster_addr,
                                                  m->zone[0] == '\0' ? "-" : m->zone, m->state,
                                                  m->heard_ms_ago < 0 ? "-" : heard});
    }
    admin_table_print(&t);
    admin_table_deinit(&t);
    return 0;
}

/* ---- ring and preflist -------------------------------------------------------------------- */

/* Check that every element of an array reply is an integer. */
static bool admin_reply_is_ints(const rkc_reply *r)
{
    if (r->type != RKC_REPLY_ARRAY) {
        return false;
    }
    for (size_t i = 0; i < r->elements_count; i++) {
        if (r->elements[i]->type != RKC_REPLY_INTEGER) {
            return false;
        }
    }
    return true;
}

/* For people: how many partitions each node owns, then the owners 16 to a line. */
static void admin_ring_table(const rkc_reply *ring)
{
    int64_t ids[ADMIN_MEMBERS_MAX];
    uint32_t owned[ADMIN_MEMBERS_MAX];
    uint32_t id_count = 0;
    for (size_t p = 0; p < ring->elements_count; p++) {
        uint32_t k = 0;
        while (k < id_count && ids[k] != ring->elements[p]->integer) {
            k++;
        }
        if (k == id_count && id_count == ADMIN_MEMBERS_MAX) {
            continue; /* cannot happen: a ring holds at most RK_MEMBERS_MAX nodes */
        }
        if (k == id_count) {
            ids[id_count] = ring->elements[p]->integer;
            owned[id_count++] = 0;
        }
        owned[k]++;
    }
    admin_table t;
    admin_table_init(&t, 3);
    admin_table_add(&t, (const char *const[]){"OWNER", "PARTITIONS", "SHARE"});
    for (uint32_t k = 0; k < id_count; k++) {
        char cells[3][24];
        snprintf(cells[0], sizeof(cells[0]), "%lld", (long long)ids[k]);
        snprintf(cells[1], sizeof(cells[1]), "%u", owned[k]);
        snprintf(cells[2], sizeof(cells[2]), "%.1f%%",
                 100.0 * (double)owned[k] / (double)ring->elements_count);
        admin_table_add(&t, (const char *const[]){cells[0], cells[1], cells[2]});
    }
    admin_table_print(&t);
    admin_table_deinit(&t);
    printf("\n%zu partitions; owner of each, from partition 0:\n", ring->elements_count);
    for (size_t p = 0; p < ring->elements_count; p++) {
        if (p % 16u == 0) {
            printf("%6zu:", p);
        }
        printf(" %3lld", (long long)ring->elements[p]->integer);
        if (p % 16u == 15u || p + 1u == ring->elements_count) {
            putchar('\n');
        }
    }
}

static int admin_cmd_ring(rkc_conn *conn, const admin_args *a)
{
    static const char *const argv[] = {"RK.RING"};
    rkc_reply *ring = NULL;
    int status = admin_call(conn, "RK.RING", 1, argv, NULL, &ring);
    if (status != 0) {
        return status;
    }
    if (!admin_reply_is_ints(ring) || ring->elements_count == 0) {
        return admin_bad_reply(ring, "RK.RING", "an array of node ids");
    }
    if (a->json) {
        rk_json j;
        admin_json_begin(&j);
        rk_json_key(&j, "partitions");
        rk_json_int(&j, (int64_t)ring->elements_count);
        rk_json_key(&j, "owners");
        rk_json_array_begin(&j);
        for (size_t p = 0; p < ring->elements_count; p++) {
            rk_json_int(&j, ring->elements[p]->integer);
        }
        rk_json_array_end(&j);
        admin_json_end(&j);
    } else {
        admin_ring_table(ring);
    }
    rkc_reply_free(ring);
    return 0;
}

static const admin_member *admin_member_find(const admin_member *members, uint32_t count,
                                             int64_t id)
{
    for (uint32_t i = 0; i < count; i++) {
        if (members[i].id == id) {
            return &members[i];
        }
    }
    return NULL;
}

static void admin_preflist_print(const char *key, const rkc_reply *list,
                                 const admin_member *members, uint32_t count, bool json)
{
    admin_table t;
    rk_json j;
    if (json) {
        admin_json_begin(&j);
        rk_json_key(&j, "key");
        rk_json_string(&j, key);
        rk_json_key(&j, "preflist");
        rk_json_array_begin(&j);
    } else {
        admin_table_init(&t, 4);
        admin_table_add(&t, (const char *const[]){"INDEX", "ID", "CLIENT", "STATE"});
    }
    for (size_t i = 0; i < list->elements_count; i++) {
        const admin_member *m = admin_member_find(members, count, list->elements[i]->integer);
        if (json) {
            rk_json_object_begin(&j);
            rk_json_key(&j, "index");
            rk_json_int(&j, (int64_t)i);
            rk_json_key(&j, "id");
            rk_json_int(&j, list->elements[i]->integer);
            rk_json_key(&j, "client");
            rk_json_string(&j, m != NULL ? m->client_addr : "");
            rk_json_key(&j, "state");
            rk_json_string(&j, m != NULL ? m->state : "unknown");
            rk_json_object_end(&j);
            continue;
        }
        char index[24];
        char id[24];
        snprintf(index, sizeof(index), "%zu", i);
        snprintf(id, sizeof(id), "%lld", (long long)list->elements[i]->integer);
        admin_table_add(&t, (const char *const[]){index, id, m != NULL ? m->client_addr : "-",
                                                  m != NULL ? m->state : "unknown"});
    }
    if (json) {
        rk_json_array_end(&j);
        admin_json_end(&j);
    } else {
        admin_table_print(&t);
        admin_table_deinit(&t);
    }
}

static int admin_cmd_preflist(rkc_conn *conn, const admin_args *a)
{
    admin_member members[ADMIN_MEMBERS_MAX];
    uint32_t count = 0;
    int status = admin_members_fetch(conn, members, &count);
    if (status != 0) {
        return status;
    }
    const char *argv[] = {"RK.PREFLIST", a->positional[0]};
    rkc_reply *list = NULL;
    status = admin_call(conn, "RK.PREFLIST", 2, argv, NULL, &list);
    if (status != 0) {
        return status;
    }
    if (!admin_reply_is_ints(list)) {
        return admin_bad_reply(list, "RK.PREFLIST", "an array of node ids");
    }
    admin_preflist_print(a->positional[0], list, members, count, a->json);
    rkc_reply_free(list);
    return 0;
}

/* ---- bucket ------------------------------------------------------------------------------- */

/* RK.BUCKET GET's map (a flat array under RESP2): integers as numbers, "true"/"false" as
 * booleans, other text as strings. */
static int admin_bucket_get(rkc_conn *conn, const admin_args *a)
{
    const char *argv[] = {"RK.BUCKET", "GET", a->positional[1]};
    rkc_reply *props = NULL;
    int status = admin_call(conn, "RK.BUCKET GET", 3, argv, NULL, &props);
    if (status != 0) {
        return status;
    }
    bool ok = admin_reply_is_list(props) && props->elements_count % 2u == 0;
    for (size_t i = 0; ok && i < props->elements_count; i++) {
        const rkc_reply *e = props->elements[i];
        ok = admin_reply_is_text(e) || (i % 2u == 1u && e->type == RKC_REPLY_INTEGER);
    }
    if (!ok) {
        return admin_bad_reply(props, "RK.BUCKET GET", "a map of properties");
    }
    admin_table t;
    rk_json j;
    if (a->json) {
        admin_json_begin(&j);
        rk_json_key(&j, "bucket");
        rk_json_string(&j, a->positional[1]);
        rk_json_key(&j, "props");
        rk_json_object_begin(&j);
    } else {
        admin_table_init(&t, 2);
        admin_table_add(&t, (const char *const[]){"PROP", "VALUE"});
    }
    for (size_t i = 0; i < props->elements_count; i += 2u) {
        const rkc_reply *name = props->elements[i];
        const rkc_reply *value = props->elements[i + 1u];
        char text[ADMIN_CELL_BYTES];
        if (value->type == RKC_REPLY_INTEGER) {
            snprintf(text, sizeof(text), "%lld", (long long)value->integer);
        } else {
            admin_reply_copy(value, text, sizeof(text));
        }
        if (!a->json) {
            char prop[ADMIN_CELL_BYTES];
            admin_reply_copy(name, prop, sizeof(prop));
            admin_table_add(&t, (const char *const[]){prop, text});
            continue;
        }
        rk_json_key(&j, name->str);
        if (value->type == RKC_REPLY_INTEGER) {
            rk_json_int(&j, value->integer);
        } else if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
            rk_json_bool(&j, text[0] == 't');
        } else {
            rk_json_string_len(&j, value->str, value->len);
        }
    }
    if (a->json) {
        rk_json_object_end(&j);
        admin_json_end(&j);
    } else {
        admin_table_print(&t);
        admin_table_deinit(&t);
    }
    rkc_reply_free(props);
    return 0;
}

static int admin_bucket_set(rkc_conn *conn, const admin_args *a)
{
    const char *argv[ADMIN_POSITIONAL_MAX + 1u] = {"RK.BUCKET", "SET"};
    size_t argc = 2;
    for (uint32_t i = 1; i < a->positional_count; i++) {
        argv[argc++] = a->positional[i];
    }
    rkc_reply *stored = NULL;
    int status = admin_call(conn, "RK.BUCKET SET", argc, argv, NULL, &stored);
    if (status != 0) {
        return status;
    }
    if (stored->type != RKC_REPLY_INTEGER) {
        return admin_bad_reply(stored, "RK.BUCKET SET", "an integer");
    }
    if (a->json) {
        rk_json j;
        admin_json_begin(&j);
        rk_json_key(&j, "bucket");
        rk_json_string(&j, a->positional[1]);
        rk_json_key(&j, "members_stored");
        rk_json_int(&j, stored->integer);
        admin_json_end(&j);
    } else {
        printf("OK: bucket %s stored on %lld members\n", a->positional[1],
               (long long)stored->integer);
    }
    rkc_reply_free(stored);
    return 0;
}

/* ---- arguments and dispatch --------------------------------------------------------------- */

static const char *const admin_commands[] = {"status", "members", "ring",   "preflist",
                                             "bucket", "top",     "repair", "cluster"};

bool rk_admin_is_command(const char *command)
{
    for (size_t i = 0; i < sizeof(admin_commands) / sizeof(admin_commands[0]); i++) {
        if (strcmp(command, admin_commands[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Flags may come anywhere after the subcommand; "--interval-ms N" and "--interval-ms=N". */
static int admin_parse_args(int argc, char **argv, admin_args *a)
{
    memset(a, 0, sizeof(*a));
    a->interval_ms = ADMIN_INTERVAL_MS_DEFAULT;
    bool is_top = strcmp(argv[0], "top") == 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--json") == 0) {
            a->json = true;
        } else if (is_top && strcmp(arg, "--once") == 0) {
            a->once = true;
        } else if (is_top && strncmp(arg, "--interval-ms", 13) == 0 &&
                   (arg[13] == '\0' || arg[13] == '=')) {
            const char *value = arg[13] == '=' ? arg + 14 : i + 1 < argc ? argv[++i] : "";
            char *end = NULL;
            errno = 0;
            unsigned long long ms = strtoull(value, &end, 10);
            if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || ms < 1 ||
                ms > ADMIN_INTERVAL_MS_MAX) {
                return admin_usage("top: --interval-ms \"%s\": expected 1..%u", value,
                                   ADMIN_INTERVAL_MS_MAX);
            }
            a->interval_ms = (uint32_t)ms;
        } else if (strncmp(arg, "--", 2) == 0 && arg[2] != '\0') {
            return admin_usage("%s: unknown option %s", argv[0], arg);
        } else if (a->positional_count == ADMIN_POSITIONAL_MAX) {
            return admin_usage("%s: too many arguments (at most %u)", argv[0],
                               ADMIN_POSITIONAL_MAX);
        } else {
            a->positional[a->positional_count++] = arg;
        }
    }
    return -1;
}

/* Check the arguments of the subcommand before connecting. Returns -1 to go on, or 2. */
static int admin_check_args(const char *command, const admin_args *a)
{
    uint32_t n = a->positional_count;
    if (strcmp(command, "preflist") == 0) {
        return n == 1 ? -1 : admin_usage("preflist: expected exactly one KEY");
    }
    if (strcmp(command, "bucket") == 0) {
        bool is_get = n >= 1 && strcmp(a->positional[0], "get") == 0;
        bool is_set = n >= 1 && strcmp(a->positional[0], "set") == 0;
        if (is_get && n != 2) {
            return admin_usage("bucket get: expected NAME");
        }
        if (is_set && (n < 4 || n % 2u != 0)) {
            return admin_usage("bucket set: expected NAME PROP VALUE [PROP VALUE...]");
        }
        return is_get || is_set ? -1
                                : admin_usage("bucket: expected get NAME or set NAME PROP "
                                              "VALUE [PROP VALUE...]");
    }
    if (strcmp(command, "repair") == 0) {
        const char *what = n >= 1 ? a->positional[0] : "all";
        bool digits = what[0] != '\0' && strspn(what, "0123456789") == strlen(what);
        if (n > 1 || (strcmp(what, "all") != 0 && !digits)) {
            return admin_usage("repair: expected all or a partition number");
        }
        return -1;
    }
    if (strcmp(command, "cluster") == 0) {
        return admin_cluster_check_args(a);
    }
    if (n != 0) {
        return admin_usage("%s: unexpected argument \"%s\"", command, a->positional[0]);
    }
    return -1;
}

int rk_admin_main(const rk_admin_target *target, int argc, char **argv)
{
    const char *command = argv[0];
    admin_args a;
    int status = admin_parse_args(argc, argv, &a);
    a.json = a.json || target->json;
    if (status < 0) {
        status = admin_check_args(command, &a);
    }
    if (status >= 0) {
        return status;
    }
    rkc_conn *conn = NULL;
    status = admin_connect(target, target->host, target->port, false, &conn);
    if (status != 0) {
        return status;
    }
    if (strcmp(command, "status") == 0) {
        status = admin_cmd_status(target, conn, &a);
    } else if (strcmp(command, "members") == 0) {
        status = admin_cmd_members(conn, &a);
    } else if (strcmp(command, "ring") == 0) {
        status = admin_cmd_ring(conn, &a);
    } else if (strcmp(command, "preflist") == 0) {
        status = admin_cmd_preflist(conn, &a);
    } else if (strcmp(command, "bucket") == 0 && strcmp(a.positional[0], "get") == 0) {
        status = admin_bucket_get(conn, &a);
    } else if (strcmp(command, "bucket") == 0) {
        status = admin_bucket_set(conn, &a);
    } else if (strcmp(command, "repair") == 0) {
        status = admin_cmd_repair(target, conn, &a);
    } else if (strcmp(command, "cluster") == 0) {
        status = admin_cmd_cluster(target, conn, &a);
    } else {
        status = admin_cmd_top(target, conn, &a);
    }
    rkc_conn_free(conn);
    return status;
}
