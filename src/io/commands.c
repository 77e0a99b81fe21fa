/* commands.c — the command table and handlers (see commands.h). The key commands count
 * themselves in INFO's ops_get (GET, MGET), ops_put (SET) and ops_del (DEL): one per command
 * that reached its handler, whatever its key count and whether or not it then succeeded, as
 * Redis counts calls; commands_rk.c counts RK.GET, RK.PUT and RK.DEL the same way. */
#include "commands.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMMANDS_VERSION "0.1.0"
/* Clients check redis_version for features; we answer as the Redis whose commands we follow. */
#define COMMANDS_REDIS_VERSION "7.0.0"

typedef struct commands_entry {
    const char *name;           /* lower case, as COMMAND reports it */
    int arity;                  /* Redis: n exactly, -n at least n (the name counts) */
    commands_handler handler;
    const char *flags;          /* space-separated, for COMMAND */
    int first_key;
    int last_key;
    int key_step;
} commands_entry;

rk_cmd *rk_commands_new_cmd(rk_client *c)
{
    rk_cmd *cmd = calloc(1, sizeof(*cmd));
    if (cmd == NULL) {
        return NULL;
    }
    cmd->client = c;
    cmd->latency_class = RK_LAT_OTHER;
    cmd->start_ns = uv_hrtime();
    rk_resp_out_init(&cmd->out, c->proto);
    if (c->cmd_tail != NULL) {
        c->cmd_tail->next = cmd;
    } else {
        c->cmd_head = cmd;
    }
    c->cmd_tail = cmd;
    c->cmd_count++;
    return cmd;
}

void rk_commands_error(rk_resp_out *out, int code, const char *message)
{
    const char *prefix = "ERR";
    if (code == RK_EUNAVAIL) {
        prefix = "UNAVAILABLE";
    } else if (code == RK_ETIMEDOUT) {
        prefix = "TIMEOUT";
    } else if (code == RK_EBUSY) {
        prefix = "BUSY";
    } else if (code == RK_ECONFLICT) {
        prefix = "CONFLICT";
    } else if (code == RK_EWRONGTYPE) {
        prefix = "WRONGTYPE";
    }
    rk_resp_errorf(out, "%s %s", prefix, message != NULL ? message : rk_strerror(code));
}

bool rk_commands_arg_is(const commands_args *a, uint32_t i, const char *word)
{
    size_t len = strlen(word);
    return i < a->argc && a->argv_len[i] == len &&
           strncasecmp((const char *)a->argv[i], word, len) == 0;
}

/* Copy argument i into a NUL-terminated buffer, cut at the buffer's size. */
const char *rk_commands_arg_str(const commands_args *a, uint32_t i, char *buf, size_t size)
{
    size_t len = a->argv_len[i] < size - 1 ? a->argv_len[i] : size - 1;
    memcpy(buf, a->argv[i], len);
    buf[len] = '\0';
    return buf;
}

bool rk_commands_arg_int(const commands_args *a, uint32_t i, int64_t *out)
{
    return rk_parse_int64(a->argv[i], a->argv_len[i], out);
}

static void commands_done(rk_server *s, rk_cmd *cmd)
{
    rk_server_cmd_complete(s, cmd);
}

/* Send key commands to the node: one sub-request per key starting at argv[first]. */
static void commands_keys_to_node(rk_server *s, rk_cmd *cmd, const commands_args *a,
                                  uint32_t first, rk_request_kind kind, rk_cmd_combine combine)
{
    uint32_t count = a->argc - first;
    cmd->combine = combine;
    cmd->sub_count = count;
    cmd->waiting = count;
    if (combine == RK_CMD_ARRAY) {
        cmd->values = calloc(count, sizeof(*cmd->values));
        if (cmd->values == NULL) {
            cmd->combine = RK_CMD_DONE;
            cmd->waiting = 0;
            cmd->sub_count = 0;
            rk_resp_error(&cmd->out, "ERR out of memory");
            commands_done(s, cmd);
            return;
        }
    }
    /* The last sub-reply may complete (and free) cmd, so nothing touches it after the loop. */
    for (uint32_t i = 0; i < count; i++) {
        rk_request r = {.kind = kind, .key = a->argv[first + i], .key_len = a->argv_len[first + i]};
        rk_server_node_request(s, cmd, i, &r);
    }
}

static void commands_get(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    s->stats.ops_get++;
    cmd->latency_class = RK_LAT_READ;
    commands_keys_to_node(s, cmd, a, 1, RK_REQ_GET, RK_CMD_SINGLE);
}

