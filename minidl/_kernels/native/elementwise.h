/* The inner loops of the normalization kernels (batchnorm.pyx, layernorm.pyx), compiled once
 * per instruction set and chosen at run time; and dropout's mask multiply (dropout.pyx).
 *
 * Why: on arrays that stay in cache these loops are bound by the vector width (the wheel's
 * SSE2 build moves 16 bytes per instruction where AVX2 moves 32 and AVX-512 64); larger ones
 * are bound by memory bandwidth, where the .pyx files' second thread helps instead. The loops
 * are plain C (elementwise_impl.h) that GCC/Clang vectorize for each target attribute of
 * cpu_isa.h; the .pyx files keep the algorithm (which passes, which sums, the threading) and
 * call these through a table of function pointers, md_ew_ops_f32_get() / _f64_get().
 *
 * Every variant sums in the same order (LANES independent partial sums per run, rows in
 * blocks), so the variants differ only by the rounding of fused multiply-adds, and no result
 * depends on how the .pyx splits the work between threads.
 *
 * The variant in use: md_ew_isa() — what the CPU supports (native/cpu_isa.h), capped by the
 * environment variable MINIDL_ELEMENTWISE_ISA=generic|avx2|avx512; md_ew_set_isa() is the
 * tests' hook. Each extension that includes this header has its own copy of that choice.
 */
#ifndef MINIDL_ELEMENTWISE_H
#define MINIDL_ELEMENTWISE_H
#include <stddef.h>
#include <stdint.h>
#include "cpu_isa.h"

typedef ptrdiff_t md_ew_idx;

#define MD_EW_LANES 32         /* partial sums per run (32 rather than 8 hides their latency) */
#define MD_EW_LANE_BLOCK 1024  /* elements summed in the input precision before adding into double */
#if defined(__GNUC__) || defined(_MSC_VER)
#define MD_EW_RESTRICT __restrict
#else
#define MD_EW_RESTRICT
#endif

#define MD_EW_OPS(T, SUF)                                                                          \
    typedef struct {                                                                               \
        /* total += Σ u, total_2 += Σ u·v over a run of n, u = (a − a_shift)·w (w NULL: 1),       \
           v = (b − b_shift)·b_scale */                                                            \
        void (*sums)(const T *a, T a_shift, const T *w, const T *b, T b_shift, T b_scale,          \
                     md_ew_idx n, double *total, double *total_2);                                 \
        /* the same with a = b, w NULL, b_scale 1: Σ (x − k), Σ (x − k)² */                        \
        void (*moments)(const T *x, T k, md_ew_idx n, double *total, double *total_2);             \
        /* column sums of (rows, c) arrays into part, part_2 (c each, overwritten): Σ u, Σ u·v,     \
           u = a − a_shift[j], v = squares ? u : b − b_shift[j] (b is not read with squares) */    \
        void (*col_sums)(const T *a, const T *a_shift, const T *b, const T *b_shift, int squares,  \
                         md_ew_idx rows, md_ew_idx c, T *part, T *part_2);                         \
        /* out[i, j] = (x[i, j] − center[j])·scale[j] + shift[j] for (rows, c) arrays */           \
        void (*affine_rows)(const T *x, T *out, md_ew_idx rows, md_ew_idx c, const T *center,      \
                            const T *scale, const T *shift);                                       \
        /* out[k] = (x[k] − center)·scale + shift */                                               \
        void (*affine_run)(const T *x, T *out, md_ew_idx n, T center, T scale, T shift);           \
        /* dx[i, j] = k_dy[j]·dy[i, j] + k_xc[j]·(x[i, j] − center[j]) + k_0[j] */                 \
        void (*grad_rows)(const T *dy, const T *x, T *dx, md_ew_idx rows, md_ew_idx c,             \
                          const T *center, const T *k_dy, const T *k_xc, const T *k_0);            \
        /* dx[k] = k_dy·dy[k] + k_xc·(x[k] − center) + k_0 */                                      \
        void (*grad_run)(const T *dy, const T *x, T *dx, md_ew_idx n, T center, T k_dy, T k_xc,    \
                         T k_0);                                                                   \
        /* out[k] = (x[k] − mu)·inv_std·w[k] + b[k] (w, b NULL: 1, 0) */                           \
        void (*scale_run)(const T *x, T *out, md_ew_idx n, T mu, T inv_std, const T *w,            \
                          const T *b);                                                             \
        /* part[k] += dy[k]·x̂[k], part[n + k] += dy[k] with x̂ = (x − mu)·inv_std; and unless dx   \
           is NULL dx[k] = inv_std·(dy[k]·gamma[k] − c_g − x̂[k]·c_gx) */                           \
        void (*layer_grad_run)(const T *dy, const T *x, T *dx, md_ew_idx n, T mu, T inv_std,      \
                               const T *gamma, T c_g, T c_gx, T *part);                            \
    } md_ew_ops_##SUF;
