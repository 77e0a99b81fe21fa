/* config.c — ringkvd options: one table drives flags, the INI file and --help, so the three
 * can never disagree on a name. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/dvvset.h"
#include "../core/epochs.h"

typedef enum config_type {
    CONFIG_STRING,
    CONFIG_U16,
    CONFIG_U32,
    CONFIG_BYTES,       /* u64 with an optional k/m/g (KiB, MiB, GiB) suffix */
    CONFIG_SYNC,
    CONFIG_LOG_LEVEL,
    CONFIG_ENGINE,
    CONFIG_BOOL,        /* yes or no */
} config_type;

typedef struct config_option {
    const char *name;
    config_type type;
    size_t offset;
    uint64_t min;
    uint64_t max;
    const char *help;
} config_option;

#define CONFIG_FIELD(f) offsetof(rk_config, f)

static const config_option config_options[] = {
    {"port", CONFIG_U16, CONFIG_FIELD(port), 1, 65535, "client port (RESP) [7001]"},
    {"http-port", CONFIG_U16, CONFIG_FIELD(http_port), 0, 65535,
     "HTTP API port on the bind address, 0 off [0]"},
    {"bind", CONFIG_STRING, CONFIG_FIELD(bind), 0, 0, "client listen address [127.0.0.1]"},
    {"data-dir", CONFIG_STRING, CONFIG_FIELD(data_dir), 0, 0,
     "data directory, created if missing [./data]"},
    {"engine", CONFIG_ENGINE, CONFIG_FIELD(engine), 0, 0,
     "storage engine: lmdb, rocksdb or mem [lmdb]"},
    {"sync", CONFIG_SYNC, CONFIG_FIELD(sync), 0, 0,
     "when writes are acknowledged: always (fsync each), batch (group commit), none [batch]"},
    {"wal", CONFIG_BOOL, CONFIG_FIELD(wal), 0, 0,
     "lmdb: acknowledge after a redo-log append, commit to LMDB in checkpoints: yes or no [yes]"},
    {"map-size", CONFIG_BYTES, CONFIG_FIELD(map_bytes), 1u << 20, RK_STORE_MAP_BYTES_MAX,
     "lmdb map size, the most the store can hold; auto: the data file plus the disk's free "
     "space at start [auto]"},
    {"max-value-bytes", CONFIG_BYTES, CONFIG_FIELD(max_value_bytes), 1, RK_VALUE_BYTES_MAX,
     "largest value accepted [16m]"},
    {"max-key-bytes", CONFIG_U32, CONFIG_FIELD(max_key_bytes), 1, RK_KEY_BYTES_MAX,
     "largest key accepted (lmdb limits keys to 507) [507]"},
    {"max-collection-members", CONFIG_U32, CONFIG_FIELD(max_collection_members), 1,
     RK_DVVSET_ELEMENTS_MAX, "most members a set may hold; a SADD past it is refused [1000000]"},
    {"max-bulk-bytes", CONFIG_BYTES, CONFIG_FIELD(max_bulk_bytes), 1u << 10, RK_VALUE_BYTES_MAX * 2ull,
     "largest request argument; a larger one closes the connection [max-value-bytes + 1m]"},
    {"max-multibulk", CONFIG_U32, CONFIG_FIELD(max_multibulk), 1, 16u * 1024u * 1024u,
     "most arguments in one request [1048576]"},
    {"max-clients", CONFIG_U32, CONFIG_FIELD(max_clients), 1, 1000000, "most clients at once [10000]"},
    {"client-query-buffer-limit", CONFIG_BYTES, CONFIG_FIELD(client_query_buffer_bytes),
     1u << 16, 1ull << 32, "most unparsed input held per client [64m + max-value-bytes]"},
    {"client-output-buffer-limit", CONFIG_BYTES, CONFIG_FIELD(client_output_buffer_bytes),
     1u << 16, 1ull << 34, "most unsent output per client; over it the client is closed [256m]"},
    {"timeout", CONFIG_U32, CONFIG_FIELD(idle_timeout_s), 0, 1u << 30,
     "close clients idle this many seconds, 0 never [300]"},
    {"shutdown-timeout-ms", CONFIG_U32, CONFIG_FIELD(shutdown_timeout_ms), 0, 600000,
     "how long SIGTERM waits for in-flight writes [5000]"},
    {"log-level", CONFIG_LOG_LEVEL, CONFIG_FIELD(log_level), 0, 0,
     "debug, info, warn or error [info]"},
    {"partitions", CONFIG_U32, CONFIG_FIELD(partitions), 1, 65536,
     "ring partitions Q, a power of two [64]"},
    {"node-id", CONFIG_U32, CONFIG_FIELD(node_id), 1, 0xffffffffu, "this node's id [1]"},
    {"cluster-name", CONFIG_STRING, CONFIG_FIELD(cluster_name), 0, 0,
     "peers with another name are refused [ringkv]"},
    {"cluster-port", CONFIG_U16, CONFIG_FIELD(cluster_port), 1, 65535,
     "internode port on the bind address [port + 10000]"},
    {"members", CONFIG_STRING, CONFIG_FIELD(members_text), 0, 0,
     "every member, this one too: id=host:port:cluster-port[:zone],... [just this node]"},
    {"zone", CONFIG_STRING, CONFIG_FIELD(zone), 0, 0,
     "this node's zone (data centre or rack), 1 to 15 of A-Za-z0-9_.- [none]"},
    {"secret", CONFIG_STRING, CONFIG_FIELD(secret), 0, 0,
     "shared secret peers must prove in the handshake [none]"},
    {"request-timeout-ms", CONFIG_U32, CONFIG_FIELD(request_timeout_ms), 1, 600000,
     "how long a coordinator waits for R or W replicas [5000]"},
    {"failure-timeout-ms", CONFIG_U32, CONFIG_FIELD(failure_timeout_ms), 500, 60000,
     "a member silent this long (no frame, heartbeats every 250 ms) counts down [2000]"},
    {"epoch-learn-ms-max", CONFIG_U32, CONFIG_FIELD(epoch_learn_ms_max), 1, 3600000,
     "a wiped node waits this long for every member's epoch answer, then a majority's [30000]"},
    {"handoff-rate", CONFIG_U32, CONFIG_FIELD(handoff_rate), 10, 1000000,
     "hinted copies handed back to a returning owner per second at most [1000]"},
    {"aae", CONFIG_BOOL, CONFIG_FIELD(aae), 0, 0,
     "anti-entropy: hash trees kept on every write, exchanged with the other replicas: on or "
     "off [on]"},
    {"aae-interval-ms", CONFIG_U32, CONFIG_FIELD(aae_interval_ms), 10, 86400000u,
     "pause between two anti-entropy exchanges of this node [1000]"},
    {"aae-rebuild-ms", CONFIG_U32, CONFIG_FIELD(aae_rebuild_ms), 1000, 604800000u,
     "each partition's hash tree is rebuilt from the store (checking every checksum) this "
     "often, spread out [3600000]"},
    {"tombstone-grace-ms", CONFIG_U32, CONFIG_FIELD(tombstone_grace_ms), 0, 0xffffffffu,
     "a deleted key's tombstone is removed once this old, held by every replica, every member "
     "up and no hint held anywhere (needs --aae on); 0 never [3600000]"},
    {"test-hooks", CONFIG_BOOL, CONFIG_FIELD(test_hooks), 0, 0,
     "RK.DEBUG commands that damage data on purpose, for tests: yes or no [no]"},
    {"config", CONFIG_STRING, CONFIG_FIELD(config_file), 0, 0,
     "INI file with the same names (flags win)"},
};
#define CONFIG_OPTION_COUNT (sizeof(config_options) / sizeof(config_options[0]))

