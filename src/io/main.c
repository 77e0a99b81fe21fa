/* main.c — ringkvd: read the configuration, lock and open the data directory, build the node
 * on its runtime, start the server and peers and the metrics registry INFO prints from
 * (server_metrics.h), serve clients until SIGTERM/SIGINT, then stop cleanly: stop accepting,
 * let in-flight writes become durable (up to shutdown-timeout-ms), answer them, have the node
 * write its clean-stop mark and wait until it is durable (so the next start keeps the epoch:
 * clock.h), sync and close the store. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "log.h"
#include "peer.h"
#include "runtime.h"
#include "http_server.h"
#include "server.h"
#include "server_metrics.h"

/* How far the clean-stop mark (rk_node_stop_clean) got. */
typedef enum main_mark {
    MAIN_MARK_NONE = 0,         /* not written yet */
    MAIN_MARK_WRITTEN = 1,      /* written, on its way to the disk */
    MAIN_MARK_SETTLED = 2,      /* durable, or given up: nothing more to wait for */
} main_mark;

typedef struct main_state {
    rk_config config;
    uv_loop_t *loop;
    rk_store *store;
    rk_node *node;
    rk_runtime runtime;
    rk_server server;
    rk_http_server http;
    rk_peers peers;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t shutdown_timer;
    uint64_t shutdown_deadline_ms;
    bool shutting_down;
    main_mark mark;
    int lock_fd;
} main_state;

/* mkdir -p for the data directory. */
static int main_make_dirs(const char *path, char *err, size_t err_len)
{
    char buf[4096];
    if (strlen(path) >= sizeof(buf)) {
        snprintf(err, err_len, "data-dir is longer than %zu bytes", sizeof(buf) - 1);
        return RK_EINVAL;
    }
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                snprintf(err, err_len, "data-dir: cannot create %.300s: %s", buf, strerror(errno));
                return RK_EIO;
            }
            *p = saved;
            if (saved == '\0') {
                break;
            }
        }
    }
    return 0;
}

/* One ringkvd per data directory: LMDB itself would let two processes share it, and two
 * nodes minting versions on one store would corrupt each other's causal history. */
static int main_lock_data_dir(main_state *m, char *err, size_t err_len)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/ringkvd.lock", m->config.data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, err_len, "data-dir: cannot open %.300s: %s", path, strerror(errno));
        return RK_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char owner[32] = "";
        ssize_t n = read(fd, owner, sizeof(owner) - 1);
        owner[n > 0 ? n : 0] = '\0';
        owner[strcspn(owner, "\n")] = '\0';
        snprintf(err, err_len, "data-dir %s is in use by another ringkvd (pid %s)",
                 m->config.data_dir, owner[0] ? owner : "unknown");
        close(fd);
        return RK_ELOCKED;
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)len) != len) {
        rk_log_warn("cannot write pid to %s: %s", path, strerror(errno));
    }
    m->lock_fd = fd;
    return 0;
}

static int main_open_store(main_state *m, char *err, size_t err_len)
{
    bool is_mem = strcmp(m->config.engine, "mem") == 0;
    if (!is_mem) {
        int rc = main_make_dirs(m->config.data_dir, err, err_len);
        if (rc == 0) {
            rc = main_lock_data_dir(m, err, err_len);
        }
        if (rc != 0) {
            return rc;
        }
    }
    rk_store_options opts = {
        .engine = m->config.engine,
        .dir = m->config.data_dir,
        .map_bytes = m->config.map_bytes,
        .sync_each_commit = m->config.sync != RK_SYNC_NONE,
        .wal = m->config.wal,
    };
    if (strcmp(m->config.engine, "lmdb") == 0) {
        uint64_t map = opts.map_bytes > 0 ? opts.map_bytes : rk_store_lmdb_auto_map_bytes(opts.dir);
        rk_log_info("lmdb map size %llu MiB (%s): the most this store can hold",
                    (unsigned long long)(map >> 20),
                    opts.map_bytes > 0 ? "map-size" : "auto: data file plus the disk's free space");
    }
    return rk_store_open(&opts, &m->store, err, err_len);
}

static void main_on_close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

static void main_finish_shutdown(main_state *m)
{
    /* Peers stay up until here: in-flight writes wait for replicas' acknowledgements. */
    rk_peers_close(&m->peers);
    rk_runtime_close(&m->runtime);
    rk_http_server_close(&m->http);
    rk_server_close(&m->server);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->shutdown_timer, NULL);
    /* Timers the node set are closed too; nothing is left to wake the loop. */
    uv_walk(m->loop, main_on_close_any, NULL);
}

