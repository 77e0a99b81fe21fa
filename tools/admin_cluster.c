/* admin_cluster.c — `ringkv cluster SUBCOMMAND` (admin_internal.h), the operator's side of
 * staged membership changes (issue 15, docs/membership.md): join, leave, force-remove, clear
 * and commit change what is staged; plan (what a commit would move) and status (the transfers
 * of the committed plan) are printed by admin_cluster_status.c, dispatched from here with the
 * reply checks both files share. The commands are the server's (RK.CLUSTER ..., the table in
 * docs/membership.md); these files only send them, check the shape of each answer and print.
 *
 * join is the one subcommand that talks to two nodes: the joining node P (--host/--port) is
 * asked who it is (SELF), the cluster at HOST:PORT stages the join (STAGE-JOIN) and answers
 * the metadata with the join in it, and P adopts those bytes (ADOPT) as its own. The CLI
 * refuses before anything is staged when P holds keys or is already in a cluster, so the
 * usual mistake (joining the wrong node) costs nothing to undo. */
#include "admin_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define CLUSTER_ID_MAX 0xffffffffu /* rk_node_id is a uint32_t; 0 is never an id */
#define CLUSTER_HINT "run 'ringkv cluster plan' then 'ringkv cluster commit'"

/* ---- shared with admin_cluster_status.c ---------------------------------------------------- */

void admin_cluster_json_int(rk_json *j, const char *key, int64_t value)
{
    rk_json_key(j, key);
    rk_json_int(j, value);
}

/* The fields "id" and `key` of an object the caller opened, from a reply [id, text, ...]: a
 * staged change of PLAN or a member of STATUS. */
void admin_cluster_json_id_text(rk_json *j, const rkc_reply *e, const char *key)
{
    admin_cluster_json_int(j, "id", e->elements[0]->integer);
    rk_json_key(j, key);
    rk_json_string_len(j, e->elements[1]->str, e->elements[1]->len);
}

/* True when r is an array of `count` elements whose types are spelled in `types`: 'i' an
 * integer, 's' text, 'l' a list. */
