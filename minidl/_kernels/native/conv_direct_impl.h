/* One instantiation of the stride-1 direct convolution kernels; included (through
 * conv_direct_types.h) once per (element type, instruction set). Before including, define:
 *
 *   MD_T        element type (float or double)
 *   MD_VBYTES   vector width in bytes (64 = AVX-512, 32 = AVX2, 16 = SSE2/NEON, 0 = scalar)
 *   MD_OB       output channels per register tile
 *   MD_NV       vectors of output positions per forward tile
 *   MD_DT       taps per weight-gradient tile
 *   MD_ATTR     function attribute selecting the instruction set (may be empty)
 *   MD(name)    name mangling, e.g. md_f32_avx512_##name
 *   MD_PIN(v)   optional: an empty asm that keeps v in a register
 *
 * The algorithm ("implicit GEMM on a padded-width layout"): pad each image into
 * xp[c][r][s] (rows Wp = W + pw apart: a row's right padding is the next one's left), and
 * number output positions p = oh·Wp + ow, i.e. on a grid Wp wide instead of W_out (the
 * kw − 1 − pw extra columns per row are computed and thrown away). Then the im2col matrix is never built, because its row k = (c, i, j) is just
 * xp shifted by offs[k] = c·cstride + i·Wp + j:
 *
 *     y_ext[o][p]  = Σ_k W[o][k] · xp[offs[k] + p]              (forward, and dx)
 *     dW[k][o]    += Σ_q xp[offs[k] + pos(q)] · dy[o][q]        (valid positions q only)
 *
 * dx is the forward kernel run on dy padded by (k − 1 − p) with the filters flipped and
 * in/out channels swapped. Small images are processed G at a time (xp[c][n][r][s], images
 * plane = (H + ph)·Wp apart, sharing their padding rows; channel stride cstride = G·plane,
 * so p runs over the G images one after another and the last kh − 1 − ph rows of each are
 * discarded too): every tile then has enough positions to amortise
 * its set-up. Register tiles: the forward keeps MD_OB × MD_NV vector
 * accumulators (output channels × output positions), the weight gradient MD_DT taps × 1–2
 * vectors of output channels (see dw_tile), so every loaded vector feeds several FMAs.
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

/* The weight gradient as a small GEMM over the *valid* output positions q = (n, oh, ow) only:
 *
 *     dW[k][o] += Σ_q xp[offs[k] + pos(q)] · dyt[q][o],   pos(q) = n·plane + oh·Wp + ow
 *
 * vectorised over output channels o (dyt is dy transposed, a panel of nv vectors of filters
 * per position), the tap values broadcast straight from the padded images, MD_DT taps ×
 * nv vectors of accumulators in registers over every position of the group. Compared with a
 * kernel vectorised over positions it needs no horizontal sums, and skips the padded-width
 * grid's discarded columns and rows (30 % of the positions of a 14×14 image with padding 1,
 * 56 % of an 8×8 one) — so an inf or NaN in x meets exactly the (tap, position) pairs
 * im2col would, as in the twin. dw: rows k0..k0+MD_DT of ldw elements, nv vectors each. */
static MD_ATTR MD_ALWAYS_INLINE void MD(dw_tile)(
    const MD_T *xp, const md_idx *offs, const MD_T *dyt, const md_conv_geometry *g, md_idx count,
    MD_T *dw, md_idx ldw, const int nv)
{
    MD(vec) acc[MD_DT][2];
    const MD_T *xs[MD_DT];
    for (int t = 0; t < MD_DT; t++) {
        xs[t] = xp + offs[t];
        acc[t][0] = acc[t][1] = (MD(vec)){0};
    }
    const MD_T *d = dyt;
    for (md_idx n = 0; n < count; n++)
        for (md_idx oh = 0; oh < g->Ho; oh++) {
            md_idx base = n * g->plane + oh * g->Wp;
            for (md_idx ow = base; ow < base + g->Wo; ow++, d += nv * MD_VL) {
                MD(vec) d0 = MD_LOAD(d);
                if (nv == 1) {
                    for (int t = 0; t < MD_DT; t++)
                        acc[t][0] += xs[t][ow] * d0;
                } else {
                    MD(vec) d1 = MD_LOAD(d + MD_VL);
                    for (int t = 0; t < MD_DT; t++) {
                        MD_T s = xs[t][ow];
                        acc[t][0] += s * d0;
                        acc[t][1] += s * d1;
                    }
                }
            }
        }
    for (int t = 0; t < MD_DT; t++)
        for (int v = 0; v < nv; v++)
            MD_STORE(dw + t * ldw + v * MD_VL, MD_LOAD(dw + t * ldw + v * MD_VL) + acc[t][v]);
}

