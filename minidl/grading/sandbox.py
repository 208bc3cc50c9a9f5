"""Run a submission in a separate worker process and call into it with time limits.

The grader (trusted) holds a :class:`Worker`; the student's code runs only in the child.
* Signals cannot interrupt a long NumPy or Cython call, so time limits are enforced from the
  outside: the parent waits on the pipe with a deadline and kills the worker's whole process
  group when it passes.
* Memory is capped with ``RLIMIT_AS`` (512 MiB default), written files with ``RLIMIT_FSIZE``;
  BLAS/OpenMP threads are pinned to 1 so results and timings are deterministic; when the
  grader runs as root the worker drops to an unprivileged user (``nobody``).
* The worker's stdout/stderr go to a capture file; the grader reads at most a capped tail of
  it, and it never affects the score.
"""
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from minidl.grading import protocol

DEFAULT_MEMORY_MB = 512
OUTPUT_CAP_BYTES = 64 * 1024
FILE_SIZE_LIMIT = 64 * 1024 * 1024


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
    """The environment a worker runs in: the grader's minus its own settings, one BLAS/OpenMP
    thread, a fixed hash seed, no bytecode files, a non-interactive plotting backend."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIDL_GRADE", "PYTEST"))}
    env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"})
    env.update(extra or {})
    return env


def die_with_parent():
    """Linux: SIGKILL this process when its parent dies (a grader killed at the outer time limit
    must not leave a spinning submission behind). Best effort elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)      # PR_SET_PDEATHSIG
    except Exception:
        pass


def _widen_pipes(*fds, size=1 << 20):
    """Linux pipes hold 64 KiB; 1 MiB lets a weight matrix cross in a few writes."""
    try:
        import fcntl

        for fd in fds:
            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass


def _unprivileged_ids():
    try:
        import pwd

        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid
    except (ImportError, KeyError):
        return 65534, 65534


