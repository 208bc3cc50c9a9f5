/* Stride-1 direct convolution for minidl/_kernels/conv.pyx (see conv_direct_impl.h for the
 * algorithm). The wheel is built for the baseline instruction set, so the inner kernels are
 * compiled three times on x86-64 GCC/Clang (AVX-512, AVX2+FMA, SSE2) and chosen once at run
 * time from what the CPU supports (native/cpu_isa.h); other compilers and architectures get
 * the portable build.
 * The environment variable MINIDL_CONV_ISA=avx512|avx2|generic caps the choice (for tests
 * and benchmarks). The variant is fixed in the geometry when it is built, so a geometry and
 * the kernels that use it always agree on tile sizes (which the scratch sizes depend on).
 * Nothing here touches Python objects: conv.pyx validates, allocates and calls these on
 * groups of images, without the GIL.
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
    md_idx Hp, Wp;       /* padded input */
    md_idx G;            /* images per call, laid out one after another in each channel */
    md_idx plane, cstride; /* Hp·Wp; channel stride of the padded scratch, G·plane */
    md_idx tile;         /* output positions per forward tile */
    md_idx Ppad;         /* positions on the padded-width grid of G images, rounded up */
    md_idx OB, Opad;     /* output channels per weight-gradient tile, O rounded up to it */
    md_idx FOB, Fpad;    /* the same for the forward: OB, or 1 for layers with few outputs */
    md_idx VL;           /* elements per vector (partial sums per weight-gradient entry) */
    md_idx K, Kpad;      /* taps C·kh·kw, rounded up to MD_KB */
    md_idx xp_len;       /* elements of the padded-input scratch, incl. the tail reads */
} md_conv_geometry;

#define MD_KB 3     /* taps per weight-gradient tile (one row of a 3-wide kernel) */
#define MD_LINE 64  /* bytes per cache line: scratch buffers start on one (see conv.pyx) */

static int md_conv_isa_active = -1;   /* the variant in use (MD_ISA_*, <= md_cpu_isa()) */

static int md_conv_isa(void)
{
    if (md_conv_isa_active < 0)
        md_conv_isa_active = md_isa_capped("MINIDL_CONV_ISA");
    return md_conv_isa_active;
}

/* Use `isa` if the CPU supports it (returns the one in use). */
static int md_conv_set_isa(int isa)
{
    md_conv_isa();
    if (isa >= 0 && isa <= md_cpu_isa())
        md_conv_isa_active = isa;
    return md_conv_isa_active;
}

/* Each variant's parameters (used both to instantiate it below and by md_conv_tiles, so the
 * geometry's sizes always match the kernels): vector bytes (0 = scalar), output channels per
 * register tile, vectors of output positions per forward tile. */
#define MD_AVX512_VBYTES 64
#define MD_AVX512_OB 8
#define MD_AVX2_VBYTES 32
#define MD_AVX2_OB 4
#if defined(__GNUC__) && !defined(MD_PORTABLE_C)
#define MD_GENERIC_VBYTES 16
#define MD_GENERIC_NV 3
#else
#define MD_GENERIC_VBYTES 0
#define MD_GENERIC_NV 4
#endif
#define MD_GENERIC_OB 4
#define MD_SIMD_NV 3

static void md_conv_tiles(int isa, size_t elsize, md_idx *ob, md_idx *vl, md_idx *tile)
{
    md_idx vbytes = MD_GENERIC_VBYTES, nv = MD_GENERIC_NV;
    *ob = MD_GENERIC_OB;
#if MD_MULTI_ISA
    if (isa == MD_ISA_AVX512) { vbytes = MD_AVX512_VBYTES; nv = MD_SIMD_NV; *ob = MD_AVX512_OB; }
    if (isa == MD_ISA_AVX2) { vbytes = MD_AVX2_VBYTES; nv = MD_SIMD_NV; *ob = MD_AVX2_OB; }
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
    g->Hp = H + 2 * ph; g->Wp = W + 2 * pw;
    g->Ho = g->Hp - kh + 1; g->Wo = g->Wp - kw + 1;
    g->plane = g->Hp * g->Wp;
    g->cstride = G * g->plane;
    g->isa = isa;
    md_conv_tiles(g->isa, elsize, &g->OB, &g->VL, &g->tile);
    g->Ppad = md_round_up((G - 1) * g->plane + g->Ho * g->Wp, g->tile);
    g->Opad = md_round_up(O, g->OB);
    /* Output channels <= a quarter of a tile (the dx pass of a grey first layer, C = 1; also
       C = 2 with AVX-512's 8-filter tiles) would waste 3/4 or more of its FMAs on zero
       filters: one channel at a time instead. */
    g->FOB = 4 * O <= g->OB ? 1 : g->OB;
    g->Fpad = md_round_up(O, g->FOB);
    g->K = C * kh * kw;
    g->Kpad = md_round_up(g->K, MD_KB);
    /* The farthest read is offs[K-1] + Ppad - 1, offs[K-1] = (C-1)·cstride + (kh-1)·Wp + kw-1. */
    md_idx reach = (C - 1) * g->cstride + (kh - 1) * g->Wp + (kw - 1) + g->Ppad;
    g->xp_len = md_round_up(reach > C * g->cstride ? reach : C * g->cstride, MD_LINE / (md_idx)elsize);
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
#define MD_NV MD_SIMD_NV
#define MD_PIN(v) __asm__("" : "+v"(v))
#include "conv_direct_types.h"

#define MD_ISA avx2
#define MD_ATTR MD_TARGET_AVX2
#define MD_VBYTES MD_AVX2_VBYTES
#define MD_OB MD_AVX2_OB
#define MD_NV MD_SIMD_NV
#define MD_PIN(v) __asm__("" : "+x"(v))
#include "conv_direct_types.h"
#endif

/* Portable build: 16-byte vectors with GCC/Clang vector extensions, plain scalars otherwise. */
#define MD_ISA generic
#define MD_ATTR
#define MD_VBYTES MD_GENERIC_VBYTES
#define MD_OB MD_GENERIC_OB
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
static const char *md_conv_isa_name(void) { return md_isa_names[md_conv_isa()]; }
