/* The optimizer update loops (optim_update_impl.h), compiled side by side for SSE2 (the
 * wheel's baseline) and AVX2+FMA and chosen at run time (cpu_isa.h; no ifunc, so musl
 * works). Entry points md_<rule>_f32 / md_<rule>_f64, all with one signature
 *     (param, grad, state1, state2, n, rule)
 * (state1/state2: the rule's per-element state arrays, NULL when it has fewer). Used by the
 * five optimizer .pyx files through _optim_common.pxi.
 *
 * Why (benchmarks/bench_optim.py --isa, optimizer.step() on the 784-256-128-10 MLP's
 * parameters, thread CPU time, two runs): AVX2 is 1.05–1.2× faster than SSE2 for plain SGD,
 * SGD with weight decay, Adam, AdamW, RMSProp, Adagrad and Rprop, 1.01–1.03× for SGD
 * momentum (memory-bound: ~50 GB/s). An AVX-512 variant measured no faster than AVX2 on any
 * row and 5–10 % slower for the rules with a division and a square root, so there is none.
 * At SSE2 width the Rprop loop is bound by instruction throughput (~45 instructions per 4
 * floats). MINIDL_OPTIM_ISA=generic|avx2 caps the choice; the tests switch it per module
 * (md_optim_set_isa).
 */
#ifndef MINIDL_OPTIM_UPDATE_H
#define MINIDL_OPTIM_UPDATE_H
#include <math.h>
#include <stddef.h>
#include "cpu_isa.h"

typedef struct {
    double learning_rate, weight_decay, momentum, epsilon;
    double rho;                                                          /* RMSProp */
    double beta1, beta2, step_size, bias_correction2_sqrt, decay_factor; /* Adam */
    double eta_minus, eta_plus, step_min, step_max;                      /* Rprop */
    int nesterov, decoupled;
} md_rule;

/* every update loop and dispatcher has this signature */
typedef void (*md_update_f32)(float *, const float *, float *, float *, ptrdiff_t, const md_rule *);
typedef void (*md_update_f64)(double *, const double *, double *, double *, ptrdiff_t, const md_rule *);

/* Each loop is its own function (not inlined into the dispatcher or the Cython wrapper), so
 * its instructions are scheduled the same wherever it is called: the Rprop loop, bound by
 * instruction throughput at SSE2 width, ran 5–9 % slower after the issue-14 redesign with
 * the same instructions in a different order (inlined into a different caller). */
#if defined(__GNUC__)
#define MD_OPT_NOINLINE __attribute__((noinline, unused))
#else
#define MD_OPT_NOINLINE
#endif
#define MD_OPT_CAT(name, dt, isa) md_##name##_##dt##_##isa
#define MD_OPT_XCAT(name, dt, isa) MD_OPT_CAT(name, dt, isa)

/* optim_update_types.h instantiates the loops for float and double with MD_OPT_ISA/ATTR */
#define MD_OPT_ISA generic
#define MD_OPT_ATTR
#include "optim_update_types.h"
#if MD_MULTI_ISA
#define MD_OPT_ISA avx2
#define MD_OPT_ATTR MD_TARGET_AVX2
#include "optim_update_types.h"
#endif

/* The variant in use in this extension module: -1 until the first call. */
static int md_optim_isa_active = -1;

MD_UNUSED static int md_optim_isa(void)
{
    if (md_optim_isa_active < 0) {
        int isa = md_isa_capped("MINIDL_OPTIM_ISA");
        md_optim_isa_active = isa > MD_ISA_AVX2 ? MD_ISA_AVX2 : isa;    /* no AVX-512 variant */
    }
    return md_optim_isa_active;
}

/* For the tests: use variant `isa` if the CPU has it; returns the variant now in use. */
MD_UNUSED static int md_optim_set_isa(int isa)
{
    if (isa >= MD_ISA_GENERIC && isa <= MD_ISA_AVX2 && isa <= md_cpu_isa())
        md_optim_isa_active = isa;
    return md_optim_isa();
}

#if MD_MULTI_ISA
#define MD_OPT_PICK(name, SUF) \
    (md_optim_isa() == MD_ISA_AVX2 ? md_##name##_##SUF##_avx2 : md_##name##_##SUF##_generic)
#else
#define MD_OPT_PICK(name, SUF) md_##name##_##SUF##_generic
#endif
/* md_<rule>_f32 / md_<rule>_f64: run the variant in use */
#define MD_OPT_DISPATCH(name, SUF, T)                                                      \
    MD_UNUSED static void md_##name##_##SUF(T *param, const T *grad, T *state1, T *state2, \
                                            ptrdiff_t n, const md_rule *rule)              \
    {                                                                                      \
        MD_OPT_PICK(name, SUF)(param, grad, state1, state2, n, rule);                      \
    }
#define MD_OPT_DISPATCH_BOTH(name) MD_OPT_DISPATCH(name, f32, float) MD_OPT_DISPATCH(name, f64, double)
MD_OPT_DISPATCH_BOTH(sgd)
MD_OPT_DISPATCH_BOTH(sgd_momentum)
MD_OPT_DISPATCH_BOTH(adam)
MD_OPT_DISPATCH_BOTH(rmsprop)
MD_OPT_DISPATCH_BOTH(adagrad)
MD_OPT_DISPATCH_BOTH(rprop)

#endif /* MINIDL_OPTIM_UPDATE_H */
