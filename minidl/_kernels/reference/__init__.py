"""NumPy reference twins of the compiled kernels: one module per topic, same names and
signatures as ``minidl/_kernels/<topic>.pyx``, written as the textbook lines."""
