/* One instantiation of the loops of elementwise.h (see there), included once per instruction
 * set and type with:
 *   MD_EW_T     the element type (float or double)
 *   MD_EW_ATTR  the target attribute (cpu_isa.h; empty for the portable variant)
 *   MD_EW(name) the mangled name md_ew_<type>_<isa>_<name>
 * Plain loops, written so that every variant vectorizes them and sums in the same order.
 */
#define T MD_EW_T

/* One run's sums: LANES independent partial sums (the vectorizer keeps them in registers),
 * LANE_BLOCK elements at a time in T, each block's lanes then added pairwise in double (a
 * serial chain of 32 additions per block cost more than the vector loop on 512-value rows). */
#define MD_EW_LANE_LOOP(U_EXPR, V_EXPR)                                                            \
    md_ew_idx k = 0;                                                                               \
    while (k < n) {                                                                                \
        md_ew_idx end = k + MD_EW_LANE_BLOCK < n ? k + MD_EW_LANE_BLOCK : n;                       \
        T s1[MD_EW_LANES], s2[MD_EW_LANES];                                                        \
        for (int l = 0; l < MD_EW_LANES; l++)                                                      \
            s1[l] = s2[l] = 0;                                                                     \
        for (; k + MD_EW_LANES <= end; k += MD_EW_LANES)                                           \
            for (int l = 0; l < MD_EW_LANES; l++) {                                                \
                md_ew_idx i = k + l;                                                               \
                T u = (U_EXPR);                                                                    \
                s1[l] += u;                                                                        \
                s2[l] += u * (V_EXPR);                                                             \
            }                                                                                      \
        for (; k < end; k++) {                                                                     \
            md_ew_idx i = k;                                                                       \
            T u = (U_EXPR);                                                                        \
            s1[0] += u;                                                                            \
            s2[0] += u * (V_EXPR);                                                                 \
        }                                                                                          \
        double d1[MD_EW_LANES], d2[MD_EW_LANES];                                                   \
        for (int l = 0; l < MD_EW_LANES; l++) {                                                    \
            d1[l] = s1[l];                                                                         \
            d2[l] = s2[l];                                                                         \
        }                                                                                          \
        for (int w = MD_EW_LANES / 2; w > 0; w /= 2)     /* pairwise: no serial chain of adds */  \
            for (int l = 0; l < w; l++) {                                                          \
                d1[l] += d1[l + w];                                                                \
                d2[l] += d2[l + w];                                                                \
            }                                                                                      \
        *total += d1[0];                                                                           \
        *total_2 += d2[0];                                                                         \
    }

static MD_EW_ATTR void MD_EW(sums)(const T *a, T a_shift, const T *w, const T *b, T b_shift, T b_scale,
                                   md_ew_idx n, double *total, double *total_2)
{
    if (w == NULL) {
        MD_EW_LANE_LOOP(a[i] - a_shift, (b[i] - b_shift) * b_scale)
    } else {
        MD_EW_LANE_LOOP((a[i] - a_shift) * w[i], (b[i] - b_shift) * b_scale)
    }
}

static MD_EW_ATTR void MD_EW(moments)(const T *x, T shift, md_ew_idx n, double *total, double *total_2)
{
    MD_EW_LANE_LOOP(x[i] - shift, u)
}

/* Four rows per sweep: one load and store of part[j] per four values. part and part_2 are
 * scratch that no input overlaps (restrict: without it GCC does not vectorize the sweeps). */