static const char *const config_log_names[] = {"debug", "info", "warn", "error"};

const char *rk_log_level_name(rk_log_level l)
{
    return (unsigned)l < 4 ? config_log_names[l] : "unknown";
}

static int config_strdup(char **field, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL) {
        return RK_ENOMEM;
    }
    free(*field);
    *field = copy;
    return 0;
}

int rk_config_init(rk_config *c)
{
    memset(c, 0, sizeof(*c));
    c->port = 7001;
    c->sync = RK_SYNC_BATCH;
    c->wal = true;      /* bench/compare.sh: 1.5x plain group commit's SET rate, reads alike */
    c->map_bytes = 0;   /* auto */
    c->max_value_bytes = RK_VALUE_BYTES_DEFAULT;
    c->max_collection_members = RK_COLLECTION_MEMBERS_DEFAULT;
    c->max_key_bytes = RK_KEY_BYTES_MAX;
    c->max_multibulk = 1024u * 1024u;
    c->max_clients = 10000;
    c->client_output_buffer_bytes = 256ull << 20;
    c->idle_timeout_s = 300;
    c->shutdown_timeout_ms = 5000;
    c->log_level = RK_LOG_INFO;
    c->partitions = 64;
    c->node_id = 1;
    c->request_timeout_ms = 5000;
    c->failure_timeout_ms = 2000;
    c->epoch_learn_ms_max = RK_EPOCH_LEARN_MS_DEFAULT;
    c->handoff_rate = 1000;
    c->aae = true;
    c->aae_interval_ms = 1000;
    c->aae_rebuild_ms = 3600000u;
    c->tombstone_grace_ms = 3600000u;
    if (config_strdup(&c->cluster_name, "ringkv") != 0 ||
        config_strdup(&c->bind, "127.0.0.1") != 0 || config_strdup(&c->data_dir, "./data") != 0 ||
        config_strdup(&c->engine, "lmdb") != 0) {
        rk_config_deinit(c);
        return RK_ENOMEM;
    }
    return 0;
}

