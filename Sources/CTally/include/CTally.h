#ifndef TALLY_CTALLY_H
#define TALLY_CTALLY_H

#if defined(__SSE2__)
#include <emmintrin.h>
#include <stddef.h>
#include <stdint.h>
#endif

/* What Swift cannot say itself.
 *
 * tally_prefetch asks for the cache line holding `p` without waiting for it. The scorer and the
 * linker touch random places in tables of hundreds of megabytes for every record; they name a
 * batch's places first so the misses overlap. A plain Swift load for that still waits: the
 * instructions that use the value cannot retire, and the processor stops taking new ones once its
 * reorder buffer is full (perf showed a third of tally-score's summing pass on such loads). A
 * prefetch retires at once. It never faults, so any address is fine. */
static inline void tally_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/* The same, for a line about to be written. */
static inline void tally_prefetch_write(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

/* The run of plain bytes in a JSON string from `p`: the first byte before `end` that is a quote,
 * a backslash or a control character (below 0x20), or `end`; and whether any byte before it
 * has its high bit set (the run must then be checked as UTF-8). Sixteen bytes a step with SSE2,
 * which Swift's SIMD types did not give us at speed; the record scanner calls this for every
 * string of every line. Never reads at or past `end`. */
typedef struct {
    const unsigned char *stop;
    int high;
} tally_plain_run;

static inline __attribute__((always_inline)) tally_plain_run tally_json_plain_run(const unsigned char *p, const unsigned char *end) {
    unsigned high = 0;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1F);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        /* x <= 0x1F (unsigned) exactly when min(x, 0x1F) == x. */
        __m128i stops = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                                     _mm_cmpeq_epi8(_mm_min_epu8(x, control), x));
        unsigned m = (unsigned)_mm_movemask_epi8(stops);
        unsigned h = (unsigned)_mm_movemask_epi8(x);
        if (m) {
            unsigned k = (unsigned)__builtin_ctz(m);
            high |= h & ((1u << k) - 1u);
            return (tally_plain_run){p + k, high != 0};
        }
        high |= h;
        p += 16;
    }
#endif
    while (p < end) {
        unsigned char c = *p;
        if (c == '"' || c == '\\' || c < 0x20) break;
        high |= c & 0x80u;
        p++;
    }
    return (tally_plain_run){p, high != 0};
}

/* Where an unquoted CSV cell stops: the first byte before `end` that is a comma, a quote or a
 * carriage return, or `end`. One pass, sixteen bytes a step with SSE2, where the reader made three
 * memchr calls a cell (comma, then quote and CR before it); cells of a wide export are short, so
 * the calls cost more than the bytes. Never reads at or past `end`. */
static inline __attribute__((always_inline)) const unsigned char *tally_csv_cell_stop(const unsigned char *p, const unsigned char *end) {
#if defined(__SSE2__)
    const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"'), cr = _mm_set1_epi8('\r');
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        __m128i stops = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, comma), _mm_cmpeq_epi8(x, quote)), _mm_cmpeq_epi8(x, cr));
        unsigned m = (unsigned)_mm_movemask_epi8(stops);
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    while (p < end && *p != ',' && *p != '"' && *p != '\r') p++;
    return p;
}

/* A plain CSV record at `p`: the bytes up to the first LF before `end`, when none of them is a
 * quote, a NUL, a byte with its high bit set, or a CR other than one just before the LF. Such a
 * record's cells are the bytes between its commas, all ASCII: nothing to unquote, and no UTF-8,
 * NUL, byte-order mark or stray CR to look for. Writes each comma's offset from `p` to `commas`
 * and their number to `*count`, and returns the LF's offset; returns -1 when the record is not
 * plain, has more than `max` commas, or no LF comes before `end` (the caller then reads it the
 * general way). One pass, sixteen bytes a step with SSE2, where the reader made seven passes
 * over a transit row (memchr for the LF, the quote, the CR, the NUL and a byte-order mark, the
 * comma split, the UTF-8 check). Never reads at or past `end`. */
