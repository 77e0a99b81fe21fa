/* admin.h — the admin subcommands of the `ringkv` CLI (issue 19 part 3), in the spirit of
 * riak-admin and nodetool: status, members, ring, preflist, bucket get|set and top, against
 * any node, as aligned tables for people or one JSON document (--json) for scripts; repair,
 * which starts anti-entropy exchanges and follows them to the end; and cluster, the staged
 * membership changes of issue 15 (join, leave, plan, commit, status). Owns talking to the
 * nodes (through libringkv, one connection per node asked) and the printing;
 * the commands themselves are the server's (src/io/commands_rk.c: RK.MEMBERS, RK.RING,
 * RK.PREFLIST, RK.BUCKET; src/io/commands_repair.c: RK.REPAIR; src/io/info.c: INFO; RK.CLUSTER
 * as docs/membership.md gives it). Argument parsing of the options before the subcommand
 * (--host, --port, --timeout-ms) is ringkv.c's. */
#ifndef RK_ADMIN_H
#define RK_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

/* Exit statuses of the admin subcommands: the contract scripts rely on. */
#define RK_ADMIN_EXIT_OK 0
#define RK_ADMIN_EXIT_SERVER 1      /* the node answered an error or a reply of the wrong shape */
#define RK_ADMIN_EXIT_USAGE 2       /* unknown subcommand or flag, missing or bad argument */
#define RK_ADMIN_EXIT_UNREACHABLE 3 /* cannot connect, timeout, connection lost */

typedef struct rk_admin_target {
    const char *host;
    uint16_t port;
    uint32_t timeout_ms; /* connect and reply timeout; 0 for none */
    bool timeout_set;    /* --timeout-ms was given: also how long repair follows its exchanges */
    bool json;           /* --json before the subcommand, as after it */
} rk_admin_target;

/* True when `command` is an admin subcommand (status, members, ring, preflist, bucket, top,
 * repair, cluster). */
bool rk_admin_is_command(const char *command);

/* Run the admin subcommand argv[0] with its arguments and flags (--json, and for top --once
 * and --interval-ms N) against `target`. Prints to stdout; messages go to stderr. Returns an
 * RK_ADMIN_EXIT_* status. Borrows everything. */
int rk_admin_main(const rk_admin_target *target, int argc, char **argv);

/* The help text's lines for the admin subcommands, for ringkv --help. */
extern const char rk_admin_usage_text[];

#endif