void rk_config_deinit(rk_config *c)
{
    free(c->bind);
    free(c->data_dir);
    free(c->engine);
    free(c->config_file);
    free(c->cluster_name);
    free(c->secret);
    free(c->members_text);
    free(c->zone);
    memset(c, 0, sizeof(*c));
}

/* Parse a decimal count with an optional k/m/g suffix (powers of 1024, with or without "b"). */
static int config_parse_bytes(const char *text, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9') {
        return RK_EINVAL;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0) {
        return RK_EINVAL;
    }
    unsigned shift = 0;
    if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kb") == 0) {
        shift = 10;
    } else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mb") == 0) {
        shift = 20;
    } else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gb") == 0) {
        shift = 30;
    } else if (*end != '\0') {
        return RK_EINVAL;
    }
    if (shift > 0 && v > (UINT64_MAX >> shift)) {
        return RK_EINVAL;
    }
    *out = (uint64_t)v << shift;
    return 0;
}

static bool config_all_digits(const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return text[0] != '\0';
}

static const config_option *config_find(const char *name)
{
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        if (strcmp(config_options[i].name, name) == 0) {
            return &config_options[i];
        }
    }
    return NULL;
}

static int config_set_number(rk_config *c, const config_option *o, const char *value, char *err,
                             size_t err_len)
{
    uint64_t v = 0;
    if (o->offset == CONFIG_FIELD(map_bytes) && strcasecmp(value, "auto") == 0) {
        c->map_bytes = 0;
        return 0;
    }
    if (config_parse_bytes(value, &v) != 0 || (o->type != CONFIG_BYTES && !config_all_digits(value))) {
        snprintf(err, err_len, "%s = \"%s\": expected %s", o->name, value,
                 o->type == CONFIG_BYTES ? "a size such as 65536, 64k, 16m or 1g"
                                         : "a whole number");
        return RK_EINVAL;
    }
    if (v < o->min || v > o->max) {
        snprintf(err, err_len, "%s = %s: expected %llu to %llu", o->name, value,
                 (unsigned long long)o->min, (unsigned long long)o->max);
        return RK_EINVAL;
    }
    uint8_t *field = (uint8_t *)c + o->offset;
    if (o->type == CONFIG_U16) {
        *(uint16_t *)(void *)field = (uint16_t)v;
    } else if (o->type == CONFIG_U32) {
        *(uint32_t *)(void *)field = (uint32_t)v;
    } else {
        *(uint64_t *)(void *)field = v;
    }
    return 0;
}