static inline __attribute__((always_inline)) long tally_csv_plain_record(const unsigned char *p, const unsigned char *end,
                                                                        unsigned *commas, unsigned max, unsigned *count) {
    const unsigned char *q = p;
    unsigned n = 0;
    long cr = -1;
#if defined(__SSE2__)
    const __m128i lf = _mm_set1_epi8('\n'), comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"'), carriage = _mm_set1_epi8('\r'),
                  zero = _mm_setzero_si128();
    while (end - q >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)q);
        unsigned l = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, lf));
        /* Only the bytes before the LF, if there is one here, count. */
        unsigned before = l ? (1u << __builtin_ctz(l)) - 1u : 0xFFFFu;
        unsigned bad = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, zero)), x)) & before;
        if (bad) return -1;
        unsigned c = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, carriage)) & before;
        if (c) {
            if (cr >= 0) return -1;
            cr = (q - p) + __builtin_ctz(c);
            if (c & (c - 1)) return -1;
        }
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, comma)) & before;
        if (n + (unsigned)__builtin_popcount(m) > max) return -1;
        while (m) {
            commas[n++] = (unsigned)(q - p) + (unsigned)__builtin_ctz(m);
            m &= m - 1;
        }
        if (l) {
            long at = (q - p) + __builtin_ctz(l);
            if (cr >= 0 && cr != at - 1) return -1;
            *count = n;
            return at;
        }
        q += 16;
    }
#endif
    for (; q < end; q++) {
        unsigned char b = *q;
        if (b == '\n') {
            long at = q - p;
            if (cr >= 0 && cr != at - 1) return -1;
            *count = n;
            return at;
        }
        if (b == '"' || b == 0 || b >= 0x80) return -1;
        if (b == '\r') {
            if (cr >= 0) return -1;
            cr = q - p;
        } else if (b == ',') {
            if (n == max) return -1;
            commas[n++] = (unsigned)(q - p);
        }
    }
    return -1;
}

/* A simply quoted CSV record at `p`: the bytes up to the first LF outside quotes before `end`,
 * when every quote opens a field, closes it (followed by a comma, the LF or CR LF) or is doubled
 * inside it, no byte is NUL, and no CR stands outside quotes but just before the LF. Commas,
 * CRs and line breaks may stand inside quotes. Writes each cell's start and end (offsets from
 * `p`, without its outer quotes; doubled quotes are still doubled, and the start has its top bit
 * set when the cell holds one) to `cells` (two numbers a cell, at most `max` cells) and their
 * number to `*count`. Sets bit 0 of `*flags` when a byte before the LF has its high bit set, bit
 * 1 when a field is quoted, bit 2 when a quote is doubled, and bits 8 and up to the number of
 * line breaks inside quotes. Returns the LF's offset; returns -1 when the record is not so simple
 * or no LF comes before `end` (the caller then reads it the general way, which also reports what
 * is wrong). One pass, sixteen bytes a step with SSE2, stopping only at commas, quotes, CRs and
 * LFs: the wide export's rows carry four quoted names each, and were split a field at a time with
 * a memchr for each closing quote and a copy of each cell. Never reads at or past `end`. */
