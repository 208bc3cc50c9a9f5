# Shared argument checks for the compiled kernels (``include "_validation.pxi"`` in every .pyx
# but gemm, rnn and attention, whose arrays are typed memoryviews with their own shape checks).
#
# They run before any pointer is read, so no input that reaches a kernel can make it read or
# write out of bounds: a mismatch raises ValueError (TypeError for a non-array) naming the
# kernel and the arrays. Kernels whose arguments are typed memoryviews get dtype and
# contiguity checked by Cython on entry; these helpers add what Cython cannot know (shapes
# that must agree, outputs that must be writeable).
cimport numpy as cnp

cnp.import_array()


cdef inline str _dtype_name(int typenum):
    return "float32" if typenum == cnp.NPY_FLOAT32 else "float64"


cdef inline cnp.ndarray _array(str kernel, object a, str name):
    """``a`` itself when it is an ndarray (TypeError otherwise)."""
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{kernel}: {name} must be a numpy array, got {type(a).__name__}")
    return <cnp.ndarray>a


cdef int _float_typenum(str kernel, object a, str name) except -1:
    """The type number of ``a``, which must be a float32 or float64 array."""
    cdef int t = cnp.PyArray_TYPE(_array(kernel, a, name))
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise ValueError(f"{kernel}: {name} must be float32 or float64, got {a.dtype}")
    return t


cdef int _check(str kernel, object a, str name, int ndim, int typenum, bint writeable) except -1:
    """``a``: ``ndim`` dimensions (any if ndim < 0), dtype ``typenum``, C-contiguous, and
    writeable if it is an output."""
    cdef cnp.ndarray arr = _array(kernel, a, name)
    if ndim >= 0 and cnp.PyArray_NDIM(arr) != ndim:
        raise ValueError(f"{kernel}: {name} must be {ndim}-D, got shape {a.shape}")
    if cnp.PyArray_TYPE(arr) != typenum:
        raise ValueError(f"{kernel}: {name} has dtype {a.dtype}, expected {_dtype_name(typenum)}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        raise ValueError(f"{kernel}: {name} must be C-contiguous")
    if writeable and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{kernel}: {name} is read-only")
    return 0


cdef int _check_float(str kernel, object a, str name, int ndim, bint writeable) except -1:
    """``a``: a float32 or float64 array, otherwise as :func:`_check`; returns its type number."""
    cdef int t = cnp.PyArray_TYPE(_array(kernel, a, name))
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise ValueError(f"{kernel}: {name} must be float32 or float64, got {a.dtype}")
    _check(kernel, a, name, ndim, t, writeable)
    return t


cdef inline bint _same_shape(cnp.ndarray a, cnp.ndarray b) noexcept:
    cdef int k, nd = cnp.PyArray_NDIM(a)
    if cnp.PyArray_NDIM(b) != nd:
        return False
    for k in range(nd):
        if cnp.PyArray_DIM(a, k) != cnp.PyArray_DIM(b, k):
            return False
    return True


cdef int _check_like(str kernel, object a, str name, object ref, str ref_name, bint writeable,
                     bint same_shape=True) except -1:
    """``a`` has ref's dtype and shape (only its size when ``same_shape`` is False), is
    C-contiguous, and writeable if it is an output. ``ref`` is an already checked array."""
    _check(kernel, a, name, -1, cnp.PyArray_TYPE(<cnp.ndarray>ref), writeable)
    if same_shape:
        if not _same_shape(<cnp.ndarray>a, <cnp.ndarray>ref):
            raise ValueError(f"{kernel}: {name} has shape {a.shape}, {ref_name} has {ref.shape}")
    elif cnp.PyArray_SIZE(<cnp.ndarray>a) != cnp.PyArray_SIZE(<cnp.ndarray>ref):
        raise ValueError(f"{kernel}: {name} has shape {a.shape}, {ref_name} has {ref.shape}")
    return 0


cdef int _check_vector(str kernel, object a, str name, int typenum, Py_ssize_t size, bint writeable,
                       bint allow_none) except -1:
    """``a`` is a 1-D array of ``size`` elements (per channel / per feature), or None if allowed."""
    if a is None:
        if not allow_none:
            raise ValueError(f"{kernel}: {name} is required")
        return 0
    _check(kernel, a, name, 1, typenum, writeable)
    if cnp.PyArray_DIM(<cnp.ndarray>a, 0) != size:
        raise ValueError(f"{kernel}: {name} must have shape ({size},), got {a.shape}")
    return 0


cdef int _check_shape(str kernel, str name, tuple shape, tuple expected) except -1:
    """A memoryview argument's shape (``tuple(view.shape)[:ndim]``) is the expected one."""
    if shape != expected:
        raise ValueError(f"{kernel}: {name} has shape {shape}, expected {expected}")
    return 0


cdef inline Py_ssize_t _dim(object a, int k):
    """Length of axis k of a checked ndarray."""
    return cnp.PyArray_DIM(<cnp.ndarray>a, k)


cdef inline void* _data(object a):
    """The data pointer of a checked ndarray, NULL for None (optional buffers)."""
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)
