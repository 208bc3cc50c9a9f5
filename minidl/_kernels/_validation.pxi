# Shared argument checks for the compiled kernels (``include "_validation.pxi"``).
# They run before any pointer is read, so no input that reaches a kernel can make it read or
# write out of bounds: a mismatch raises ValueError naming the kernel and the arrays.
cimport numpy as cnp


cdef inline str _dtype_name(int typenum):
    return "float32" if typenum == cnp.NPY_FLOAT32 else "float64"


cdef int _float_typenum(str kernel, cnp.ndarray a, str name) except -1:
    """The type number of ``a``, which must be float32 or float64."""
    cdef int t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise ValueError(f"{kernel}: {name} must be float32 or float64, got {a.dtype}")
    return t


cdef int _check(str kernel, cnp.ndarray a, str name, int ndim, int typenum, bint writeable) except -1:
    """``a``: ``ndim`` dimensions (any if ndim < 0), dtype ``typenum``, C-contiguous, and
    writeable if it is an output."""
    if ndim >= 0 and cnp.PyArray_NDIM(a) != ndim:
        raise ValueError(f"{kernel}: {name} must be {ndim}-D, got shape {(<object>a).shape}")
    if cnp.PyArray_TYPE(a) != typenum:
        raise ValueError(f"{kernel}: {name} has dtype {a.dtype}, expected {_dtype_name(typenum)}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{kernel}: {name} must be C-contiguous")
    if writeable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{kernel}: {name} is read-only")
    return 0


cdef int _check_pair(str kernel, cnp.ndarray a, cnp.ndarray out, str a_name, str out_name) except -1:
    """a and out: same float dtype, same shape, C-contiguous; out writeable. Returns typenum."""
    cdef int t = _float_typenum(kernel, a, a_name)
    if cnp.PyArray_TYPE(out) != t:
        raise ValueError(f"{kernel}: {out_name} has dtype {out.dtype}, {a_name} has {a.dtype}")
    if (<object>a).shape != (<object>out).shape:
        raise ValueError(f"{kernel}: {a_name} has shape {(<object>a).shape}, {out_name} has {(<object>out).shape}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_IS_C_CONTIGUOUS(out):
        raise ValueError(f"{kernel}: arrays must be C-contiguous")
    if not cnp.PyArray_ISWRITEABLE(out):
        raise ValueError(f"{kernel}: {out_name} is read-only")
    return t


cdef inline void* _data(object a):
    """The data pointer of an ndarray, NULL for None (optional buffers)."""
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef int _check_same_shape(str kernel, cnp.ndarray a, cnp.ndarray x, str name, bint writeable) except -1:
    """``a`` has x's shape and dtype, is C-contiguous (and writeable if it is an output)."""
    _check(kernel, a, name, cnp.PyArray_NDIM(x), cnp.PyArray_TYPE(x), writeable)
    if (<object>a).shape != (<object>x).shape:
        raise ValueError(f"{kernel}: {name} {(<object>a).shape} must have x's shape {(<object>x).shape}")
    return 0


cdef int _check_vector(str kernel, object a, str name, int typenum, Py_ssize_t size, bint writeable,
                       bint allow_none) except -1:
    """``a`` is a 1-D array of ``size`` elements (per channel / per feature), or None if allowed."""
    if a is None:
        if not allow_none:
            raise ValueError(f"{kernel}: {name} is required")
        return 0
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"{kernel}: {name} must be an ndarray, got {type(a).__name__}")
    _check(kernel, <cnp.ndarray>a, name, 1, typenum, writeable)
    if cnp.PyArray_DIM(<cnp.ndarray>a, 0) != size:
        raise ValueError(f"{kernel}: {name} must have shape ({size},), got {a.shape}")
    return 0