/* dyt[b][q][r] = dy[n][b·DV·VL + r][oh][ow] for q = (n, oh, ow), zero for filters >= O: the
 * panels of filters dw_tile reads, one position after another. A transpose, done in blocks of
 * MD_TB positions so that the block being written (MD_TB × DV·VL) stays in L1. */
static MD_ATTR void MD(pack_dyt)(const MD_T *dy, md_idx count, const md_conv_geometry *g, MD_T *dyt)
{
    md_idx ot = g->DV * MD_VL, hw = g->Ho * g->Wo, q_all = count * hw;
    for (md_idx b = 0; b < g->Dpad / ot; b++) {
        MD_T *panel = dyt + b * q_all * ot;
        md_idx rows = g->O - b * ot < ot ? g->O - b * ot : ot;
        if (rows < ot)
            memset(panel, 0, (size_t)(q_all * ot) * sizeof(MD_T));
        for (md_idx n = 0; n < count; n++)
            for (md_idx q0 = 0; q0 < hw; q0 += MD_TB) {
                md_idx qn = hw - q0 < MD_TB ? hw - q0 : MD_TB;
                MD_T *dst = panel + (n * hw + q0) * ot;
                const MD_T *src = dy + (n * g->O + b * ot) * hw + q0;
                for (md_idx r = 0; r < rows; r++)
                    for (md_idx q = 0; q < qn; q++)
                        dst[q * ot + r] = src[r * hw + q];
            }
    }
}

/* [lo, hi): the columns s < n whose source column s·stride + shift lies in [0, width). */
static void MD(columns)(md_idx n, md_idx stride, md_idx shift, md_idx width, md_idx *lo, md_idx *hi)
{
    *lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
    *hi = width - shift <= 0 ? 0 : (width - shift + stride - 1) / stride;
    if (*hi > n)
        *hi = n;
    if (*lo > *hi)
        *lo = *hi;
}

/* The rows of the phase images of `count` images (all of g's input when it is not strided):
 * phase channel (c·pa + a)·pb + b, row r, column s is pixel (r·sh + a − xph, s·sw + b − xpw)
 * of img (count, xC, xH, xW) channel c, where that lies in the image (phase channel
 * (a·pb + b)·xC + c). The phase images are at
 * `ph`, cs / is / rs elements per phase channel / image / row. to_images: img = them
 * (the other pixels are left alone), else them = img (the rest is left alone). */
static MD_ATTR void MD(phase_rows)(MD_T *img, MD_T *ph, md_idx count, const md_conv_geometry *g, md_idx cs,
                                   md_idx is, md_idx rs, int to_images)
{
    for (md_idx n = 0; n < count; n++)
        for (md_idx c = 0; c < g->xC; c++)
            for (md_idx a = 0; a < g->pa; a++)
                for (md_idx b = 0; b < g->pb; b++) {
                    md_idx lo, hi, shift = b - g->xpw;
                    MD(columns)(g->W, g->sw, shift, g->xW, &lo, &hi);
                    MD_T *p = ph + ((a * g->pb + b) * g->xC + c) * cs + n * is;
                    for (md_idx r = 0; r < g->H; r++, p += rs) {
                        md_idx row = r * g->sh + a - g->xph;
                        if (row < 0 || row >= g->xH)
                            continue;
                        MD_T *q = img + ((n * g->xC + c) * g->xH + row) * g->xW;
                        if (to_images)
                            for (md_idx s = lo; s < hi; s++)
                                q[s * g->sw + shift] = p[s];
                        else if (g->sw == 1 && hi > lo)
                            memcpy(p + lo, q + lo + shift, (size_t)(hi - lo) * sizeof(MD_T));
                        else
                            for (md_idx s = lo; s < hi; s++)
                                p[s] = q[s * g->sw + shift];
                    }
                }
}

