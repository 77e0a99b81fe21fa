/* dev_cluster.c — `ringkv dev-cluster` (see dev_cluster.h): parse the options, start one
 * ringkvd per node with its own data directory and log, then wait for signals and children
 * until told to stop or until every node has gone. */
#include "dev_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"

#define DEV_CLUSTER_EXIT_OK    0
#define DEV_CLUSTER_EXIT_FAIL  1
#define DEV_CLUSTER_EXIT_USAGE 2
/* ringkvd's member limit (RK_CONFIG_MEMBERS_MAX); a larger K would be refused by every node. */
#define DEV_CLUSTER_NODES_MAX 64u
/* From SIGTERM to SIGKILL: ringkvd's own shutdown waits at most shutdown-timeout-ms (5 s by
 * default) for in-flight writes, so a healthy node is gone well before this. */
#define DEV_CLUSTER_STOP_MS 10000u
#define DEV_CLUSTER_DATA_DIR_DEFAULT "./run-data"
#define DEV_CLUSTER_HOST "127.0.0.1"
/* One "id=host:port:cluster_port," of --members: "64=127.0.0.1:65535:65535," is 25. */
#define DEV_CLUSTER_MEMBER_BYTES_MAX 32u
/* Flags given after "--", passed to every node. */
#define DEV_CLUSTER_EXTRA_ARGS_MAX 64u

static const char dev_cluster_usage[] =
    "usage: ringkv dev-cluster --nodes K --base-port P [--data-dir D] [--engine E]\n"
    "                          [--ringkvd PATH] [-- RINGKVD-FLAG...]\n"
    "\n"
    "Start K ringkvd processes on " DEV_CLUSTER_HOST " as one cluster and stay in the\n"
    "foreground. Node i (1..K) has node id i, client port P+i-1, cluster port P+K+i-1, HTTP\n"
    "port P+2K+i-1, data in D/n<i> and its log in D/n<i>.log. One line per node gives its id, pid and ports. A node\n"
    "that exits is reported and not restarted; the others keep running. Ctrl-C (SIGINT),\n"
    "SIGTERM or SIGHUP stops every node (SIGTERM, then SIGKILL after 10 s) and exits.\n"
    "\n"
    "  --nodes K        how many nodes, 1..64\n"
    "  --base-port P    the first client port; the cluster uses P .. P+3K-1\n"
    "  --data-dir D     parent of the nodes' data directories (default " DEV_CLUSTER_DATA_DIR_DEFAULT
    ")\n"
    "  --engine E       storage engine of every node: lmdb, rocksdb or mem (default: ringkvd's)\n"
    "  --ringkvd PATH   the server binary (default: ringkvd next to this ringkv)\n"
    "  -- FLAG...       more ringkvd flags for every node, e.g. -- --sync batch\n";

typedef struct dev_cluster_opts {
    uint32_t nodes;
    uint32_t base_port;
    const char *data_dir;
    const char *engine;
    const char *ringkvd;
    char **extra;
    int extra_count;
} dev_cluster_opts;

typedef struct dev_cluster_node {
    uint32_t id;
    pid_t pid;          /* 0 once it has exited and been reaped */
    char data_dir[PATH_MAX];
    char log_path[PATH_MAX];
} dev_cluster_node;

typedef struct dev_cluster {
    dev_cluster_opts opts;
    char ringkvd[PATH_MAX];
    char members[DEV_CLUSTER_NODES_MAX * DEV_CLUSTER_MEMBER_BYTES_MAX];  /* for --members */
    dev_cluster_node nodes[DEV_CLUSTER_NODES_MAX];
    uint32_t running_count;
    sigset_t waited;    /* the signals the loop takes with sigtimedwait */
    sigset_t original_mask;
} dev_cluster;

static int dev_cluster_usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "ringkv dev-cluster: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n(ringkv dev-cluster --help for usage)\n");
    return DEV_CLUSTER_EXIT_USAGE;
}

/* "--opt value" and "--opt=value"; everything after "--" goes to ringkvd. Returns -1 to go
 * on, or an exit status. */
