/* Single-core FMA peak (GFLOP/s, wall clock and per CPU-second) for benchmarks/gemm_study.py: 16 independent vector FMA
 * chains in registers (enough to hide a 4-cycle latency on two FMA ports), float32.
 * Build: cc -O2 -mavx512f -mfma fma_peak.c   (AVX2: -mavx2 -mfma -DVBYTES=32) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifndef VBYTES
#define VBYTES 64
#endif
typedef float vec __attribute__((vector_size(VBYTES)));
#define STEP(v) v = v * a + b; __asm__ volatile("" : "+x"(v));
#define ALL(M) M(c0) M(c1) M(c2) M(c3) M(c4) M(c5) M(c6) M(c7) M(c8) M(c9) M(c10) M(c11) M(c12) M(c13) M(c14) M(c15)

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 20000000L;
    vec a = (vec){0} + 1.0000001f, b = (vec){0} + 0.9999999f;
    vec c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a,
        c11 = a, c12 = a, c13 = a, c14 = a, c15 = a;
    struct timespec t0, t1, u0, u1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &u0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long it = 0; it < iters; it++) {
        ALL(STEP)
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &u1);
    double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    double u = (u1.tv_sec - u0.tv_sec) + 1e-9 * (u1.tv_nsec - u0.tv_nsec);
    vec sum = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15;
    double flops = 2.0 * 16 * (VBYTES / 4) * (double)iters;
    /* wall-clock GFLOP/s, GFLOP/s per second of CPU time this thread got, checksum */
    printf("%.2f %.2f %g\n", flops / s / 1e9, flops / u / 1e9, (double)sum[0]);
    return 0;
}
