#ifndef TALLY_CLIBXML2_SHIM_H
#define TALLY_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
/* Debian's headers pull in system ICU, which clashes with Foundation's bundled ICU on a clean
   build ("'UErrorCode' has different definitions"). We never read ICU fields, so drop it. */
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlschemas.h>
/* libxml2 prints some messages (e.g. "Unimplemented block" from the schema code) through its
   generic error channel straight to stderr; stdout and stderr belong to tally. A variadic
   callback cannot be written in Swift, so it lives here. */
static void clibxml2_ignore_generic_error(void *ctx, const char *msg, ...) { (void)ctx; (void)msg; }
static inline void clibxml2_silence_generic_errors(void) { xmlSetGenericErrorFunc(NULL, clibxml2_ignore_generic_error); }
/* xmlFree is an imported mutable global; Swift 6 rejects touching it directly. */
static inline void clibxml2_free(void *p) { xmlFree(p); }
#endif
