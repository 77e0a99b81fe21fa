/* set-cost-shim.c — an LD_PRELOAD library that counts, in one ringkvd process, what
 * bench/set-cost.sh wants to know about a SET: heap allocations, copies of the value and
 * hashes of the key. Counters only grow; on SIGUSR2 the process writes them to the file named
 * by RK_SHIM_OUT (written to RK_SHIM_OUT.tmp, then renamed, so a reader never sees half a
 * file). The script takes two such snapshots and subtracts.
 *
 * What is counted, and what cannot be:
 *   allocations   malloc, calloc, realloc, posix_memalign, aligned_alloc (free apart). Calls
 *                 from ringkvd and from every library go through these symbols; glibc routes
 *                 its own internal mallocs (strdup, fopen) through them too.
 *   value copies  memcpy, memmove, mempcpy and their _chk forms whose length is exactly
 *                 RK_SHIM_VALUE_BYTES ("copies_eq"), and those at least that long
 *                 ("copies_ge": a value copied inside a larger frame or record). Only calls
 *                 that reach these symbols count: gcc inlines copies of small constant sizes
 *                 (never a value's), and glibc's internal copies (realloc moving a block,
 *                 stdio) do not go through the symbol.
 *   key hashes    XXH3_64bits, XXH3_64bits_withSeed and XXH64 from libxxhash whose length is
 *                 exactly RK_SHIM_KEY_BYTES ("hashes_key"), and all of them ("hashes_all").
 *                 rk_hash_key (src/core/hash.c) calls XXH3_64bits in libxxhash.so through the
 *                 PLT; a build that inlined xxhash (XXH_INLINE_ALL) or linked it statically
 *                 would show 0 here, which the script reports as "n/a".
 *
 * Build: cc -O2 -shared -fPIC -fno-builtin -fno-tree-loop-distribute-patterns \
 *            -o set-cost-shim.so set-cost-shim.c -ldl
 * Use:   RK_SHIM_OUT=/tmp/n1.counts RK_SHIM_VALUE_BYTES=4099 RK_SHIM_KEY_BYTES=29 \
 *        LD_PRELOAD=./set-cost-shim.so ringkvd ...;  kill -USR2 <pid>; cat /tmp/n1.counts */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHIM_PATH_BYTES_MAX 4000u /* RK_SHIM_OUT plus ".tmp" must fit */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t alignment, size_t size);

typedef void *(*shim_copy_fn)(void *, const void *, size_t);
typedef uint64_t (*shim_hash_fn)(const void *, size_t);
typedef uint64_t (*shim_hash_seed_fn)(const void *, size_t, uint64_t);

enum {
    SHIM_MALLOC,
    SHIM_CALLOC,
    SHIM_REALLOC,
    SHIM_MEMALIGN,
    SHIM_FREE,
    SHIM_COPIES_EQ,
    SHIM_COPIES_GE,
    SHIM_COPIES_ALL,
    SHIM_HASHES_KEY,
    SHIM_HASHES_ALL,
    SHIM_COUNTERS
};
static const char *const shim_names[SHIM_COUNTERS] = {
    "malloc", "calloc", "realloc", "memalign", "free",
    "copies_eq", "copies_ge", "copies_all", "hashes_key", "hashes_all",
};

static uint64_t shim_counts[SHIM_COUNTERS];
static size_t shim_value_bytes = SIZE_MAX; /* nothing matches until the constructor ran */
static size_t shim_key_bytes = SIZE_MAX;
static char shim_out_path[SHIM_PATH_BYTES_MAX];
static char shim_tmp_path[SHIM_PATH_BYTES_MAX + 8];

static shim_copy_fn shim_real_memcpy;
static shim_copy_fn shim_real_memmove;
static shim_copy_fn shim_real_mempcpy;
static shim_hash_fn shim_real_xxh3;
static shim_hash_seed_fn shim_real_xxh3_seed;
static shim_hash_seed_fn shim_real_xxh64;

static void shim_count(int counter)
{
    __atomic_fetch_add(&shim_counts[counter], 1, __ATOMIC_RELAXED);
}

static void shim_count_copy(size_t len)
{
    shim_count(SHIM_COPIES_ALL);
    if (len == shim_value_bytes) {
        shim_count(SHIM_COPIES_EQ);
    }
    if (len >= shim_value_bytes) {
        shim_count(SHIM_COPIES_GE);
    }
}

static void shim_count_hash(size_t len)
{
    shim_count(SHIM_HASHES_ALL);
    if (len == shim_key_bytes) {
        shim_count(SHIM_HASHES_KEY);
    }
}

/* Before the constructor has looked up libc's copy (another library's constructor may copy
 * first), copy byte by byte; volatile so gcc cannot turn the loop back into a memcpy call. */
static void shim_copy_bytes(void *dst, const void *src, size_t len)
{
    volatile unsigned char *d = dst;
    const volatile unsigned char *s = src;
    if (d < s) {
        for (size_t i = 0; i < len; i++) {
            d[i] = s[i];
        }
    } else {
        for (size_t i = len; i > 0; i--) {
            d[i - 1] = s[i - 1];
        }
    }
}

/* --- allocations --------------------------------------------------------------------- */

