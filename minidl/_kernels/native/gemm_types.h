/* Included by gemm.h once per instruction set (MG_ISA, MG_ATTR, MG_VBYTES, MG_MR, MG_NV
 * defined): instantiates gemm_impl.h for float and double as mg_f32_<isa>_* and
 * mg_f64_<isa>_*, then clears the parameters for the next set. */
#define MG_T float
#define MG(name) MG_XCAT3(mg_f32_, MG_ISA, name)
#include "gemm_impl.h"
#undef MG_T
#undef MG
#define MG_T double
#define MG(name) MG_XCAT3(mg_f64_, MG_ISA, name)
#include "gemm_impl.h"
#undef MG_T
#undef MG
#undef MG_ISA
#undef MG_ATTR
#undef MG_VBYTES
#undef MG_MR
#undef MG_NV