static int dev_cluster_parse_args(int argc, char **argv, dev_cluster_opts *o)
{
    o->data_dir = DEV_CLUSTER_DATA_DIR_DEFAULT;
    int i = 1;
    while (i < argc) {
        const char *opt = argv[i++];
        if (strcmp(opt, "--") == 0) {
            o->extra = argv + i;
            o->extra_count = argc - i;
            break;
        }
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            fputs(dev_cluster_usage, stdout);
            return DEV_CLUSTER_EXIT_OK;
        }
        const char *eq = strchr(opt, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - opt) : strlen(opt);
        const char *value = eq != NULL ? eq + 1 : (i < argc ? argv[i++] : NULL);
        if (name_len == 7 && strncmp(opt, "--nodes", 7) == 0) {
            if (!rk_parse_u32_range(value, 1, DEV_CLUSTER_NODES_MAX, &o->nodes)) {
                return dev_cluster_usage_error("--nodes \"%s\": expected 1..64",
                                               value != NULL ? value : "");
            }
        } else if (name_len == 11 && strncmp(opt, "--base-port", 11) == 0) {
            if (!rk_parse_u32_range(value, 1, UINT16_MAX, &o->base_port)) {
                return dev_cluster_usage_error("--base-port \"%s\": expected 1..65535",
                                               value != NULL ? value : "");
            }
        } else if (name_len == 10 && strncmp(opt, "--data-dir", 10) == 0) {
            if (value == NULL || value[0] == '\0') {
                return dev_cluster_usage_error("%s needs a directory", "--data-dir");
            }
            o->data_dir = value;
        } else if (name_len == 8 && strncmp(opt, "--engine", 8) == 0) {
            if (value == NULL || value[0] == '\0') {
                return dev_cluster_usage_error("%s needs lmdb, rocksdb or mem", "--engine");
            }
            o->engine = value;
        } else if (name_len == 9 && strncmp(opt, "--ringkvd", 9) == 0) {
            if (value == NULL || value[0] == '\0') {
                return dev_cluster_usage_error("%s needs a path", "--ringkvd");
            }
            o->ringkvd = value;
        } else {
            return dev_cluster_usage_error("unknown option %s", opt);
        }
    }
    if (o->nodes == 0 || o->base_port == 0) {
        return dev_cluster_usage_error("%s are required", "--nodes and --base-port");
    }
    if (o->base_port + 3u * o->nodes - 1u > UINT16_MAX) {
        char text[96];
        snprintf(text, sizeof(text), "--base-port %u with %u nodes needs ports up to %u",
                 o->base_port, o->nodes, o->base_port + 3u * o->nodes - 1u);
        return dev_cluster_usage_error("%s; the last port is 65535", text);
    }
    if (o->extra_count > (int)DEV_CLUSTER_EXTRA_ARGS_MAX) {
        return dev_cluster_usage_error("more than %s ringkvd flags after --", "64");
    }
    return -1;
}

/* `dir`/`name` into out. Returns 0, or -1 with a message when it does not fit. */
static int dev_cluster_path(char *out, size_t out_size, const char *dir, const char *name)
{
    int len = snprintf(out, out_size, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= out_size) {
        fprintf(stderr, "ringkv dev-cluster: %s/%s: path longer than %zu bytes\n", dir, name,
                out_size - 1);
        return -1;
    }
    return 0;
}

