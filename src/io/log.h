/* log.h — ringkvd's log: one line per event on stderr, with a UTC timestamp and level, below
 * the configured level dropped. Owns the process-wide level (the one global of io: every module
 * logs, and the level is set once at start-up). */
#ifndef RK_LOG_H
#define RK_LOG_H

#include "config.h"

void rk_log_set_level(rk_log_level level);
void rk_log(rk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rk_log_debug(...) rk_log(RK_LOG_DEBUG, __VA_ARGS__)
#define rk_log_info(...) rk_log(RK_LOG_INFO, __VA_ARGS__)
#define rk_log_warn(...) rk_log(RK_LOG_WARN, __VA_ARGS__)
#define rk_log_error(...) rk_log(RK_LOG_ERROR, __VA_ARGS__)

#endif
