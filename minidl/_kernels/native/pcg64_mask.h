/* Dropout masks drawn straight from NumPy's PCG64 state, four LCG lanes at a time
 * (used by dropout.pyx; the why and the figures are there).
 *
 * NumPy draws a float32 uniform as (next_uint32 >> 8) * 2^-24, so `u < keep_prob` is the
 * integer test (next_uint32 >> 8) < threshold. pcg64_next32 hands out the low half of a 64-bit
 * PCG64 output first and buffers the high half (has_uint32 / uinteger). md_pcg64_mask
 * reproduces that stream exactly, bit for bit and state for state, without calling through
 * the bitgen_t function pointer: the LCG s <- M*s + c is run as four independent lanes
 * s <- M^4*s + c4 (the same sequence, four steps apart), which removes the serial 128-bit
 * multiply chain. Large masks are drawn in parallel blocks, each from its own copy of the state
 * jumped ahead to the block's start (md_pcg64_local_at, md_pcg64_skip): the same stream.
 *
 * The layout below is NumPy's *private* pcg64_state (numpy/random/src/pcg64/pcg64.h,
 * unchanged since NumPy 1.17): { pcg128_t *pcg_state; int has_uint32; uint32_t uinteger; }
 * with pcg128_t = { state, inc } as two unsigned 128-bit integers. dropout.pyx runs a
 * self-test at import and falls back to the generic path if it fails;
 * tests/kernels/test_dropout_kernels.py::test_pcg64_state_layout fails loudly instead, so a
 * NumPy that changes the layout is noticed rather than silently slower.
 *
 * Needs a compiler with unsigned __int128 (GCC, Clang); elsewhere MD_HAVE_INT128 is 0 and
 * md_pcg64_mask is never called.
 */
#ifndef MINIDL_PCG64_MASK_H
#define MINIDL_PCG64_MASK_H

#include <stddef.h>
#include <stdint.h>

#if defined(__SIZEOF_INT128__)
#define MD_HAVE_INT128 1
typedef struct { __uint128_t state; __uint128_t inc; } md_pcg128_t;
typedef struct { md_pcg128_t *pcg_state; int has_uint32; uint32_t uinteger; } md_pcg64_state_t;
#define MD_PCG_MULT ((((__uint128_t)2549297995355413924ULL) << 64) + 4865540595714422341ULL)

/* PCG64 XSL-RR output function (numpy's pcg_output_xsl_rr_128_64). */
static inline uint64_t md_pcg_output(__uint128_t s) {
    uint64_t v = ((uint64_t)(s >> 64)) ^ (uint64_t)s;
    unsigned int rot = (unsigned int)(s >> 122);
    return (v >> rot) | (v << ((-rot) & 63));
}

/* One 64-bit draw = two 32-bit draws, low half first (numpy's pcg64_next32). */
static inline void md_emit_pair(unsigned char *m, uint64_t r, uint32_t thr) {
    m[0] = (((uint32_t)r) >> 8) < thr;
    m[1] = (((uint32_t)(r >> 32)) >> 8) < thr;
}

/* mask[i] = (next_uint32 >> 8) < thr for i < n, consuming the PCG64 stream exactly as
   n calls of numpy's pcg64_next32 would (including its one-value buffer). */
static void md_pcg64_mask(void *st, unsigned char *mask, ptrdiff_t n, uint32_t thr) {
    md_pcg64_state_t *s = (md_pcg64_state_t *)st;
    const __uint128_t mult = MD_PCG_MULT;
    __uint128_t state, inc, a2, c2, a4, c4, l0, l1, l2, l3;
    ptrdiff_t i = 0, pairs, p = 0;
    uint64_t r = 0;
    if (n <= 0) return;
    if (s->has_uint32) {
        mask[0] = (s->uinteger >> 8) < thr;
        s->has_uint32 = 0;
        i = 1;
    }
    state = s->pcg_state->state;
    inc = s->pcg_state->inc;
    pairs = (n - i) / 2;
    if (pairs >= 8) {
        a2 = mult * mult;  c2 = mult * inc + inc;     /* two steps:  s -> a2 s + c2 */
        a4 = a2 * a2;      c4 = a2 * c2 + c2;         /* four steps: s -> a4 s + c4 */
        l0 = mult * state + inc;
        l1 = mult * l0 + inc;
        l2 = mult * l1 + inc;
        l3 = mult * l2 + inc;
        for (; p + 4 <= pairs; p += 4) {
            unsigned char *m = mask + i + 2 * p;
            md_emit_pair(m, md_pcg_output(l0), thr);
            md_emit_pair(m + 2, md_pcg_output(l1), thr);
            md_emit_pair(m + 4, md_pcg_output(l2), thr);
            md_emit_pair(m + 6, md_pcg_output(l3), thr);
            state = l3;
            l0 = a4 * l0 + c4;
            l1 = a4 * l1 + c4;
            l2 = a4 * l2 + c4;
            l3 = a4 * l3 + c4;
        }
        r = md_pcg_output(state);
    }
    for (; p < pairs; p++) {
        state = mult * state + inc;
        r = md_pcg_output(state);
        md_emit_pair(mask + i + 2 * p, r, thr);
    }
    if ((n - i) & 1) {
        state = mult * state + inc;
        r = md_pcg_output(state);
        mask[n - 1] = (((uint32_t)r) >> 8) < thr;
        s->has_uint32 = 1;
        s->uinteger = (uint32_t)(r >> 32);
    } else if (pairs > 0) {
        s->uinteger = (uint32_t)(r >> 32);   /* numpy leaves the last high half here */
    }
    s->pcg_state->state = state;
}