bool admin_cluster_reply_is(const rkc_reply *r, const char *types)
{
    size_t count = strlen(types);
    if (r->type != RKC_REPLY_ARRAY || r->elements_count != count) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        const rkc_reply *e = r->elements[i];
        bool ok = types[i] == 'i'   ? e->type == RKC_REPLY_INTEGER
                  : types[i] == 's' ? admin_reply_is_text(e)
                                    : admin_reply_is_list(e);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* True when every element of the list r has the shape `types` (admin_cluster_reply_is). */
bool admin_cluster_reply_is_list_of(const rkc_reply *r, const char *types)
{
    if (!admin_reply_is_list(r)) {
        return false;
    }
    for (size_t i = 0; i < r->elements_count; i++) {
        if (!admin_cluster_reply_is(r->elements[i], types)) {
            return false;
        }
    }
    return true;
}

/* Send RK.CLUSTER with `argc` words after it and expect +OK or another status line; the line
 * goes to `line` (cut to fit). 0 or an exit status after a message. */
static int cluster_call_status(rkc_conn *conn, const char *what, size_t argc,
                               const char *const *args, char *line, size_t line_bytes)
{
    const char *argv[3] = {"RK.CLUSTER"};
    for (size_t i = 0; i < argc && i < 2u; i++) {
        argv[i + 1u] = args[i];
    }
    rkc_reply *reply = NULL;
    int status = admin_call(conn, what, argc + 1u, argv, NULL, &reply);
    if (status != 0) {
        return status;
    }
    if (!admin_reply_copy(reply, line, line_bytes)) {
        return admin_bad_reply(reply, what, "a status line");
    }
    rkc_reply_free(reply);
    return 0;
}

/* ---- join --------------------------------------------------------------------------------- */

/* RK.CLUSTER SELF: [id, host, ports, keys_live, member_count, ring_version, zone]. */
typedef struct cluster_self {
    int64_t id;
    char host[ADMIN_ADDR_BYTES];
    int64_t client_port;
    int64_t cluster_port;
    int64_t keys_live;
    int64_t member_count;
    char zone[ADMIN_ZONE_BYTES];
} cluster_self;

static int cluster_self_fetch(rkc_conn *conn, cluster_self *self)
{
    static const char *const argv[] = {"RK.CLUSTER", "SELF"};
    rkc_reply *reply = NULL;
    int status = admin_call(conn, "RK.CLUSTER SELF", 2, argv, NULL, &reply);
    if (status != 0) {
        return status;
    }
    memset(self, 0, sizeof(*self));
    if (!admin_cluster_reply_is(reply, "isiiiiis") ||
        !admin_reply_copy(reply->elements[1], self->host, sizeof(self->host)) ||
        !admin_reply_copy(reply->elements[7], self->zone, sizeof(self->zone))) {
        return admin_bad_reply(reply, "RK.CLUSTER SELF",
                               "[id, host, client_port, cluster_port, keys_live, member_count, "
                               "ring_version, zone]");
    }
    self->id = reply->elements[0]->integer;
    self->client_port = reply->elements[2]->integer;
    self->cluster_port = reply->elements[3]->integer;
    self->keys_live = reply->elements[4]->integer;
    self->member_count = reply->elements[5]->integer;
    rkc_reply_free(reply);
    return 0;
}

/* STAGE-JOIN at the seed with P's identity. Returns 0 with *meta_out owned (a bulk string:
 * the encoded metadata), or an exit status after a message. */
static int cluster_stage_join(rkc_conn *seed, const cluster_self *self, rkc_reply **meta_out)
{
    char id[24];
    char client_port[24];
    char cluster_port[24];
    snprintf(id, sizeof(id), "%lld", (long long)self->id);
    snprintf(client_port, sizeof(client_port), "%lld", (long long)self->client_port);
    snprintf(cluster_port, sizeof(cluster_port), "%lld", (long long)self->cluster_port);
    const char *argv[] = {"RK.CLUSTER", "STAGE-JOIN", id,        self->host,
                          client_port,  cluster_port, self->zone};
    int status = admin_call(seed, "RK.CLUSTER STAGE-JOIN", self->zone[0] != '\0' ? 7 : 6, argv,
                            NULL, meta_out);
    if (status != 0) {
        return status;
    }
    if ((*meta_out)->type != RKC_REPLY_STRING || (*meta_out)->len == 0) {
        status = admin_bad_reply(*meta_out, "RK.CLUSTER STAGE-JOIN", "the metadata as a bulk");
        *meta_out = NULL;
    }
    return status;
}

static int cluster_join(const rk_admin_target *target, rkc_conn *conn, const admin_args *a)
{
    const char *seed_addr = a->positional[1];
    char seed_host[ADMIN_ADDR_BYTES];
    uint16_t seed_port = 0;
    (void)admin_addr_split(seed_addr, seed_host, sizeof(seed_host), &seed_port); /* checked */
    cluster_self self;
    int status = cluster_self_fetch(conn, &self);
    if (status != 0) {
        return status;
    }
    /* Adopting a cluster's metadata replaces the node's ring: keys it holds would sit in
     * partitions it no longer owns, and a member of another cluster would leave it silently. */
    if (self.keys_live > 0) {
        fprintf(stderr,
                "ringkv: cluster join: node %lld holds %lld keys; only an empty node can "
                "join\n",
                (long long)self.id, (long long)self.keys_live);
        return RK_ADMIN_EXIT_SERVER;
    }
    if (self.member_count > 1) {
        fprintf(stderr,
                "ringkv: cluster join: node %lld is already a member of a cluster of %lld "
                "nodes\n",
                (long long)self.id, (long long)self.member_count);
        return RK_ADMIN_EXIT_SERVER;
    }
    rkc_conn *seed = NULL;
    status = admin_connect(target, seed_host, seed_port, false, &seed);
    if (status != 0) {
        return status;
    }
    rkc_reply *meta = NULL;
    status = cluster_stage_join(seed, &self, &meta);
    rkc_conn_free(seed);
    if (status != 0) {
        return status;
    }
    /* The metadata is binary: its length goes with it. */
    const char *argv[] = {"RK.CLUSTER", "ADOPT", meta->str};
    const size_t argv_len[] = {10, 5, meta->len};
    rkc_reply *reply = NULL;
    status = admin_call(conn, "RK.CLUSTER ADOPT", 3, argv, argv_len, &reply);
    rkc_reply_free(meta);
    if (status != 0) {
        return status;
    }
    if (!admin_reply_is_text(reply)) {
        return admin_bad_reply(reply, "RK.CLUSTER ADOPT", "+OK");
    }
    rkc_reply_free(reply);
    if (a->json) {
        rk_json j;
        admin_json_begin(&j);
        admin_cluster_json_int(&j, "id", self.id);
        rk_json_key(&j, "staged");
        rk_json_string(&j, "join");
        rk_json_key(&j, "cluster");
        rk_json_string(&j, seed_addr);
        admin_json_end(&j);
    } else {
        printf("node %lld staged to join the cluster of %s; " CLUSTER_HINT "\n", (long long)self.id,
               seed_addr);
    }
    return 0;
}

/* ---- leave, force-remove, clear, commit --------------------------------------------------- */

/* The subcommands that send one RK.CLUSTER word (and an id) and get one status line. */
static int cluster_simple(const rk_admin_target *target, rkc_conn *conn, const admin_args *a)
{
    const char *sub = a->positional[0];
    const char *id = a->positional_count > 1 ? a->positional[1] : NULL;
    const char *word = strcmp(sub, "leave") == 0          ? "LEAVE"
                       : strcmp(sub, "force-remove") == 0 ? "FORCE-REMOVE"
                       : strcmp(sub, "clear") == 0        ? "CLEAR"
                                                          : "COMMIT";
    char what[32];
    snprintf(what, sizeof(what), "RK.CLUSTER %s", word);
    const char *args[] = {word, id};
    char line[ADMIN_CELL_BYTES * 2u];
    int status = cluster_call_status(conn, what, id != NULL ? 2u : 1u, args, line, sizeof(line));
    if (status != 0) {
        return status;
    }
    if (a->json) {
        rk_json j;
        admin_json_begin(&j);
        rk_json_key(&j, "command");
        rk_json_string(&j, sub);
        if (id != NULL) {
            admin_cluster_json_int(&j, "id", (int64_t)strtoull(id, NULL, 10));
        }
        rk_json_key(&j, "reply");
        rk_json_string(&j, line);
        admin_json_end(&j);
    } else if (strcmp(word, "LEAVE") == 0 && id == NULL) {
        printf("node at %s:%u staged to leave; " CLUSTER_HINT "\n", target->host,
               (unsigned)target->port);
    } else if (strcmp(word, "LEAVE") == 0) {
        printf("node %s staged to leave; " CLUSTER_HINT "\n", id);
    } else if (strcmp(word, "FORCE-REMOVE") == 0) {
        printf("node %s staged to be force-removed; " CLUSTER_HINT "\n", id);
    } else if (strcmp(word, "CLEAR") == 0) {
        puts("staged changes cleared");
    } else {
        puts(line); /* "OK plan N committed: M transfers" */
    }
    return 0;
}

/* ---- arguments and dispatch --------------------------------------------------------------- */

static bool cluster_id_valid(const char *text)
{
    uint64_t id = 0;
    return rk_parse_u64_range(text, 1, CLUSTER_ID_MAX, &id);
}

int admin_cluster_check_args(const admin_args *a)
{
    static const char usage[] = "cluster: expected join HOST:PORT, leave [ID], force-remove ID, "
                                "clear, plan, commit or status";
    uint32_t n = a->positional_count;
    const char *sub = n >= 1 ? a->positional[0] : "";
    const char *arg = n >= 2 ? a->positional[1] : NULL;
    if (strcmp(sub, "join") == 0) {
        char host[ADMIN_ADDR_BYTES];
        uint16_t port = 0;
        if (n != 2) {
            return admin_usage("cluster join: expected HOST:PORT of a node in the cluster");
        }
        if (!admin_addr_split(arg, host, sizeof(host), &port) || host[0] == '\0') {
            return admin_usage("cluster join: \"%s\": expected HOST:PORT with a port "
                               "1..65535",
                               arg);
        }
        return -1;
    }
    if (strcmp(sub, "leave") == 0 || strcmp(sub, "force-remove") == 0) {
        bool is_leave = sub[0] == 'l';
        if (n > 2 || (!is_leave && n != 2)) {
            return admin_usage("cluster %s: expected %s", sub, is_leave ? "[ID]" : "ID");
        }
        if (arg != NULL && !cluster_id_valid(arg)) {
            return admin_usage("cluster %s: ID \"%s\": expected a node id 1..%u", sub, arg,
                               CLUSTER_ID_MAX);
        }
        return -1;
    }
    bool known = strcmp(sub, "clear") == 0 || strcmp(sub, "plan") == 0 ||
                 strcmp(sub, "commit") == 0 || strcmp(sub, "status") == 0;
    if (!known) {
        return n == 0 ? admin_usage("%s", usage)
                      : admin_usage("cluster: unknown subcommand \"%s\"; %s", sub,
                                    usage + strlen("cluster: "));
    }
    if (arg != NULL) {
        return admin_usage("cluster %s: unexpected argument \"%s\"", sub, arg);
    }
    return -1;
}

int admin_cmd_cluster(const rk_admin_target *target, rkc_conn *conn, const admin_args *a)
{
    const char *sub = a->positional[0];
    if (strcmp(sub, "join") == 0) {
        return cluster_join(target, conn, a);
    }
    if (strcmp(sub, "plan") == 0) {
        return admin_cluster_plan(target, conn, a);
    }
    if (strcmp(sub, "status") == 0) {
        return admin_cluster_status(target, conn, a);
    }
    return cluster_simple(target, conn, a);
}
