/* Elementwise pieces of the recurrent kernels (minidl/_kernels/rnn.pyx), plain C.
 *
 * tanh for float: a rational minimax approximation x·P(x²)/Q(x²) on |x| ≤ 7.905 (beyond
 * it float tanh rounds to ±1), the one Eigen uses; max error 3.4e-7 against the exact tanh
 * (NumPy's float32 tanh: 6e-8). Branch-free arithmetic, so the loop vectorises, where libm's
 * tanhf is a scalar call per element. double uses libm's tanh.
 */
#ifndef MINIDL_RNN_MATH_H
#define MINIDL_RNN_MATH_H
#include <math.h>
#include <stddef.h>

static inline float md_tanhf(float x)
{
    const float lim = 7.90531110763549805f;
    x = x > lim ? lim : x;
    x = x < -lim ? -lim : x;
    float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return x * p / q;
}

/* v[i] = tanh(v[i]) or max(v[i], 0) over rows×cols at row stride ld */
static void md_rnn_phi_f32(float *v, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld, int relu)
{
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *row = v + r * ld;
        if (relu)
            for (ptrdiff_t i = 0; i < cols; i++)
                row[i] = row[i] < 0.0f ? 0.0f : row[i];   /* NaN stays NaN */
        else
            for (ptrdiff_t i = 0; i < cols; i++)
                row[i] = md_tanhf(row[i]);
    }
}

static void md_rnn_phi_f64(double *v, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld, int relu)
{
    for (ptrdiff_t r = 0; r < rows; r++) {
        double *row = v + r * ld;
        if (relu)
            for (ptrdiff_t i = 0; i < cols; i++)
                row[i] = row[i] < 0.0 ? 0.0 : row[i];
        else
            for (ptrdiff_t i = 0; i < cols; i++)
                row[i] = tanh(row[i]);
    }
}

#endif
