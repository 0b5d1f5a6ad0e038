/* CTally is a header of inline functions (include/CTally.h); a C target needs one source file. */
#include "CTally.h"

/* Temporary spools of standard input, removed when the process ends by exit or by SIGINT,
 * SIGTERM or SIGHUP: raw rows hold identifiers and must not stay behind in the temporary
 * directory. Only async-signal-safe calls in the handler: unlink, signal, raise. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TALLY_SPOOLS 16
static char tally_spool_paths[TALLY_SPOOLS][4096];
static volatile sig_atomic_t tally_spool_count = 0;

static void tally_spool_remove_all(void) {
    for (int i = 0; i < tally_spool_count; i++) unlink(tally_spool_paths[i]);
}

static void tally_spool_on_signal(int sig) {
    tally_spool_remove_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

int tally_spool_register(const char *path) {
    if (tally_spool_count >= TALLY_SPOOLS || strlen(path) >= sizeof tally_spool_paths[0]) return 0;
    strcpy(tally_spool_paths[tally_spool_count], path);
    if (tally_spool_count == 0) {
        atexit(tally_spool_remove_all);
        int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        for (int i = 0; i < 3; i++) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = tally_spool_on_signal;
            sigemptyset(&sa.sa_mask);
            sigaction(sigs[i], &sa, NULL);
        }
    }
    tally_spool_count++;
    return 1;
}

/* TallyCore's use of the C library (declared in CTally.h). */
#include <stdint.h>
#include <sys/mman.h>

#define TALLY_HUGE_PAGE ((size_t)1 << 21)

