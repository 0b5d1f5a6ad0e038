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