/* ringkvd next to this binary (/proc/self/exe), unless --ringkvd named one. */
static int dev_cluster_find_ringkvd(dev_cluster *dc)
{
    if (dc->opts.ringkvd != NULL) {
        snprintf(dc->ringkvd, sizeof(dc->ringkvd), "%s", dc->opts.ringkvd);
    } else {
        char self[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (len <= 0) {
            fprintf(stderr, "ringkv dev-cluster: cannot read /proc/self/exe: %s; use --ringkvd\n",
                    strerror(errno));
            return DEV_CLUSTER_EXIT_FAIL;
        }
        self[len] = '\0';
        char *slash = strrchr(self, '/');     /* the link is absolute: there is one */
        if (slash != NULL) {
            *slash = '\0';
        }
        if (dev_cluster_path(dc->ringkvd, sizeof(dc->ringkvd), self, "ringkvd") != 0) {
            return DEV_CLUSTER_EXIT_FAIL;
        }
    }
    if (access(dc->ringkvd, X_OK) != 0) {
        fprintf(stderr, "ringkv dev-cluster: %s: %s (build it, or name it with --ringkvd)\n",
                dc->ringkvd, strerror(errno));
        return DEV_CLUSTER_EXIT_FAIL;
    }
    return 0;
}

/* mkdir -p: every missing directory along `path`, mode 0755. Returns 0, or -1 with a
 * message naming the directory. */
static int dev_cluster_mkdirs(const char *path)
{
    char partial[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(partial)) {
        fprintf(stderr, "ringkv dev-cluster: data directory \"%s\": empty or too long\n", path);
        return -1;
    }
    memcpy(partial, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (partial[i] != '/' && partial[i] != '\0') {
            continue;
        }
        char saved = partial[i];
        partial[i] = '\0';
        if (mkdir(partial, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "ringkv dev-cluster: cannot create %s: %s\n", partial,
                    strerror(errno));
            return -1;
        }
        partial[i] = saved;
    }
    return 0;
}

/* Ports, --members text and directories for every node. */
static int dev_cluster_prepare(dev_cluster *dc)
{
    const dev_cluster_opts *o = &dc->opts;
    size_t used = 0;
    for (uint32_t i = 1; i <= o->nodes; i++) {
        int len = snprintf(dc->members + used, sizeof(dc->members) - used, "%s%u=%s:%u:%u",
                           i > 1 ? "," : "", i, DEV_CLUSTER_HOST, o->base_port + i - 1u,
                           o->base_port + o->nodes + i - 1u);
        if (len < 0 || (size_t)len >= sizeof(dc->members) - used) {
            fprintf(stderr, "ringkv dev-cluster: --members text over %zu bytes\n",
                    sizeof(dc->members));
            return DEV_CLUSTER_EXIT_FAIL;
        }
        used += (size_t)len;
    }
    if (dev_cluster_mkdirs(o->data_dir) != 0) {
        return DEV_CLUSTER_EXIT_FAIL;
    }
    for (uint32_t i = 1; i <= o->nodes; i++) {
        dev_cluster_node *node = &dc->nodes[i - 1];
        char name[16];
        node->id = i;
        snprintf(name, sizeof(name), "n%u", i);
        if (dev_cluster_path(node->data_dir, sizeof(node->data_dir), o->data_dir, name) != 0) {
            return DEV_CLUSTER_EXIT_FAIL;
        }
        snprintf(name, sizeof(name), "n%u.log", i);
        if (dev_cluster_path(node->log_path, sizeof(node->log_path), o->data_dir, name) != 0) {
            return DEV_CLUSTER_EXIT_FAIL;
        }
        if (dev_cluster_mkdirs(node->data_dir) != 0) {
            return DEV_CLUSTER_EXIT_FAIL;
        }
    }
    return 0;
}

/* In the child, between fork and exec: its own process group (Ctrl-C reaches dev-cluster
 * only, which stops the nodes its own way), SIGTERM should dev-cluster die without stopping
 * it, the signal mask dev-cluster was started with, stdin from /dev/null and the log as stdout
 * and stderr. Never returns. */
static void dev_cluster_exec(const dev_cluster *dc, const dev_cluster_node *node, int log_fd,
                             pid_t parent)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        _exit(127);     /* dev-cluster died before the line above took effect */
    }
    sigprocmask(SIG_SETMASK, &dc->original_mask, NULL);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
    }
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);

    const dev_cluster_opts *o = &dc->opts;
    char id[16];
    char port[16];
    char cluster_port[16];
    char http_port[16];
    snprintf(id, sizeof(id), "%u", node->id);
    snprintf(port, sizeof(port), "%u", o->base_port + node->id - 1u);
    snprintf(cluster_port, sizeof(cluster_port), "%u", o->base_port + o->nodes + node->id - 1u);
    snprintf(http_port, sizeof(http_port), "%u", o->base_port + 2u * o->nodes + node->id - 1u);
    char *argv[18 + DEV_CLUSTER_EXTRA_ARGS_MAX + 1];
    int argc = 0;
    argv[argc++] = (char *)dc->ringkvd;
    argv[argc++] = "--node-id";
    argv[argc++] = id;
    argv[argc++] = "--bind";
    argv[argc++] = DEV_CLUSTER_HOST;
    argv[argc++] = "--port";
    argv[argc++] = port;
    argv[argc++] = "--cluster-port";
    argv[argc++] = cluster_port;
    argv[argc++] = "--http-port";
    argv[argc++] = http_port;
    argv[argc++] = "--members";
    argv[argc++] = (char *)dc->members;
    argv[argc++] = "--data-dir";
    argv[argc++] = (char *)node->data_dir;
    if (o->engine != NULL) {
        argv[argc++] = "--engine";
        argv[argc++] = (char *)o->engine;
    }
    for (int i = 0; i < o->extra_count; i++) {
        argv[argc++] = o->extra[i];
    }
    argv[argc] = NULL;
    execv(dc->ringkvd, argv);
    fprintf(stderr, "ringkv dev-cluster: cannot run %s: %s\n", dc->ringkvd, strerror(errno));
    _exit(127);
}

