/* Packed matrix product for minidl/_kernels/gemm.pyx: C = op(A)·op(B) (or C += …), float and
 * double, single-threaded, the BLIS/GotoBLAS scheme:
 *
 *   for each block of NC columns of C:
 *     for each block of KC of the inner dimension:    pack B[KC × NC] into NR-wide panels
 *       for each block of MC rows of C:               pack A[MC × KC] into MR-tall panels
 *         for each NR panel, for each MR panel:       micro-kernel: an MR × NR tile of C
 *                                                     kept in vector registers over KC steps
 *
 * Packing makes every operand layout (transposed or not: any row/column strides) the same
 * for the micro-kernel, and pads the edges with zeros so it always runs a full tile; the
 * edge tiles are written through a small buffer. Register tiles per instruction set (the
 * convolution's approach, minidl/_kernels/conv_direct.h): AVX-512 12 × 2 vectors (24
 * accumulators of 32), AVX2+FMA 6 × 2 vectors (12 of 16), the portable build 6 × 2 16-byte
 * vectors with GCC/Clang vector extensions (SSE2 / NEON), or 4 × 4 scalars for other
 * compilers (MSVC). The x86-64 variants are compiled side by side and chosen at run time from
 * what the CPU supports (native/cpu_isa.h); MINIDL_GEMM_ISA=avx512|avx2|generic caps the choice.
 */
#ifndef MINIDL_GEMM_H
#define MINIDL_GEMM_H
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_isa.h"

typedef ptrdiff_t mg_idx;

#define MG_UNUSED MD_UNUSED   /* each extension uses some of the entry points */

/* mg_isa(): the variant in use; mg_set_isa(isa): the tests' hook; mg_isa_name() */
MD_ISA_CHOICE(mg_isa, mg_set_isa, mg_isa_name, "MINIDL_GEMM_ISA")

/* Cache blocking, in elements of the inner dimension (KC) and rows/columns of C (MC, NC):
 * a KC × NR panel of B (32 KiB for float AVX-512) stays in L1, the MC × KC block of A in L2. */
#define MG_KC 256
#define MG_MC 132
#define MG_NC 2048
#define MG_ALIGN 64

#define MG_CAT3(a, b, c) a##b##_##c
#define MG_XCAT3(a, b, c) MG_CAT3(a, b, c)

#if MD_MULTI_ISA
#define MG_ISA avx512
#define MG_ATTR MD_TARGET_AVX512
#define MG_VBYTES 64
#define MG_MR 12
#define MG_NV 2
#include "gemm_types.h"

#define MG_ISA avx2
#define MG_ATTR MD_TARGET_AVX2
#define MG_VBYTES 32
#define MG_MR 6
#define MG_NV 2
#include "gemm_types.h"
#endif

#define MG_ISA generic
#define MG_ATTR
#if defined(__GNUC__) && !defined(MG_PORTABLE_C)
#define MG_VBYTES 16
#define MG_MR 6
#define MG_NV 2
#else
#define MG_VBYTES 0
#define MG_MR 4
#define MG_NV 4
#endif
#include "gemm_types.h"

#if MD_MULTI_ISA
#define MG_PICK(SUF, isa, name) \
    ((isa) == MD_ISA_AVX512 ? mg_##SUF##_avx512_##name \
     : (isa) == MD_ISA_AVX2 ? mg_##SUF##_avx2_##name : mg_##SUF##_generic_##name)
#else
#define MG_PICK(SUF, isa, name) mg_##SUF##_generic_##name
#endif

/* C (m × n, row stride ldc) = op(A)·op(B), or += when accumulate. Element (i, p) of op(A) is
 * a[i·ars + p·acs], element (p, j) of op(B) is b[p·brs + j·bcs]. Returns 0, or -1 when the
 * packing buffers cannot be allocated (C is then untouched). */
MG_UNUSED static int mg_sgemm(mg_idx m, mg_idx n, mg_idx k, const float *a, mg_idx ars, mg_idx acs, const float *b,
                    mg_idx brs, mg_idx bcs, float *c, mg_idx ldc, int accumulate)
{
    return MG_PICK(f32, mg_isa(), gemm)(m, n, k, a, ars, acs, b, brs, bcs, c, ldc, accumulate);
}

MG_UNUSED static int mg_dgemm(mg_idx m, mg_idx n, mg_idx k, const double *a, mg_idx ars, mg_idx acs, const double *b,
                    mg_idx brs, mg_idx bcs, double *c, mg_idx ldc, int accumulate)
{
    return MG_PICK(f64, mg_isa(), gemm)(m, n, k, a, ars, acs, b, brs, bcs, c, ldc, accumulate);
}

/* For one op(B) used by many products (the recurrent weights of every time step): pack it
 * once (mg_Xpacked_b_size elements at bpre), then mg_Xgemm_packed as mg_Xgemm. The ISA must
 * not change in between (it is fixed at the first call unless mg_set_isa is used). */
#define MG_PACKED_API(SUF, T, X)                                                                          \
    MG_UNUSED static size_t mg_##X##packed_b_size(mg_idx k, mg_idx n) { return MG_PICK(SUF, mg_isa(), packed_b_size)(k, n); } \
    MG_UNUSED static void mg_##X##pack_b(mg_idx k, mg_idx n, const T *b, mg_idx brs, mg_idx bcs, T *bpre)           \
    {                                                                                                     \
        MG_PICK(SUF, mg_isa(), pack_b_all)(k, n, b, brs, bcs, bpre);                                      \
    }                                                                                                     \
    MG_UNUSED static int mg_##X##gemm_packed(mg_idx m, mg_idx n, mg_idx k, const T *a, mg_idx ars, mg_idx acs,      \
                                   const T *bpre, T *c, mg_idx ldc, int accumulate)                       \
    {                                                                                                     \
        return MG_PICK(SUF, mg_isa(), gemm_packed)(m, n, k, a, ars, acs, bpre, c, ldc, accumulate);       \
    }
MG_PACKED_API(f32, float, s)
MG_PACKED_API(f64, double, d)

#endif
