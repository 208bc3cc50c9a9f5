"""Run a submission in a separate worker process and call into it with time limits.

The grader (trusted) holds a :class:`Worker`; the student's code runs only in the child.
* The worker is forked from a zygote (:mod:`minidl.grading.zygote`) and confined by the
  operating system (:mod:`minidl.grading.isolation`: namespaces, its own uid, no_new_privs,
  rlimits, a clean environment); before it loads the submission the grader checks from
  outside that each mechanism engaged.
* Signals cannot interrupt a long NumPy or Cython call, so time limits are enforced from the
  outside: the parent sends and receives with a deadline and kills the worker (and with it
  everything the worker started) when it passes.
* A reply is read into a buffer no larger than its announced size, which may not exceed
  ``max_reply_mb`` (256 MiB default): a flood, a truncated or malformed reply fails the call
  as the student's fault (:class:`ReplyError`).
* Memory is capped with ``RLIMIT_AS`` (512 MiB default), written files with ``RLIMIT_FSIZE``;
  BLAS/OpenMP threads are pinned to 1 so results and timings are deterministic.
* The worker's stdout/stderr go to a capture file; the grader reads at most a capped tail of
  it, and it never affects the score.
"""
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

import numpy as np

from minidl.grading import protocol

DEFAULT_MEMORY_MB = 512
OUTPUT_CAP_BYTES = 64 * 1024
FILE_SIZE_LIMIT = 64 * 1024 * 1024
DEFAULT_MAX_REPLY_MB = 256


class StudentError(Exception):
    """The student's code raised. ``error_type``, ``message``, ``traceback`` (student frames)."""

    def __init__(self, error_type, message, traceback_text=""):
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.traceback = traceback_text


class StudentTimeout(Exception):
    """A call did not return within its time limit (the worker was killed)."""

    def __init__(self, seconds, what, limit_name=None):
        limit = limit_name or f"{seconds:g} s"
        super().__init__(f"{what} did not finish within {limit} (stopped)")
        self.seconds = seconds
        self.what = what


class WorkerDied(Exception):
    """The worker process ended during a call (os._exit, a crash, the memory limit...)."""

    def __init__(self, returncode, what, output=""):
        reason = _describe_exit(returncode)
        super().__init__(f"the submission's process ended during {what} ({reason})")
        self.returncode = returncode
        self.output = output


class ReplyError(StudentError):
    """The worker's reply cannot be graded: oversized, truncated, malformed, an impossible
    random-generator state... The student's fault; the worker is stopped."""

    def __init__(self, message):
        super().__init__("ReplyError", message)


class IsolationError(RuntimeError):
    """The worker could not be confined as required (the platform's or grader's fault, never
    the student's). ``traceback``: what failed inside the worker."""

    def __init__(self, message, traceback_text=""):
        super().__init__(message)
        self.traceback = traceback_text


class SubmissionDidNotLoad(Exception):
    """Syntax or import error (or exit) while loading the submission."""

    def __init__(self, error_type, message, traceback_text=""):
        super().__init__(f"submission did not load: {error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.traceback = traceback_text


def _describe_exit(code):
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " — possibly the memory limit" if -code in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT) else ""
        return f"killed by {name}{hint}"
    return f"exit status {code}"


def worker_environment(extra=None):
    """The environment the zygote starts in, and so the first environment block every worker
    inherits (``/proc/self/environ`` shows it even after ``os.environ`` is replaced): what
    Python and minidl need to start — the interpreter's own variables, minidl's settings but
    the grader's — one BLAS/OpenMP thread, a fixed hash seed, no bytecode files, a
    non-interactive plotting backend. Nothing else of the grader's (no tokens, no paths)."""
    keep = ("PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH", "PATH", "LANG", "LC_ALL", "TZ")
    env = {k: v for k, v in os.environ.items()
           if k in keep or (k.startswith("MINIDL_") and not k.startswith("MINIDL_GRADE"))}
    env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"})
    env.update(extra or {})
    return env


