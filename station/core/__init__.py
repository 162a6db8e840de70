"""Analysis core: numba kernels with plain-numpy references. Arrays in, arrays out; no I/O, no Qt."""
