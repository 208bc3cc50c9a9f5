/* The optimizer update loops, written once. optim_update_types.h includes this file once
 * per (instruction set, dtype) with
 *     MD_OPT_T     float or double           MD_OPT_SQRT, MD_OPT_COPYSIGN  its libm functions
 *     MD_OPT_DT    f32 or f64                MD_OPT_ISA   generic or avx2
 *     MD_OPT_ATTR  the target attribute (or nothing)
 * (functions md_<rule>_<DT>_<ISA>), and the compiler vectorises each loop for that
 * instruction set. The rules (the formulas) are in the optimizers' class docstrings
 * (minidl/optim/<name>.py); each loop below is that rule for one element.
 */
#define MD_OPT_FN(name) MD_OPT_XCAT(name, MD_OPT_DT, MD_OPT_ISA)
#define T MD_OPT_T

/* Loop-invariant tests (weight_decay != 0, nesterov) are written inside the loops, where
 * they read as the formula; the compiler moves them out (loop unswitching, -O3), so every
 * variant is its own branch-free vector loop. */

/* θ ← θ − η·(∇ + λ·θ) */
MD_OPT_ATTR MD_OPT_NOINLINE static void
MD_OPT_FN(sgd)(T *param, const T *grad, T *unused1, T *unused2, ptrdiff_t n, const md_rule *rule)
{
    const T lr = (T)rule->learning_rate, weight_decay = (T)rule->weight_decay;
    (void)unused1; (void)unused2;
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = weight_decay != 0 ? grad[i] + weight_decay * param[i] : grad[i];
        param[i] = param[i] - lr * g;
    }
}

/* g = ∇ + λ·θ;  b ← μ·b + g;  θ ← θ − η·b  (nesterov: θ ← θ − η·(g + μ·b)) */
MD_OPT_ATTR MD_OPT_NOINLINE static void
MD_OPT_FN(sgd_momentum)(T *param, const T *grad, T *buf, T *unused, ptrdiff_t n, const md_rule *rule)
{
    const T lr = (T)rule->learning_rate, weight_decay = (T)rule->weight_decay;
    const T momentum = (T)rule->momentum;
    const int nesterov = rule->nesterov;
    (void)unused;
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = weight_decay != 0 ? grad[i] + weight_decay * param[i] : grad[i];
        T b = momentum * buf[i] + g;
        buf[i] = b;
        param[i] = param[i] - lr * (nesterov ? g + momentum * b : b);
    }
}

/* Adam: g = ∇ + λ·θ (Adam's L2 term; 0 for AdamW);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
 * θ ← θ·decay − step_size·m / (√v / √(1−β₂ᵗ) + ε)
 * (step_size = η/(1−β₁ᵗ); decay = 1 − ηλ for AdamW, exactly 1 for Adam) */
MD_OPT_ATTR MD_OPT_NOINLINE static void
MD_OPT_FN(adam)(T *param, const T *grad, T *exp_avg, T *exp_avg_sq, ptrdiff_t n, const md_rule *rule)
{
    const T beta1 = (T)rule->beta1, beta2 = (T)rule->beta2;
    const T one_minus_beta1 = (T)(1 - rule->beta1), one_minus_beta2 = (T)(1 - rule->beta2);
    const T epsilon = (T)rule->epsilon, step_size = (T)rule->step_size;
    const T correction2 = (T)rule->bias_correction2_sqrt, decay = (T)rule->decay_factor;
    const T l2 = rule->decoupled ? (T)0 : (T)rule->weight_decay;
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = l2 != 0 ? grad[i] + l2 * param[i] : grad[i];
        T theta = param[i] * decay;
        T m = beta1 * exp_avg[i] + one_minus_beta1 * g;
        T v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        param[i] = theta - step_size * (m / (MD_OPT_SQRT(v) / correction2 + epsilon));
    }
}

/* RMSProp: g = ∇ + λ·θ;  s ← ρs + (1−ρ)g²;  θ ← θ − η·g/(√s + ε);
 * with momentum (buf not NULL): b ← μb + g/(√s + ε);  θ ← θ − η·b */
