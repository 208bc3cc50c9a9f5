/* The matrix products of minidl/_kernels/linear.pyx as independent tasks for the thread pool
 * (native/threadpool.h): y = x Wᵀ (+ b) split in two halves, dx = dy W next to dW = dyᵀ x,
 * or dW split in two halves of its rows.
 *
 * lt_?gemm alone is also the product the attention kernels use for their per-head blocks.
 *
 * Each task is one single-threaded product C = op(A)·op(B) (+ C when `add`), row-major, plus
 * an epilogue on the block it wrote: the bias row added (forward), or db (+)= Σ_n dy (backward).
 * The product is OpenBLAS's cblas_?gemm called through the address blas_threads.py found (its
 * thread count set to one by the caller, so two tasks use the two cores without OpenBLAS's own
 * threads), or minidl's packed GEMM (native/gemm.h) when no OpenBLAS was found.
 */
#ifndef MINIDL_LINEAR_TASKS_H
#define MINIDL_LINEAR_TASKS_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "gemm.h"

enum { LT_ROW_MAJOR = 101, LT_NO_TRANS = 111, LT_TRANS = 112 };   /* CBLAS's enum values */

typedef void (*lt_sgemm32)(int, int, int, int32_t, int32_t, int32_t, float, const float *, int32_t,
                           const float *, int32_t, float, float *, int32_t);
typedef void (*lt_dgemm32)(int, int, int, int32_t, int32_t, int32_t, double, const double *, int32_t,
                           const double *, int32_t, double, double *, int32_t);
typedef void (*lt_sgemm64)(int, int, int, int64_t, int64_t, int64_t, float, const float *, int64_t,
                           const float *, int64_t, float, float *, int64_t);
typedef void (*lt_dgemm64)(int, int, int, int64_t, int64_t, int64_t, double, const double *, int64_t,
                           const double *, int64_t, double, double *, int64_t);

/* The BLAS in use: cblas_sgemm/dgemm addresses (0: minidl's GEMM) and the integer width. */
static size_t lt_sgemm_address = 0, lt_dgemm_address = 0;
static int lt_blas_int64 = 0;

static void lt_set_blas(size_t sgemm, size_t dgemm, int int64)
{
    lt_sgemm_address = sgemm;
    lt_dgemm_address = dgemm;
    lt_blas_int64 = int64;
}

typedef struct {
    int trans_a, trans_b, add;          /* op(A) = Aᵀ / op(B) = Bᵀ; add: C += instead of C = */
    ptrdiff_t m, n, k;                  /* C (m × n) = op(A) (m × k) · op(B) (k × n) */
    const void *a, *b;
    ptrdiff_t lda, ldb, ldc;            /* row strides of the row-major arrays A, B, C */
    void *c;
    const void *bias;                   /* forward epilogue: C[i, :] += bias (n values), or NULL */
    const void *dy;                     /* backward epilogue: db (+)= Σ_i dy[i, :] over `rows` rows */
    void *db;                           /*   of `cols` values (row stride ldc of dy = cols), or NULL */
    ptrdiff_t rows, cols;
    int add_db;
    int transposed;                     /* forward at small N: compute Cᵀ = op(B)ᵀ op(A)ᵀ into a scratch
                                           block (faster in OpenBLAS there), write C from it */
    int status;                         /* set by lt_?run: nonzero = minidl's GEMM could not allocate */
} lt_task;