void *tally_map_zeroed(size_t bytes) {
    /* Map a huge page more than needed and trim both ends, so the block starts on a 2 MiB
     * boundary (a huge page can only back an aligned 2 MiB range). Fresh anonymous mappings
     * are already zero. */
    char *raw = mmap(NULL, bytes + TALLY_HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    size_t head = (TALLY_HUGE_PAGE - (uintptr_t)raw % TALLY_HUGE_PAGE) % TALLY_HUGE_PAGE;
    if (head > 0) munmap(raw, head);
    char *start = raw + head;
    munmap(start + bytes, TALLY_HUGE_PAGE - head);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(start, bytes, MADV_HUGEPAGE);
#endif
    return start;
}

void tally_unmap(void *p, size_t bytes) { munmap(p, bytes); }

/* UTF-8 validation sixteen bytes at a time (the lookup method of Keiser and Lemire, "Validating
 * UTF-8 In Less Than One Instruction Per Byte", 2021): each byte pair is classified by three
 * table lookups, on the high and low nibbles of the first byte and the high nibble of the second,
 * whose AND is non-zero exactly where the pair cannot stand in valid UTF-8; the third and fourth
 * bytes of longer sequences are checked by a saturating subtraction two and three bytes back. The
 * lookups need SSSE3 (pshufb), which the x86-64 baseline lacks: the function is built for it and
 * used only where the processor has it (tally_utf8_simd_ready), else the caller checks in Swift.
 * The CSV reader checks every row with high bytes this way; the wide export's Chinese names took
 * a tenth of its reading thread one character at a time. */
#if defined(__x86_64__)
#include <immintrin.h>

enum {
    U8_TOO_SHORT = 1 << 0, U8_TOO_LONG = 1 << 1, U8_OVERLONG_3 = 1 << 2, U8_TOO_LARGE = 1 << 3,
    U8_SURROGATE = 1 << 4, U8_OVERLONG_2 = 1 << 5, U8_TOO_LARGE_1000 = 1 << 6, U8_OVERLONG_4 = 1 << 6,
    U8_TWO_CONTS = 1 << 7, U8_CARRY = U8_TOO_SHORT | U8_TOO_LONG | U8_TWO_CONTS,
};

__attribute__((target("ssse3")))
static inline __m128i tally_utf8_block(__m128i input, __m128i prev) {
    const __m128i byte1High = _mm_setr_epi8(
        U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG,
        U8_TWO_CONTS, U8_TWO_CONTS, U8_TWO_CONTS, U8_TWO_CONTS,
        U8_TOO_SHORT | U8_OVERLONG_2, U8_TOO_SHORT, U8_TOO_SHORT | U8_OVERLONG_3 | U8_SURROGATE,
        U8_TOO_SHORT | U8_TOO_LARGE | U8_TOO_LARGE_1000 | U8_OVERLONG_4);
    const __m128i byte1Low = _mm_setr_epi8(
        U8_CARRY | U8_OVERLONG_3 | U8_OVERLONG_2 | U8_OVERLONG_4, U8_CARRY | U8_OVERLONG_2, U8_CARRY, U8_CARRY,
        U8_CARRY | U8_TOO_LARGE, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000 | U8_SURROGATE, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000);
    const __m128i byte2High = _mm_setr_epi8(
        U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT,
        U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_OVERLONG_3 | U8_TOO_LARGE_1000 | U8_OVERLONG_4,
        U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_OVERLONG_3 | U8_TOO_LARGE,
        U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_SURROGATE | U8_TOO_LARGE,
        U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_SURROGATE | U8_TOO_LARGE,
        U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT);
    const __m128i nibble = _mm_set1_epi8(0x0F);
    __m128i prev1 = _mm_alignr_epi8(input, prev, 15);
    __m128i sc = _mm_and_si128(
        _mm_and_si128(_mm_shuffle_epi8(byte1High, _mm_and_si128(_mm_srli_epi16(prev1, 4), nibble)),
                      _mm_shuffle_epi8(byte1Low, _mm_and_si128(prev1, nibble))),
        _mm_shuffle_epi8(byte2High, _mm_and_si128(_mm_srli_epi16(input, 4), nibble)));
    __m128i prev2 = _mm_alignr_epi8(input, prev, 14), prev3 = _mm_alignr_epi8(input, prev, 13);
    __m128i third = _mm_subs_epu8(prev2, _mm_set1_epi8((char)(0xE0 - 1)));
    __m128i fourth = _mm_subs_epu8(prev3, _mm_set1_epi8((char)(0xF0 - 1)));
    /* 0x80 where a byte must be a continuation as the third or fourth of a sequence. */
    __m128i must = _mm_and_si128(_mm_cmpgt_epi8(_mm_or_si128(third, fourth), _mm_setzero_si128()), _mm_set1_epi8((char)0x80));
    return _mm_xor_si128(must, sc);
}

__attribute__((target("ssse3")))
static int tally_utf8_valid_ssse3(const unsigned char *p, size_t n) {
    __m128i prev = _mm_setzero_si128(), error = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i input = _mm_loadu_si128((const __m128i *)(p + i));
        /* An ASCII block after a block that ended on a sequence's boundary needs no lookups. */
        if (_mm_movemask_epi8(_mm_or_si128(input, prev)) == 0) {
            prev = input;
            continue;
        }
        error = _mm_or_si128(error, tally_utf8_block(input, prev));
        prev = input;
    }
    /* The rest, then a block of zeros: ASCII after the end, so that a sequence cut short there
     * shows as one. */
    unsigned char last[16] = {0};
    memcpy(last, p + i, n - i);
    __m128i input = _mm_loadu_si128((const __m128i *)last);
    error = _mm_or_si128(error, tally_utf8_block(input, prev));
    error = _mm_or_si128(error, tally_utf8_block(_mm_setzero_si128(), input));
    return _mm_movemask_epi8(_mm_cmpeq_epi8(error, _mm_setzero_si128())) == 0xFFFF;
}

int tally_utf8_simd_ready(void) {
    static int ready = -1;
    int r = __atomic_load_n(&ready, __ATOMIC_RELAXED);
    if (r < 0) {
        r = __builtin_cpu_supports("ssse3") ? 1 : 0;
        __atomic_store_n(&ready, r, __ATOMIC_RELAXED);
    }
    return r;
}

