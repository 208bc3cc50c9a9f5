/* Branch-free select for the max-pooling kernel (pooling.pyx, _max_plane_unpadded).
 *
 * md_select_f32/f64(keep, v, mask) returns v where mask is all ones, keep where it is 0,
 * computed on the bits so the compiler cannot turn it back into a branch: per window,
 * `if v > best` is a coin flip on real data; with selects the outputs of a row are
 * independent and the loop is ~5x faster.
 */
#ifndef MINIDL_SELECT_H
#define MINIDL_SELECT_H

#include <stdint.h>
#include <string.h>

static inline float md_select_f32(float keep, float v, int64_t mask) {
    uint32_t a, b; memcpy(&a, &keep, 4); memcpy(&b, &v, 4);
    a ^= (a ^ b) & (uint32_t)mask; memcpy(&keep, &a, 4); return keep;
}
static inline double md_select_f64(double keep, double v, int64_t mask) {
    uint64_t a, b; memcpy(&a, &keep, 8); memcpy(&b, &v, 8);
    a ^= (a ^ b) & (uint64_t)mask; memcpy(&keep, &a, 8); return keep;
}

#endif /* MINIDL_SELECT_H */