static inline __attribute__((always_inline)) long tally_csv_simple_record(const unsigned char *p, const unsigned char *end,
                                                                         unsigned *cells, unsigned max, unsigned *count,
                                                                         unsigned *flags) {
    const long n = end - p;
    long field = 0;        /* where the current field begins */
    long cellStart = 0;    /* where its value begins (after an opening quote) */
    long closed = -1;      /* where a quoted field's closing quote stands, once closed */
    int quoted = 0;        /* inside a quoted field */
    long skip = 0;         /* structural bytes before this were taken already (a doubled quote's second) */
    unsigned k = 0, high = 0, anyQuoted = 0, doubled = 0, cellDoubled = 0, lines = 0;
    long base = 0;
    /* TALLY_STRUCTURAL handles the comma, quote, CR or LF at `o`: it goes on, returns the LF's
     * offset at the record's end, or returns -1. A macro, so that the state stays in registers. */
#define TALLY_CELL_END(at)                                                                    \
    do {                                                                                      \
        if (k == max) return -1;                                                              \
        cells[2 * k] = (unsigned)cellStart | (cellDoubled ? 0x80000000u : 0u);                \
        cells[2 * k + 1] = (unsigned)(closed >= 0 ? closed : (at));                           \
        k++;                                                                                  \
    } while (0)
#define TALLY_STRUCTURAL(o)                                                                   \
    do {                                                                                      \
        unsigned char c = p[o];                                                               \
        if ((o) < skip) {                                                                     \
        } else if (quoted) {                                                                  \
            if (c == '"') {                                                                   \
                if ((o) + 1 >= n) return -1;                                                  \
                unsigned char after = p[(o) + 1];                                             \
                if (after == '"') {                                                           \
                    doubled = cellDoubled = 1;                                                \
                    skip = (o) + 2;                                                           \
                    break;                                                                    \
                }                                                                             \
                if (after != ',' && after != '\n' && after != '\r') return -1;                \
                quoted = 0;                                                                   \
                closed = (o);                                                                 \
            } else if (c == '\n') {                                                           \
                lines++;                                                                      \
            }                                                                                 \
        } else if (c == ',') {                                                                \
            TALLY_CELL_END(o);                                                                \
            field = cellStart = (o) + 1;                                                      \
            closed = -1;                                                                      \
            cellDoubled = 0;                                                                  \
        } else if (c == '"') {                                                                \
            if ((o) != field || closed >= 0) return -1;                                       \
            quoted = 1;                                                                       \
            anyQuoted = 1;                                                                    \
            cellStart = (o) + 1;                                                              \
        } else if (c == '\n') {                                                               \
            if ((o) == 0) return -1;                                                          \
            TALLY_CELL_END(o);                                                                \
            *count = k;                                                                       \
            *flags = (high ? 1u : 0u) | (anyQuoted ? 2u : 0u) | (doubled ? 4u : 0u) | lines << 8; \
            return (o);                                                                       \
        } else { /* CR: only just before the LF */                                            \
            if ((o) + 1 >= n || p[(o) + 1] != '\n' || (o) == 0) return -1;                   \
            TALLY_CELL_END(o);                                                                \
            *count = k;                                                                       \
            *flags = (high ? 1u : 0u) | (anyQuoted ? 2u : 0u) | (doubled ? 4u : 0u) | lines << 8; \
            return (o) + 1;                                                                   \
        }                                                                                     \
    } while (0)
#if defined(__SSE2__)
    const __m128i lf = _mm_set1_epi8('\n'), comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"'),
                  carriage = _mm_set1_epi8('\r'), zero = _mm_setzero_si128();
    while (n - base >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + base));
        unsigned s = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, lf), _mm_cmpeq_epi8(x, comma)),
                                                              _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, carriage))));
        unsigned nul = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, zero));
        unsigned h = (unsigned)_mm_movemask_epi8(x);
        /* High bytes count only before the record's end: each structural byte takes in those
         * up to it, and the block's rest is taken in once none of them ended the record. */
        if (nul) {
            /* A NUL before the record's end gives up; one after it may belong to the next. */
            unsigned first = (unsigned)__builtin_ctz(nul);
            unsigned before = s & ((1u << first) - 1u);
            while (before) {
                long o = base + __builtin_ctz(before);
                high |= h & ((2u << __builtin_ctz(before)) - 1u);
                TALLY_STRUCTURAL(o);
                before &= before - 1;
            }
            return -1;
        }
        while (s) {
            unsigned bit = (unsigned)__builtin_ctz(s);
            high |= h & ((2u << bit) - 1u);
            TALLY_STRUCTURAL(base + bit);
            s &= s - 1;
        }
        high |= h;
        base += 16;
    }
#endif
    for (long o = base; o < n; o++) {
        unsigned char c = p[o];
        if (c == 0) return -1;
        high |= c & 0x80u;
        if (c == ',' || c == '"' || c == '\n' || c == '\r') TALLY_STRUCTURAL(o);
    }
    return -1;
#undef TALLY_STRUCTURAL
#undef TALLY_CELL_END
}

/* `n` bytes from `in` as lower-case hex, two digits a byte, written to `out` (2n bytes): a table
 * of the 256 digit pairs, one load and one two-byte store a byte. Person keys are 32 digits a
 * record in tally-link. */
static inline void tally_hex(const unsigned char *in, unsigned long n, unsigned char *out) {
    static const char pairs[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    for (unsigned long i = 0; i < n; i++) {
        __builtin_memcpy(out + 2 * i, pairs + 2 * in[i], 2);
    }
}

/* Whether the 32 bytes at `p` are all lower-case hex digits (0-9, a-f): the 128 bits of a
 * record id or a person key, which every record a stage reads carries. Two 16-byte steps with
 * SSE2: (x - '0') < 10 or (x - 'a') < 6, unsigned, by saturating subtraction. */
static inline __attribute__((always_inline)) int tally_lower_hex32(const unsigned char *p) {
#if defined(__SSE2__)
    const __m128i zero = _mm_set1_epi8('0'), a = _mm_set1_epi8('a');
    const __m128i nine = _mm_set1_epi8(9), five = _mm_set1_epi8(5);
    unsigned ok = 0xFFFFFFFFu;
    for (int k = 0; k < 2; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        /* x - '0' as unsigned bytes: at most 9 for a digit (min(d, 9) == d); likewise letters. */
        __m128i d = _mm_sub_epi8(x, zero), l = _mm_sub_epi8(x, a);
        __m128i isDigit = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d);
        __m128i isLetter = _mm_cmpeq_epi8(_mm_min_epu8(l, five), l);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(isDigit, isLetter));
        ok &= k == 0 ? (m | 0xFFFF0000u) : ((m << 16) | 0xFFFFu);
    }
    return ok == 0xFFFFFFFFu;
