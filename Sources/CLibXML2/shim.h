#ifndef TALLY_CLIBXML2_SHIM_H
#define TALLY_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
/* Debian's headers pull in system ICU, which clashes with Foundation's bundled ICU on a clean
   build ("'UErrorCode' has different definitions"). We never read ICU fields, so drop it. */
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlschemas.h>
/* xmlFree is an imported mutable global; Swift 6 rejects touching it directly. */
static inline void clibxml2_free(void *p) { xmlFree(p); }
#endif