int tally_utf8_valid(const unsigned char *p, size_t n) { return tally_utf8_valid_ssse3(p, n); }
#else
int tally_utf8_simd_ready(void) { return 0; }
int tally_utf8_valid(const unsigned char *p, size_t n) { (void)p; (void)n; return 0; }
#endif

int tally_utf8_wide(const unsigned char *p, size_t n) {
    int wide = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xC2) return 0;
        if (c < 0xE0) {
            if (i + 1 >= n || (p[i + 1] & 0xC0) != 0x80) return 0;
            i += 2;
            continue;
        }
        wide = 1;
        if (i + 2 >= n) return 0;
        unsigned c1 = p[i + 1];
        if ((c1 & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80) return 0;
        if (c < 0xF0) {
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return 0;
            i += 3;
            continue;
        }
        if (c > 0xF4 || i + 3 >= n || (p[i + 3] & 0xC0) != 0x80) return 0;
        if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) return 0;
        i += 4;
    }
    return wide;
}

/* GB18030 → UTF-8 through a table of the two-byte codes (tally_gb18030_decode in CTally.h). With
 * `utf8_stop`, -2 where the text from its first byte above 0x7F on is UTF-8 with a character of
 * three or four bytes (tally_utf8_wide; the bytes before it are ASCII). GB18030 text mostly fails
 * that at its first character (its lead bytes 0x81–0xBF are continuation bytes in UTF-8; its
 * trail bytes 0xC0–0xFE are not). */
static inline __attribute__((always_inline)) long tally_gb18030_run(const unsigned char *in, size_t n, unsigned char *out,
                                                                    const uint32_t *two, int utf8_stop,
                                                                    const unsigned char *limit) {
    unsigned char *o = out;
    size_t i = 0;
    while (i < n) {
#if defined(__x86_64__)
        /* ASCII sixteen bytes at a time, copied as they are, up to the first byte above 0x7F.
         * The load may read past the text, up to `limit`; the store may write past its UTF-8,
         * into room the caller gives. */
        if (in + i + 16 <= limit) {
            __m128i v = _mm_loadu_si128((const __m128i *)(in + i));
            unsigned m = (unsigned)_mm_movemask_epi8(v);
            _mm_storeu_si128((__m128i *)o, v);
            size_t k = m ? (size_t)__builtin_ctz(m) : 16;
            if (k >= n - i) {
                o += n - i;
                break;
            }
            i += k;
            o += k;
            if (k == 16) continue;
        }
#endif
        unsigned c = in[i];
        if (c < 0x80) {
            *o++ = (unsigned char)c;
            i++;
            continue;
        }
        if (utf8_stop) {
            utf8_stop = 0;
            if (tally_utf8_wide(in + i, n - i)) return -2;
        }
        /* A run of two-byte codes, one after the other. */
        do {
            if (i + 1 >= n || c == 0x80 || c == 0xFF) return -1;
            unsigned t = in[i + 1];
            if (t < 0x40) return -1;
            uint32_t u = two[(c - 0x81) * 192 + (t - 0x40)];
            if (u == 0) return -1;
            memcpy(o, &u, 4);
            unsigned lead = u & 0xFF;
            o += lead < 0xE0 ? 2 : (lead < 0xF0 ? 3 : 4);
            i += 2;
        } while (i < n && (c = in[i]) >= 0x80);
    }
    return (long)(o - out);
}

long tally_gb18030_decode(const unsigned char *in, size_t n, unsigned char *out, const uint32_t *two) {
    return tally_gb18030_run(in, n, out, two, 0, in + n);
}

long tally_gb18030_cells(const unsigned char *base, const long *starts, const long *ends, long count, long limit,
                         unsigned char *out, long *cell_ends, long offset, const uint32_t *two) {
    long o = 0;
    for (long i = 0; i < count; i++) {
        long w = tally_gb18030_run(base + starts[i], (size_t)(ends[i] - starts[i]), out + o, two, 1, base + limit);
        if (w < 0) return i;
        o += w;
        cell_ends[i] = offset + o;
    }
    return count;
}

