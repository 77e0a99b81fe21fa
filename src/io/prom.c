/* prom.c — the Prometheus text exposition of the registry (see prom.h). One pass over the
 * registry in registration order; each family prints # HELP, # TYPE and its series. */
#include "prom.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

#define PROM_PREFIX "ringkv_"
#define PROM_US_PER_S 1000000u
/* Log-linear latency histograms print at these bounds (microseconds; Prometheus's usual
 * spread from 100 us to 10 s): a scrape stays small whatever the 1,024 buckets hold. */
static const uint64_t prom_latency_bounds_us[] = {
    100,    250,    500,    1000,    2500,    5000,    10000,   25000,
    50000,  100000, 250000, 500000,  1000000, 2500000, 5000000, 10000000,
};
#define PROM_LATENCY_BOUND_COUNT (sizeof(prom_latency_bounds_us) / sizeof(uint64_t))
/* Histograms with at most this many buckets print every bucket's top; larger ones outside
 * microseconds print at powers of two up to 2^PROM_POW2_BOUND_MAX. */
#define PROM_BUCKETS_DIRECT_MAX 16u
#define PROM_POW2_BOUND_MAX 32u

/* The text grows in an rk_resp_out used as a plain byte buffer (its growth and its sticky
 * oom flag); one formatted piece is a name, a label pair or a number, well under this. */
#define PROM_PIECE_BYTES_MAX 512u

typedef struct prom_text {
    rk_resp_out out;
    bool failed;            /* out of memory, past RK_PROM_TEXT_BYTES_MAX, or a piece too long */
} prom_text;

static void prom_add(prom_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void prom_add(prom_text *t, const char *fmt, ...)
{
    char piece[PROM_PIECE_BYTES_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(piece, sizeof(piece), fmt, ap);
    va_end(ap);
    if (t->failed || n < 0 || (size_t)n >= sizeof(piece) ||
        (size_t)n > RK_PROM_TEXT_BYTES_MAX - t->out.len) {
        t->failed = true;
        return;
    }
    rk_resp_out_append_raw(&t->out, (const uint8_t *)piece, (size_t)n);
    t->failed = t->out.oom;
}

/* Escape for HELP (backslash, newline) or, with quote, a label value (and double quote). */
static void prom_add_escaped(prom_text *t, const char *text, bool quote)
{
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '\\') {
            prom_add(t, "\\\\");
        } else if (*c == '\n') {
            prom_add(t, "\\n");
        } else if (quote && *c == '"') {
            prom_add(t, "\\\"");
        } else {
            prom_add(t, "%c", *c);
        }
    }
}

/* Microseconds as exact decimal seconds: 250 -> "0.00025", 2500000 -> "2.5". */
static void prom_seconds(char *out, size_t size, uint64_t us)
{
    uint64_t whole = us / PROM_US_PER_S;
    uint64_t frac = us % PROM_US_PER_S;
    if (frac == 0) {
        snprintf(out, size, "%llu", (unsigned long long)whole);
        return;
    }
    char digits[8];
    snprintf(digits, sizeof(digits), "%06llu", (unsigned long long)frac);
    size_t len = strlen(digits);
    while (len > 0 && digits[len - 1u] == '0') {
        digits[--len] = '\0';
    }
    snprintf(out, size, "%llu.%s", (unsigned long long)whole, digits);
}

static bool prom_unit_is_us(const rk_metric_desc *d)
{
    return strcmp(d->unit, "microseconds") == 0;
}

static bool prom_ends_with(const char *s, const char *suffix)
{
    size_t len = strlen(s);
    size_t suffix_len = strlen(suffix);
    return len >= suffix_len && strcmp(s + len - suffix_len, suffix) == 0;
}

int rk_prom_family_name(const rk_metric_desc *d, char *out, size_t out_size)
{
    const char *name = d->name;
    if (d->kind == RK_METRIC_COUNTER && strncmp(name, "total_", 6) == 0) {
        name += 6;
    }
    const char *unit_suffix = "";
    if (strncmp(name, "bytes_", 6) == 0) {
        name += 6;
        unit_suffix = "_bytes";
    } else if (strcmp(d->unit, "bytes") == 0 && !prom_ends_with(name, "_bytes")) {
        unit_suffix = "_bytes";
    } else if (prom_unit_is_us(d)) {
        unit_suffix = "_seconds";
    }
    const char *total = d->kind == RK_METRIC_COUNTER ? "_total" : "";
    int n = snprintf(out, out_size, PROM_PREFIX "%s%s%s", name, unit_suffix, total);
    if (n < 0 || (size_t)n >= out_size) {
        return RK_ETOOBIG;
    }
    return n;
}

/* A value in the family's base unit. */
static void prom_add_value(prom_text *t, const rk_metric_desc *d, uint64_t v)
{
    if (prom_unit_is_us(d)) {
        char seconds[48];
        prom_seconds(seconds, sizeof(seconds), v);
        prom_add(t, "%s\n", seconds);
    } else {
        prom_add(t, "%llu\n", (unsigned long long)v);
    }
}