/* Fork and exec node `node`. Returns 0, or -1 with a message. */
static int dev_cluster_spawn(dev_cluster *dc, dev_cluster_node *node)
{
    int log_fd = open(node->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        fprintf(stderr, "ringkv dev-cluster: cannot open %s: %s\n", node->log_path,
                strerror(errno));
        return -1;
    }
    fflush(NULL);   /* nothing buffered may be written twice */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        dev_cluster_exec(dc, node, log_fd, parent);
    }
    int fork_errno = errno;
    close(log_fd);
    if (pid < 0) {
        fprintf(stderr, "ringkv dev-cluster: cannot start node %u: fork: %s\n", node->id,
                strerror(fork_errno));
        return -1;
    }
    node->pid = pid;
    dc->running_count++;
    return 0;
}

static void dev_cluster_signal_all(dev_cluster *dc, int sig)
{
    for (uint32_t i = 0; i < dc->opts.nodes; i++) {
        if (dc->nodes[i].pid > 0) {
            kill(dc->nodes[i].pid, sig);
        }
    }
}

/* Reap every child that has exited and say so. */
static void dev_cluster_reap(dev_cluster *dc, bool stopping)
{
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            return;
        }
        dev_cluster_node *node = NULL;
        for (uint32_t i = 0; i < dc->opts.nodes && node == NULL; i++) {
            node = dc->nodes[i].pid == pid ? &dc->nodes[i] : NULL;
        }
        if (node == NULL) {
            continue;
        }
        node->pid = 0;
        dc->running_count--;
        char how[64];
        if (WIFSIGNALED(status)) {
            snprintf(how, sizeof(how), "was killed by signal %d (%s)", WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
        } else {
            snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
        }
        if (stopping) {
            printf("ringkv dev-cluster: node %u (pid %d) %s\n", node->id, (int)pid, how);
        } else {
            printf("ringkv dev-cluster: node %u (pid %d) %s; not restarting it, %u of %u nodes "
                   "still running (its log: %s)\n",
                   node->id, (int)pid, how, dc->running_count, dc->opts.nodes, node->log_path);
        }
    }
}

static uint64_t dev_cluster_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sleep until a signal: children exiting, or a request to stop. Once stopping, every node had
 * SIGTERM; those left at the deadline (or at a second stop request) get SIGKILL. Returns when
 * no node is left. */
