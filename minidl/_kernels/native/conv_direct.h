/* Direct convolution for minidl/_kernels/conv.pyx (see conv_direct_impl.h for the
 * algorithm). The wheel is built for the baseline instruction set, so the inner kernels are
 * compiled three times on x86-64 GCC/Clang (AVX-512, AVX2+FMA, SSE2) and chosen once at run
 * time from what the CPU supports (native/cpu_isa.h); other compilers and architectures get
 * the portable build.
 * The environment variable MINIDL_CONV_ISA=avx512|avx2|generic caps the choice (for tests
 * and benchmarks). The variant is fixed in the geometry when it is built, so a geometry and
 * the kernels that use it always agree on tile sizes (which the scratch sizes depend on).
 * Nothing here touches Python objects: conv.pyx validates, allocates and calls these on
 * groups of images, without the GIL. Strided (and over-padded) layers run as a stride-1
 * convolution over their phase images, which the kernels read straight from x (see
 * md_conv_geometry_phases). tools/conv_sanitize.c checks every variant on random geometries
 * under AddressSanitizer + UBSan against the definition.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_isa.h"

typedef ptrdiff_t md_idx;

typedef struct {
    int isa;             /* the kernel variant this geometry was sized for (MD_ISA_*) */
    md_idx C, H, W;      /* input image (channels, height, width) */
    md_idx kh, kw, ph, pw;
    md_idx O, Ho, Wo;    /* output channels and size (stride 1) */
    md_idx Hp, Wp;       /* padded input height; row pitch of the padded scratch, W + pw */
    md_idx G;            /* images per call, laid out one after another in each channel */
    md_idx plane, cstride; /* image pitch, (H + ph)·Wp; channel pitch of the padded scratch, G·plane */
    md_idx tile;         /* output positions per forward tile */
    md_idx Ppad;         /* positions on the padded-width grid of G images, rounded up */
    md_idx OB, Opad;     /* output channels per weight-gradient tile, O rounded up to it */
    md_idx FOB, Fpad;    /* the same for the forward: OB, or 1 for layers with few outputs */
    md_idx VL;           /* elements per vector */
    md_idx DT, DV, Dpad; /* weight gradient: taps per tile, vectors of filters per tile (1 or 2),
                            O rounded up to DV·VL */
    md_idx FT;           /* 1: the forward tiles positions × filters (fwd_tile), packed like dW */
    md_idx TK;           /* 1: each forward tile of filters has its own taps (see fwd_images) */
    md_idx K, Kpad;      /* taps C·kh·kw, rounded up to DT */
    md_idx xp_len;       /* elements of the padded-input scratch, incl. the tail reads */
    /* The images the kernels read: the geometry's own input (sh = sw = 1, xph = xpw = 0), or,
       for a strided or over-padded convolution (md_conv_geometry_phases), images (xC, xH, xW)
       with padding (xph, xpw) and stride (sh, sw) whose pa × pb phase images (channel
       (a·pb + b)·xC + c = x_pad[c, a::sh, b::sw], phase-major) are the geometry's C input
       channels. */
    md_idx sh, sw, pa, pb, xC, xH, xW, xph, xpw;
} md_conv_geometry;

#define MD_LINE 64  /* bytes per cache line: scratch buffers start on one (see conv.pyx) */
/* Tiles whose tile width is a constant argument (1 or 2 vectors of filters): inlined at each
 * call, so each call keeps its accumulators in registers. */
#if defined(__GNUC__)
#define MD_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MD_ALWAYS_INLINE __inline
#endif
#define MD_TB 16    /* positions per block of the transposes (pack_dyt, unpack_yt): the block
                       written stays in L1 */

/* md_conv_isa(): the variant in use; md_conv_set_isa(isa): the tests' hook; md_conv_isa_name() */
MD_ISA_CHOICE(md_conv_isa, md_conv_set_isa, md_conv_isa_name, "MINIDL_CONV_ISA")

/* Each variant's parameters (used both to instantiate it below and by md_conv_tiles, so the
 * geometry's sizes always match the kernels): vector bytes (0 = scalar), output channels per
 * register tile, vectors of output positions per forward tile, taps per weight-gradient tile
 * (× 2 vectors of filters: 24 of AVX-512's 32 registers, 12 of AVX2's and SSE2's 16). */
#define MD_AVX512_VBYTES 64
#define MD_AVX512_OB 8
#define MD_AVX512_DT 12
#define MD_AVX2_VBYTES 32
#define MD_AVX2_OB 4
#define MD_AVX2_DT 6
#if defined(__GNUC__) && !defined(MD_PORTABLE_C)
#define MD_GENERIC_VBYTES 16
#define MD_GENERIC_NV 3
#define MD_GENERIC_DT 6
#else
#define MD_GENERIC_VBYTES 0
#define MD_GENERIC_NV 4
#define MD_GENERIC_DT 4
#endif
#define MD_GENERIC_OB 4
#define MD_SIMD_NV 3

