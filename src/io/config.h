/* config.h — ringkvd's configuration: defaults, command-line flags and an INI file (inih) with
 * the same names. A bad value stops start-up with a message naming the option, its value and
 * what was expected. Owns the strings it parsed (rk_config_deinit frees them). */
#ifndef RK_CONFIG_H
#define RK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/node.h"

typedef enum rk_log_level {
    RK_LOG_DEBUG = 0,
    RK_LOG_INFO = 1,
    RK_LOG_WARN = 2,
    RK_LOG_ERROR = 3,
} rk_log_level;

#define RK_CONFIG_MEMBERS_MAX 64u   /* = RK_MEMBERS_MAX */
#define RK_CONFIG_HOST_BYTES_MAX 63u

/* One member of the cluster: its id, the host both its ports listen on, its client (RESP) port
 * and its cluster (internode) port. */
_Static_assert(RK_CONFIG_HOST_BYTES_MAX == RK_MEMBER_HOST_BYTES_MAX,
               "the node's member table keeps the configured host");

typedef struct rk_config_member {
    uint32_t id;
    char host[RK_CONFIG_HOST_BYTES_MAX + 1];
    uint16_t client_port;
    uint16_t cluster_port;
    char zone[RK_MEMBER_ZONE_BYTES_MAX + 1];   /* "" when none */
} rk_config_member;

typedef struct rk_config {
    char *bind;                     /* client listener address */
    uint16_t port;
    uint16_t http_port;             /* 0: no HTTP API (http_server.h) */
    char *data_dir;
    char *engine;                   /* "lmdb" | "rocksdb" | "mem" */
    rk_sync_policy sync;
    uint64_t map_bytes;             /* lmdb map size */
    bool wal;                       /* lmdb: redo log on the acknowledgement path */
    uint64_t max_value_bytes;
    uint32_t max_key_bytes;
    uint32_t max_collection_members;    /* members a set may hold (node.h) */
    uint32_t max_multibulk;
    uint64_t max_bulk_bytes;        /* 0: max-value-bytes + 1 MiB */
    uint32_t max_clients;
    uint64_t client_query_buffer_bytes;
    uint64_t client_output_buffer_bytes;
    uint32_t idle_timeout_s;        /* 0: never */
    uint32_t shutdown_timeout_ms;
    rk_log_level log_level;
    uint32_t partitions;
    uint32_t node_id;
    /* the cluster: static membership this round */
    char *cluster_name;
    char *secret;                   /* NULL: none */
    uint16_t cluster_port;          /* 0: port + 10000 */
    uint32_t request_timeout_ms;
    uint32_t handoff_rate;          /* hinted handoff objects per second */
    uint32_t failure_timeout_ms;    /* a member silent this long counts down (peer.h) */
    bool aae;                       /* anti-entropy: hash trees and exchanges (aae.h) */
    uint32_t aae_interval_ms;       /* between two exchanges of one node */
    uint32_t aae_rebuild_ms;        /* each partition's tree rebuilt from the store this often */
    uint32_t tombstone_grace_ms;    /* a tombstone is reaped no sooner; 0: never (aae_reap.c) */
    bool test_hooks;                /* RK.DEBUG: commands that break things, for tests only */
    uint32_t epoch_learn_ms_max;    /* a wiped node's wait for every member (epochs.h) */
    char *members_text;             /* "id=host:port:cluster_port[:zone],..." as given */
    char *zone;                     /* this node's zone, NULL for none */
    rk_config_member members[RK_CONFIG_MEMBERS_MAX];
    uint32_t member_count;          /* derived by rk_config_finish */
    char *config_file;
} rk_config;

#define RK_CONFIG_ERROR_BYTES 256u

/* Defaults for everything. */
int rk_config_init(rk_config *c);
void rk_config_deinit(rk_config *c);

/* Apply `argv` (flags like --port 7001 or --port=7001; --config FILE is read first, so flags
 * win over the file). Returns 0; 1 when --help or --version was asked (text written to the
 * out stream by the caller via rk_config_usage); RK_EINVAL with a message in err naming the
 * option (and, for the file, its line). */
int rk_config_parse_args(rk_config *c, int argc, char **argv, char *err, size_t err_len);

/* Apply an INI file; keys are the flag names without "--", sections are ignored. */
int rk_config_load_file(rk_config *c, const char *path, char *err, size_t err_len);

/* Set one option by name from text, as a flag or a file line would. */
int rk_config_set(rk_config *c, const char *name, const char *value, char *err, size_t err_len);

/* Check relations between options after all are set (e.g. max-value-bytes fits
 * client-query-buffer-limit) and derive the rest. */
int rk_config_finish(rk_config *c, char *err, size_t err_len);

/* The --help text. */
const char *rk_config_usage(void);

const char *rk_log_level_name(rk_log_level l);

#endif