static int config_set_enum(rk_config *c, const config_option *o, const char *value, char *err,
                           size_t err_len)
{
    uint8_t *field = (uint8_t *)c + o->offset;
    if (o->type == CONFIG_SYNC) {
        if (rk_sync_policy_parse(value, (rk_sync_policy *)(void *)field) == 0) {
            return 0;
        }
        snprintf(err, err_len, "sync = \"%s\": expected always, batch or none", value);
        return RK_EINVAL;
    }
    if (o->type == CONFIG_LOG_LEVEL) {
        for (int i = 0; i < 4; i++) {
            if (strcmp(value, config_log_names[i]) == 0) {
                *(rk_log_level *)(void *)field = (rk_log_level)i;
                return 0;
            }
        }
        snprintf(err, err_len, "log-level = \"%s\": expected debug, info, warn or error", value);
        return RK_EINVAL;
    }
    if (o->type == CONFIG_BOOL) {
        bool yes = strcmp(value, "yes") == 0 || strcmp(value, "on") == 0;
        if (yes || strcmp(value, "no") == 0 || strcmp(value, "off") == 0) {
            *(bool *)(void *)field = yes;
            return 0;
        }
        snprintf(err, err_len, "%s = \"%s\": expected yes or no (on or off)", o->name, value);
        return RK_EINVAL;
    }
    RK_ASSERT(o->type == CONFIG_ENGINE);
    if (strcmp(value, "lmdb") != 0 && strcmp(value, "rocksdb") != 0 &&
        strcmp(value, "mem") != 0) {
        snprintf(err, err_len, "engine = \"%s\": expected lmdb, rocksdb or mem", value);
        return RK_EINVAL;
    }
    return config_strdup(&c->engine, value);
}

int rk_config_set(rk_config *c, const char *name, const char *value, char *err, size_t err_len)
{
    const config_option *o = config_find(name);
    if (o == NULL) {
        snprintf(err, err_len, "unknown option \"%s\" (see --help)", name);
        return RK_EINVAL;
    }
    switch (o->type) {
    case CONFIG_STRING:
        if (value[0] == '\0') {
            snprintf(err, err_len, "%s is empty: expected a value", name);
            return RK_EINVAL;
        }
        return config_strdup((char **)(void *)((uint8_t *)c + o->offset), value);
    case CONFIG_U16:
    case CONFIG_U32:
    case CONFIG_BYTES:
        return config_set_number(c, o, value, err, err_len);
    case CONFIG_SYNC:
    case CONFIG_LOG_LEVEL:
    case CONFIG_ENGINE:
    case CONFIG_BOOL:
        return config_set_enum(c, o, value, err, err_len);
    }
    return RK_EINVAL;
}

typedef struct config_file_ctx {
    rk_config *c;
    const char *path;
    char *err;
    size_t err_len;
    int rc;
} config_file_ctx;

static int config_file_on_entry(void *user, const char *section, const char *name,
                                const char *value)
{
    config_file_ctx *f = user;
    (void)section;
    if (f->rc != 0) {
        return 0;
    }
    if (strcmp(name, "config") == 0) {
        snprintf(f->err, f->err_len, "config may not name another file");
        f->rc = RK_EINVAL;
        return 0;
    }
    char why[RK_CONFIG_ERROR_BYTES];
    f->rc = rk_config_set(f->c, name, value, why, sizeof(why));
    if (f->rc != 0) {
        snprintf(f->err, f->err_len, "%s", why);
        return 0;   /* inih then reports the line number */
    }
    return 1;
}

int rk_config_load_file(rk_config *c, const char *path, char *err, size_t err_len)
{
    char why[RK_CONFIG_ERROR_BYTES] = "";
    config_file_ctx f = {.c = c, .path = path, .err = why, .err_len = sizeof(why)};
    int line = ini_parse(path, config_file_on_entry, &f);
    if (line == -1) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return RK_EINVAL;
    }
    if (line == -2) {
        snprintf(err, err_len, "%s: out of memory", path);
        return RK_ENOMEM;
    }
    if (line > 0) {
        snprintf(err, err_len, "%s:%d: %s", path, line, why[0] ? why : "syntax error");
        return RK_EINVAL;
    }
    return f.rc;
}

/* Find --config first so the file is applied before the flags that override it. */
static int config_apply_file_flag(rk_config *c, int argc, char **argv, char *err, size_t err_len)
{
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[i + 1];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
        }
        if (path != NULL) {
            int rc = config_strdup(&c->config_file, path);
            return rc != 0 ? rc : rk_config_load_file(c, path, err, err_len);
        }
    }
    return 0;
}