static void md_conv_tiles(int isa, size_t elsize, md_idx *ob, md_idx *vl, md_idx *tile, md_idx *dt)
{
    md_idx vbytes = MD_GENERIC_VBYTES, nv = MD_GENERIC_NV;
    *ob = MD_GENERIC_OB;
    *dt = MD_GENERIC_DT;
#if MD_MULTI_ISA
    if (isa == MD_ISA_AVX512) { vbytes = MD_AVX512_VBYTES; nv = MD_SIMD_NV; *ob = MD_AVX512_OB; *dt = MD_AVX512_DT; }
    if (isa == MD_ISA_AVX2) { vbytes = MD_AVX2_VBYTES; nv = MD_SIMD_NV; *ob = MD_AVX2_OB; *dt = MD_AVX2_DT; }
#else
    (void)isa;
#endif
    *vl = vbytes ? vbytes / (md_idx)elsize : 1;
    *tile = nv * *vl;
}

static md_idx md_round_up(md_idx v, md_idx m) { return (v + m - 1) / m * m; }

/* Fill g for images (C, H, W) taken G at a time, O filters kh × kw, padding (ph, pw),
 * element size elsize, kernel variant isa (md_conv_isa()). */
static void md_conv_geometry_init(md_conv_geometry *g, md_idx C, md_idx H, md_idx W, md_idx kh, md_idx kw,
                                  md_idx ph, md_idx pw, md_idx O, size_t elsize, md_idx G, int isa)
{
    g->C = C; g->H = H; g->W = W; g->kh = kh; g->kw = kw; g->ph = ph; g->pw = pw; g->O = O; g->G = G;
    /* Neighbouring rows share their padding (row r's right padding is row r + 1's left), and
       so do neighbouring images (one's bottom padding rows are the next one's top): fewer
       discarded grid positions, e.g. 1 − 64/81 instead of 1 − 64/100 of an 8×8 image with
       padding 1 and a 3×3 kernel. */
    g->Hp = H + 2 * ph; g->Wp = W + pw;
    g->Ho = g->Hp - kh + 1; g->Wo = W + 2 * pw - kw + 1;
    g->plane = (H + ph) * g->Wp;
    g->cstride = G * g->plane;
    g->isa = isa;
    md_conv_tiles(g->isa, elsize, &g->OB, &g->VL, &g->tile, &g->DT);
    g->Ppad = md_round_up((G - 1) * g->plane + g->Ho * g->Wp, g->tile);
    g->Opad = md_round_up(O, g->OB);
    /* Output channels <= a quarter of a tile (the dx pass of a grey first layer, C = 1; also
       C = 2 with AVX-512's 8-filter tiles) would waste 3/4 or more of its FMAs on zero
       filters: one channel at a time instead. */
    g->FOB = 4 * O <= g->OB ? 1 : g->OB;
    g->Fpad = md_round_up(O, g->FOB);
    /* Weight gradient: two vectors of filters per tile, or one if O then needs fewer (O = 16
       or 48 with 16 floats per vector). */
    g->DV = md_round_up(O, 2 * g->VL) == md_round_up(O, g->VL) ? 2 : 1;
    g->Dpad = md_round_up(O, g->DV * g->VL);
    g->K = C * kh * kw;
    g->Kpad = md_round_up(g->K, g->DT);
    /* fwd_tile where the padded-width grid wastes much (over 15 % of its positions discarded:
       8×8 images with padding 1, 21 %), two vectors of filters are full and the taps many
       enough to amortise a tile's stores. Measured per core, (16,64,8,8) -> 128: 124 -> 141
       GF/s; on 14×14 and 28×28 images (13 % and 7 % discarded) the two were even. */
    g->FT = g->DV == 2 && g->K >= 64 && 100 * g->Ho * g->Wo < 85 * g->plane;
    /* The farthest read is offs[K-1] + Ppad - 1, offs[K-1] = (C-1)·cstride + (kh-1)·Wp + kw-1. */
    md_idx reach = (C - 1) * g->cstride + (kh - 1) * g->Wp + (kw - 1) + g->Ppad;
    g->xp_len = md_round_up(reach > C * g->cstride ? reach : C * g->cstride, MD_LINE / (md_idx)elsize);
    g->sh = g->sw = g->pa = g->pb = 1;
    g->TK = 0;
    g->xC = C; g->xH = H; g->xW = W; g->xph = g->xpw = 0;
}

