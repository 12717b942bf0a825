#ifndef CPREFETCH_H
#define CPREFETCH_H

/// Asks the processor to start loading the cache line at `address` for a read, without waiting for it
/// (a load would stall until the line arrives). For lookups whose addresses are known ahead of use.
static inline void cg_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
