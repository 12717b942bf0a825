#ifndef CCRC32C_H
#define CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this processor has the CRC-32C instruction (SSE 4.2 on x86-64). Elsewhere 0: the caller uses
/// its software tables.
int cg_crc32c_hardware_available(void);

/// Folds `count` bytes at `bytes` into `state` with the CRC-32C instruction and returns the new state.
/// `state` is the register (the complement of a checksum, ~0 to start): the caller inverts before and after.
/// Only call it when `cg_crc32c_hardware_available()` is 1.
uint32_t cg_crc32c_hardware_update(uint32_t state, const void *bytes, size_t count);

#endif