static void commands_mget(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    s->stats.ops_get++;
    cmd->latency_class = RK_LAT_READ;
    commands_keys_to_node(s, cmd, a, 1, RK_REQ_GET, RK_CMD_ARRAY);
}

static void commands_exists(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    cmd->latency_class = RK_LAT_READ;
    commands_keys_to_node(s, cmd, a, 1, RK_REQ_EXISTS, RK_CMD_SUM);
}

static void commands_del(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    s->stats.ops_del++;
    cmd->latency_class = RK_LAT_WRITE;
    for (uint32_t i = 1; i < a->argc; i++) {
        if (rk_server_key_merge_typed(s, a->argv[i], a->argv_len[i])) {
            rk_server_cmd_barrier(cmd);    /* a set's DEL reads at R first, as SADD does */
            break;
        }
    }
    commands_keys_to_node(s, cmd, a, 1, RK_REQ_DEL, RK_CMD_SUM);
}

static void commands_set(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    s->stats.ops_put++;
    cmd->latency_class = RK_LAT_WRITE;
    if (a->argc > 3) {
        char option[32];
        rk_commands_arg_str(a, 3, option, sizeof(option));
        const char *why = "ringkv's SET takes no options";
        if (rk_commands_arg_is(a, 3, "NX") || rk_commands_arg_is(a, 3, "XX") ||
            rk_commands_arg_is(a, 3, "GET")) {
            why = "ringkv has no compare-and-set yet (an always-writable store cannot promise it "
                  "without a consensus round)";
        } else if (rk_commands_arg_is(a, 3, "EX") || rk_commands_arg_is(a, 3, "PX") ||
                   rk_commands_arg_is(a, 3, "EXAT") || rk_commands_arg_is(a, 3, "PXAT") ||
                   rk_commands_arg_is(a, 3, "KEEPTTL")) {
            why = "ringkv has no expiry yet";
        }
        rk_resp_errorf(&cmd->out, "ERR SET option '%s' is not supported: %s", option, why);
        commands_done(s, cmd);
        return;
    }
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    rk_request r = {.kind = RK_REQ_PUT,
                    .key = a->argv[1],
                    .key_len = a->argv_len[1],
                    .value = a->argv[2],
                    .value_len = a->argv_len[2]};
    rk_server_node_request(s, cmd, 0, &r);
}

/* A write given as an operation (op.h) on argv[1], with argv[2] as its argument when
 * `with_arg`: the bucket's policy applies it and decides the reply. */
static void commands_write_op(rk_server *s, rk_cmd *cmd, const commands_args *a, rk_op_kind op,
                              bool with_arg)
{
    cmd->latency_class = RK_LAT_WRITE;
    cmd->combine = RK_CMD_SINGLE;
    cmd->sub_count = 1;
    cmd->waiting = 1;
    rk_request r = {.kind = RK_REQ_WRITE,
                    .op = (uint8_t)op,
                    .key = a->argv[1],
                    .key_len = a->argv_len[1],
                    .value = with_arg ? a->argv[2] : NULL,
                    .value_len = with_arg ? a->argv_len[2] : 0};
    rk_server_node_request(s, cmd, 0, &r);
}

/* APPEND key value: lww only (a siblings bucket refuses it); the value's new length. */
static void commands_append(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    commands_write_op(s, cmd, a, RK_OP_APPEND, true);
}

/* GETDEL key: the value it deleted, or nil; on a siblings bucket with several live versions
 * it answers CONFLICT and deletes nothing. */
static void commands_getdel(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    commands_write_op(s, cmd, a, RK_OP_GETDEL, false);
}

static void commands_ping(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    if (a->argc > 2) {
        rk_resp_error(&cmd->out, "ERR wrong number of arguments for 'ping' command");
    } else if (a->argc == 2) {
        rk_resp_bulk(&cmd->out, a->argv[1], a->argv_len[1]);
    } else {
        rk_resp_simple(&cmd->out, "PONG");
    }
    commands_done(s, cmd);
}

static void commands_echo(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    rk_resp_bulk(&cmd->out, a->argv[1], a->argv_len[1]);
    commands_done(s, cmd);
}

static void commands_quit(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    rk_resp_simple(&cmd->out, "OK");
    cmd->close_after = true;
    c->closing = true;
    commands_done(s, cmd);
}