static MD_EW_ATTR void MD_EW(col_sums)(const T *a, const T *a_shift, const T *b, const T *b_shift, int squares,
                                       md_ew_idx rows, md_ew_idx c, T *MD_EW_RESTRICT part,
                                       T *MD_EW_RESTRICT part_2)
{
    md_ew_idx i = 0;
    for (md_ew_idx j = 0; j < c; j++)
        part[j] = part_2[j] = 0;
    if (squares) {
        for (; i + 4 <= rows; i += 4) {
            const T *p = a + i * c;
            for (md_ew_idx j = 0; j < c; j++) {
                T u0 = p[j] - a_shift[j], u1 = p[c + j] - a_shift[j];
                T u2 = p[2 * c + j] - a_shift[j], u3 = p[3 * c + j] - a_shift[j];
                part[j] += (u0 + u1) + (u2 + u3);
                part_2[j] += (u0 * u0 + u1 * u1) + (u2 * u2 + u3 * u3);
            }
        }
        for (; i < rows; i++) {
            const T *p = a + i * c;
            for (md_ew_idx j = 0; j < c; j++) {
                T u0 = p[j] - a_shift[j];
                part[j] += u0;
                part_2[j] += u0 * u0;
            }
        }
    } else {
        for (; i + 4 <= rows; i += 4) {
            const T *p = a + i * c, *q = b + i * c;
            for (md_ew_idx j = 0; j < c; j++) {
                T u0 = p[j] - a_shift[j], u1 = p[c + j] - a_shift[j];
                T u2 = p[2 * c + j] - a_shift[j], u3 = p[3 * c + j] - a_shift[j];
                part[j] += (u0 + u1) + (u2 + u3);
                part_2[j] += (u0 * (q[j] - b_shift[j]) + u1 * (q[c + j] - b_shift[j]))
                             + (u2 * (q[2 * c + j] - b_shift[j]) + u3 * (q[3 * c + j] - b_shift[j]));
            }
        }
        for (; i < rows; i++) {
            const T *p = a + i * c, *q = b + i * c;
            for (md_ew_idx j = 0; j < c; j++) {
                T u0 = p[j] - a_shift[j];
                part[j] += u0;
                part_2[j] += u0 * (q[j] - b_shift[j]);
            }
        }
    }
}

static MD_EW_ATTR void MD_EW(affine_rows)(const T *x, T *out, md_ew_idx rows, md_ew_idx c,
                                          const T *center, const T *scale, const T *shift)
{
    for (md_ew_idx i = 0; i < rows; i++) {
        const T *p = x + i * c;
        T *q = out + i * c;
        for (md_ew_idx j = 0; j < c; j++)
            q[j] = (p[j] - center[j]) * scale[j] + shift[j];
    }
}

static MD_EW_ATTR void MD_EW(affine_run)(const T *x, T *out, md_ew_idx n, T center, T scale, T shift)
{
    for (md_ew_idx k = 0; k < n; k++)
        out[k] = (x[k] - center) * scale + shift;
}

static MD_EW_ATTR void MD_EW(grad_rows)(const T *dy, const T *x, T *dx, md_ew_idx rows, md_ew_idx c,
                                        const T *center, const T *k_dy, const T *k_xc, const T *k_0)
{
    for (md_ew_idx i = 0; i < rows; i++) {
        const T *p = x + i * c, *g = dy + i * c;
        T *q = dx + i * c;
        for (md_ew_idx j = 0; j < c; j++)
            q[j] = k_dy[j] * g[j] + k_xc[j] * (p[j] - center[j]) + k_0[j];
    }
}

static MD_EW_ATTR void MD_EW(grad_run)(const T *dy, const T *x, T *dx, md_ew_idx n, T center, T k_dy, T k_xc,
                                       T k_0)
{
    for (md_ew_idx k = 0; k < n; k++)
        dx[k] = k_dy * dy[k] + k_xc * (x[k] - center) + k_0;
}

static MD_EW_ATTR void MD_EW(scale_run)(const T *x, T *out, md_ew_idx n, T mu, T inv_std, const T *w,
                                        const T *b)
{
    md_ew_idx k;
    if (w != NULL && b != NULL)
        for (k = 0; k < n; k++)
            out[k] = (x[k] - mu) * inv_std * w[k] + b[k];
    else if (w != NULL)
        for (k = 0; k < n; k++)
            out[k] = (x[k] - mu) * inv_std * w[k];
    else if (b != NULL)
        for (k = 0; k < n; k++)
            out[k] = (x[k] - mu) * inv_std + b[k];
    else
        for (k = 0; k < n; k++)
            out[k] = (x[k] - mu) * inv_std;
}

static MD_EW_ATTR void MD_EW(layer_grad_run)(const T *dy, const T *x, T *dx, md_ew_idx n, T mu, T inv_std,
                                             const T *gamma, T c_g, T c_gx, T *part)
{
    md_ew_idx k;
    for (k = 0; k < n; k++) {
        part[k] += dy[k] * ((x[k] - mu) * inv_std);
        part[n + k] += dy[k];
    }
    if (dx != NULL)
        for (k = 0; k < n; k++)
            dx[k] = inv_std * (dy[k] * gamma[k] - c_g - (x[k] - mu) * inv_std * c_gx);
}

#undef T
#undef MD_EW_T
#undef MD_EW_SUF