MD_EW_OPS(float, f32)
MD_EW_OPS(double, f64)

/* ---- instantiations: elementwise_impl.h once per (instruction set, type) ------------------- */
#define MD_EW_CAT4(a, b, c, d) a##b##_##c##_##d
#define MD_EW_XCAT4(a, b, c, d) MD_EW_CAT4(a, b, c, d)
#define MD_EW(name) MD_EW_XCAT4(md_ew_, MD_EW_SUF, MD_EW_ISA, name)

#if MD_MULTI_ISA
#define MD_EW_ISA avx512
#define MD_EW_ATTR MD_TARGET_AVX512
#include "elementwise_types.h"
#define MD_EW_ISA avx2
#define MD_EW_ATTR MD_TARGET_AVX2
#include "elementwise_types.h"
#endif
#define MD_EW_ISA generic
#define MD_EW_ATTR
#include "elementwise_types.h"

/* ---- dispatch ----------------------------------------------------------------------------- */
MD_ISA_CHOICE(md_ew_isa, md_ew_set_isa, md_ew_isa_name, "MINIDL_ELEMENTWISE_ISA")

#define MD_EW_TABLE(SUF, ISA)                                                                    \
    {md_ew_##SUF##_##ISA##_sums, md_ew_##SUF##_##ISA##_moments, md_ew_##SUF##_##ISA##_col_sums,   \
     md_ew_##SUF##_##ISA##_affine_rows, md_ew_##SUF##_##ISA##_affine_run,                         \
     md_ew_##SUF##_##ISA##_grad_rows, md_ew_##SUF##_##ISA##_grad_run,                             \
     md_ew_##SUF##_##ISA##_scale_run, md_ew_##SUF##_##ISA##_layer_grad_run}

#if MD_MULTI_ISA
static const md_ew_ops_f32 md_ew_tables_f32[3] = {MD_EW_TABLE(f32, generic), MD_EW_TABLE(f32, avx2),
                                                  MD_EW_TABLE(f32, avx512)};
static const md_ew_ops_f64 md_ew_tables_f64[3] = {MD_EW_TABLE(f64, generic), MD_EW_TABLE(f64, avx2),
                                                  MD_EW_TABLE(f64, avx512)};
#else
static const md_ew_ops_f32 md_ew_tables_f32[1] = {MD_EW_TABLE(f32, generic)};
static const md_ew_ops_f64 md_ew_tables_f64[1] = {MD_EW_TABLE(f64, generic)};
#endif

/* The loops of the variant in use (one load of the cached choice). */
MD_UNUSED static const md_ew_ops_f32 *md_ew_ops_f32_get(void) { return &md_ew_tables_f32[MD_MULTI_ISA ? md_ew_isa() : 0]; }
MD_UNUSED static const md_ew_ops_f64 *md_ew_ops_f64_get(void) { return &md_ew_tables_f64[MD_MULTI_ISA ? md_ew_isa() : 0]; }

/* Dropout's out = (x · mask) · scale, the twin's expression (NaN and -0 included), in the
 * baseline build only: measured on (1024, 256) float32, 262144 values, the AVX2 and AVX-512
 * builds of this loop were no faster in a C loop (46.9 / 51.2 / 44.3 µs) and up to 1.3x
 * slower inside dropout_backward for some array placements (57 vs 69-76 µs). */
#define MD_EW_MASK_RUN(T, SUF)                                                                     \
    MD_UNUSED static void md_ew_mask_run_##SUF(const T *x, const uint8_t *mask, T *out, md_ew_idx n, \
                                               T scale)                                           \
    {                                                                                              \
        for (md_ew_idx k = 0; k < n; k++)                                                          \
            out[k] = (x[k] * (T)mask[k]) * scale;                                                  \
    }
MD_EW_MASK_RUN(float, f32)
MD_EW_MASK_RUN(double, f64)

#endif /* MINIDL_ELEMENTWISE_H */
