/* Random-geometry check of the direct convolution kernels (minidl/_kernels/native/conv_direct*.h)
 * under AddressSanitizer + UBSan: every buffer a kernel touches is its own exact-size malloc, so
 * any read or write outside it is reported; every result is compared with the definition.
 * It sets the kernels up as conv.pyx does (geometry, phase images for strided / over-padded
 * layers, tap offsets, packed weights, scratch sizes) for any group size G, on every
 * instruction set the CPU has, float and double.
 *
 *   cc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
 *      -I minidl/_kernels/native tools/conv_sanitize.c -o /tmp/conv_sanitize -lm
 *   /tmp/conv_sanitize 3000 [seed]          # geometries per (ISA, dtype); exit 1 on a mismatch
 *
 * (-DMD_PORTABLE_C checks the plain-C build the same way.)
 */
#include <math.h>
#include <stdio.h>
#include "conv_direct.h"

static unsigned long long rng_state;
static md_idx rnd(md_idx lo, md_idx hi) /* uniform in [lo, hi] */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (md_idx)((rng_state >> 33) % (unsigned long long)(hi - lo + 1));
}
static double rndf(void) { return (double)rnd(0, 1 << 20) / (1 << 19) - 1.0; }
static md_idx rup(md_idx v, md_idx m) { return (v + m - 1) / m * m; }
static md_idx imin(md_idx a, md_idx b) { return a < b ? a : b; }
static md_idx imax(md_idx a, md_idx b) { return a > b ? a : b; }
static void *xmalloc(md_idx n, size_t el) { return malloc((size_t)(n > 0 ? n : 1) * el); }

typedef struct {
    md_idx N, C, H, W, O, kh, kw, sh, sw, ph, pw, Ho, Wo;
} shape_t;

