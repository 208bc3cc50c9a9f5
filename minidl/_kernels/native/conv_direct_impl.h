/* One instantiation of the stride-1 direct convolution kernels; included (through
 * conv_direct_types.h) once per (element type, instruction set). Before including, define:
 *
 *   MD_T        element type (float or double)
 *   MD_VBYTES   vector width in bytes (64 = AVX-512, 32 = AVX2, 16 = SSE2/NEON, 0 = scalar)
 *   MD_OB       output channels per register tile
 *   MD_NV       vectors of output positions per forward tile
 *   MD_ATTR     function attribute selecting the instruction set (may be empty)
 *   MD(name)    name mangling, e.g. md_f32_avx512_##name
 *   MD_PIN(v)   optional: an empty asm that keeps v in a register
 *
 * The algorithm ("implicit GEMM on a padded-width layout"): pad each image into
 * xp[c][r][s] (Hp × Wp rows), and number output positions p = oh·Wp + ow, i.e. on a grid
 * Wp wide instead of W_out (the kw − 1 extra columns per row are computed and thrown
 * away). Then the im2col matrix is never built, because its row k = (c, i, j) is just
 * xp shifted by offs[k] = c·cstride + i·Wp + j:
 *
 *     y_ext[o][p]  = Σ_k W[o][k] · xp[offs[k] + p]              (forward, and dx)
 *     dW[o][k]    += Σ_p dy_ext[o][p] · xp[offs[k] + p]          (dy_ext: junk columns = 0)
 *
 * dx is the forward kernel run on dy padded by (k − 1 − p) with the filters flipped and
 * in/out channels swapped. Small images are processed G at a time (xp[c][n][r][s], channel
 * stride cstride = G·Hp·Wp, so p runs over the G images one after another and the last
 * kh − 1 rows of each are discarded too): every tile then has enough positions to amortise
 * its set-up. Register tiles: the forward keeps MD_OB × MD_NV vector
 * accumulators (output channels × output positions), the weight gradient MD_OB × MD_KB
 * (output channels × taps), so every loaded vector feeds several FMAs.
 */

#if MD_VBYTES > 0
typedef MD_T MD(vec) __attribute__((vector_size(MD_VBYTES), aligned(sizeof(MD_T)), __may_alias__));
#define MD_VL ((md_idx)(MD_VBYTES / sizeof(MD_T)))
#else
typedef MD_T MD(vec);
#define MD_VL ((md_idx)1)
#endif
#ifndef MD_PIN
#define MD_PIN(v) ((void)0)
#define MD_PIN_IS_DEFAULT
#endif
#define MD_LOAD(ptr) (*(const MD(vec) *)(ptr))
#define MD_STORE(ptr, v) (*(MD(vec) *)(ptr) = (v))

/* Σ of a vector's lanes: add its 16-byte pieces (register extracts), then the last 2–4 lanes. */
static MD_ATTR MD_T MD(hsum)(MD(vec) v)
{
#if MD_VBYTES > 0
    typedef MD_T piece __attribute__((vector_size(16)));
    piece s, t;
    memcpy(&s, &v, 16);
    for (size_t off = 16; off < MD_VBYTES; off += 16) {
        memcpy(&t, (const char *)&v + off, 16);
        s += t;
    }
    MD_T total = 0;
    for (size_t i = 0; i < 16 / sizeof(MD_T); i++)
        total += s[i];
    return total;
#else
    return v;
#endif
}

/* ext[r][p] = Σ_k wblk[k][r] · xp[offs[k] + p] for r < MD_OB, p < ppad (a multiple of the tile). */
static MD_ATTR void MD(fwd_block)(const MD_T *xp, const md_idx *offs, md_idx K, const MD_T *wblk,
                                  MD_T *ext, md_idx ppad)
{
    for (md_idx p = 0; p < ppad; p += MD_NV * MD_VL) {
        MD(vec) acc[MD_OB][MD_NV];
        for (int r = 0; r < MD_OB; r++)
            for (int v = 0; v < MD_NV; v++)
                acc[r][v] = (MD(vec)){0};
        for (md_idx k = 0; k < K; k++) {
            const MD_T *src = xp + offs[k] + p;
            const MD_T *w = wblk + k * MD_OB;
            MD(vec) xv[MD_NV];
            for (int v = 0; v < MD_NV; v++)
                xv[v] = MD_LOAD(src + v * MD_VL);
            for (int r = 0; r < MD_OB; r++) {
                MD_T s = w[r];
                for (int v = 0; v < MD_NV; v++)
                    acc[r][v] += s * xv[v];
            }
        }
        for (int r = 0; r < MD_OB; r++)
            for (int v = 0; v < MD_NV; v++)
                MD_STORE(ext + r * ppad + p + v * MD_VL, acc[r][v]);
    }
}