void *malloc(size_t size)
{
    shim_count(SHIM_MALLOC);
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    shim_count(SHIM_CALLOC);
    return __libc_calloc(count, size);
}

void *realloc(void *p, size_t size)
{
    shim_count(SHIM_REALLOC);
    return __libc_realloc(p, size);
}

void free(void *p)
{
    if (p != NULL) {
        shim_count(SHIM_FREE);
    }
    __libc_free(p);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    shim_count(SHIM_MEMALIGN);
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) {
        return 12; /* ENOMEM */
    }
    *out = p;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size)
{
    shim_count(SHIM_MEMALIGN);
    return __libc_memalign(alignment, size);
}

/* --- copies -------------------------------------------------------------------------- */

void *memcpy(void *dst, const void *src, size_t len)
{
    shim_count_copy(len);
    if (shim_real_memcpy == NULL) {
        shim_copy_bytes(dst, src, len);
        return dst;
    }
    return shim_real_memcpy(dst, src, len);
}

void *memmove(void *dst, const void *src, size_t len)
{
    shim_count_copy(len);
    if (shim_real_memmove == NULL) {
        shim_copy_bytes(dst, src, len);
        return dst;
    }
    return shim_real_memmove(dst, src, len);
}

void *mempcpy(void *dst, const void *src, size_t len)
{
    shim_count_copy(len);
    if (shim_real_mempcpy == NULL) {
        shim_copy_bytes(dst, src, len);
        return (unsigned char *)dst + len;
    }
    return shim_real_mempcpy(dst, src, len);
}

/* _FORTIFY_SOURCE builds call these when the destination's size is known; the bounds were
 * checked at compile time or are checked by the copy they stand for. */
void *__memcpy_chk(void *dst, const void *src, size_t len, size_t dst_len)
{
    (void)dst_len;
    return memcpy(dst, src, len);
}

void *__memmove_chk(void *dst, const void *src, size_t len, size_t dst_len)
{
    (void)dst_len;
    return memmove(dst, src, len);
}

void *__mempcpy_chk(void *dst, const void *src, size_t len, size_t dst_len)
{
    (void)dst_len;
    return mempcpy(dst, src, len);
}

/* --- key hashes ---------------------------------------------------------------------- */

uint64_t XXH3_64bits(const void *data, size_t len)
{
    shim_count_hash(len);
    return shim_real_xxh3(data, len);
}

uint64_t XXH3_64bits_withSeed(const void *data, size_t len, uint64_t seed)
{
    shim_count_hash(len);
    return shim_real_xxh3_seed(data, len, seed);
}

uint64_t XXH64(const void *data, size_t len, uint64_t seed)
{
    shim_count_hash(len);
    return shim_real_xxh64(data, len, seed);
}

/* --- the dump on SIGUSR2: async-signal-safe calls only -------------------------------- */

static size_t shim_format_u64(char *out, uint64_t v)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = digits[n - 1 - i];
    }
    return n;
}

static void shim_on_sigusr2(int signum)
{
    (void)signum;
    char text[1024];
    size_t len = 0;
    for (int c = 0; c < SHIM_COUNTERS; c++) {
        const char *name = shim_names[c];
        for (size_t i = 0; name[i] != '\0'; i++) {
            text[len++] = name[i];
        }
        text[len++] = ' ';
        len += shim_format_u64(text + len, __atomic_load_n(&shim_counts[c], __ATOMIC_RELAXED));
        text[len++] = '\n';
    }
    int fd = open(shim_tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return;
    }
    ssize_t written = write(fd, text, len);
    close(fd);
    if (written == (ssize_t)len) {
        rename(shim_tmp_path, shim_out_path);
    }
}

static size_t shim_env_size(const char *name)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') {
        return SIZE_MAX;
    }
    size_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (size_t)(*s - '0');
    }
    return v;
}

__attribute__((constructor)) static void shim_init(void)
{
    shim_real_memcpy = (shim_copy_fn)dlsym(RTLD_NEXT, "memcpy");
    shim_real_memmove = (shim_copy_fn)dlsym(RTLD_NEXT, "memmove");
    shim_real_mempcpy = (shim_copy_fn)dlsym(RTLD_NEXT, "mempcpy");
    shim_real_xxh3 = (shim_hash_fn)dlsym(RTLD_NEXT, "XXH3_64bits");
    shim_real_xxh3_seed = (shim_hash_seed_fn)dlsym(RTLD_NEXT, "XXH3_64bits_withSeed");
    shim_real_xxh64 = (shim_hash_seed_fn)dlsym(RTLD_NEXT, "XXH64");
    shim_value_bytes = shim_env_size("RK_SHIM_VALUE_BYTES");
    shim_key_bytes = shim_env_size("RK_SHIM_KEY_BYTES");

    const char *out = getenv("RK_SHIM_OUT");
    if (out == NULL || strlen(out) >= SHIM_PATH_BYTES_MAX) {
        return; /* counting still works; nothing is dumped */
    }
    size_t out_len = strlen(out);
    shim_copy_bytes(shim_out_path, out, out_len + 1);
    shim_copy_bytes(shim_tmp_path, out, out_len);
    shim_copy_bytes(shim_tmp_path + out_len, ".tmp", 5);

    struct sigaction sa = {0};
    sa.sa_handler = shim_on_sigusr2;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
}