static bool dev_cluster_wait(dev_cluster *dc)
{
    bool stopping = false;
    bool killed = false;
    uint64_t deadline_ms = 0;
    dev_cluster_reap(dc, stopping);
    while (dc->running_count > 0) {
        siginfo_t info;
        int sig;
        if (stopping && !killed) {
            uint64_t now_ms = dev_cluster_now_ms();
            uint64_t left_ms = deadline_ms > now_ms ? deadline_ms - now_ms : 0;
            struct timespec timeout = {.tv_sec = (time_t)(left_ms / 1000u),
                                       .tv_nsec = (long)(left_ms % 1000u) * 1000000L};
            sig = left_ms > 0 ? sigtimedwait(&dc->waited, &info, &timeout) : -1;
            if (sig < 0 && (left_ms == 0 || errno == EAGAIN)) {
                printf("ringkv dev-cluster: %u nodes still running after %u ms; SIGKILL\n",
                       dc->running_count, DEV_CLUSTER_STOP_MS);
                dev_cluster_signal_all(dc, SIGKILL);
                killed = true;
            }
        } else {
            sig = sigwaitinfo(&dc->waited, &info);
        }
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
            if (!stopping) {
                printf("ringkv dev-cluster: %s; stopping %u nodes\n", strsignal(sig),
                       dc->running_count);
                dev_cluster_signal_all(dc, SIGTERM);
                stopping = true;
                deadline_ms = dev_cluster_now_ms() + DEV_CLUSTER_STOP_MS;
            } else if (!killed) {
                printf("ringkv dev-cluster: %s again; SIGKILL\n", strsignal(sig));
                dev_cluster_signal_all(dc, SIGKILL);
                killed = true;
            }
        }
        /* SIGCHLD, or anything else: signals of one kind merge, so reap whatever is done. */
        dev_cluster_reap(dc, stopping);
    }
    return stopping;
}

static void dev_cluster_on_sigchld(int sig)
{
    (void)sig;  /* never runs: SIGCHLD stays blocked and sigwaitinfo takes it */
}

int rk_dev_cluster_main(int argc, char **argv)
{
    static dev_cluster dc;   /* ~300 KiB of paths: not on the stack */
    memset(&dc, 0, sizeof(dc));
    int status = dev_cluster_parse_args(argc, argv, &dc.opts);
    if (status >= 0) {
        return status;
    }
    status = dev_cluster_find_ringkvd(&dc);
    if (status == 0) {
        status = dev_cluster_prepare(&dc);
    }
    if (status != 0) {
        return status;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);   /* each line reaches a pipe or file at once */

    /* Block the signals before the first fork, so none is lost before the loop waits for it;
     * a handler makes sure SIGCHLD is not discarded as ignored. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = dev_cluster_on_sigchld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&dc.waited);
    sigaddset(&dc.waited, SIGCHLD);
    sigaddset(&dc.waited, SIGINT);
    sigaddset(&dc.waited, SIGTERM);
    sigaddset(&dc.waited, SIGHUP);
    sigprocmask(SIG_BLOCK, &dc.waited, &dc.original_mask);

    const dev_cluster_opts *o = &dc.opts;
    for (uint32_t i = 0; i < o->nodes; i++) {
        if (dev_cluster_spawn(&dc, &dc.nodes[i]) != 0) {
            dev_cluster_signal_all(&dc, SIGTERM);
            while (dc.running_count > 0 && wait(NULL) > 0) {
                dc.running_count--;
            }
            return DEV_CLUSTER_EXIT_FAIL;
        }
    }
    for (uint32_t i = 0; i < o->nodes; i++) {
        const dev_cluster_node *node = &dc.nodes[i];
        printf("node %u: pid %d, client port %u, cluster port %u, http port %u, data %s, "
               "log %s\n",
               node->id, (int)node->pid, o->base_port + i, o->base_port + o->nodes + i,
               o->base_port + 2u * o->nodes + i, node->data_dir, node->log_path);
    }
    printf("ringkv dev-cluster: %u nodes on %s, members %s; Ctrl-C stops them all\n", o->nodes,
           DEV_CLUSTER_HOST, dc.members);
    if (dev_cluster_wait(&dc)) {
        printf("ringkv dev-cluster: every node has stopped\n");
        return DEV_CLUSTER_EXIT_OK;
    }
    printf("ringkv dev-cluster: every node has exited\n");
    return DEV_CLUSTER_EXIT_FAIL;
}
