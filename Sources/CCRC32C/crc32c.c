#include "CCRC32C.h"

#include <string.h>

#if defined(__x86_64__)

int cg_crc32c_hardware_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

// Compiled for SSE 4.2 alone, so the rest of the build keeps the baseline x86-64 target; the caller checks
// the processor first.
__attribute__((target("sse4.2")))
uint32_t cg_crc32c_hardware_update(uint32_t state, const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    uint64_t c = state;
    for (; count >= 8; p += 8, count -= 8) {
        uint64_t word;
        memcpy(&word, p, 8);  // unaligned load
        c = __builtin_ia32_crc32di(c, word);
    }
    uint32_t c32 = (uint32_t)c;
    for (; count > 0; p++, count--) {
        c32 = __builtin_ia32_crc32qi(c32, *p);
    }
    return c32;
}

#else

int cg_crc32c_hardware_available(void) { return 0; }

uint32_t cg_crc32c_hardware_update(uint32_t state, const void *bytes, size_t count) {
    (void)bytes;
    (void)count;
    return state;
}

#endif
