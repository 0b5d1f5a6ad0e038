/* CTally is a header of inline functions (include/CTally.h); a C target needs one source file. */
#include "CTally.h"