/* Copy `count` (<= g->G) consecutive images x (count, xC, xH, xW) into the zero-padded scratch
 * xp, channel-major: xp[c·cstride + n·plane + (r + ph)·Wp + (s + pw)] = x[n, c, r, s] (stride 1);
 * strided, the phase images (phase_rows; zero outside x). */
static MD_ATTR void MD(pad_images)(const MD_T *x, md_idx count, const md_conv_geometry *g, MD_T *xp)
{
    memset(xp, 0, (size_t)g->xp_len * sizeof(MD_T));
    MD(phase_rows)((MD_T *)x, xp + g->ph * g->Wp + g->pw, count, g, g->cstride, g->plane, g->Wp, 0);  /* x only read */
}

/* The adjoint of pad_images for a strided g: dx (count, xC, xH, xW) from dxq, the gradient of
 * the phase images (count, C, H, W). Every pixel is in one phase image at most; the pixels in
 * none (no tap reads them) get 0. */
static MD_ATTR void MD(merge_phases)(const MD_T *dxq, md_idx count, const md_conv_geometry *g, MD_T *dx)
{
    int covered = g->pa == g->sh && g->pb == g->sw && g->H * g->sh >= g->xH + g->xph && g->W * g->sw >= g->xW + g->xpw;
    if (!covered)
        memset(dx, 0, (size_t)(count * g->xC * g->xH * g->xW) * sizeof(MD_T));
    MD(phase_rows)(dx, (MD_T *)dxq, count, g, g->H * g->W, g->C * g->H * g->W, g->W, 1);   /* dxq only read */
}

/* Output positions computed for `count` images: the last image's Ho rows, rounded up to the tile. */
static md_idx MD(positions)(const md_conv_geometry *g, md_idx count)
{
    return md_round_up((count - 1) * g->plane + g->Ho * g->Wp, g->tile);
}

/* The forward for layers with many filters (g->FT), the GEMM of dw_tile turned around: a tile
 * of MD_DT *valid* output positions q0.. (of q_all, positions of the group in (n, oh, ow)
 * order) × nv vectors of filters, accumulated over the taps in registers, the tap values
 * broadcast from the padded images; stored as rows of filters yt[q][nv·VL] (unpack_yt puts
 * them into y). No discarded grid positions (the padded-width grid computes 7–21 % in vain
 * on 28×28 to 8×8 images with padding 1). wt: this panel's filters tap-major, K × nv·VL. */
static MD_ATTR MD_ALWAYS_INLINE void MD(fwd_tile)(
    const MD_T *xp, const md_idx *offs, md_idx K, const MD_T *wt, const md_conv_geometry *g, md_idx q0,
    md_idx q_all, MD_T *yt, const int nv)
{
    MD(vec) acc[MD_DT][2];
    const MD_T *xs[MD_DT];
    md_idx hw = g->Ho * g->Wo, used = q_all - q0 < MD_DT ? q_all - q0 : MD_DT;
    md_idx n = q0 / hw, oh = q0 % hw / g->Wo, ow = q0 % g->Wo;   /* of q0, then counted on */
    for (int i = 0; i < MD_DT; i++) {
        xs[i] = xp + n * g->plane + oh * g->Wp + ow;      /* a tail tile repeats its last position */
        acc[i][0] = acc[i][1] = (MD(vec)){0};
        if (i + 1 < used && ++ow == g->Wo) {
            ow = 0;
            if (++oh == g->Ho) {
                oh = 0;
                n++;
            }
        }
    }
    for (md_idx k = 0; k < K; k++) {
        md_idx off = offs[k];
        MD(vec) w0 = MD_LOAD(wt + k * nv * MD_VL);
        if (nv == 1) {
            for (int i = 0; i < MD_DT; i++)
                acc[i][0] += xs[i][off] * w0;
        } else {
            MD(vec) w1 = MD_LOAD(wt + k * nv * MD_VL + MD_VL);
            for (int i = 0; i < MD_DT; i++) {
                MD_T s = xs[i][off];
                acc[i][0] += s * w0;
                acc[i][1] += s * w1;
            }
        }
    }
    for (md_idx i = 0; i < used; i++)
        for (int v = 0; v < nv; v++)
            MD_STORE(yt + (q0 + i) * nv * MD_VL + v * MD_VL, acc[i][v]);
}

