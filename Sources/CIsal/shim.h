#ifndef TALLY_CISAL_SHIM_H
#define TALLY_CISAL_SHIM_H
/* Intel ISA-L's inflate (igzip): the same deflate streams as zlib, several times faster. */
#include <isa-l/igzip_lib.h>
/* Its CRC-64, for telling files apart quickly (tally-link --previous). */
#include <isa-l/crc64.h>
#endif