static void commands_select(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    int64_t db = -1;
    if (!rk_commands_arg_int(a, 1, &db)) {
        rk_resp_error(&cmd->out, "ERR value is not an integer or out of range");
    } else if (db != 0) {
        rk_resp_error(&cmd->out, "ERR DB index is out of range (ringkv has one keyspace, db 0)");
    } else {
        rk_resp_simple(&cmd->out, "OK");
    }
    commands_done(s, cmd);
}

static void commands_dbsize(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    rk_resp_integer(&cmd->out, (int64_t)rk_node_stats_get(s->node)->keys_live);
    commands_done(s, cmd);
}

static void commands_info(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    char section[32] = "default";
    if (a->argc > 2) {
        /* Several sections: "all" serves them all. */
        snprintf(section, sizeof(section), "all");
    } else if (a->argc == 2) {
        rk_commands_arg_str(a, 1, section, sizeof(section));
    }
    rk_info_write(s, &cmd->out, section);
    commands_done(s, cmd);
}

static void commands_hello_reply(rk_server *s, rk_client *c, rk_cmd *cmd)
{
    rk_resp_out *out = &cmd->out;
    rk_resp_map(out, 7);
    rk_resp_bulk_str(out, "server");
    rk_resp_bulk_str(out, "ringkv");
    rk_resp_bulk_str(out, "version");
    rk_resp_bulk_str(out, COMMANDS_VERSION);
    rk_resp_bulk_str(out, "proto");
    rk_resp_integer(out, c->proto);
    rk_resp_bulk_str(out, "id");
    rk_resp_integer(out, (int64_t)c->id);
    rk_resp_bulk_str(out, "mode");
    rk_resp_bulk_str(out, "standalone");
    rk_resp_bulk_str(out, "role");
    rk_resp_bulk_str(out, "master");
    rk_resp_bulk_str(out, "modules");
    rk_resp_array(out, 0);
}

static void commands_hello(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    int64_t proto = c->proto;
    if (a->argc >= 2 && (!rk_commands_arg_int(a, 1, &proto) || proto < 2 || proto > 3)) {
        rk_resp_error(&cmd->out, "NOPROTO unsupported protocol version");
        commands_done(s, cmd);
        return;
    }
    const uint8_t *name = NULL;
    size_t name_len = 0;
    for (uint32_t i = 2; i < a->argc; i++) {
        if (rk_commands_arg_is(a, i, "AUTH") && i + 2 < a->argc) {
            rk_resp_error(&cmd->out, "ERR AUTH called without any password configured for the "
                                     "default user");
            commands_done(s, cmd);
            return;
        } else if (rk_commands_arg_is(a, i, "SETNAME") && i + 1 < a->argc) {
            name = a->argv[i + 1];
            name_len = a->argv_len[i + 1];
            i++;
        } else {
            char opt[32];
            rk_resp_errorf(&cmd->out, "ERR syntax error in HELLO option '%s'",
                           rk_commands_arg_str(a, i, opt, sizeof(opt)));
            commands_done(s, cmd);
            return;
        }
    }
    if (name != NULL) {
        size_t len = name_len < RK_CLIENT_NAME_BYTES_MAX ? name_len : RK_CLIENT_NAME_BYTES_MAX;
        memcpy(c->name, name, len);
        c->name[len] = '\0';
    }
    c->proto = (int)proto;
    cmd->out.proto = c->proto;
    commands_hello_reply(s, c, cmd);
    commands_done(s, cmd);
}

static void commands_client_info_line(const rk_client *c, char *buf, size_t size)
{
    uint64_t now_ms = rk_server_now_ms(c->server);
    snprintf(buf, size, "id=%llu addr=%s name=%s age=%llu idle=%llu db=0 resp=%d\n",
             (unsigned long long)c->id, c->addr, c->name,
             (unsigned long long)((now_ms - c->created_ms) / 1000u),
             (unsigned long long)((now_ms - c->last_active_ms) / 1000u), c->proto);
}