/* The checks, one element type at a time. */
#define CHECK_TYPE(T, SUF)                                                                      \
static int check_##SUF(const shape_t *s, int isa, md_idx G, int with_dx, int tiled, double tol) \
{                                                                                               \
    md_idx N = s->N, C = s->C, H = s->H, W = s->W, O = s->O, kh = s->kh, kw = s->kw;            \
    md_idx sh = s->sh, sw = s->sw, ph = s->ph, pw = s->pw, Ho = s->Ho, Wo = s->Wo;              \
    int plain = sh == 1 && sw == 1 && ph <= kh - 1 && pw <= kw - 1;                             \
    md_idx pa = imin(sh, kh), pb = imin(sw, kw), kh2 = (kh + sh - 1) / sh, kw2 = (kw + sw - 1) / sw; \
    /* the stride-1 convolution the kernels compute (conv.pyx: _direct_dims) */                 \
    md_idx c1 = plain ? C : C * pa * pb, h1 = plain ? H : Ho + kh2 - 1, w1 = plain ? W : Wo + kw2 - 1; \
    md_idx k1h = plain ? kh : kh2, k1w = plain ? kw : kw2, p1h = plain ? ph : 0, p1w = plain ? pw : 0; \
    md_conv_geometry gf, gb;                                                                    \
    md_conv_geometry_init(&gf, c1, h1, w1, k1h, k1w, p1h, p1w, O, sizeof(T), G, isa);          \
    if (!plain)                                                                                 \
        md_conv_geometry_phases(&gf, C, H, W, ph, pw, sh, sw, pa, pb);                          \
    md_conv_geometry_init(&gb, O, Ho, Wo, k1h, k1w, k1h - 1 - p1h, k1w - 1 - p1w, c1, sizeof(T), G, isa); \
    if (gf.Ho != Ho || gf.Wo != Wo || gb.Ho != h1 || gb.Wo != w1) {                           \
        printf("geometry mismatch\n");                                                          \
        return 1;                                                                               \
    }                                                                                           \
    /* tap offsets (conv.pyx: _offsets) */                                                      \
    gf.K = C * kh * kw;                                                                         \
    gf.Kpad = rup(gf.K, gf.DT);                                                                 \
    md_idx *offs_f = xmalloc(gf.Kpad, sizeof(md_idx)), *offs_b = xmalloc(gb.Kpad, sizeof(md_idx)); \
    memset(offs_f, 0, (size_t)gf.Kpad * sizeof(md_idx));                                       \
    memset(offs_b, 0, (size_t)gb.Kpad * sizeof(md_idx));                                       \
    for (md_idx c = 0; c < C; c++)                                                              \
        for (md_idx i = 0; i < kh; i++)                                                         \
            for (md_idx j = 0; j < kw; j++)                                                     \
                offs_f[(c * kh + i) * kw + j] = (((i % sh) * pb + j % sw) * C + c) * gf.cstride  \
                                                + (i / sh) * gf.Wp + j / sw;                    \
    for (md_idx c = 0; c < O; c++)                                                              \
        for (md_idx i = 0; i < k1h; i++)                                                        \
            for (md_idx j = 0; j < k1w; j++)                                                    \
                offs_b[(c * k1h + i) * k1w + j] = c * gb.cstride + i * gb.Wp + j;              \
    /* data */                                                                                  \
    T *x = xmalloc(N * C * H * W, sizeof(T)), *w = xmalloc(O * C * kh * kw, sizeof(T));         \
    T *bias = xmalloc(O, sizeof(T)), *dy = xmalloc(N * O * Ho * Wo, sizeof(T));                 \
    T *y = xmalloc(N * O * Ho * Wo, sizeof(T)), *dx = xmalloc(N * C * H * W, sizeof(T));        \
    for (md_idx i = 0; i < N * C * H * W; i++) x[i] = (T)rndf();                                \
    for (md_idx i = 0; i < O * C * kh * kw; i++) w[i] = (T)rndf();                              \
    for (md_idx i = 0; i < O; i++) bias[i] = (T)rndf();                                         \
    for (md_idx i = 0; i < N * O * Ho * Wo; i++) dy[i] = (T)rndf();                             \
    /* packed weights: forward (Fpad/FOB, K, FOB) from w; dx pass from the zero-padded, */      \
    /* flipped sub-kernels with in/out channels swapped */                                      \
    md_idx fpf = gf.FT ? gf.Dpad : gf.Fpad, obf = gf.FT ? gf.DV * gf.VL : gf.FOB;             \
    md_idx fpb = gb.FT ? gb.Dpad : gb.Fpad, obb = gb.FT ? gb.DV * gb.VL : gb.FOB;             \
    T *wpf = xmalloc(fpf * gf.K, sizeof(T));                                                    \
    memset(wpf, 0, (size_t)(fpf * gf.K) * sizeof(T));                                          \
    for (md_idx o = 0; o < O; o++)                                                              \
        for (md_idx k = 0; k < gf.K; k++)                                                       \
            wpf[((o / obf) * gf.K + k) * obf + o % obf] = w[o * gf.K + k];                      \
    T *wpb = xmalloc(fpb * gb.K, sizeof(T));                                                    \
    memset(wpb, 0, (size_t)(fpb * gb.K) * sizeof(T));                                          \
    for (md_idx c = 0; c < C; c++)                                                              \
        for (md_idx a = 0; a < pa; a++)                                                         \
            for (md_idx b = 0; b < pb; b++)                                                     \
                for (md_idx o = 0; o < O; o++)                                                  \
                    for (md_idx u = 0; u < k1h; u++)                                            \
                        for (md_idx v = 0; v < k1w; v++) {                                      \
                            md_idx i = a + sh * (k1h - 1 - u), j = b + sw * (k1w - 1 - v);      \
                            if (plain) { i = k1h - 1 - u; j = k1w - 1 - v; }                    \
                            if (i >= kh || j >= kw) continue;                                   \
                            md_idx r = (a * pb + b) * C + c, k = (o * k1h + u) * k1w + v;        \
                            wpb[((r / obb) * gb.K + k) * obb + r % obb] =                      \
                                w[((o * C + c) * kh + i) * kw + j];                             \
                        }                                                                       \
    if (!plain && tiled) { /* the dx pass tile by tile (conv.pyx: _dx_tiles): own taps */       \
        md_idx tiles = fpb / obb;                                                               \
        md_idx *to = xmalloc(tiles * gb.Kpad + tiles, sizeof(md_idx));                          \
        T *tw = xmalloc(fpb * gb.K, sizeof(T));                                                 \
        memset(to, 0, (size_t)(tiles * gb.Kpad + tiles) * sizeof(md_idx));                     \
        memset(tw, 0, (size_t)(fpb * gb.K) * sizeof(T));                                        \
        for (md_idx t = 0; t < tiles; t++) {                                                    \
            md_idx kt = 0;                                                                      \
            for (md_idx o = 0; o < O; o++)                                                      \
                for (md_idx u = 0; u < k1h; u++)                                                \
                    for (md_idx v = 0; v < k1w; v++) {                                          \
                        int any = 0;                                                            \
                        for (md_idx r = t * obb; r < (t + 1) * obb && r < c1; r++) {            \
                            md_idx a = r / (pb * C), b = r / C % pb;                            \
                            any |= a + sh * (k1h - 1 - u) < kh && b + sw * (k1w - 1 - v) < kw;  \
                        }                                                                       \
                        if (!any) continue;                                                     \
                        to[t * gb.Kpad + kt] = offs_b[(o * k1h + u) * k1w + v];                 \
                        for (md_idx r = 0; r < obb; r++)                                        \
                            tw[(t * gb.K + kt) * obb + r] = wpb[(t * gb.K + (o * k1h + u) * k1w + v) * obb + r]; \
                        kt++;                                                                   \
                    }                                                                           \
            to[tiles * gb.Kpad + t] = kt;                                                       \
        }                                                                                       \
        free(offs_b); free(wpb);                                                                \
        offs_b = to; wpb = tw; gb.TK = 1;                                                       \
    }                                                                                           \
    /* scratch, each its own exact allocation */                                                \
    T *xp = xmalloc(imax(gf.xp_len, gb.xp_len), sizeof(T));                                     \
    T *extf = xmalloc(md_conv_ext_len(&gf), sizeof(T)), *extb = xmalloc(md_conv_ext_len(&gb), sizeof(T)); \
    T *dyt = xmalloc(imax(gf.Dpad * G * Ho * Wo, plain ? 0 : G * c1 * h1 * w1), sizeof(T));      \
    T *acc = xmalloc(gf.Kpad * gf.Dpad + gf.Dpad, sizeof(T));                                   \
    memset(acc, 0, (size_t)(gf.Kpad * gf.Dpad + gf.Dpad) * sizeof(T));                         \
    md_fwd_images_##SUF fwd = md_conv_fwd_images_##SUF(&gf);                                   \
    md_bwd_images_##SUF bwd = md_conv_bwd_images_##SUF(&gf);                                   \
    md_idx xim = C * H * W, yim = O * Ho * Wo;                                                  \
    for (md_idx first = 0; first < N; first += G) {                                             \
        md_idx count = imin(G, N - first);                                                      \
        /* the kernels get exactly `count` images: copies, so reads past them are reported */   \
        T *xs = xmalloc(count * xim, sizeof(T)), *ys = xmalloc(count * yim, sizeof(T));         \
        T *dys = xmalloc(count * yim, sizeof(T)), *dxs = xmalloc(count * xim, sizeof(T));       \
        memcpy(xs, x + first * xim, (size_t)(count * xim) * sizeof(T));                         \
        memcpy(dys, dy + first * yim, (size_t)(count * yim) * sizeof(T));                       \
        fwd(xs, count, &gf, wpf, offs_f, bias, ys, xp, extf);                                   \
        bwd(xs, dys, count, &gf, &gb, offs_f, offs_b, wpb, with_dx ? dxs : NULL, acc,           \
            acc + gf.Kpad * gf.Dpad, xp, extb, dyt);                                            \
        memcpy(y + first * yim, ys, (size_t)(count * yim) * sizeof(T));                         \
        memcpy(dx + first * xim, dxs, (size_t)(count * xim) * sizeof(T));                       \
        free(xs); free(ys); free(dys); free(dxs);                                               \
    }                                                                                           \
    /* the definition, in double */                                                             \
    int bad = 0;                                                                                \
    double *rdx = calloc((size_t)(N * C * H * W), sizeof(double));                              \
    double *rdw = calloc((size_t)(O * C * kh * kw), sizeof(double));                            \
    for (md_idx n = 0; n < N; n++)                                                              \
        for (md_idx o = 0; o < O; o++)                                                          \
            for (md_idx i = 0; i < Ho; i++)                                                     \
                for (md_idx j = 0; j < Wo; j++) {                                               \
                    double sum = bias[o], g = dy[((n * O + o) * Ho + i) * Wo + j], mag = fabs(sum); \
                    for (md_idx c = 0; c < C; c++)                                              \
                        for (md_idx u = 0; u < kh; u++)                                         \
                            for (md_idx v = 0; v < kw; v++) {                                   \
                                md_idx r = i * sh + u - ph, q = j * sw + v - pw;                \
                                if (r < 0 || r >= H || q < 0 || q >= W) continue;               \
                                md_idx xi = ((n * C + c) * H + r) * W + q, wi = ((o * C + c) * kh + u) * kw + v; \
                                sum += (double)w[wi] * x[xi];                                   \
                                mag += fabs((double)w[wi] * x[xi]);                             \
                                rdx[xi] += (double)w[wi] * g;                                   \
                                rdw[wi] += g * x[xi];                                           \
                            }                                                                   \
                    double got = y[((n * O + o) * Ho + i) * Wo + j];                            \
                    if (fabs(got - sum) > tol * (1 + mag)) bad = 1;                             \
                }                                                                               \
    double scale = 1.0 + N * Ho * Wo;                                                           \
    if (with_dx)                                                                                \
        for (md_idx i = 0; i < N * C * H * W; i++)                                              \
            if (fabs(dx[i] - rdx[i]) > tol * (1 + O * kh * kw)) bad |= 2;                       \
    for (md_idx o = 0; o < O; o++) {                                                            \
        double db = 0;                                                                          \
        for (md_idx n = 0; n < N; n++)                                                          \
            for (md_idx p = 0; p < Ho * Wo; p++)                                                \
                db += dy[(n * O + o) * Ho * Wo + p];                                            \
        if (fabs(acc[gf.Kpad * gf.Dpad + o] - db) > tol * scale) bad |= 4;                      \
        for (md_idx k = 0; k < gf.K; k++)                                                       \
            if (fabs(acc[k * gf.Dpad + o] - rdw[o * gf.K + k]) > tol * scale) bad |= 8;         \
    }                                                                                           \
    free(rdx); free(rdw); free(offs_f); free(offs_b); free(x); free(w); free(bias); free(dy);    \
    free(y); free(dx); free(wpf); free(wpb); free(xp); free(extf); free(extb); free(dyt); free(acc); \
    return bad;                                                                                 \
}
CHECK_TYPE(float, f32)
CHECK_TYPE(double, f64)