/* The LCG state `delta` steps after `state` (PCG's jump-ahead: O(log delta) multiplies). */
static __uint128_t md_pcg_advance(__uint128_t state, __uint128_t delta, __uint128_t inc) {
    __uint128_t acc_mult = 1, acc_plus = 0, cur_mult = MD_PCG_MULT, cur_plus = inc;
    while (delta > 0) {
        if (delta & 1) {
            acc_mult *= cur_mult;
            acc_plus = acc_plus * cur_mult + cur_plus;
        }
        cur_plus = (cur_mult + 1) * cur_plus;
        cur_mult *= cur_mult;
        delta >>= 1;
    }
    return acc_mult * state + acc_plus;
}

/* For drawing one stream in parallel blocks (st has no buffered value, has_uint32 = 0):
   md_pcg64_local_at makes `local` a copy of st whose stream starts `pairs` 64-bit outputs
   later and returns it as a state for md_pcg64_mask (st is left alone); md_pcg64_skip then
   puts st where m calls of pcg64_next32 would have left it. */
typedef struct { md_pcg128_t pcg; md_pcg64_state_t st; } md_pcg64_local;

static void *md_pcg64_local_at(md_pcg64_local *local, const void *st, ptrdiff_t pairs) {
    const md_pcg64_state_t *s = (const md_pcg64_state_t *)st;
    local->pcg.inc = s->pcg_state->inc;
    local->pcg.state = md_pcg_advance(s->pcg_state->state, (__uint128_t)pairs, s->pcg_state->inc);
    local->st.pcg_state = &local->pcg;
    local->st.has_uint32 = 0;
    local->st.uinteger = 0;
    return &local->st;
}

static int md_pcg64_buffered(const void *st) { return ((const md_pcg64_state_t *)st)->has_uint32; }

static void md_pcg64_skip(void *st, ptrdiff_t m) {
    md_pcg64_state_t *s = (md_pcg64_state_t *)st;
    if (m <= 0) return;
    s->pcg_state->state = md_pcg_advance(s->pcg_state->state, (__uint128_t)((m + 1) / 2), s->pcg_state->inc);
    s->uinteger = (uint32_t)(md_pcg_output(s->pcg_state->state) >> 32);  /* buffered, or left, as numpy does */
    s->has_uint32 = (int)(m & 1);
}

/* The state as this header reads it: for the layout test (words: state hi, lo, inc hi, lo). */
static void md_pcg64_read(void *st, uint64_t words[4], int *has_uint32, uint32_t *uinteger) {
    md_pcg64_state_t *s = (md_pcg64_state_t *)st;
    words[0] = (uint64_t)(s->pcg_state->state >> 64);
    words[1] = (uint64_t)s->pcg_state->state;
    words[2] = (uint64_t)(s->pcg_state->inc >> 64);
    words[3] = (uint64_t)s->pcg_state->inc;
    *has_uint32 = s->has_uint32;
    *uinteger = s->uinteger;
}
#else
#define MD_HAVE_INT128 0
static void md_pcg64_mask(void *st, unsigned char *mask, ptrdiff_t n, uint32_t thr) {
    (void)st; (void)mask; (void)n; (void)thr;
}
static void md_pcg64_read(void *st, uint64_t words[4], int *has_uint32, uint32_t *uinteger) {
    (void)st; words[0] = words[1] = words[2] = words[3] = 0; *has_uint32 = 0; *uinteger = 0;
}
typedef struct { int unused; } md_pcg64_local;
static void *md_pcg64_local_at(md_pcg64_local *local, const void *st, ptrdiff_t pairs) {
    (void)local; (void)st; (void)pairs; return NULL;
}
static int md_pcg64_buffered(const void *st) { (void)st; return 0; }
static void md_pcg64_skip(void *st, ptrdiff_t m) { (void)st; (void)m; }
#endif

#endif /* MINIDL_PCG64_MASK_H */
