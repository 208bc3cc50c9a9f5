/* One instantiation of the packed GEMM (see gemm.h), included through gemm_types.h once per
 * (element type, instruction set). Parameters: MG_T element type, MG_VBYTES vector bytes (0 =
 * scalar), MG_MR rows per register tile, MG_NV vectors per tile row (NR = MG_NV · lanes),
 * MG_ATTR the target attribute, MG(name) the name mangling. */

#if MG_VBYTES > 0
typedef MG_T MG(vec) __attribute__((vector_size(MG_VBYTES), aligned(sizeof(MG_T)), __may_alias__));
#define MG_VL ((mg_idx)(MG_VBYTES / sizeof(MG_T)))
#define MG_SPLAT(s) ((s) - (MG(vec)){0})   /* broadcast (x − 0 is exact, so it folds) */
#else
typedef MG_T MG(vec);
#define MG_VL ((mg_idx)1)
#define MG_SPLAT(s) (s)
#endif
#define MG_NR (MG_NV * MG_VL)
#define MG_LOAD(ptr) (*(const MG(vec) *)(ptr))
#define MG_STORE(ptr, v) (*(MG(vec) *)(ptr) = (v))

/* ap (kc × MG_MR, k-major), bp (kc × MG_NR, k-major) → the MG_MR × MG_NR tile
 * ct[i·MG_NR + j] = Σ_p ap[p·MR + i]·bp[p·NR + j]. */
static MG_ATTR void MG(micro)(mg_idx kc, const MG_T *ap, const MG_T *bp, MG_T *c, mg_idx ldc, int add)
{
    MG(vec) acc[MG_MR][MG_NV];
    for (int i = 0; i < MG_MR; i++)
        for (int v = 0; v < MG_NV; v++)
            acc[i][v] = MG_SPLAT((MG_T)0);
    for (mg_idx p = 0; p < kc; p++) {
        MG(vec) bv[MG_NV];
        for (int v = 0; v < MG_NV; v++)
            bv[v] = MG_LOAD(bp + v * MG_VL);
        for (int i = 0; i < MG_MR; i++) {
            MG(vec) av = MG_SPLAT(ap[i]);
            for (int v = 0; v < MG_NV; v++)
                acc[i][v] += av * bv[v];
        }
        ap += MG_MR;
        bp += MG_NR;
    }
    if (add) {
        for (int i = 0; i < MG_MR; i++)
            for (int v = 0; v < MG_NV; v++)
                MG_STORE(c + i * ldc + v * MG_VL, MG_LOAD(c + i * ldc + v * MG_VL) + acc[i][v]);
    } else {
        for (int i = 0; i < MG_MR; i++)
            for (int v = 0; v < MG_NV; v++)
                MG_STORE(c + i * ldc + v * MG_VL, acc[i][v]);
    }
}

/* Rows [0, mc) × inner [0, kc) of op(A) into MR-tall panels (zero rows past mc). */
static MG_ATTR void MG(pack_a)(mg_idx mc, mg_idx kc, const MG_T *a, mg_idx ars, mg_idx acs, MG_T *dst)
{
    for (mg_idx i0 = 0; i0 < mc; i0 += MG_MR) {
        mg_idx rows = mc - i0 < MG_MR ? mc - i0 : MG_MR;
        const MG_T *src = a + i0 * ars;
        if (ars == 1) {                       /* op(A) = Aᵀ of a row-major A: rows contiguous */
            for (mg_idx p = 0; p < kc; p++) {
                const MG_T *s = src + p * acs;
                for (mg_idx i = 0; i < rows; i++)
                    dst[i] = s[i];
                for (mg_idx i = rows; i < MG_MR; i++)
                    dst[i] = 0;
                dst += MG_MR;
            }
        } else {
            for (mg_idx p = 0; p < kc; p++) {
                for (mg_idx i = 0; i < rows; i++)
                    dst[i] = src[i * ars + p * acs];
                for (mg_idx i = rows; i < MG_MR; i++)
                    dst[i] = 0;
                dst += MG_MR;
            }
        }
    }
}

/* Inner [0, kc) × columns [0, nc) of op(B) into NR-wide panels (zero columns past nc). */
static MG_ATTR void MG(pack_b)(mg_idx kc, mg_idx nc, const MG_T *b, mg_idx brs, mg_idx bcs, MG_T *dst)
{
    for (mg_idx j0 = 0; j0 < nc; j0 += MG_NR) {
        mg_idx cols = nc - j0 < MG_NR ? nc - j0 : MG_NR;
        const MG_T *src = b + j0 * bcs;
        if (bcs == 1) {                       /* rows of B contiguous */
            for (mg_idx p = 0; p < kc; p++) {
                const MG_T *s = src + p * brs;
                for (mg_idx j = 0; j < cols; j++)
                    dst[j] = s[j];
                for (mg_idx j = cols; j < MG_NR; j++)
                    dst[j] = 0;
                dst += MG_NR;
            }
        } else {                              /* op(B) = Wᵀ: read W's rows, scatter by column */
            for (mg_idx j = 0; j < cols; j++) {
                const MG_T *s = src + j * bcs;
                for (mg_idx p = 0; p < kc; p++)
                    dst[p * MG_NR + j] = s[p * brs];
            }
            for (mg_idx p = 0; p < kc; p++)
                for (mg_idx j = cols; j < MG_NR; j++)
                    dst[p * MG_NR + j] = 0;
            dst += kc * MG_NR;
        }
    }
}

/* Elements of op(B) (k × n) packed whole: the (jc, pc) blocks one after another, block (jc, pc)
 * at jc·k + round_up(nc, NR)·pc (every block but the last is NC wide, a multiple of NR). */