class Worker:
    """A live worker process with a loaded submission.

        with Worker("hw.py", mode="defs", seed=1234) as w:
            out, cache = w.call("dropout_forward", x, 0.5, True, rng, timeout=10)
    """

    def __init__(self, submission_file, mode="defs", seed=0, memory_mb=DEFAULT_MEMORY_MB,
                 load_timeout=30.0, drop_privileges=True, env=None, deny_paths=(), zygote=None):
        self.submission_file = os.path.abspath(submission_file)
        self.mode = mode
        self.seed = int(seed)
        self.memory_mb = memory_mb
        self.load_timeout = load_timeout
        self.drop_privileges = drop_privileges and hasattr(os, "geteuid") and os.geteuid() == 0
        self.extra_env = dict(env or {})
        self.deny_paths = [os.path.abspath(p) for p in deny_paths]
        self.zygote = zygote          # a minidl.grading.zygote.Zygote to fork from (same user only)
        self.warnings = []
        self.proc = None
        self.names = []
        self._workdir = None
        self._out_path = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self):
        """Spawn the worker and load the submission. Raises SubmissionDidNotLoad."""
        self._workdir = tempfile.mkdtemp(prefix="minidl-worker-")
        os.chmod(self._workdir, 0o755)
        sub_copy = os.path.join(self._workdir, "submission", os.path.basename(self.submission_file))
        os.makedirs(os.path.dirname(sub_copy))
        shutil.copy2(self.submission_file, sub_copy)
        sub_dir = os.path.dirname(self.submission_file)
        for name in os.listdir(sub_dir):   # helper modules of a folder submission, not tests
            src = os.path.join(sub_dir, name)
            if (name.endswith(".py") and os.path.isfile(src) and src != self.submission_file
                    and not name.startswith(("test_", "conftest"))):
                shutil.copy2(src, os.path.join(os.path.dirname(sub_copy), name))
        for root, dirs, files in os.walk(self._workdir):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        self._out_path = os.path.join(self._workdir, "output.txt")
        out = open(self._out_path, "wb")
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        _widen_pipes(req_w, resp_w)
        config = {"fd_in": req_r, "fd_out": resp_w, "filename": sub_copy, "mode": self.mode, "seed": self.seed,
                  "deny_paths": self.deny_paths}
        env = worker_environment(dict(self.extra_env, HOME=self._workdir))
        memory = self.memory_mb * 1024 * 1024 if self.memory_mb else None
        drop = self.drop_privileges

        def preexec():  # runs in the child between fork and exec
            os.setsid()
            die_with_parent()
            import resource

            if memory:
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            if self.drop_privileges:     # read at call time: a fallback may have turned it off
                uid, gid = _unprivileged_ids()
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)

        def spawn():
            return subprocess.Popen(
                [sys.executable, "-m", "minidl.grading.worker", json.dumps(config)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                pass_fds=(req_r, resp_w), cwd=self._workdir, env=env, preexec_fn=preexec,
            )

        def fork():
            limits = {"memory": memory, "fsize": FILE_SIZE_LIMIT, "cwd": self._workdir,
                      "env": dict(self.extra_env, HOME=self._workdir)}
            return self.zygote.spawn(config, (req_r, resp_w, out.fileno()), limits)

        self.proc = None
        try:
            if self.zygote is not None and not drop and not self.extra_env:
                try:
                    self.proc = fork()
                except OSError:
                    self.zygote = None
            if self.proc is None:
                self._spawn_fresh(spawn, drop)
        finally:
            os.close(req_r)
            os.close(resp_w)
            out.close()
        self._req_w, self._resp_r = req_w, resp_r
        try:
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

    def _spawn_fresh(self, spawn, drop):
        try:
            self.proc = spawn()
        except PermissionError:
            if not drop:
                raise
            # The interpreter (e.g. under /root) is not readable by an unprivileged user:
            # run as the current user and say so, rather than grade nothing.
            self.drop_privileges = False
            self.warnings.append("the worker runs as root: this Python is not executable by 'nobody'")
            self.proc = spawn()

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    self.proc.kill()
                except ProcessLookupError:
                    pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                data, _ = protocol.encode({"op": "exit"})
                protocol.write_message(self._req_w, data)
                self.proc.wait(timeout=2)
            except Exception:
                pass
        self.kill()
        for fd in ("_req_w", "_resp_r"):
            if hasattr(self, fd):
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
                delattr(self, fd)
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

    # -- calls ----------------------------------------------------------------------------
    def _receive(self, timeout, what):
        deadline = time.monotonic() + timeout
        chunks, have = [], 0
        need = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise StudentTimeout(timeout, what)
            ready, _, _ = select.select([self._resp_r], [], [], min(remaining, 0.5))
            if not ready:
                if self.proc.poll() is not None:
                    raise WorkerDied(self.proc.returncode, what, self.output())
                continue
            chunk = os.read(self._resp_r, 1 << 20)
            if not chunk:
                self.proc.wait(timeout=5)
                raise WorkerDied(self.proc.returncode, what, self.output())
            chunks.append(chunk)
            have += len(chunk)
            if need is None and have >= 8:
                need = int.from_bytes(b"".join(chunks)[:8], "little")
                if need > protocol.MAX_MESSAGE_BYTES:
                    self.kill()
                    raise protocol.ProtocolError(f"reply of {need} bytes is too large")
            if need is not None and have >= 8 + need:
                buf = b"".join(chunks)
                try:
                    message, _ = protocol.decode(buf[8:8 + need])
                except protocol.ProtocolError:
                    self.kill()
                    raise
                return message

    def _request(self, message, timeout, what):
        if not self.alive:
            raise WorkerDied(self.proc.returncode if self.proc else None, what, self.output())
        sent = []
        data, generators = protocol.encode(message, arrays_out=sent)
        try:
            protocol.write_message(self._req_w, data)
        except (BrokenPipeError, OSError):
            self.proc.wait(timeout=5)
            raise WorkerDied(self.proc.returncode, what, self.output()) from None
        reply = self._receive(timeout, what)
        if not reply.get("ok"):
            raise StudentError(reply.get("error_type", "Error"), reply.get("message", ""), reply.get("traceback", ""))
        for gen, state in zip(generators, reply.get("rng_states") or []):
            protocol.set_generator_state(gen, state)
        for index, new in (reply.get("mutated") or {}).items():   # in-place changes, as locally
            original = sent[int(index)]
            if isinstance(original, np.ndarray) and original.flags.writeable and original.shape == new.shape:
                np.copyto(original, new, casting="unsafe")
        return reply.get("value")

    def call(self, name, *args, timeout=10.0, **kwargs):
        """Call the submission's top-level function ``name``; arguments cross by value."""
        return self._request({"op": "call", "name": name, "args": list(args), "kwargs": kwargs},
                             timeout, f"{name}()")

    def call_method(self, handle, name, *args, timeout=10.0, **kwargs):
        return self._request({"op": "call_method", "handle": handle.id, "name": name, "args": list(args),
                              "kwargs": kwargs}, timeout, f"{handle.type_name}.{name}()")

    def getattr(self, name, handle=None, timeout=10.0):
        return self._request({"op": "getattr", "name": name, "handle": handle.id if handle else None},
                             timeout, f"reading {name}")

    def numerical_gradient(self, name, args, kwargs, x_slot, x, dout=None, output=None, eps=1e-6, timeout=30.0):
        """Centered-difference gradient of Σ f(...)[output] ⊙ dout w.r.t. the argument in
        ``x_slot`` (a position or keyword), computed inside the worker in one request."""
        x = np.array(x, dtype=np.float64, copy=True)
        dout = None if dout is None else np.asarray(dout, dtype=np.float64)
        return self._request({"op": "numgrad", "name": name, "args": list(args), "kwargs": dict(kwargs),
                              "x_slot": x_slot, "output": output, "eps": float(eps), "value": [x, dout]},
                             timeout, f"differencing {name}()")

    def define(self, name, source, fn_name, timeout=10.0):
        """Replace the submission's ``name`` with the function ``fn_name`` defined by ``source``."""
        return self._request({"op": "define", "name": name, "source": source, "fn_name": fn_name},
                             timeout, f"substituting {name}")

    def restore(self, timeout=10.0):
        """Undo every :meth:`define`."""
        return self._request({"op": "restore"}, timeout, "restoring the submission")

    def reseed(self, seed, timeout=10.0):
        return self._request({"op": "seed", "value": int(seed)}, timeout, "seeding")
