/* dev_cluster.h — `ringkv dev-cluster`: a local cluster of K ringkvd processes on 127.0.0.1
 * in the foreground, for trying ringkv (`make run`) and for tests (issue 4 item 8). Owns the
 * child processes from start to stop; the nodes themselves are ringkvd's business.
 *
 * Node i (1..K) has node id i (ids are integers everywhere; the "n<i>" names only its
 * data directory D/n<i> and log D/n<i>.log), client port P+i-1, cluster port P+K+i-1, and
 * every node lists all K in --members. A node that exits is logged and not restarted, and
 * the others keep running (tests kill nodes on purpose). SIGINT, SIGTERM or SIGHUP stops every
 * node: SIGTERM, then SIGKILL to any still running after DEV_CLUSTER_STOP_MS. The loop sleeps
 * in sigtimedwait with every signal blocked, so nothing is polled and no signal is lost
 * between two waitpid calls. */
#ifndef RK_DEV_CLUSTER_H
#define RK_DEV_CLUSTER_H

/* Run `ringkv dev-cluster ARG...`; argv[0] is "dev-cluster". Returns the exit status: 0 after
 * a stop asked by signal (or --help), 1 when a node could not be started or every node exited
 * on its own, 2 on bad usage (a message on stderr). */
int rk_dev_cluster_main(int argc, char **argv);

#endif