static size_t MG(packed_b_size)(mg_idx k, mg_idx n)
{
    return (size_t)((n + MG_NR - 1) / MG_NR * MG_NR) * (size_t)(k > 0 ? k : 0);
}

static MG_ATTR void MG(pack_b_all)(mg_idx k, mg_idx n, const MG_T *b, mg_idx brs, mg_idx bcs, MG_T *dst)
{
    for (mg_idx jc = 0; jc < n; jc += MG_NC) {
        mg_idx nc = n - jc < MG_NC ? n - jc : MG_NC;
        for (mg_idx pc = 0; pc < k; pc += MG_KC) {
            mg_idx kc = k - pc < MG_KC ? k - pc : MG_KC;
            MG(pack_b)(kc, nc, b + pc * brs + jc * bcs, brs, bcs, dst + jc * k + (nc + MG_NR - 1) / MG_NR * MG_NR * pc);
        }
    }
}

/* The product, with op(B) either packed here (bpre NULL) or already packed by pack_b_all. */
static MG_ATTR int MG(gemm_core)(mg_idx m, mg_idx n, mg_idx k, const MG_T *a, mg_idx ars, mg_idx acs,
                                 const MG_T *b, mg_idx brs, mg_idx bcs, const MG_T *bpre, MG_T *c, mg_idx ldc,
                                 int accumulate)
{
    if (m <= 0 || n <= 0)
        return 0;
    if (k <= 0) {
        if (!accumulate)
            for (mg_idx i = 0; i < m; i++)
                memset(c + i * ldc, 0, (size_t)n * sizeof(MG_T));
        return 0;
    }
    mg_idx kcmax = k < MG_KC ? k : MG_KC;
    mg_idx mcmax = m < MG_MC ? m : MG_MC;
    mg_idx ncmax = n < MG_NC ? n : MG_NC;
    size_t a_len = (size_t)((mcmax + MG_MR - 1) / MG_MR * MG_MR * kcmax);
    size_t b_len = bpre ? 0 : (size_t)((ncmax + MG_NR - 1) / MG_NR * MG_NR * kcmax);
    size_t t_len = (size_t)(MG_MR * MG_NR);
    char *raw = (char *)malloc((a_len + b_len + t_len) * sizeof(MG_T) + 3 * MG_ALIGN);
    if (raw == NULL)
        return -1;
    MG_T *apack = (MG_T *)(((size_t)raw + MG_ALIGN - 1) / MG_ALIGN * MG_ALIGN);
    MG_T *bbuf = (MG_T *)(((size_t)(apack + a_len) + MG_ALIGN - 1) / MG_ALIGN * MG_ALIGN);
    MG_T *tile = (MG_T *)(((size_t)(bbuf + b_len) + MG_ALIGN - 1) / MG_ALIGN * MG_ALIGN);

    for (mg_idx jc = 0; jc < n; jc += MG_NC) {
        mg_idx nc = n - jc < MG_NC ? n - jc : MG_NC;
        for (mg_idx pc = 0; pc < k; pc += MG_KC) {
            mg_idx kc = k - pc < MG_KC ? k - pc : MG_KC;
            int add = accumulate || pc > 0;
            const MG_T *bpack;
            if (bpre) {
                bpack = bpre + jc * k + (nc + MG_NR - 1) / MG_NR * MG_NR * pc;
            } else {
                MG(pack_b)(kc, nc, b + pc * brs + jc * bcs, brs, bcs, bbuf);
                bpack = bbuf;
            }
            for (mg_idx ic = 0; ic < m; ic += MG_MC) {
                mg_idx mc = m - ic < MG_MC ? m - ic : MG_MC;
                MG(pack_a)(mc, kc, a + ic * ars + pc * acs, ars, acs, apack);
                for (mg_idx jr = 0; jr < nc; jr += MG_NR) {
                    const MG_T *bp = bpack + jr * kc;
                    mg_idx cols = nc - jr < MG_NR ? nc - jr : MG_NR;
                    for (mg_idx ir = 0; ir < mc; ir += MG_MR) {
                        const MG_T *ap = apack + ir * kc;
                        mg_idx rows = mc - ir < MG_MR ? mc - ir : MG_MR;
                        MG_T *cij = c + (ic + ir) * ldc + jc + jr;
                        if (rows == MG_MR && cols == MG_NR) {
                            MG(micro)(kc, ap, bp, cij, ldc, add);
                        } else {              /* edge tile: through the buffer */
                            MG(micro)(kc, ap, bp, tile, MG_NR, 0);
                            for (mg_idx i = 0; i < rows; i++)
                                for (mg_idx j = 0; j < cols; j++)
                                    cij[i * ldc + j] = add ? cij[i * ldc + j] + tile[i * MG_NR + j]
                                                           : tile[i * MG_NR + j];
                        }
                    }
                }
            }
        }
    }
    free(raw);
    return 0;
}

static MG_ATTR int MG(gemm)(mg_idx m, mg_idx n, mg_idx k, const MG_T *a, mg_idx ars, mg_idx acs,
                            const MG_T *b, mg_idx brs, mg_idx bcs, MG_T *c, mg_idx ldc, int accumulate)
{
    return MG(gemm_core)(m, n, k, a, ars, acs, b, brs, bcs, NULL, c, ldc, accumulate);
}

static MG_ATTR int MG(gemm_packed)(mg_idx m, mg_idx n, mg_idx k, const MG_T *a, mg_idx ars, mg_idx acs,
                                   const MG_T *bpre, MG_T *c, mg_idx ldc, int accumulate)
{
    return MG(gemm_core)(m, n, k, a, ars, acs, NULL, 0, 0, bpre, c, ldc, accumulate);
}

#undef MG_VL
#undef MG_SPLAT
#undef MG_NR
#undef MG_LOAD
#undef MG_STORE
