/* Instantiates optim_update_impl.h for float and double, for the instruction set named by
 * MD_OPT_ISA with target attribute MD_OPT_ATTR (both #undef'd at the end). Included by
 * optim_update.h once per instruction set. */
#define MD_OPT_T float
#define MD_OPT_DT f32
#define MD_OPT_SQRT sqrtf
#define MD_OPT_COPYSIGN copysignf
#include "optim_update_impl.h"
#undef MD_OPT_T
#undef MD_OPT_DT
#undef MD_OPT_SQRT
#undef MD_OPT_COPYSIGN

#define MD_OPT_T double
#define MD_OPT_DT f64
#define MD_OPT_SQRT sqrt
#define MD_OPT_COPYSIGN copysign
#include "optim_update_impl.h"
#undef MD_OPT_T
#undef MD_OPT_DT
#undef MD_OPT_SQRT
#undef MD_OPT_COPYSIGN

#undef MD_OPT_ISA
#undef MD_OPT_ATTR