static void commands_client(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    rk_resp_out *out = &cmd->out;
    char line[512];
    if (rk_commands_arg_is(a, 1, "SETNAME") && a->argc == 3) {
        for (size_t i = 0; i < a->argv_len[2]; i++) {
            if (a->argv[2][i] <= ' ' || a->argv[2][i] > '~') {
                rk_resp_error(out, "ERR Client names cannot contain spaces, newlines or special "
                                   "characters.");
                commands_done(s, cmd);
                return;
            }
        }
        rk_commands_arg_str(a, 2, c->name, sizeof(c->name));
        rk_resp_simple(out, "OK");
    } else if (rk_commands_arg_is(a, 1, "GETNAME") && a->argc == 2) {
        if (c->name[0] == '\0') {
            rk_resp_null(out);
        } else {
            rk_resp_bulk_str(out, c->name);
        }
    } else if (rk_commands_arg_is(a, 1, "ID") && a->argc == 2) {
        rk_resp_integer(out, (int64_t)c->id);
    } else if (rk_commands_arg_is(a, 1, "SETINFO") && a->argc == 4) {
        rk_resp_simple(out, "OK");  /* lib-name / lib-ver: accepted, as Redis does */
    } else if (rk_commands_arg_is(a, 1, "INFO") && a->argc == 2) {
        commands_client_info_line(c, line, sizeof(line));
        rk_resp_verbatim(out, line, strlen(line));
    } else if (rk_commands_arg_is(a, 1, "LIST") && a->argc == 2) {
        rk_resp_out text;
        rk_resp_out_init(&text, 2);
        for (const rk_client *other = s->clients; other != NULL; other = other->next) {
            commands_client_info_line(other, line, sizeof(line));
            rk_resp_out_append_raw(&text, (const uint8_t *)line, strlen(line));
        }
        rk_resp_verbatim(out, (const char *)text.data, text.len);
        rk_resp_out_deinit(&text);
    } else {
        char sub[32];
        rk_resp_errorf(out, "ERR unknown subcommand or wrong number of arguments for 'CLIENT|%s'",
                       a->argc > 1 ? rk_commands_arg_str(a, 1, sub, sizeof(sub)) : "");
    }
    commands_done(s, cmd);
}

/* CONFIG GET: what clients ask on connect (redis-benchmark: save, appendonly) and our own
 * limits, read-only. */
static void commands_config(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    rk_resp_out *out = &cmd->out;
    if (!rk_commands_arg_is(a, 1, "GET") || a->argc < 3) {
        rk_resp_error(out, "ERR ringkv supports CONFIG GET only; options are set at start-up");
        commands_done(s, cmd);
        return;
    }
    const rk_config *cfg = s->config;
    char values[8][32];
    snprintf(values[0], sizeof(values[0]), "%u", cfg->max_clients);
    snprintf(values[1], sizeof(values[1]), "%u", cfg->idle_timeout_s);
    snprintf(values[2], sizeof(values[2]), "%llu", (unsigned long long)cfg->max_value_bytes);
    snprintf(values[3], sizeof(values[3]), "%u", cfg->port);
    snprintf(values[4], sizeof(values[4]), "%llu", (unsigned long long)cfg->max_bulk_bytes);
    const char *table[][2] = {
        {"save", ""},
        {"appendonly", "no"},
        {"databases", "1"},
        {"maxclients", values[0]},
        {"timeout", values[1]},
        {"max-value-bytes", values[2]},
        {"port", values[3]},
        {"proto-max-bulk-len", values[4]},
        {"sync", rk_sync_policy_name(cfg->sync)},
        {"engine", cfg->engine},
    };
    size_t table_count = sizeof(table) / sizeof(table[0]);
    bool match[sizeof(table) / sizeof(table[0])] = {false};
    size_t matched = 0;
    for (uint32_t i = 2; i < a->argc; i++) {
        char pattern[128];
        rk_commands_arg_str(a, i, pattern, sizeof(pattern));
        for (size_t k = 0; k < table_count; k++) {
            if (!match[k] && fnmatch(pattern, table[k][0], FNM_CASEFOLD) == 0) {
                match[k] = true;
                matched++;
            }
        }
    }
    rk_resp_map(out, matched);
    for (size_t k = 0; k < table_count; k++) {
        if (match[k]) {
            rk_resp_bulk_str(out, table[k][0]);
            rk_resp_bulk_str(out, table[k][1]);
        }
    }
    commands_done(s, cmd);
}

static void commands_command(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a);

