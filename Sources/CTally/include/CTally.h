#ifndef TALLY_CTALLY_H
#define TALLY_CTALLY_H

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

#endif