/* One output channel (layers with fewer channels than a tile, e.g. the dx pass of a first
 * layer with 1 input channel): ext[p] = Σ_k w[k] · xp[offs[k] + p]. Even and odd taps go to
 * separate accumulators, so 2·MD_NV FMA chains are in flight. */
static MD_ATTR void MD(fwd_row)(const MD_T *xp, const md_idx *offs, md_idx K, const MD_T *w,
                                MD_T *ext, md_idx ppad)
{
    for (md_idx p = 0; p < ppad; p += MD_NV * MD_VL) {
        MD(vec) even[MD_NV], odd[MD_NV];
        for (int v = 0; v < MD_NV; v++)
            even[v] = odd[v] = (MD(vec)){0};
        md_idx k = 0;
        for (; k + 1 < K; k += 2) {
            const MD_T *a = xp + offs[k] + p, *b = xp + offs[k + 1] + p;
            MD_T wa = w[k], wb = w[k + 1];
            for (int v = 0; v < MD_NV; v++) {
                even[v] += wa * MD_LOAD(a + v * MD_VL);
                odd[v] += wb * MD_LOAD(b + v * MD_VL);
            }
        }
        if (k < K)
            for (int v = 0; v < MD_NV; v++)
                even[v] += w[k] * MD_LOAD(xp + offs[k] + p + v * MD_VL);
        for (int v = 0; v < MD_NV; v++)
            MD_STORE(ext + p + v * MD_VL, even[v] + odd[v]);
    }
}

/* dw[r][q] += Σ_p dyb[r][p] · xp[offs[q] + p] for r < MD_OB, q < MD_KB. */
static MD_ATTR void MD(dw_block)(const MD_T *xp, const md_idx *offs, const MD_T *dyb, md_idx ppad,
                                 MD_T *dw, md_idx ldw)
{
    MD(vec) acc[MD_OB][MD_KB];
    const MD_T *xs[MD_KB];
    for (int q = 0; q < MD_KB; q++)
        xs[q] = xp + offs[q];
    for (int r = 0; r < MD_OB; r++)
        for (int q = 0; q < MD_KB; q++)
            acc[r][q] = (MD(vec)){0};
    for (md_idx p = 0; p < ppad; p += MD_VL) {
        MD(vec) xv[MD_KB];
        for (int q = 0; q < MD_KB; q++)
            xv[q] = MD_LOAD(xs[q] + p);
        for (int r = 0; r < MD_OB; r++) {
            MD(vec) d = MD_LOAD(dyb + r * ppad + p);
            MD_PIN(d);   /* one load feeding MD_KB FMAs, not MD_KB loads folded into them */
            for (int q = 0; q < MD_KB; q++)
                acc[r][q] += d * xv[q];
        }
    }
    for (int r = 0; r < MD_OB; r++)
        for (int q = 0; q < MD_KB; q++)
            dw[r * ldw + q] += MD(hsum)(acc[r][q]);
}

/* 1 if every element of a[0..n) is finite: v − v is 0 for finite v and NaN for ±inf or NaN. */
static MD_ATTR int MD(all_finite)(const MD_T *a, md_idx n)
{
    MD(vec) acc = (MD(vec)){0};
    md_idx i = 0;
    for (; i + MD_VL <= n; i += MD_VL) {
        MD(vec) v = MD_LOAD(a + i);
        acc += v - v;
    }
    MD_T s = MD(hsum)(acc);
    for (; i < n; i++)
        s += a[i] - a[i];
    return s == 0;
}

/* Copy `count` (<= g->G) consecutive images x (count, C, H, W) into the zero-padded scratch xp,
 * channel-major: xp[c·cstride + n·plane + (r + ph)·Wp + (s + pw)] = x[n, c, r, s]. */
static MD_ATTR void MD(pad_images)(const MD_T *x, md_idx count, const md_conv_geometry *g, MD_T *xp)
{
    memset(xp, 0, (size_t)g->xp_len * sizeof(MD_T));
    for (md_idx n = 0; n < count; n++)
        for (md_idx c = 0; c < g->C; c++)
            for (md_idx r = 0; r < g->H; r++)
                memcpy(xp + c * g->cstride + n * g->plane + (r + g->ph) * g->Wp + g->pw,
                       x + ((n * g->C + c) * g->H + r) * g->W, (size_t)g->W * sizeof(MD_T));
}

/* Output positions computed for `count` images: the last image's Ho rows, rounded up to the tile. */
static md_idx MD(positions)(const md_conv_geometry *g, md_idx count)
{
    return md_round_up((count - 1) * g->plane + g->Ho * g->Wp, g->tile);
}