static const commands_entry commands_table[] = {
    {"get", 2, commands_get, "readonly fast", 1, 1, 1},
    {"set", -3, commands_set, "write denyoom", 1, 1, 1},
    {"append", 3, commands_append, "write denyoom", 1, 1, 1},
    {"getdel", 2, commands_getdel, "write fast", 1, 1, 1},
    {"del", -2, commands_del, "write", 1, -1, 1},
    {"mget", -2, commands_mget, "readonly fast", 1, -1, 1},
    {"exists", -2, commands_exists, "readonly fast", 1, -1, 1},
    {"type", 2, rk_commands_typed, "readonly fast", 1, 1, 1},
    {"sadd", -3, rk_commands_typed, "write denyoom fast", 1, 1, 1},
    {"srem", -3, rk_commands_typed, "write fast", 1, 1, 1},
    {"smembers", 2, rk_commands_typed, "readonly", 1, 1, 1},
    {"scard", 2, rk_commands_typed, "readonly fast", 1, 1, 1},
    {"sismember", 3, rk_commands_typed, "readonly fast", 1, 1, 1},
    {"smismember", -3, rk_commands_typed, "readonly fast", 1, 1, 1},
    {"incr", 2, rk_commands_incr, "write denyoom fast", 1, 1, 1},
    {"decr", 2, rk_commands_incr, "write denyoom fast", 1, 1, 1},
    {"incrby", 3, rk_commands_incr, "write denyoom fast", 1, 1, 1},
    {"decrby", 3, rk_commands_incr, "write denyoom fast", 1, 1, 1},
    {"hset", -4, rk_commands_typed, "write denyoom fast", 1, 1, 1},
    {"hdel", -3, rk_commands_typed, "write fast", 1, 1, 1},
    {"hincrby", 4, rk_commands_hincrby, "write denyoom fast", 1, 1, 1},
    {"hget", 3, rk_commands_typed, "readonly fast", 1, 1, 1},
    {"hmget", -3, rk_commands_typed, "readonly fast", 1, 1, 1},
    {"hgetall", 2, rk_commands_typed, "readonly", 1, 1, 1},
    {"hkeys", 2, rk_commands_typed, "readonly", 1, 1, 1},
    {"hvals", 2, rk_commands_typed, "readonly", 1, 1, 1},
    {"hlen", 2, rk_commands_typed, "readonly fast", 1, 1, 1},
    {"hexists", 3, rk_commands_typed, "readonly fast", 1, 1, 1},
    {"dbsize", 1, commands_dbsize, "readonly fast", 0, 0, 0},
    {"ping", -1, commands_ping, "fast stale", 0, 0, 0},
    {"echo", 2, commands_echo, "fast", 0, 0, 0},
    {"info", -1, commands_info, "loading stale", 0, 0, 0},
    {"hello", -1, commands_hello, "noscript loading stale fast no_auth", 0, 0, 0},
    {"quit", -1, commands_quit, "noscript loading stale fast no_auth", 0, 0, 0},
    {"select", 2, commands_select, "loading stale fast", 0, 0, 0},
    {"client", -2, commands_client, "noscript loading stale", 0, 0, 0},
    {"config", -2, commands_config, "admin noscript loading stale", 0, 0, 0},
    {"command", -1, commands_command, "loading stale", 0, 0, 0},
    {"rk.get", -2, rk_commands_rk_get, "readonly", 1, 1, 1},
    {"rk.put", -4, rk_commands_rk_put, "write denyoom", 1, 1, 1},
    {"rk.del", -3, rk_commands_rk_del, "write", 1, 1, 1},
    {"rk.bucket", -3, rk_commands_rk_bucket, "admin", 0, 0, 0},
    {"rk.local", 2, rk_commands_rk_local, "readonly", 1, 1, 1},
    {"rk.preflist", 2, rk_commands_rk_preflist, "readonly", 1, 1, 1},
    {"rk.ring", -1, rk_commands_rk_ring, "readonly", 0, 0, 0},
    {"rk.members", 1, rk_commands_rk_members, "readonly", 0, 0, 0},
    {"rk.cluster", -2, rk_commands_rk_cluster, "admin", 0, 0, 0},
    {"rk.metrics", 1, rk_commands_rk_metrics, "readonly loading stale", 0, 0, 0},
    {"rk.repair", 2, rk_commands_rk_repair, "admin", 0, 0, 0},
    {"rk.debug", -2, rk_commands_rk_debug, "admin", 0, 0, 0},
};
#define COMMANDS_COUNT (sizeof(commands_table) / sizeof(commands_table[0]))