/* y[n, o, oh, ow] = yt[b][q][r] + bias[o] for o = b·DV·VL + r, q = (n, oh, ow): the transpose
 * of pack_dyt, in blocks of MD_TB positions. */
static MD_ATTR void MD(unpack_yt)(const MD_T *yt, md_idx count, const md_conv_geometry *g, const MD_T *bias, MD_T *y)
{
    md_idx ot = g->DV * MD_VL, hw = g->Ho * g->Wo, q_all = count * hw;
    for (md_idx b = 0; b < g->Dpad / ot; b++) {
        md_idx rows = g->O - b * ot < ot ? g->O - b * ot : ot;
        for (md_idx n = 0; n < count; n++)
            for (md_idx q0 = 0; q0 < hw; q0 += MD_TB) {
                md_idx qn = hw - q0 < MD_TB ? hw - q0 : MD_TB;
                const MD_T *src = yt + (b * q_all + n * hw + q0) * ot;
                MD_T *dst = y + (n * g->O + b * ot) * hw + q0;
                for (md_idx r = 0; r < rows; r++) {
                    MD_T add = bias ? bias[b * ot + r] : (MD_T)0;
                    for (md_idx q = 0; q < qn; q++)
                        dst[r * hw + q] = src[q * ot + r] + add;
                }
            }
    }
}

/* y (count, O, Ho, Wo) = conv(x (count, C, H, W), packed weights) + bias (may be NULL).
 * wpack: (Fpad / FOB, K, FOB), or (Dpad / (DV·VL), K, DV·VL) for fwd_tile (g->FT): tiles of
 * filters; ext: md_conv_ext_len(g) elements. offs: the K taps' offsets, or, g->TK, each tile's
 * own: tile t computes taps offs[t·Kpad ..] (its first offs[tiles·Kpad + t] <= K; the dx pass
 * of a strided layer, whose filters have zero taps: see conv.pyx's _dx_tiles). */
static MD_ATTR void MD(fwd_images)(const MD_T *x, md_idx count, const md_conv_geometry *g, const MD_T *wpack,
                                   const md_idx *offs, const MD_T *bias, MD_T *y, MD_T *xp, MD_T *ext)
{
    if (count < 1 || count > g->G)   /* the scratch holds G images (conv.pyx never asks more) */
        return;
    MD(pad_images)(x, count, g, xp);
    md_idx ot = g->FT ? g->DV * MD_VL : g->FOB, tiles = (g->FT ? g->Dpad : g->Fpad) / ot;
#define MD_TILE_OFFS(t) (g->TK ? offs + (t) * g->Kpad : offs)
#define MD_TILE_K(t) (g->TK ? offs[tiles * g->Kpad + (t)] : g->K)
    if (g->FT) {    /* wpack: Dpad / (DV·VL) panels of K × DV·VL; ext: the panels' yt */
        md_idx q_all = count * g->Ho * g->Wo;
        for (md_idx b = 0; b < tiles; b++)
            for (md_idx q0 = 0; q0 < q_all; q0 += MD_DT) {
                if (g->DV == 1)
                    MD(fwd_tile)(xp, MD_TILE_OFFS(b), MD_TILE_K(b), wpack + b * g->K * ot, g, q0, q_all,
                                 ext + b * q_all * ot, 1);
                else
                    MD(fwd_tile)(xp, MD_TILE_OFFS(b), MD_TILE_K(b), wpack + b * g->K * ot, g, q0, q_all,
                                 ext + b * q_all * ot, 2);
            }
        MD(unpack_yt)(ext, count, g, bias, y);
        return;
    }
    md_idx ppad = MD(positions)(g, count);
    if (g->FOB == 1)
        for (md_idx o = 0; o < g->O; o++)
            MD(fwd_row)(xp, MD_TILE_OFFS(o), MD_TILE_K(o), wpack + o * g->K, ext + o * ppad, ppad);
    else
        for (md_idx ob = 0; ob < tiles; ob++)
            MD(fwd_block)(xp, MD_TILE_OFFS(ob), MD_TILE_K(ob), wpack + ob * g->K * MD_OB, ext + ob * MD_OB * ppad, ppad);
#undef MD_TILE_OFFS
#undef MD_TILE_K
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
 * dy, output dx). Adds dW into dwacc (Kpad rows of Dpad: tap-major, see dw_tile) and db into
 * dbacc[0..Dpad); writes dx (count, C, H, W) unless dx is NULL (nobody asked for it).
 * dx and x are the source images of gf (for a strided gf, see pad_images and merge_phases).
 * Scratch: xp (max xp_len), ext (gb->Fpad·gb->Ppad), dyt (gf->Dpad·G·Ho·Wo, and G·C·H·W for
 * a strided gf). */
