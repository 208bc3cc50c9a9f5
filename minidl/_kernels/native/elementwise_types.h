/* Included by elementwise.h once per instruction set (MD_EW_ISA, MD_EW_ATTR defined):
 * elementwise_impl.h for float and double. */
#define MD_EW_T float
#define MD_EW_SUF f32
#include "elementwise_impl.h"
#define MD_EW_T double
#define MD_EW_SUF f64
#include "elementwise_impl.h"
#undef MD_EW_ISA
#undef MD_EW_ATTR
