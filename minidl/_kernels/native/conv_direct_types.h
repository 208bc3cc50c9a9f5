/* Included by conv_direct.h once per instruction set (MD_ISA, MD_ATTR, MD_VBYTES, MD_OB,
 * MD_NV, MD_DT and optionally MD_PIN defined): instantiates conv_direct_impl.h for float and double
 * as md_f32_<isa>_* and md_f64_<isa>_*, then clears the parameters for the next set. */
#define MD_T float
#define MD(name) MD_XCAT3(md_f32_, MD_ISA, name)
#include "conv_direct_impl.h"
#undef MD_T
#undef MD
#define MD_T double
#define MD(name) MD_XCAT3(md_f64_, MD_ISA, name)
#include "conv_direct_impl.h"
#undef MD_T
#undef MD
#undef MD_ISA
#undef MD_ATTR
#undef MD_VBYTES
#undef MD_OB
#undef MD_NV
#undef MD_DT
#ifdef MD_PIN
#undef MD_PIN
#endif
