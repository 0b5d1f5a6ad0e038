#ifndef TALLY_CZLIB_SHIM_H
#define TALLY_CZLIB_SHIM_H
#include <zlib.h>

/* inflateInit2 is a macro Swift cannot call; this wrapper passes the version and size for us. */
static inline int czlib_inflate_init2(z_streamp strm, int window_bits) {
    return inflateInit2(strm, window_bits);
}
static inline int czlib_deflate_init2(z_streamp strm, int level, int window_bits) {
    return deflateInit2(strm, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
}
/* CRC-32 a byte at a time, for the few bytes of a gzip header. */
static inline unsigned long czlib_crc32_start(void) { return crc32(0L, Z_NULL, 0); }
static inline unsigned long czlib_crc32_byte(unsigned long crc, unsigned char byte) { return crc32(crc, &byte, 1); }
#endif