int rk_config_parse_args(rk_config *c, int argc, char **argv, char *err, size_t err_len)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 1;
        }
    }
    int rc = config_apply_file_flag(c, argc, argv, err, err_len);
    if (rc != 0) {
        return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, err_len, "unexpected argument \"%s\" (see --help)", arg);
            return RK_EINVAL;
        }
        char name[64];
        const char *value = NULL;
        const char *eq = strchr(arg + 2, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (name_len >= sizeof(name)) {
            snprintf(err, err_len, "unknown option \"%s\" (see --help)", arg);
            return RK_EINVAL;
        }
        memcpy(name, arg + 2, name_len);
        name[name_len] = '\0';
        if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, err_len, "--%s needs a value", name);
            return RK_EINVAL;
        }
        if (strcmp(name, "config") == 0) {
            continue;   /* applied first */
        }
        rc = rk_config_set(c, name, value, err, err_len);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* A zone: 1 to RK_MEMBER_ZONE_BYTES_MAX bytes of [A-Za-z0-9_.-]. */
static bool config_zone_ok(const char *zone)
{
    size_t len = strlen(zone);
    if (len == 0 || len > RK_MEMBER_ZONE_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = zone[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-')) {
            return false;
        }
    }
    return true;
}

/* One "id=host:port:cluster_port[:zone]" entry of --members. */
static int config_parse_member(const char *text, rk_config_member *m)
{
    char host[RK_CONFIG_HOST_BYTES_MAX + 2];
    char zone[RK_MEMBER_ZONE_BYTES_MAX + 2] = "";
    unsigned long id = 0;
    unsigned port = 0;
    unsigned cluster_port = 0;
    int used = 0;
    memset(m, 0, sizeof(*m));
    if (sscanf(text, "%lu=%64[^:]:%u:%u%n", &id, host, &port, &cluster_port, &used) != 4 ||
        id == 0 || id > 0xffffffffu || port == 0 || port > 65535 || cluster_port == 0 ||
        cluster_port > 65535 || strlen(host) > RK_CONFIG_HOST_BYTES_MAX) {
        return RK_EINVAL;
    }
    if (text[used] == ':') {
        int zone_used = 0;
        if (sscanf(text + used + 1, "%16[^:,]%n", zone, &zone_used) != 1 ||
            text[used + 1 + zone_used] != '\0' || !config_zone_ok(zone)) {
            return RK_EINVAL;
        }
        memcpy(m->zone, zone, strlen(zone) + 1);
    } else if (text[used] != '\0') {
        return RK_EINVAL;
    }
    m->id = (uint32_t)id;
    _Static_assert(RK_CONFIG_HOST_BYTES_MAX < sizeof(m->host), "a checked host fits");
    memcpy(m->host, host, strlen(host) + 1);  /* snprintf here made gcc 12 -O0 warn */
    m->client_port = (uint16_t)port;
    m->cluster_port = (uint16_t)cluster_port;
    return 0;
}

static int config_finish_members(rk_config *c, char *err, size_t err_len)
{
    if (c->cluster_port == 0) {
        if (c->port > 65535 - 10000) {
            snprintf(err, err_len, "cluster-port: port %u + 10000 is past 65535; set it", c->port);
            return RK_EINVAL;
        }
        c->cluster_port = (uint16_t)(c->port + 10000);
    }
    if (c->zone != NULL && !config_zone_ok(c->zone)) {
        snprintf(err, err_len, "zone: \"%s\": expected 1 to %u of A-Za-z0-9_.-", c->zone,
                 RK_MEMBER_ZONE_BYTES_MAX);
        return RK_EINVAL;
    }
    c->member_count = 0;
    if (c->members_text == NULL) {
        rk_config_member *self = &c->members[c->member_count++];
        self->id = c->node_id;
        snprintf(self->host, sizeof(self->host), "%s", c->bind);
        self->client_port = c->port;
        self->cluster_port = c->cluster_port;
        if (c->zone != NULL) {
            memcpy(self->zone, c->zone, strlen(c->zone) + 1);
        }
        return 0;
    }
    char *copy = strdup(c->members_text);
    if (copy == NULL) {
        return RK_ENOMEM;
    }
    bool self_found = false;
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item != NULL && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        rk_config_member m;
        if (c->member_count >= RK_CONFIG_MEMBERS_MAX) {
            snprintf(err, err_len, "members: more than %u", RK_CONFIG_MEMBERS_MAX);
            rc = RK_EINVAL;
        } else if (config_parse_member(item, &m) != 0) {
            snprintf(err, err_len,
                     "members: \"%s\": expected id=host:port:cluster-port[:zone], a zone 1 to "
                     "15 of A-Za-z0-9_.-", item);
            rc = RK_EINVAL;
        } else {
            for (uint32_t i = 0; i < c->member_count; i++) {
                if (c->members[i].id == m.id) {
                    snprintf(err, err_len, "members: node id %u named twice", m.id);
                    rc = RK_EINVAL;
                }
            }
            if (m.id == c->node_id && c->zone != NULL) {
                if (m.zone[0] != '\0' && strcmp(m.zone, c->zone) != 0) {
                    snprintf(err, err_len, "members: node %u's zone \"%s\" is not zone \"%s\"",
                             m.id, m.zone, c->zone);
                    rc = RK_EINVAL;
                }
                memcpy(m.zone, c->zone, strlen(c->zone) + 1);
            }
            self_found = self_found || m.id == c->node_id;
            c->members[c->member_count++] = m;
        }
    }
    free(copy);
    if (rc == 0 && !self_found) {
        snprintf(err, err_len, "members: this node's id %u is not among them", c->node_id);
        rc = RK_EINVAL;
    }
    return rc;
}

