# What the optimizer update kernels share (sgd, adam, rmsprop, adagrad, rprop .pyx include it).
#
# Every update rule is one C loop in native/optim_update_impl.h, written once and compiled
# for SSE2 and AVX2 side by side (native/optim_update.h picks one at run time), all with the
# same signature,
#     md_<rule>_f32/_f64(param, grad, state1, state2, n, rule)
# (state1/state2: the rule's per-element state, NULL when it has fewer; ``rule``: its
# hyper-parameters, in double, converted to the parameter's precision once per call), and
# ``_update`` validates, sets flush-to-zero and picks the dtype for all of them. The kernels
# walk each array as one flat C-contiguous run, so a 2-D weight needs no reshape, and they
# take ndarrays, not typed memoryviews: the optimizer calls one kernel per parameter per step,
# on arrays as small as a (10,) bias, where acquiring four memoryviews would cost ~0.5–1.5 µs,
# more than the update itself (measured).
from libc.math cimport sqrt

include "_validation.pxi"


cdef extern from "native/optim_update.h" nogil:
    ctypedef struct md_rule:
        double learning_rate, weight_decay, momentum, epsilon
        double rho                                   # RMSProp
        double beta1, beta2, step_size, bias_correction2_sqrt, decay_factor   # Adam
        double eta_minus, eta_plus, step_min, step_max                        # Rprop
        int nesterov, decoupled
    ctypedef void (*md_update_f32)(float*, const float*, float*, float*, Py_ssize_t, const md_rule*)
    ctypedef void (*md_update_f64)(double*, const double*, double*, double*, Py_ssize_t, const md_rule*)
    # the dispatchers, one per rule and dtype
    void md_sgd_f32(float*, const float*, float*, float*, Py_ssize_t, const md_rule*)
    void md_sgd_f64(double*, const double*, double*, double*, Py_ssize_t, const md_rule*)
    void md_sgd_momentum_f32(float*, const float*, float*, float*, Py_ssize_t, const md_rule*)
    void md_sgd_momentum_f64(double*, const double*, double*, double*, Py_ssize_t, const md_rule*)
    void md_adam_f32(float*, const float*, float*, float*, Py_ssize_t, const md_rule*)
    void md_adam_f64(double*, const double*, double*, double*, Py_ssize_t, const md_rule*)
    void md_rmsprop_f32(float*, const float*, float*, float*, Py_ssize_t, const md_rule*)
    void md_rmsprop_f64(double*, const double*, double*, double*, Py_ssize_t, const md_rule*)
    void md_adagrad_f32(float*, const float*, float*, float*, Py_ssize_t, const md_rule*)
    void md_adagrad_f64(double*, const double*, double*, double*, Py_ssize_t, const md_rule*)
    void md_rprop_f32(float*, const float*, float*, float*, Py_ssize_t, const md_rule*)
    void md_rprop_f64(double*, const double*, double*, double*, Py_ssize_t, const md_rule*)
    int md_optim_isa()
    int md_optim_set_isa(int isa)
    const char* md_isa_names[3]


cdef extern from "native/ftz.h" nogil:
    unsigned int md_ftz_begin()     # flush-to-zero on, returns the old MXCSR (why: ftz.h)
    void md_ftz_end(unsigned int old)


cdef inline int _check_state(str kernel, object state, str name, object param) except -1:
    if name:
        _check_like(kernel, state, name, param, "param", True, False)
    elif state is not None:
        raise ValueError(f"{kernel}: unexpected state array")
    return 0


cdef int _update(str kernel, md_update_f32 f32, md_update_f64 f64, object param, object grad,
                 object state1, str name1, object state2, str name2, const md_rule* rule) except -1:
    """Validate (param writeable; grad and the named states: param's dtype and size,
    contiguous, states writeable), then run the body on the dtype's specialisation."""
    cdef int t = _check_float(kernel, param, "param", -1, True)
    _check_like(kernel, grad, "grad", param, "param", False, False)
    # A state the rule names is required (a NULL pointer would be dereferenced); an unnamed
    # one ("") must be None and reaches the body as NULL.
    _check_state(kernel, state1, name1, param)
    _check_state(kernel, state2, name2, param)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>param)
    cdef void* p = _data(param)
    cdef void* g = _data(grad)
    cdef void* s1 = _data(state1)
    cdef void* s2 = _data(state2)
    cdef unsigned int csr
    with nogil:
        csr = md_ftz_begin()
        if t == cnp.NPY_FLOAT32:
            f32(<float*>p, <const float*>g, <float*>s1, <float*>s2, n, rule)
        else:
            f64(<double*>p, <const double*>g, <double*>s1, <double*>s2, n, rule)
        md_ftz_end(csr)
    return 0


def optim_isa():
    """The instruction set this module's update loops use ("generic" or "avx2")."""
    return md_isa_names[md_optim_isa()].decode()


def optim_set_isa(str name):
    """Use the loops compiled for ``name`` if the CPU has it (the parity tests run every
    variant); returns the name now in use. MINIDL_OPTIM_ISA caps the default."""
    names = [md_isa_names[i].decode() for i in range(3)]
    if name not in names:
        raise ValueError(f"optim_set_isa: unknown instruction set {name!r}; choose one of {names}")
    md_optim_set_isa(names.index(name))
    return optim_isa()
