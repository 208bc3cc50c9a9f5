/* exp for the attention kernel's softmax (minidl/_kernels/attention.pyx), plain C.
 *
 * float: Cephes' expf (range reduction x = n·ln2 + r with ln2 split in two, a degree-5
 * polynomial for e^r, 2^n put in the exponent bits), rounding n with the 1.5·2^23 trick so
 * every step is branch-free and the loop vectorises (libm's expf is a scalar call); max
 * relative error ~2 ulp on [-87, 88], inputs below -87.3 give ~1e-38 instead of a denormal.
 * double: libm's exp.
 */
#ifndef MINIDL_SOFTMAX_MATH_H
#define MINIDL_SOFTMAX_MATH_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float md_expf(float x)
{
    x = x > 88.3762626647949f ? 88.3762626647949f : x;
    x = x < -87.3365447504f ? -87.3365447504f : x;
    float fn = x * 1.44269504088896341f + 12582912.0f;   /* round(x·log2 e) in the low bits */
    fn -= 12582912.0f;
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)fn + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline double md_exp(double x) { return exp(x); }

#endif