int rk_config_finish(rk_config *c, char *err, size_t err_len)
{
    /* The handshake carries the name (wire.h: RK_WIRE_CLUSTER_BYTES_MAX). */
    if (strlen(c->cluster_name) > 64) {
        snprintf(err, err_len, "cluster-name is %zu bytes: expected 1 to 64",
                 strlen(c->cluster_name));
        return RK_EINVAL;
    }
    int members_rc = config_finish_members(c, err, err_len);
    if (members_rc != 0) {
        return members_rc;
    }
    if ((c->partitions & (c->partitions - 1)) != 0) {
        snprintf(err, err_len, "partitions = %u: expected a power of two", c->partitions);
        return RK_EINVAL;
    }
    /* An argument a little over max-value-bytes still arrives whole and is refused politely
     * by the node (the connection stays); only one past max-bulk-bytes closes the connection. */
    if (c->max_bulk_bytes == 0) {
        c->max_bulk_bytes = c->max_value_bytes + (1u << 20);
    } else if (c->max_bulk_bytes < c->max_value_bytes) {
        snprintf(err, err_len, "max-bulk-bytes = %llu: must be at least max-value-bytes (%llu)",
                 (unsigned long long)c->max_bulk_bytes, (unsigned long long)c->max_value_bytes);
        return RK_EINVAL;
    }
    uint64_t query_min = c->max_bulk_bytes + (64u << 10);
    if (c->client_query_buffer_bytes == 0) {
        c->client_query_buffer_bytes = c->max_bulk_bytes + (64ull << 20);
    } else if (c->client_query_buffer_bytes < query_min) {
        snprintf(err, err_len,
                 "client-query-buffer-limit = %llu: must be at least max-value-bytes + 64k "
                 "(%llu)",
                 (unsigned long long)c->client_query_buffer_bytes,
                 (unsigned long long)query_min);
        return RK_EINVAL;
    }
    if (c->client_output_buffer_bytes < c->max_value_bytes + (64u << 10)) {
        snprintf(err, err_len,
                 "client-output-buffer-limit = %llu: must be at least max-value-bytes + 64k",
                 (unsigned long long)c->client_output_buffer_bytes);
        return RK_EINVAL;
    }
    return 0;
}

const char *rk_config_usage(void)
{
    static char text[8192];
    if (text[0] != '\0') {
        return text;
    }
    size_t used = (size_t)snprintf(text, sizeof(text),
                                   "usage: ringkvd [--option value | --option=value ...]\n"
                                   "A ringkv node. Options (also valid as name = value lines in "
                                   "the --config file):\n");
    for (size_t i = 0; i < CONFIG_OPTION_COUNT && used < sizeof(text); i++) {
        used += (size_t)snprintf(text + used, sizeof(text) - used, "  --%-28s %s\n",
                                 config_options[i].name, config_options[i].help);
    }
    if (used < sizeof(text)) {
        snprintf(text + used, sizeof(text) - used, "  --%-28s %s\n", "help", "this text");
    }
    return text;
}