MD_OPT_ATTR MD_OPT_NOINLINE static void
MD_OPT_FN(rmsprop)(T *param, const T *grad, T *square_avg, T *buf, ptrdiff_t n, const md_rule *rule)
{
    const T lr = (T)rule->learning_rate, weight_decay = (T)rule->weight_decay;
    const T momentum = (T)rule->momentum, epsilon = (T)rule->epsilon, rho = (T)rule->rho;
    const T one_minus_rho = (T)(1 - (double)rho);
    if (buf != NULL) {
        for (ptrdiff_t i = 0; i < n; i++) {
            T g = weight_decay != 0 ? grad[i] + weight_decay * param[i] : grad[i];
            T s = rho * square_avg[i] + one_minus_rho * g * g;
            square_avg[i] = s;
            T b = momentum * buf[i] + g / (MD_OPT_SQRT(s) + epsilon);
            buf[i] = b;
            param[i] = param[i] - lr * b;
        }
    } else {
        for (ptrdiff_t i = 0; i < n; i++) {
            T g = weight_decay != 0 ? grad[i] + weight_decay * param[i] : grad[i];
            T s = rho * square_avg[i] + one_minus_rho * g * g;
            square_avg[i] = s;
            param[i] = param[i] - lr * (g / (MD_OPT_SQRT(s) + epsilon));
        }
    }
}

/* Adagrad: g = ∇ + λ·θ;  G ← G + g²;  θ ← θ − η·g/(√G + ε) */
MD_OPT_ATTR MD_OPT_NOINLINE static void
MD_OPT_FN(adagrad)(T *param, const T *grad, T *state_sum, T *unused, ptrdiff_t n, const md_rule *rule)
{
    const T lr = (T)rule->learning_rate, weight_decay = (T)rule->weight_decay;
    const T epsilon = (T)rule->epsilon;
    (void)unused;
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = weight_decay != 0 ? grad[i] + weight_decay * param[i] : grad[i];
        T s = state_sum[i] + g * g;
        state_sum[i] = s;
        param[i] = param[i] - lr * (g / (MD_OPT_SQRT(s) + epsilon));
    }
}

/* Rprop: p = ∇·∇_prev;  p > 0: Δ ← min(Δη₊, Δ_max);  p < 0: Δ ← max(Δη₋, Δ_min), ∇ ← 0;
 * θ ← θ − sign(∇)·Δ;  ∇_prev ← ∇.
 * Only selects, no branches: real gradients' signs are random, and a mispredicted branch per
 * element costs more than the whole update. The loop is bound by instruction throughput
 * (not memory) at SSE2 width, so it is written with few operations: sign(g)·Δ is Δ with g's
 * sign bit, or 0 (a NaN gradient moves nothing), ~5 % faster there than (g > 0) − (g < 0)
 * times Δ. Selects are flat (a ? b : c), never nested: nested ones are not vectorised. */
MD_OPT_ATTR MD_OPT_NOINLINE static void
MD_OPT_FN(rprop)(T *param, const T *grad, T *prev, T *step_size, ptrdiff_t n, const md_rule *rule)
{
    const T eta_minus = (T)rule->eta_minus, eta_plus = (T)rule->eta_plus;
    const T step_min = (T)rule->step_min, step_max = (T)rule->step_max;
    for (ptrdiff_t i = 0; i < n; i++) {
        T g = grad[i];
        T product = g * prev[i];
        T factor = product > 0 ? eta_plus : (T)1;
        factor = product < 0 ? eta_minus : factor;
        T step = step_size[i] * factor;
        step = step < step_min ? step_min : step;        /* torch.clamp(step, min, max) */
        step = step > step_max ? step_max : step;
        step_size[i] = step;
        g = product < 0 ? (T)0 : g;
        T move = ((g > 0) | (g < 0)) ? MD_OPT_COPYSIGN(step, g) : (T)0;   /* sign(g)·Δ */
        param[i] = param[i] - move;
        prev[i] = g;
    }
}

#undef T
#undef MD_OPT_FN