/* Once clients are drained: the node writes its clean-stop mark once every write is durable,
 * then the mark is waited for. True when nothing is left to wait for: the mark is durable, or
 * the node refused it for good (the next start bumps the epoch, which is always safe). A store
 * that keeps nothing (mem) needs no mark: every start begins at epoch 1. */
static bool main_stop_mark(main_state *m)
{
    if (m->mark == MAIN_MARK_SETTLED) {
        return true;
    }
    if (!rk_store_is_durable(m->store)) {
        m->mark = MAIN_MARK_SETTLED;
        return true;
    }
    int rc = 0;
    if (m->mark == MAIN_MARK_NONE) {
        rc = rk_node_stop_clean(m->node);
        if (rc == RK_EBUSY) {
            return false;       /* writes still on their way to the disk; their sync is asked */
        }
        if (rc != 0) {
            rk_log_warn("no clean-stop mark (%s): the next start bumps the epoch",
                        rk_strerror(rc));
            m->mark = MAIN_MARK_SETTLED;
            return true;
        }
        m->mark = MAIN_MARK_WRITTEN;
    }
    rc = rk_node_stop_clean_status(m->node);
    if (rc == RK_EBUSY) {
        return false;
    }
    if (rc == 0 && rk_node_stats_get(m->node)->epoch_learning) {
        rk_log_info("stopped while learning its epoch from peers: the next start learns again");
    } else if (rc == 0) {
        rk_log_info("clean-stop mark durable: the next start keeps epoch %llu",
                    (unsigned long long)rk_node_stats_get(m->node)->epoch);
    } else {
        rk_log_warn("the clean-stop mark may be lost (%s): the next start may bump the epoch",
                    rk_strerror(rc));
    }
    m->mark = MAIN_MARK_SETTLED;
    return true;
}

static void main_on_shutdown_tick(uv_timer_t *h)
{
    main_state *m = h->data;
    bool drained = rk_server_drained(&m->server) && rk_http_server_drained(&m->http);
    bool settled = drained && main_stop_mark(m);
    if (!settled && uv_now(m->loop) < m->shutdown_deadline_ms) {
        return;
    }
    if (!drained) {
        rk_log_warn("shutdown-timeout-ms passed with writes in flight; closing anyway");
    }
    if (!settled) {
        /* A mark already written is still synced with everything else below (main_stop). */
        rk_log_warn("shutdown-timeout-ms passed before the clean-stop mark was durable; the "
                    "next start may bump the epoch");
    }
    uv_timer_stop(h);
    main_finish_shutdown(m);
}

static void main_on_signal(uv_signal_t *h, int signum)
{
    main_state *m = h->data;
    if (m->shutting_down) {
        return;
    }
    m->shutting_down = true;
    rk_log_info("%s: stopping: no new clients, finishing in-flight writes",
                signum == SIGTERM ? "SIGTERM" : "SIGINT");
    rk_server_stop_accepting(&m->server);
    rk_http_server_stop_accepting(&m->http);
    m->shutdown_deadline_ms = uv_now(m->loop) + m->config.shutdown_timeout_ms;
    uv_timer_start(&m->shutdown_timer, main_on_shutdown_tick, 0, 10);
}

static int main_configure(main_state *m, int argc, char **argv)
{
    char err[RK_CONFIG_ERROR_BYTES] = "";
    if (rk_config_init(&m->config) != 0) {
        fprintf(stderr, "ringkvd: out of memory\n");
        return 2;
    }
    int rc = rk_config_parse_args(&m->config, argc, argv, err, sizeof(err));
    if (rc == 1) {
        fputs(rk_config_usage(), stdout);
        return 0;
    }
    if (rc == 0) {
        rc = rk_config_finish(&m->config, err, sizeof(err));
    }
    if (rc != 0) {
        fprintf(stderr, "ringkvd: %s\n", err);
        return 2;
    }
    return -1;
}

