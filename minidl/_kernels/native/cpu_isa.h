/* Which vector instruction set this CPU has: the one detection every multi-ISA kernel uses
 * (gemm.h, conv_direct.h).
 *
 * The wheel is built for baseline x86-64 (SSE2), so faster variants are compiled side by
 * side with a target attribute (MD_TARGET_AVX2 / MD_TARGET_AVX512 on a function) and chosen
 * at run time from md_cpu_isa(). No ifunc or target_clones: musl has no ifunc. MD_MULTI_ISA
 * is 1 only for GCC/Clang on x86-64; every other compiler or architecture (MSVC, aarch64)
 * builds only the portable-C variant, and so does -DMD_PORTABLE_C (or gemm.h's older
 * -DMG_PORTABLE_C), to test that path on this machine.
 *
 * Each consumer keeps its own "variant in use" (capped by its own environment variable, e.g.
 * md_isa_capped("MINIDL_GEMM_ISA"), and settable by its tests), so capping one kernel family
 * does not change another.
 */
#ifndef MINIDL_CPU_ISA_H
#define MINIDL_CPU_ISA_H
#include <stdlib.h>
#include <string.h>

enum { MD_ISA_GENERIC = 0, MD_ISA_AVX2 = 1, MD_ISA_AVX512 = 2 };

#if defined(__GNUC__)
#define MD_UNUSED __attribute__((unused))   /* each extension uses some of these */
#else
#define MD_UNUSED
#endif

MD_UNUSED static const char *const md_isa_names[] = {"generic", "avx2", "avx512"};

#if defined(__GNUC__) && defined(__x86_64__) && !defined(MD_PORTABLE_C) && !defined(MG_PORTABLE_C)
#define MD_MULTI_ISA 1
#define MD_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define MD_TARGET_AVX512 __attribute__((target("avx512f,fma")))
#else
#define MD_MULTI_ISA 0
#define MD_TARGET_AVX2
#define MD_TARGET_AVX512
#endif

/* What the CPU supports: AVX512 if it has avx512f, AVX2 if avx2 and fma, else GENERIC.
 * Cached after the first call (a racing second thread computes the same value). */
MD_UNUSED static int md_cpu_isa(void)
{
    static int detected = -1;
    if (detected >= 0)
        return detected;
    int isa = MD_ISA_GENERIC;
#if MD_MULTI_ISA
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        isa = MD_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        isa = MD_ISA_AVX2;
#endif
    detected = isa;
    return isa;
}

/* md_cpu_isa(), lowered to the variant named by the environment variable env_var
 * ("generic", "avx2" or "avx512") if that is lower; any other value is ignored. Not cached:
 * the caller keeps the result. */
MD_UNUSED static int md_isa_capped(const char *env_var)
{
    int isa = md_cpu_isa();
    const char *cap = env_var ? getenv(env_var) : NULL;
    if (cap) {
        for (int i = 0; i < 3; i++)
            if (strcmp(cap, md_isa_names[i]) == 0 && i < isa)
                isa = i;
    }
    return isa;
}

/* A kernel family's variant in use, with its own cap and test hook:
 *   MD_ISA_CHOICE(get, set, name, "MINIDL_X_ISA") defines
 *   int get(void)           the variant in use: md_isa_capped("MINIDL_X_ISA") at the first call
 *   int set(int isa)        use isa if the CPU supports it; returns the variant in use
 *   const char *name(void)  the variant in use as "generic", "avx2" or "avx512" */
#define MD_ISA_CHOICE(get, set, name, env_var)                                                   \
    static int get##_active = -1;                                                                \
    MD_UNUSED static int get(void)                                                               \
    {                                                                                            \
        if (get##_active < 0)                                                                    \
            get##_active = md_isa_capped(env_var);                                               \
        return get##_active;                                                                     \
    }                                                                                            \
    MD_UNUSED static int set(int isa)                                                            \
    {                                                                                            \
        get();                                                                                   \
        if (isa >= 0 && isa <= md_cpu_isa())                                                     \
            get##_active = isa;                                                                  \
        return get##_active;                                                                     \
    }                                                                                            \
    MD_UNUSED static const char *name(void) { return md_isa_names[get()]; }

#endif /* MINIDL_CPU_ISA_H */