/* y (count, O, Ho, Wo) = conv(x (count, C, H, W), packed weights) + bias (may be NULL).
 * wpack: (Fpad / FOB, K, FOB); ext: Fpad rows of positions. */
static MD_ATTR void MD(fwd_images)(const MD_T *x, md_idx count, const md_conv_geometry *g, const MD_T *wpack,
                                   const md_idx *offs, const MD_T *bias, MD_T *y, MD_T *xp, MD_T *ext)
{
    if (count < 1 || count > g->G)   /* the scratch holds G images (conv.pyx never asks more) */
        return;
    md_idx ppad = MD(positions)(g, count);
    MD(pad_images)(x, count, g, xp);
    if (g->FOB == 1)
        for (md_idx o = 0; o < g->O; o++)
            MD(fwd_row)(xp, offs, g->K, wpack + o * g->K, ext + o * ppad, ppad);
    else
        for (md_idx ob = 0; ob < g->Fpad / MD_OB; ob++)
            MD(fwd_block)(xp, offs, g->K, wpack + ob * g->K * MD_OB, ext + ob * MD_OB * ppad, ppad);
    for (md_idx n = 0; n < count; n++)
        for (md_idx o = 0; o < g->O; o++) {
            MD_T b = bias ? bias[o] : (MD_T)0;
            for (md_idx oh = 0; oh < g->Ho; oh++) {
                const MD_T *src = ext + o * ppad + n * g->plane + oh * g->Wp;
                MD_T *dst = y + ((n * g->O + o) * g->Ho + oh) * g->Wo;
                for (md_idx ow = 0; ow < g->Wo; ow++)
                    dst[ow] = src[ow] + b;
            }
        }
}

/* Backward of `count` images. gf: the forward geometry; gb: the geometry of the dx pass (input
 * dy, output dx). Adds their dW into dwacc (Opad, Kpad) and db into dbacc[0..O); writes
 * dx (count, C, H, W). dW also sums over the discarded grid positions, where dy is 0 but x is
 * a real pixel: an inf or NaN in x would turn 0·x into NaN there, so such a group sets
 * dbacc[Opad] = 1 and the caller computes dW another way. Scratch: xp (max xp_len), ext (max Fpad·Ppad), dyext (gf->Opad·gf->Ppad). */
static MD_ATTR void MD(bwd_images)(const MD_T *x, const MD_T *dy, md_idx count, const md_conv_geometry *gf,
                                   const md_conv_geometry *gb, const md_idx *offs_f, const md_idx *offs_b,
                                   const MD_T *wpack_b, MD_T *dx, MD_T *dwacc, MD_T *dbacc,
                                   MD_T *xp, MD_T *ext, MD_T *dyext)
{
    if (count < 1 || count > gf->G || gb->G != gf->G || gb->isa != gf->isa)
        return;
    md_idx ppad = MD(positions)(gf, count);
    MD(pad_images)(x, count, gf, xp);
    if (!MD(all_finite)(xp, gf->xp_len))
        dbacc[gf->Opad] = 1;
    /* dy on the same padded-width grid as the forward output; the discarded positions are 0. */
    memset(dyext, 0, (size_t)(gf->Opad * ppad) * sizeof(MD_T));
    for (md_idx n = 0; n < count; n++)
        for (md_idx o = 0; o < gf->O; o++)
            for (md_idx oh = 0; oh < gf->Ho; oh++)
                memcpy(dyext + o * ppad + n * gf->plane + oh * gf->Wp, dy + ((n * gf->O + o) * gf->Ho + oh) * gf->Wo,
                       (size_t)gf->Wo * sizeof(MD_T));
    /* db: the rows of dyext in vectors (its discarded positions are 0); a scalar running sum
       would be one long chain of dependent adds. */
    for (md_idx o = 0; o < gf->O; o++) {
        MD(vec) acc = (MD(vec)){0};
        for (md_idx p = 0; p < ppad; p += MD_VL)
            acc += MD_LOAD(dyext + o * ppad + p);
        dbacc[o] += MD(hsum)(acc);
    }
    for (md_idx ob = 0; ob < gf->Opad / MD_OB; ob++)
        for (md_idx k = 0; k < gf->Kpad; k += MD_KB)
            MD(dw_block)(xp, offs_f + k, dyext + ob * MD_OB * ppad, ppad,
                         dwacc + ob * MD_OB * gf->Kpad + k, gf->Kpad);
    MD(fwd_images)(dy, count, gb, wpack_b, offs_b, NULL, dx, xp, ext);
}

#undef MD_VL
#ifdef MD_PIN_IS_DEFAULT
#undef MD_PIN
#undef MD_PIN_IS_DEFAULT
#endif
#undef MD_LOAD
#undef MD_STORE