static void commands_describe(rk_resp_out *out, const commands_entry *e)
{
    char flags[64];
    const char *words[8];
    size_t word_count = 0;
    snprintf(flags, sizeof(flags), "%s", e->flags);
    for (char *save = NULL, *w = strtok_r(flags, " ", &save); w != NULL && word_count < 8;
         w = strtok_r(NULL, " ", &save)) {
        words[word_count++] = w;
    }
    rk_resp_array(out, 10);
    rk_resp_bulk_str(out, e->name);
    rk_resp_integer(out, e->arity);
    rk_resp_set(out, word_count);
    for (size_t i = 0; i < word_count; i++) {
        rk_resp_simple(out, words[i]);
    }
    rk_resp_integer(out, e->first_key);
    rk_resp_integer(out, e->last_key);
    rk_resp_integer(out, e->key_step);
    rk_resp_set(out, 0);    /* ACL categories */
    rk_resp_set(out, 0);    /* tips */
    rk_resp_array(out, 0);  /* key specs */
    rk_resp_array(out, 0);  /* subcommands */
}

static const commands_entry *commands_find(const uint8_t *name, size_t len)
{
    for (size_t i = 0; i < COMMANDS_COUNT; i++) {
        if (strlen(commands_table[i].name) == len &&
            strncasecmp(commands_table[i].name, (const char *)name, len) == 0) {
            return &commands_table[i];
        }
    }
    return NULL;
}

static void commands_command(rk_server *s, rk_client *c, rk_cmd *cmd, const commands_args *a)
{
    rk_resp_out *out = &cmd->out;
    if (a->argc == 1 || (rk_commands_arg_is(a, 1, "INFO") && a->argc == 2)) {
        rk_resp_array(out, COMMANDS_COUNT);
        for (size_t i = 0; i < COMMANDS_COUNT; i++) {
            commands_describe(out, &commands_table[i]);
        }
    } else if (rk_commands_arg_is(a, 1, "COUNT") && a->argc == 2) {
        rk_resp_integer(out, (int64_t)COMMANDS_COUNT);
    } else if (rk_commands_arg_is(a, 1, "LIST") && a->argc == 2) {
        rk_resp_array(out, COMMANDS_COUNT);
        for (size_t i = 0; i < COMMANDS_COUNT; i++) {
            rk_resp_bulk_str(out, commands_table[i].name);
        }
    } else if (rk_commands_arg_is(a, 1, "INFO")) {
        rk_resp_array(out, a->argc - 2);
        for (uint32_t i = 2; i < a->argc; i++) {
            const commands_entry *e = commands_find(a->argv[i], a->argv_len[i]);
            if (e == NULL) {
                rk_resp_null(out);
            } else {
                commands_describe(out, e);
            }
        }
    } else if (rk_commands_arg_is(a, 1, "DOCS")) {
        /* redis-cli asks for docs to show hints; with none it uses its built-in table. */
        rk_resp_map(out, 0);
    } else {
        char sub[32];
        rk_resp_errorf(out, "ERR unknown subcommand '%s'. Try COMMAND HELP.",
                       rk_commands_arg_str(a, 1, sub, sizeof(sub)));
    }
    commands_done(s, cmd);
}

/* Redis's text for an unknown command: the name and the first arguments, quoted and cut. */
static void commands_unknown(rk_cmd *cmd, const commands_args *a)
{
    char text[256];
    char arg[48];
    size_t used = (size_t)snprintf(text, sizeof(text), "ERR unknown command '%s', with args "
                                   "beginning with: ",
                                   rk_commands_arg_str(a, 0, arg, sizeof(arg)));
    for (uint32_t i = 1; i < a->argc && used < sizeof(text); i++) {
        used += (size_t)snprintf(text + used, sizeof(text) - used, "'%s' ",
                                 rk_commands_arg_str(a, i, arg, sizeof(arg)));
    }
    rk_resp_error(&cmd->out, text);
}

void rk_commands_dispatch(rk_server *s, rk_client *c, const rk_resp_cmd *parsed)
{
    if (parsed->argc == 0) {
        return;
    }
    rk_cmd *cmd = rk_commands_new_cmd(c);
    if (cmd == NULL) {
        c->closing = true;
        return;
    }
    commands_args a = {.argc = parsed->argc, .argv = parsed->argv, .argv_len = parsed->argv_len};
    const commands_entry *e = commands_find(a.argv[0], a.argv_len[0]);
    if (e == NULL) {
        commands_unknown(cmd, &a);
        commands_done(s, cmd);
        return;
    }
    if ((e->arity > 0 && a.argc != (uint32_t)e->arity) ||
        (e->arity < 0 && a.argc < (uint32_t)-e->arity)) {
        rk_resp_errorf(&cmd->out, "ERR wrong number of arguments for '%s' command", e->name);
        commands_done(s, cmd);
        return;
    }
    e->handler(s, c, cmd, &a);
}