static MD_ATTR void MD(bwd_images)(const MD_T *x, const MD_T *dy, md_idx count, const md_conv_geometry *gf,
                                   const md_conv_geometry *gb, const md_idx *offs_f, const md_idx *offs_b,
                                   const MD_T *wpack_b, MD_T *dx, MD_T *dwacc, MD_T *dbacc,
                                   MD_T *xp, MD_T *ext, MD_T *dyt)
{
    if (count < 1 || count > gf->G || gb->G != gf->G || gb->isa != gf->isa)
        return;
    md_idx ot = gf->DV * MD_VL, q_all = count * gf->Ho * gf->Wo;
    MD(pad_images)(x, count, gf, xp);
    MD(pack_dyt)(dy, count, gf, dyt);
    /* db: the panels' position rows summed in vectors (filters >= O are 0). */
    for (md_idx b = 0; b < gf->Dpad / ot; b++)
        for (md_idx v = 0; v < gf->DV; v++) {
            const MD_T *src = dyt + b * q_all * ot + v * MD_VL;
            MD(vec) acc = (MD(vec)){0};
            for (md_idx q = 0; q < q_all; q++)
                acc += MD_LOAD(src + q * ot);
            MD_STORE(dbacc + b * ot + v * MD_VL, MD_LOAD(dbacc + b * ot + v * MD_VL) + acc);
        }
    for (md_idx k = 0; k < gf->Kpad; k += MD_DT)
        for (md_idx b = 0; b < gf->Dpad / ot; b++) {
            if (gf->DV == 1)
                MD(dw_tile)(xp, offs_f + k, dyt + b * q_all * ot, gf, count, dwacc + k * gf->Dpad + b * ot,
                            gf->Dpad, 1);
            else
                MD(dw_tile)(xp, offs_f + k, dyt + b * q_all * ot, gf, count, dwacc + k * gf->Dpad + b * ot,
                            gf->Dpad, 2);
        }
    if (!dx)
        return;
    if (gf->sh == 1 && gf->sw == 1 && gf->xph == 0 && gf->xpw == 0) {
        MD(fwd_images)(dy, count, gb, wpack_b, offs_b, NULL, dx, xp, ext);
    } else {    /* dx of the phase images (dW is done: dyt is free), then back to the pixels */
        MD(fwd_images)(dy, count, gb, wpack_b, offs_b, NULL, dyt, xp, ext);
        MD(merge_phases)(dyt, count, gf, dx);
    }
}

#undef MD_VL
#ifdef MD_PIN_IS_DEFAULT
#undef MD_PIN
#undef MD_PIN_IS_DEFAULT
#endif
#undef MD_LOAD
#undef MD_STORE