#else
    for (int i = 0; i < 32; i++) {
        unsigned char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    }
    return 1;
#endif
}

/* Whether `n` bytes at `p` are valid UTF-8 (RFC 3629), sixteen bytes a step (CTally.c); only
 * where tally_utf8_simd_ready() says the processor can (SSSE3), else UTF8Check's own loop. */
#include <stddef.h>
int tally_utf8_simd_ready(void);
int tally_utf8_valid(const unsigned char *p, size_t n);

/* Converts `n` bytes of GB18030 at `in` to UTF-8 at `out` when they are ASCII and two-byte codes
 * only, each two-byte code looked up in `two`: TALLY_GB18030_CODES entries, 126 rows of 192
 * (lead byte 0x81–0xFE, trail byte 0x40–0xFF), each the code's UTF-8 bytes packed little-endian
 * (the first byte in the low eight bits; the lead byte tells how many), 0 where the table does
 * not speak for the code.
 * Returns the number of bytes written, or -1 at the first byte it cannot convert so (a four-byte
 * code, a code not in the table, an invalid or cut sequence): the caller converts such text some
 * other way. `out` needs room for 2n + 4 bytes (CTally.c). */
#include <stdint.h>
#define TALLY_GB18030_CODES (126 * 192)
long tally_gb18030_decode(const unsigned char *in, size_t n, unsigned char *out, const uint32_t *two);

/* Whether `n` bytes at `p` are valid UTF-8 (RFC 3629) with a character of three or four bytes:
 * what CJK text in UTF-8 is, and GB18030 text is only by a rare coincidence of every byte. */
int tally_utf8_wide(const unsigned char *p, size_t n);

/* Converts a GB18030 row's cells, `count` of them at base[starts[i]..<ends[i]], back to back to
 * `out` as tally_gb18030_decode does, writing where each ends into cell_ends (offset + the bytes
 * written so far). Stops at the first cell that decode cannot convert, or that is UTF-8 by
 * tally_utf8_wide (which the caller must reject), and returns how many cells it converted. It
 * may read any byte below base[limit], and `out` needs room for twice the cells' bytes and 16. */
long tally_gb18030_cells(const unsigned char *base, const long *starts, const long *ends, long count, long limit,
                         unsigned char *out, long *cell_ends, long offset, const uint32_t *two);

/* Compares two byte strings as memcmp does, a shorter one that begins the other first: <0, 0, >0
 * (RepeatedKeys, for keys that come in ascending order). */
#include <string.h>
static inline int tally_compare_bytes(const void *a, size_t na, const void *b, size_t nb) {
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c != 0) return c;
    return na < nb ? -1 : (na > nb ? 1 : 0);
}

/* Registers a temporary spool file to be removed at exit and on SIGINT, SIGTERM and SIGHUP
 * (CTally.c); returns 0 when it could not be (too many, or the path too long). */
int tally_spool_register(const char *path);

/*
 * libFuzzer's entry for programs that keep their own main (tally-fuzz, built with
 * -sanitize=fuzzer and -DFUZZING by scripts/fuzz.sh). Only declared here: a build without the
 * fuzzer never references it.
 */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

/* The C library for TallyCore, which imports no platform module (neither Foundation nor Glibc).
 *
 * tally_exp2 is libm's exp2: the records' decay, 0.5^(age / half-life), is 2^-x.
 *
 * tally_map_zeroed maps `bytes` of zeroed memory starting on a 2 MiB boundary and, on Linux,
 * asks for 2 MiB pages (see LargeMemory.swift for why); NULL when it cannot. tally_unmap gives
 * them back. */
#include <math.h>
#include <stddef.h>
static inline double tally_exp2(double x) { return exp2(x); }
void *tally_map_zeroed(size_t bytes);
void tally_unmap(void *p, size_t bytes);

#endif
