"""The ``student`` fixture: the submission seen from the trusted side.

``student.dropout_forward(x, 0.5, True, rng)`` is a call over the pipe to the worker
(:class:`minidl.grading.sandbox.Worker`) with the time left in the test as its timeout.
Arrays the call changes in place and the ``rng`` state come back, as in a local call.
Objects that cannot cross come back as :class:`RemoteObject` handles whose methods are again
calls into the worker.

* ``student.spec(name, *args, output=i, **kw)`` describes a call for ``G.check_grad``; the
  argument to perturb is ``G.X`` (or the first argument).
* ``student.use_reference(name, fn)`` substitutes the instructor's ``fn`` for a prerequisite
  (so a wrong ``dropout_forward`` does not also fail the ``dropout_backward`` test): the
  grader calls ``fn`` directly and the worker's module gets ``fn``'s source, so the
  student's other functions use it too.
"""
import inspect
import textwrap
import time

from minidl.grading import protocol
from minidl.grading.sandbox import StudentError, StudentTimeout

MIN_CALL_TIMEOUT = 0.05


class RemoteObject(protocol.Handle):
    """A student object living in the worker; attribute access gives remote methods."""

    __slots__ = ("_student",)

    def __init__(self, student, handle):
        super().__init__(handle.id, handle.type_name)
        self._student = student

    def method(self, name):
        def call(*args, **kwargs):
            return self._student._wrap(self._student._guard(self._student._worker().call_method,
                                                            self, name, *args, timeout=self._student._timeout(),
                                                            **kwargs))

        return call

    def get(self, name):
        return self._student._wrap(self._student._worker().getattr(name, handle=self, timeout=self._student._timeout()))


class CallSpec:
    """A call to difference: ``student.spec("f", G.X, 0.5, rng, output=0)``."""

    def __init__(self, student, name, args, kwargs, output):
        from minidl.grading.api import G

        self.student, self.name, self.output = student, name, output
        self.args, self.kwargs = list(args), dict(kwargs)
        slots = [i for i, a in enumerate(self.args) if a is G.X] + [k for k, v in self.kwargs.items() if v is G.X]
        if len(slots) > 1:
            raise ValueError("student.spec: mark exactly one argument with G.X")
        self.slot = slots[0] if slots else 0
        if isinstance(self.slot, int):
            if not self.args:
                raise ValueError("student.spec: nothing to perturb (no arguments)")
            self.args[self.slot] = None
        else:
            self.kwargs[self.slot] = None

    def numerical_gradient(self, x, dout=None, eps=1e-6):
        reference = self.student._references.get(self.name)
        if reference is not None:
            from minidl.gradcheck import numerical_gradient
            import numpy as np

            def objective(v):
                args, kwargs = protocol.materialize(self.args), protocol.materialize(self.kwargs)
                if isinstance(self.slot, int):
                    args[self.slot] = v.copy()
                else:
                    kwargs[self.slot] = v.copy()
                out = reference(*args, **kwargs)
                out = np.asarray(out if self.output is None else out[self.output], dtype=np.float64)
                return out.sum() if dout is None else np.sum(out * dout)

            return numerical_gradient(objective, x, eps)
        return self.student._guard(self.student._worker().numerical_gradient, self.name, self.args, self.kwargs,
                                   self.slot, x, dout=dout, output=self.output, eps=eps,
                                   timeout=self.student._timeout())


class Student:
    """Proxy for the submission during one test (created by the plugin)."""

    def __init__(self, get_worker, deadline, limit=None):
        self._get_worker = get_worker
        self._deadline = deadline
        self._limit = limit
        self._references = {}
        self._defined = False

    # -- plumbing ---------------------------------------------------------------------------
    def _worker(self):
        return self._guard(self._get_worker, self._timeout())

    def _timeout(self):
        remaining = self._deadline - time.monotonic()
        if remaining <= MIN_CALL_TIMEOUT:
            raise StudentTimeout(0, "the test", self._limit_text())
        return remaining

    def _limit_text(self):
        # the test's limit, not the seconds left for this call: the message must not change
        # from one run to the next
        return f"the test's time limit of {self._limit:g} s" if self._limit else "the test's time limit"

    def _guard(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StudentTimeout as exc:
            raise StudentTimeout(exc.seconds, exc.what, self._limit_text()) from None

    def _wrap(self, value):
        if isinstance(value, protocol.Handle) and not isinstance(value, RemoteObject):
            return RemoteObject(self, value)
        if isinstance(value, tuple):
            return tuple(self._wrap(v) for v in value)
        if isinstance(value, list):
            return [self._wrap(v) for v in value]
        if isinstance(value, dict):
            return {k: self._wrap(v) for k, v in value.items()}
        return value

    # -- the public face --------------------------------------------------------------------
    def call(self, name, *args, **kwargs):
        if name in self._references:
            return self._references[name](*protocol.materialize(list(args)), **protocol.materialize(kwargs))
        worker = self._worker()
        if worker.names and name not in worker.names:
            found = ", ".join(n for n in worker.names if not n.startswith("_")) or "nothing"
            raise StudentError("AttributeError", f"your submission does not define {name!r} (found: {found})")
        return self._wrap(self._guard(worker.call, name, *args, timeout=self._timeout(), **kwargs))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            return self.call(name, *args, **kwargs)

        call.__name__ = name
        return call

    def has(self, name):
        return name in self._worker().names

    def spec(self, name, *args, output=None, **kwargs):
        return CallSpec(self, name, args, kwargs, output)

    def use_reference(self, name, fn):
        """Use the instructor's ``fn`` wherever ``name`` is called (grader and worker)."""
        self._references[name] = fn
        try:
            source = textwrap.dedent(inspect.getsource(fn))
        except (OSError, TypeError):
            return
        self._worker().define(name, source, fn.__name__, timeout=self._timeout())
        self._defined = True

    def output(self):
        """What the submission printed so far in this worker (capped)."""
        try:
            return self._get_worker(self._timeout(), start=False).output()
        except Exception:
            return ""