/* name{label="value",...[,le="bound"]} — the braces only when there is a label. */
static void prom_add_series_name(prom_text *t, const char *family, const char *suffix,
                                 const rk_metric *m, uint32_t series, const char *le)
{
    const rk_metric_desc *d = m->desc;
    prom_add(t, "%s%s", family, suffix);
    if (d->label_count == 0 && le == NULL) {
        prom_add(t, " ");
        return;
    }
    uint32_t values[RK_METRIC_LABELS_MAX] = {0};
    rk_metric_series_labels(m, series, values);
    prom_add(t, "{");
    for (uint32_t l = 0; l < d->label_count; l++) {
        prom_add(t, "%s%s=\"", l > 0 ? "," : "", d->labels[l]->name);
        prom_add_escaped(t, d->labels[l]->values[values[l]], true);
        prom_add(t, "\"");
    }
    if (le != NULL) {
        prom_add(t, "%sle=\"%s\"", d->label_count > 0 ? "," : "", le);
    }
    prom_add(t, "} ");
}

/* Samples at or below `bound`: every bucket whose top is at or below it. */
static uint64_t prom_hist_at_or_below(const rk_metric_hist *h, uint64_t bound)
{
    uint64_t cumulative = 0;
    for (uint32_t b = 0; b < h->bucket_count && h->bucket_top(b) <= bound; b++) {
        cumulative += h->bucket_counts[b];
    }
    return cumulative;
}

/* The bounds a histogram prints at, in its unit, into bounds (PROM_BUCKETS_DIRECT_MAX +
 * PROM_POW2_BOUND_MAX entries at most); returns how many, ascending. */
static uint32_t prom_hist_bounds(const rk_metric_desc *d, const rk_metric_hist *h,
                                 uint64_t *bounds)
{
    uint32_t count = 0;
    if (prom_unit_is_us(d)) {
        for (uint32_t i = 0; i < PROM_LATENCY_BOUND_COUNT; i++) {
            bounds[count++] = prom_latency_bounds_us[i];
        }
    } else if (h->bucket_count <= PROM_BUCKETS_DIRECT_MAX) {
        for (uint32_t b = 0; b < h->bucket_count; b++) {
            uint64_t top = h->bucket_top(b);
            if (top != UINT64_MAX && (count == 0 || top > bounds[count - 1u])) {
                bounds[count++] = top;      /* the unbounded last bucket is +Inf's */
            }
        }
    } else {
        for (uint32_t p = 0; p <= PROM_POW2_BOUND_MAX; p++) {
            bounds[count++] = 1ull << p;
        }
    }
    return count;
}

static void prom_add_hist_series(prom_text *t, const char *family, const rk_metric *m,
                                 uint32_t series)
{
    const rk_metric_desc *d = m->desc;
    rk_metric_hist h;
    rk_metric_series_hist(m, series, &h);
    uint64_t bounds[PROM_BUCKETS_DIRECT_MAX + PROM_POW2_BOUND_MAX + 1u];
    uint32_t bound_count = prom_hist_bounds(d, &h, bounds);
    uint64_t previous = 0;
    for (uint32_t i = 0; i < bound_count; i++) {
        char le[48];
        if (prom_unit_is_us(d)) {
            prom_seconds(le, sizeof(le), bounds[i]);
        } else {
            snprintf(le, sizeof(le), "%llu", (unsigned long long)bounds[i]);
        }
        uint64_t cumulative = prom_hist_at_or_below(&h, bounds[i]);
        RK_ASSERT(cumulative >= previous);
        RK_ASSERT(cumulative <= h.count);
        previous = cumulative;
        prom_add_series_name(t, family, "_bucket", m, series, le);
        prom_add(t, "%llu\n", (unsigned long long)cumulative);
    }
    prom_add_series_name(t, family, "_bucket", m, series, "+Inf");
    prom_add(t, "%llu\n", (unsigned long long)h.count);
    prom_add_series_name(t, family, "_sum", m, series, NULL);
    prom_add_value(t, d, h.sum);
    prom_add_series_name(t, family, "_count", m, series, NULL);
    prom_add(t, "%llu\n", (unsigned long long)h.count);
}

static void prom_add_family(prom_text *t, const rk_metric *m)
{
    const rk_metric_desc *d = m->desc;
    char family[RK_PROM_NAME_BYTES_MAX];
    int rc = rk_prom_family_name(d, family, sizeof(family));
    RK_ASSERT(rc > 0);      /* registry names are at most 64 bytes */
    prom_add(t, "# HELP %s ", family);
    prom_add_escaped(t, d->help, false);
    prom_add(t, "\n# TYPE %s %s\n", family, rk_metric_kind_name(d->kind));
    uint32_t series_count = rk_metric_series_count(m);
    for (uint32_t i = 0; i < series_count; i++) {
        if (d->kind == RK_METRIC_HISTOGRAM) {
            prom_add_hist_series(t, family, m, i);
        } else {
            prom_add_series_name(t, family, "", m, i, NULL);
            prom_add_value(t, d, rk_metric_series_value(m, i));
        }
    }
}

int rk_prom_render_registry(const rk_metrics_registry *reg, char **text_out, size_t *len_out)
{
    prom_text t = {.failed = false};
    rk_resp_out_init(&t.out, 2);
    for (uint32_t i = 0; i < reg->count && !t.failed; i++) {
        prom_add_family(&t, &reg->metrics[i]);
    }
    rk_resp_out_append_raw(&t.out, (const uint8_t *)"", 1);     /* the NUL, not counted */
    if (t.failed || t.out.oom) {
        rk_resp_out_deinit(&t.out);
        return RK_ENOMEM;
    }
    *text_out = (char *)t.out.data;         /* the buffer's ownership moves to the caller */
    *len_out = t.out.len - 1u;
    return 0;
}

int rk_prom_render(rk_server *s, char **text_out, size_t *len_out)
{
    return rk_prom_render_registry(&s->metrics, text_out, len_out);
}