static int main_start(main_state *m)
{
    char err[512] = "";
    int rc = main_open_store(m, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "ringkvd: %s\n", err[0] ? err : rk_strerror(rc));
        return 1;
    }
    rk_runtime_init(&m->runtime, m->loop, m->store, &m->server, m->config.sync);
    rk_node_config nc;
    rk_node_config_default(&nc);
    nc.id = m->config.node_id;
    nc.sync = m->config.sync;
    nc.key_bytes_max = m->config.max_key_bytes;
    nc.value_bytes_max = m->config.max_value_bytes;
    nc.collection_members_max = m->config.max_collection_members;
    nc.partition_count = m->config.partitions;
    nc.request_timeout_ms = m->config.request_timeout_ms;
    nc.handoff_objects_per_s = m->config.handoff_rate;
    nc.aae_on = m->config.aae;
    nc.aae_interval_ms = m->config.aae_interval_ms;
    nc.aae_rebuild_ms = m->config.aae_rebuild_ms;
    nc.tombstone_grace_ms = m->config.tombstone_grace_ms;
    nc.epoch_learn_ms_max = m->config.epoch_learn_ms_max;
    nc.member_count = m->config.member_count;
    for (uint32_t i = 0; i < m->config.member_count; i++) {
        const rk_config_member *cm = &m->config.members[i];
        nc.members[i].id = cm->id;
        memcpy(nc.members[i].host, cm->host, sizeof(nc.members[i].host));
        nc.members[i].client_port = cm->client_port;
        nc.members[i].cluster_port = cm->cluster_port;
        memcpy(nc.members[i].zone, cm->zone, sizeof(nc.members[i].zone));
    }
    rc = rk_node_new(&nc, &m->runtime.env, &m->node);
    if (rc != 0) {
        fprintf(stderr, "ringkvd: cannot start the node: %s (%s)\n", rk_strerror(rc),
                rk_store_last_error(m->store));
        return 1;
    }
    m->runtime.node = m->node;
    rc = rk_server_start(&m->server, m->loop, &m->config, &m->runtime, m->node, m->store, err,
                         sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "ringkvd: %s\n", err);
        return 1;
    }
    rc = rk_http_server_start(&m->http, &m->server, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "ringkvd: %s\n", err);
        return 1;
    }
    rc = rk_peers_start(&m->peers, m->loop, &m->config, &m->runtime, m->node, &m->server, err,
                        sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "ringkvd: %s\n", err);
        return 1;
    }
    m->runtime.peers = &m->peers;
    rc = rk_server_metrics_build(&m->server);
    RK_ASSERT(rc == 0);             /* a duplicate metric name is a bug, not a condition */
    uv_signal_init(m->loop, &m->sigterm);
    uv_signal_init(m->loop, &m->sigint);
    m->sigterm.data = m;
    m->sigint.data = m;
    uv_signal_start(&m->sigterm, main_on_signal, SIGTERM);
    uv_signal_start(&m->sigint, main_on_signal, SIGINT);
    uv_timer_init(m->loop, &m->shutdown_timer);
    m->shutdown_timer.data = m;
    const rk_node_stats *stats = rk_node_stats_get(m->node);
    rk_log_info("ready: node %u of cluster '%s' (%u members), listening on %s:%u, cluster port "
                "%u (engine %s, sync %s, data-dir %s, %llu keys, epoch %llu %s)",
                m->config.node_id, m->config.cluster_name, m->config.member_count,
                m->config.bind, m->config.port, m->config.cluster_port, m->config.engine,
                rk_sync_policy_name(m->config.sync), m->config.data_dir,
                (unsigned long long)stats->keys_live, (unsigned long long)stats->epoch,
                stats->epoch_learning ? "to learn from peers: a new store"
                : stats->epoch_kept   ? "kept after a clean stop"
                                      : "bumped");
    return -1;
}

static int main_stop(main_state *m, int status)
{
    if (m->store != NULL) {
        int rc = rk_store_sync(m->store, UINT64_MAX);
        if (rc != 0) {
            rk_log_error("final sync failed: %s (%s)", rk_strerror(rc),
                         rk_store_last_error(m->store));
            status = 1;
        }
    }
    m->runtime.peers = NULL;
    rk_peers_deinit(&m->peers);
    rk_node_free(m->node);
    rk_server_deinit(&m->server);
    if (m->store != NULL) {
        rk_store_close(m->store);
    }
    if (m->lock_fd > 0) {
        close(m->lock_fd);
    }
    rk_config_deinit(&m->config);
    if (status == 0) {
        rk_log_info("stopped cleanly");
    }
    return status;
}

int main(int argc, char **argv)
{
    static main_state m;
    signal(SIGPIPE, SIG_IGN);
    int status = main_configure(&m, argc, argv);
    if (status >= 0) {
        rk_config_deinit(&m.config);
        return status;
    }
    rk_log_set_level(m.config.log_level);
    m.loop = uv_default_loop();
    status = main_start(&m);
    if (status >= 0) {
        uv_walk(m.loop, main_on_close_any, NULL);
        uv_run(m.loop, UV_RUN_DEFAULT);
        return main_stop(&m, status);
    }
    uv_run(m.loop, UV_RUN_DEFAULT);
    uv_loop_close(m.loop);
    return main_stop(&m, 0);
}
