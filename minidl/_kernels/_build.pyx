"""Facts about how the compiled kernels were built (reported by minidl.info())."""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define MINIDL_HAVE_OPENMP 1
    static int minidl_omp_max_threads(void) { return omp_get_max_threads(); }
    #else
    #define MINIDL_HAVE_OPENMP 0
    static int minidl_omp_max_threads(void) { return 1; }
    #endif
    """
    int MINIDL_HAVE_OPENMP
    int minidl_omp_max_threads() nogil


def openmp_enabled():
    """True if the extension was compiled with OpenMP."""
    return bool(MINIDL_HAVE_OPENMP)


def openmp_max_threads():
    """omp_get_max_threads() when OpenMP is compiled in, else 1."""
    return minidl_omp_max_threads()