#define LT_DEFINE(T, X)                                                                                   \
    static int lt_##X##gemm(const lt_task *t)                                                             \
    {                                                                                                     \
        const T *a = (const T *)t->a, *b = (const T *)t->b;                                               \
        T *c = (T *)t->c;                                                                                 \
        size_t fn = sizeof(T) == 4 ? lt_sgemm_address : lt_dgemm_address;                                 \
        if (t->m <= 0 || t->n <= 0)                                                                       \
            return 0;                                                                                     \
        if (fn && !lt_blas_int64 && (t->m > INT32_MAX || t->n > INT32_MAX || t->k > INT32_MAX ||        \
                                     t->lda > INT32_MAX || t->ldb > INT32_MAX || t->ldc > INT32_MAX))     \
            fn = 0;                     /* beyond a 32-bit BLAS's integers: minidl's GEMM */              \
        if (fn && t->k > 0) {                                                                             \
            int ta = t->trans_a ? LT_TRANS : LT_NO_TRANS, tb = t->trans_b ? LT_TRANS : LT_NO_TRANS;       \
            T beta = t->add ? (T)1 : (T)0;                                                                \
            if (lt_blas_int64)                                                                            \
                ((lt_##X##gemm64)fn)(LT_ROW_MAJOR, ta, tb, t->m, t->n, t->k, (T)1, a, t->lda, b, t->ldb,  \
                                     beta, c, t->ldc);                                                    \
            else                                                                                          \
                ((lt_##X##gemm32)fn)(LT_ROW_MAJOR, ta, tb, (int32_t)t->m, (int32_t)t->n, (int32_t)t->k,   \
                                     (T)1, a, (int32_t)t->lda, b, (int32_t)t->ldb, beta, c,               \
                                     (int32_t)t->ldc);                                                    \
            return 0;                                                                                     \
        }                                                                                                 \
        /* element (i, p) of op(A) at a[i·ars + p·acs], (p, j) of op(B) at b[p·brs + j·bcs] */            \
        return mg_##X##gemm(t->m, t->n, t->k, a, t->trans_a ? 1 : t->lda, t->trans_a ? t->lda : 1, b,            \
                     t->trans_b ? 1 : t->ldb, t->trans_b ? t->ldb : 1, c, t->ldc, t->add);                \
    }                                                                                                     \
    /* C (m × n) = op(A) op(B) computed as S = op(B)ᵀ op(A)ᵀ (n × m) in a scratch block, C = Sᵀ (+ bias \
       in the same pass). Not with `add`. */                                                             \
    static int lt_##X##gemm_transposed(lt_task *t)                                                        \
    {                                                                                                     \
        lt_task s = *t;                                                                                   \
        T *scratch = (T *)malloc((size_t)(t->m > 0 ? t->m : 0) * (size_t)(t->n > 0 ? t->n : 0) * sizeof(T) + 1); \
        if (scratch == NULL)                                                                              \
            return -1;                                                                                    \
        s.m = t->n, s.n = t->m;                                                                           \
        s.a = t->b, s.lda = t->ldb, s.trans_a = !t->trans_b;                                              \
        s.b = t->a, s.ldb = t->lda, s.trans_b = !t->trans_a;                                              \
        s.c = scratch, s.ldc = t->m, s.add = 0, s.transposed = 0;                                         \
        int status = lt_##X##gemm(&s);                                                                    \
        const T *bias = (const T *)t->bias;                                                               \
        for (ptrdiff_t i = 0; i < t->m && status == 0; i++) {                                             \
            T *row = (T *)t->c + i * t->ldc;                                                              \
            for (ptrdiff_t j = 0; j < t->n; j++)                                                          \
                row[j] = scratch[j * t->m + i] + (bias ? bias[j] : (T)0);                                 \
        }                                                                                                 \
        free(scratch);                                                                                    \
        return status;                                                                                    \
    }                                                                                                     \
    static void lt_##X##epilogue(const lt_task *t)                                                        \
    {                                                                                                     \
        if (t->bias && !t->transposed) {                                                                  \
            const T *bias = (const T *)t->bias;                                                           \
            for (ptrdiff_t i = 0; i < t->m; i++) {                                                        \
                T *row = (T *)t->c + i * t->ldc;                                                          \
                for (ptrdiff_t j = 0; j < t->n; j++)                                                      \
                    row[j] += bias[j];                                                                    \
            }                                                                                             \
        }                                                                                                 \
        if (t->db) {                                                                                      \
            const T *dy = (const T *)t->dy;                                                               \
            T *db = (T *)t->db;                                                                           \
            if (!t->add_db)                                                                               \
                for (ptrdiff_t j = 0; j < t->cols; j++)                                                   \
                    db[j] = 0;                                                                            \
            for (ptrdiff_t i = 0; i < t->rows; i++)                                                       \
                for (ptrdiff_t j = 0; j < t->cols; j++)                                                   \
                    db[j] += dy[i * t->cols + j];                                                         \
        }                                                                                                 \
    }                                                                                                     \
    static void lt_##X##run(void *ctx, ptrdiff_t item, int worker)                                        \
    {                                                                                                     \
        lt_task *t = (lt_task *)ctx + item;                                                               \
        (void)worker;                                                                                     \
        t->status = t->transposed && !t->add ? lt_##X##gemm_transposed(t) : lt_##X##gemm(t);              \
        lt_##X##epilogue(t);                                                                              \
    }
LT_DEFINE(float, s)
LT_DEFINE(double, d)

#endif