int main(int argc, char **argv)
{
    long per = argc > 1 ? atol(argv[1]) : 1000;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 12345;
    static const char *names[] = {"generic", "avx2", "avx512"};
    int top = md_conv_isa(), failures = 0;
    long total = 0;
    for (int isa = 0; isa <= top; isa++)
        for (int f64 = 0; f64 < 2; f64++)
            for (long t = 0; t < per; t++) {
                shape_t s;
                s.N = rnd(1, 5); s.C = rnd(1, 12); s.O = rnd(1, 70);
                s.kh = rnd(1, 5); s.kw = rnd(1, 5); s.sh = rnd(1, 3); s.sw = rnd(1, 3);
                s.ph = rnd(0, 4); s.pw = rnd(0, 4); s.H = rnd(1, 14); s.W = rnd(1, 14);
                if (s.H + 2 * s.ph < s.kh || s.W + 2 * s.pw < s.kw) { t--; continue; }
                s.Ho = (s.H + 2 * s.ph - s.kh) / s.sh + 1; s.Wo = (s.W + 2 * s.pw - s.kw) / s.sw + 1;
                md_idx G = rnd(1, s.N);
                int with_dx = (int)rnd(0, 3) != 0;
                int tiled = (int)rnd(0, 3) != 0;   /* strided: per-tile taps (as conv.pyx), or the full grid */
                int bad = f64 ? check_f64(&s, isa, G, with_dx, tiled, 1e-9)
                              : check_f32(&s, isa, G, with_dx, tiled, 2e-4);
                total++;
                if (bad) {
                    failures++;
                    printf("MISMATCH (%d) %s %s: N%ld C%ld H%ld W%ld O%ld k%ldx%ld s%ldx%ld p%ldx%ld G%ld dx%d\n",
                           bad, names[isa], f64 ? "f64" : "f32", (long)s.N, (long)s.C, (long)s.H, (long)s.W,
                           (long)s.O, (long)s.kh, (long)s.kw, (long)s.sh, (long)s.sw, (long)s.ph, (long)s.pw,
                           (long)G, with_dx);
                }
            }
    printf("%ld geometries (ISAs up to %s, float and double), %d mismatches\n", total, names[top], failures);
    return failures != 0;
}