/* Elements of the forward's output scratch (fwd_images' ext): Fpad rows of Ppad grid
 * positions, or, for fwd_tile, Dpad filters of the G images' output positions. */
static md_idx md_conv_ext_len(const md_conv_geometry *g)
{
    md_idx rows = g->Fpad * g->Ppad, tiles = g->Dpad * g->G * g->Ho * g->Wo;
    return g->FT && tiles > rows ? tiles : rows;
}

/* g (built unpadded over the phase images, C = xC·pa·pb) reads them straight from images
 * (xC, xH, xW) with padding (xph, xpw) and stride (sh, sw): the kernels split them into phases
 * while padding (conv.pyx checks the sizes: conv_layouts.phase_shape). */
static void md_conv_geometry_phases(md_conv_geometry *g, md_idx xC, md_idx xH, md_idx xW, md_idx xph, md_idx xpw,
                                    md_idx sh, md_idx sw, md_idx pa, md_idx pb)
{
    g->xC = xC; g->xH = xH; g->xW = xW; g->xph = xph; g->xpw = xpw;
    g->sh = sh; g->sw = sw; g->pa = pa; g->pb = pb;
}

#define MD_KERNEL_FAMILY(T, SUF)                                                              \
    typedef void (*md_fwd_images_##SUF)(const T *, md_idx, const md_conv_geometry *, const T *, \
                                         const md_idx *, const T *, T *, T *, T *);           \
    typedef void (*md_bwd_images_##SUF)(const T *, const T *, md_idx, const md_conv_geometry *, \
                                         const md_conv_geometry *, const md_idx *,            \
                                         const md_idx *, const T *, T *, T *, T *, T *, T *, T *);
MD_KERNEL_FAMILY(float, f32)
MD_KERNEL_FAMILY(double, f64)

/* ---- instantiations ---------------------------------------------------------------- */
/* Each block sets the instruction set's parameters and includes conv_direct_types.h, which
 * instantiates conv_direct_impl.h for float and double.
 * MD_PIN(v): keep a loaded vector in a register (GCC otherwise re-reads it from memory as an
 * FMA operand for every use, doubling the loads of the weight-gradient kernel). */
#define MD_CAT3(a, b, c) a##b##_##c
#define MD_XCAT3(a, b, c) MD_CAT3(a, b, c)
#if MD_MULTI_ISA
#define MD_ISA avx512
#define MD_ATTR MD_TARGET_AVX512
#define MD_VBYTES MD_AVX512_VBYTES
#define MD_OB MD_AVX512_OB
#define MD_DT MD_AVX512_DT
#define MD_NV MD_SIMD_NV
#define MD_PIN(v) __asm__("" : "+v"(v))
#include "conv_direct_types.h"

#define MD_ISA avx2
#define MD_ATTR MD_TARGET_AVX2
#define MD_VBYTES MD_AVX2_VBYTES
#define MD_OB MD_AVX2_OB
#define MD_DT MD_AVX2_DT
#define MD_NV MD_SIMD_NV
#define MD_PIN(v) __asm__("" : "+x"(v))
#include "conv_direct_types.h"
#endif

/* Portable build: 16-byte vectors with GCC/Clang vector extensions, plain scalars otherwise. */
#define MD_ISA generic
#define MD_ATTR
#define MD_VBYTES MD_GENERIC_VBYTES
#define MD_OB MD_GENERIC_OB
#define MD_DT MD_GENERIC_DT
#define MD_NV MD_GENERIC_NV
#include "conv_direct_types.h"

/* ---- dispatch --------------------------------------------------------------------- */
#if MD_MULTI_ISA
#define MD_PICK(SUF, name, isa) \
    ((isa) == MD_ISA_AVX512 ? md_##SUF##_avx512_##name \
     : (isa) == MD_ISA_AVX2 ? md_##SUF##_avx2_##name : md_##SUF##_generic_##name)
#else
#define MD_PICK(SUF, name, isa) md_##SUF##_generic_##name
#endif

/* The kernels for geometry g (built by md_conv_geometry_init for the same element type). */
static md_fwd_images_f32 md_conv_fwd_images_f32(const md_conv_geometry *g) { return MD_PICK(f32, fwd_images, g->isa); }
static md_fwd_images_f64 md_conv_fwd_images_f64(const md_conv_geometry *g) { return MD_PICK(f64, fwd_images, g->isa); }
static md_bwd_images_f32 md_conv_bwd_images_f32(const md_conv_geometry *g) { return MD_PICK(f32, bwd_images, g->isa); }
static md_bwd_images_f64 md_conv_bwd_images_f64(const md_conv_geometry *g) { return MD_PICK(f64, bwd_images, g->isa); }