def clean_environment(extra=None, home="/tmp"):
    """All a worker's environment holds: nothing of the grader's (no paths, no tokens)."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": "/tmp", "LANG": "C.UTF-8",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
    env.update(extra or {})
    return env


def die_with_parent():
    """Linux: SIGKILL this process when its parent dies. Best effort elsewhere."""
    try:
        from minidl.grading.isolation import PR_SET_PDEATHSIG, prctl

        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


_LEVEL = {}


def isolation_level(cap=None):
    """The isolation level this process can give workers (probed once per cap)."""
    from minidl.grading import isolation

    key = cap or isolation.requested_cap()
    if key not in _LEVEL:
        _LEVEL[key] = isolation.probe(key)
    return _LEVEL[key]


def _widen_pipes(*fds, size=1 << 20):
    """Linux pipes hold 64 KiB; 1 MiB lets a weight matrix cross in a few writes."""
    try:
        import fcntl

        for fd in fds:
            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass


SUBMISSION_DIR = "/submission"     # where a namespace worker sees its copy of the submission


class Worker:
    """A live worker process with a loaded submission, confined at ``level`` (see
    :mod:`minidl.grading.isolation`; default: the strongest level available here).

        with Worker("hw.py", mode="defs", seed=1234) as w:
            out, cache = w.call("dropout_forward", x, 0.5, True, rng, timeout=10)

    ``helpers``: other files of a folder submission to copy next to it (a file submission
    gets nothing else: in a batch, the next file may be another student's). ``protected``:
    paths the worker must not see (the homework, results, other submissions); at namespace
    level they are not in its filesystem (and covered should a runtime folder hold one), and
    the audit hook refuses them as well. ``max_reply_mb``: the largest reply read from the
    worker (the rest is the student's fault, the worker is stopped).
    """

    def __init__(self, submission_file, mode="defs", seed=0, memory_mb=DEFAULT_MEMORY_MB,
                 load_timeout=30.0, drop_privileges=True, env=None, deny_paths=(), zygote=None, level=None,
                 protected=(), helpers=(), max_reply_mb=DEFAULT_MAX_REPLY_MB, user=None):
        self.submission_file = os.path.abspath(submission_file)
        self.mode = mode
        self.seed = int(seed)
        self.memory_mb = memory_mb
        self.load_timeout = load_timeout
        if level is None:
            level = isolation_level().name if drop_privileges else "audit"
        self.level = level
        self.extra_env = dict(env or {})
        self.deny_paths = [os.path.abspath(p) for p in deny_paths]
        self.protected = [os.path.abspath(p) for p in (protected or deny_paths)]
        self.helpers = [os.path.abspath(p) for p in helpers]
        self.max_reply = int(max_reply_mb * 1024 * 1024)
        self.user = user
        self.zygote = zygote          # a minidl.grading.zygote.Zygote shared by the run's workers
        self._own_zygote = None
        self.warnings = []
        self.proc = None
        self.names = []
        self.uid = None
        self.report = None
        self._workdir = None
        self._out_path = None

    @property
    def drop_privileges(self):
        return self.level != "audit"

    # -- lifecycle ------------------------------------------------------------------------
    def _prepare_files(self):
        self._workdir = tempfile.mkdtemp(prefix="minidl-worker-")
        os.chmod(self._workdir, 0o711)
        sub_dir = os.path.join(self._workdir, "submission")
        os.makedirs(sub_dir)
        name = os.path.basename(self.submission_file)
        shutil.copyfile(self.submission_file, os.path.join(sub_dir, name))
        for src in self.helpers:
            base = os.path.basename(src)
            if os.path.isfile(src) and src != self.submission_file and not base.startswith(("test_", "conftest")):
                shutil.copyfile(src, os.path.join(sub_dir, base))
        os.chmod(sub_dir, 0o755)
        for f in os.listdir(sub_dir):
            os.chmod(os.path.join(sub_dir, f), 0o644)
        if self.level == "namespace":
            os.makedirs(os.path.join(self._workdir, "root"), mode=0o755)
        self._out_path = os.path.join(self._workdir, "output.txt")
        return sub_dir, name

    def start(self):
        """Start a confined worker, check the confinement, load the submission.
        Raises SubmissionDidNotLoad (the student's), IsolationError (the platform's)."""
        from minidl.grading import isolation
        from minidl.grading.zygote import Zygote

        if self.level in ("namespace", "uid"):
            self.uid, gid = isolation.worker_ids(self.user)
        else:
            self.uid, gid = os.getuid(), os.getgid()
        sub_dir, name = self._prepare_files()
        if self.level == "uid":
            # its own folder only: another worker of the batch (another uid) must not even enter
            os.chown(self._workdir, self.uid, gid)
            os.chmod(self._workdir, 0o700)
        memory = self.memory_mb * 1024 * 1024 if self.memory_mb else None
        in_view = self.level == "namespace"
        filename = (SUBMISSION_DIR if in_view else sub_dir) + "/" + name
        config = {"filename": filename, "mode": self.mode, "seed": self.seed,
                  "deny_paths": [] if in_view else self.deny_paths + [self._workdir + "/output.txt"]}
        plan = {"uid": self.uid, "gid": gid, "root": os.path.join(self._workdir, "root"), "submission_dir": sub_dir,
                "protected": self.protected, "memory": memory,
                "env": clean_environment(self.extra_env, home="/tmp" if in_view else sub_dir)}
        out = os.open(self._out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        _widen_pipes(req_w, resp_w)
        try:
            if self.zygote is None or not self.zygote.alive:
                self.zygote = self._own_zygote = Zygote(worker_environment())
            self.proc = self.zygote.spawn(config, (req_r, resp_w, out), plan, self.level)
        except BaseException:
            for fd in (req_w, resp_r):
                os.close(fd)
            self._cleanup_files()
            raise
        finally:
            for fd in (req_r, resp_w, out):
                os.close(fd)
        self._req_w, self._resp_r = req_w, resp_r
        os.set_blocking(req_w, False)
        try:
            ready = self._receive(self.load_timeout, "starting the worker")
            if ready.get("kind") == "setup" or not ready.get("ok"):
                raise IsolationError(f"the worker could not be set up at {self.level} level: "
                                     f"{ready.get('error_type')}: {ready.get('message')}", ready.get("traceback", ""))
            self.report = ready.get("value") or {}
            problems = isolation.verify_worker(self.proc.pid, self.level, self.uid, memory)
            if self.report.get("visible_protected"):
                problems.append(f"protected paths visible to the worker: {self.report['visible_protected']}")
            if self.level != "audit" and self.report.get("regained_root"):
                problems.append("the worker could switch back to root")
            if problems:
                raise IsolationError(f"{self.level} isolation did not engage: " + "; ".join(problems))
            self._send({"op": "load"}, self.load_timeout, "loading the submission")
            reply = self._receive(self.load_timeout, "loading the submission")
        except BaseException:
            self.close()
            raise
        if not reply.get("ok"):
            self.close()
            raise SubmissionDidNotLoad(reply.get("error_type", "Error"), reply.get("message", ""),
                                       reply.get("traceback", ""))
        self.names = list(reply.get("value") or [])
        return self

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, wait=True):
        """SIGKILL the worker (at namespace level its PID namespace goes with it; at uid level
        every process of its uid is killed)."""
        from minidl.grading import isolation

        if self.proc is not None and self.proc.returncode is None:
            if self.level != "namespace":           # its session (PID 1 takes its namespace along)
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.proc.kill()
        if self.proc is not None and wait:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
        if self.level == "uid":
            isolation.kill_uid(self.uid)

    def close(self):
        from minidl.grading import isolation

        if self.proc is not None and self.proc.returncode is None and hasattr(self, "_req_w"):
            try:                                    # let it flush its output, briefly
                data, _ = protocol.encode({"op": "exit"})
                os.set_blocking(self._req_w, True)
                protocol.write_message(self._req_w, data)
                select.select([self._resp_r], [], [], 0.5)      # EOF when it has exited
            except Exception:
                pass
        # SIGKILL whatever is left without waiting for it: the zygote reaps it
        self.kill(wait=False)
        for fd in ("_req_w", "_resp_r"):
            if hasattr(self, fd):
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
                delattr(self, fd)
        if self.level == "uid":
            removed = isolation.remove_files_of(self.uid)
            if removed:
                self.warnings.append(f"removed {len(removed)} files the submission left outside its folder")
        self._cleanup_files()
        if self._own_zygote is not None:
            self._own_zygote.close()
            self._own_zygote = self.zygote = None

    def _cleanup_files(self):
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def output(self, cap=OUTPUT_CAP_BYTES) -> str:
        """What the submission printed so far (the last ``cap`` bytes)."""
        try:
            size = os.path.getsize(self._out_path)
            with open(self._out_path, "rb") as f:
                if size > cap:
                    f.seek(size - cap)
                data = f.read(cap)
        except (OSError, TypeError):
            return ""
        text = data.decode("utf-8", errors="replace")
        return (f"[... {size - cap} bytes of output cut ...]\n" + text) if size > cap else text

    # -- the pipe, bounded in size and time --------------------------------------------------
    def _died(self, what, got=0, need=None):
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.kill()
        if need is not None and got:
            return ReplyError(f"the submission's process ended during {what} after sending {got} of the "
                              f"{need} bytes of its reply ({_describe_exit(self.proc.returncode)})")
        return WorkerDied(self.proc.returncode, what, self.output())

    def _fill(self, view, deadline, timeout, what, need=None):
        got = 0
        while got < len(view):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise StudentTimeout(timeout, what)
            ready, _, _ = select.select([self._resp_r], [], [], min(remaining, 0.5))
            if not ready:
                if self.proc.poll() is not None:
                    raise self._died(what, got, need)
                continue
            n = os.readv(self._resp_r, [view[got:got + (1 << 22)]])
            if n == 0:
                raise self._died(what, got, need)
            got += n

    def _receive(self, timeout, what):
        deadline = time.monotonic() + timeout
        head = bytearray(8)
        self._fill(memoryview(head), deadline, timeout, what)
        need = int.from_bytes(head, "little")
        if need > self.max_reply:
            self.kill()
            raise ReplyError(f"the reply to {what} is {need / 2**20:.0f} MiB, more than the limit of "
                             f"{self.max_reply / 2**20:g} MiB (return smaller values)")
        buf = bytearray(need)
        self._fill(memoryview(buf), deadline, timeout, what, need=need)
        try:
            message, _ = protocol.decode(buf)
        except protocol.ProtocolError as exc:
            self.kill()
            raise ReplyError(f"the reply to {what} is malformed ({exc})") from None
        if not isinstance(message, dict):
            self.kill()
            raise ReplyError(f"the reply to {what} is malformed")
        return message

    def _send(self, message, timeout, what, arrays_out=None):
        data, generators = protocol.encode(message, arrays_out=arrays_out)
        view = memoryview(len(data).to_bytes(8, "little") + data)
        deadline = time.monotonic() + timeout
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise StudentTimeout(timeout, what)
            _, ready, _ = select.select([], [self._req_w], [], min(remaining, 0.5))
            if not ready:
                if self.proc.poll() is not None:
                    raise self._died(what)
                continue
            try:
                view = view[os.write(self._req_w, view[:1 << 20]):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise self._died(what) from None
        return generators

    # -- calls ----------------------------------------------------------------------------
    def _request(self, message, timeout, what):
        if not self.alive:
            raise WorkerDied(self.proc.returncode if self.proc else None, what, self.output())
        deadline = time.monotonic() + timeout
        sent = []
        generators = self._send(message, timeout, what, arrays_out=sent)
        reply = self._receive(max(0.0, deadline - time.monotonic()), what)
        if not reply.get("ok"):
            raise StudentError(reply.get("error_type", "Error"), reply.get("message", ""), reply.get("traceback", ""))
        states = reply.get("rng_states") or []
        for gen, state in zip(generators, states):
            problem = protocol.check_advanced_state(gen, state)
            if problem:
                raise ReplyError(f"{what}: {problem}")
        for gen, state in zip(generators, states):
            protocol.set_generator_state(gen, state)
        for index, new in (reply.get("mutated") or {}).items():   # in-place changes, as locally
            original = sent[int(index)] if str(index).isdigit() and int(index) < len(sent) else None
            if isinstance(original, np.ndarray) and original.flags.writeable and isinstance(new, np.ndarray) \
                    and original.shape == new.shape:
                np.copyto(original, new, casting="unsafe")
        return reply.get("value")

    def call(self, name, *args, timeout=10.0, **kwargs):
        """Call the submission's top-level function ``name``; arguments cross by value."""
        return self._request({"op": "call", "name": name, "args": list(args), "kwargs": kwargs},
                             timeout, f"{name}()")

    def call_many(self, name, calls, timeout=10.0):
        """``[name(*args, **kwargs) for args, kwargs in calls]`` in one round trip: plain calls
        (Generators are sent in their current state each time and not advanced)."""
        reply = self._request({"op": "calls", "name": name,
                               "value": [{"args": list(a), "kwargs": dict(k)} for a, k in calls]},
                              timeout, f"{name}()")
        if not isinstance(reply, list) or len(reply) != len(calls):
            raise ReplyError(f"{name}(): the worker answered {len(calls)} calls with "
                             f"{len(reply) if isinstance(reply, list) else type(reply).__name__}")
        return reply

    def call_method(self, handle, name, *args, timeout=10.0, **kwargs):
        return self._request({"op": "call_method", "handle": handle.id, "name": name, "args": list(args),
                              "kwargs": kwargs}, timeout, f"{handle.type_name}.{name}()")

    def getattr(self, name, handle=None, timeout=10.0):
        return self._request({"op": "getattr", "name": name, "handle": handle.id if handle else None},
                             timeout, f"reading {name}")

    def numerical_gradient(self, name, args, kwargs, x_slot, x, dout=None, output=None, eps=1e-6, timeout=30.0,
                           chunk=64):
        """Centered-difference gradient of J = Σ f(...)[output] ⊙ dout w.r.t. the argument in
        ``x_slot`` (a position or keyword). The grader makes every perturbed point and does all
        the arithmetic; the worker only evaluates ``name`` (its return values, nothing else,
        are taken from the student's process)."""
        x = np.array(x, dtype=np.float64, copy=True)
        dout = None if dout is None else np.asarray(dout, dtype=np.float64)
        deadline = time.monotonic() + timeout
        a, k = list(args), dict(kwargs)
        if isinstance(x_slot, int):
            a[x_slot] = x.copy()
        else:
            k[x_slot] = x.copy()
        # the same point by an ordinary call and inside the batch: a worker that answers
        # differencing requests with other values than ordinary calls is caught here
        a, k = _copy_generators(a), _copy_generators(k)       # the caller's rng must not move
        base = _objective(self.call(name, *a, timeout=timeout, **k), output, dout, x.shape)
        points = [x.copy()]
        for idx in np.ndindex(x.shape):
            for sign in (1.0, -1.0):
                v = x.copy()
                v[idx] = x[idx] + sign * eps
                points.append(v)
        values = []
        for start in range(0, len(points), chunk):
            calls = []
            for v in points[start:start + chunk]:
                a, k = list(args), dict(kwargs)
                if isinstance(x_slot, int):
                    a[x_slot] = v
                else:
                    k[x_slot] = v
                calls.append((a, k))
            for out in self.call_many(name, calls, timeout=max(0.0, deadline - time.monotonic())):
                values.append(_objective(out, output, dout, x.shape))
        if not (values[0] == base or (np.isnan(values[0]) and np.isnan(base))):
            raise ReplyError(f"{name}() returned different values for the same input in two calls "
                             f"({base!r} vs {values[0]!r}): its gradient cannot be checked (is it random "
                             f"without the rng argument?)")
        values = values[1:]
        grad = np.zeros(x.shape, dtype=np.float64)
        for i, idx in enumerate(np.ndindex(x.shape)):
            grad[idx] = (values[2 * i] - values[2 * i + 1]) / (2.0 * eps)
        return grad

    def define(self, name, source, fn_name, timeout=10.0):
        """Replace the submission's ``name`` with the function ``fn_name`` defined by ``source``."""
        return self._request({"op": "define", "name": name, "source": source, "fn_name": fn_name},
                             timeout, f"substituting {name}")

    def restore(self, timeout=10.0):
        """Undo every :meth:`define`."""
        return self._request({"op": "restore"}, timeout, "restoring the submission")

    def reseed(self, seed, timeout=10.0):
        return self._request({"op": "seed", "value": int(seed)}, timeout, "seeding")


def _copy_generators(value):
    """``value`` with every numpy Generator replaced by an independent copy in the same state."""
    if isinstance(value, np.random.Generator):
        copy = np.random.Generator(type(value.bit_generator)())
        copy.bit_generator.state = value.bit_generator.state
        return copy
    if isinstance(value, list):
        return [_copy_generators(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy_generators(v) for v in value)
    if isinstance(value, dict):
        return {key: _copy_generators(v) for key, v in value.items()}
    return value


def _objective(out, output, dout, shape):
    """Σ out[output] ⊙ dout, on the trusted side; a reply that is not a numeric array of the
    right size is the student's fault."""
    if output is not None:
        try:
            out = out[output]
        except (TypeError, IndexError, KeyError):
            raise ReplyError(f"cannot take item {output!r} of the returned {type(out).__name__}") from None
    if isinstance(out, protocol.Handle) or not isinstance(out, (np.ndarray, int, float, np.generic)) \
            or isinstance(out, bool):
        raise ReplyError(f"the differenced function returned a {getattr(out, 'type_name', type(out).__name__)}, "
                         f"not an array")
    out = np.asarray(out)
    if out.dtype.kind not in "fiu":
        raise ReplyError(f"the differenced function returned an array of dtype {out.dtype}")
    out = out.astype(np.float64)
    if dout is None:
        return float(out.sum())
    if out.shape != dout.shape:
        raise ReplyError(f"the differenced function returned shape {out.shape}, dout has shape {dout.shape}")
    return float(np.sum(out * dout))
