"""A fork server for workers: start Python, NumPy and minidl once, fork a confined worker per test.

Starting a fresh interpreter and importing NumPy costs 0.1–0.4 s, which a per-test worker
pays fifteen times per submission. The zygote is started once per grading run with a clean
environment (one BLAS thread, fixed hash seed), imports what every worker imports — it never
reads a test, a record or a submission — and on request forks a worker:

* ``namespace`` level: a child unshares PID, mount, network, IPC and UTS namespaces and
  forks the worker, which is PID 1 there. The worker builds its own filesystem view, drops to
  its unprivileged uid and only then runs :func:`minidl.grading.worker.run`. The child waits
  for it and exits with its status (the zygote reaps the child; the grader kills the worker,
  and with it everything in its namespace).
* ``uid`` / ``audit`` level: the forked child is the worker (its own session so that its
  process group can be killed, and at ``uid`` level its own uid).

Whatever fails while a worker is set up is written, with its traceback, to the worker's
output file and as a ``setup`` reply on its pipe: the grader reports the cause instead of
"exit status 70". The zygote's own errors go to ``zygote.log`` in its folder, which the
grader reads when the zygote dies. Control messages are JSON lines over a Unix socket; the
three pipe/file descriptors travel with SCM_RIGHTS.
"""
import json
import os
import signal
import socket
import sys
import time
import traceback

MAX_FDS = 3
SETUP_FAILED = 70
PRELOAD = ("numpy", "minidl", "minidl.grading.worker", "minidl.grading.loading", "minidl.grading.protocol",
           "minidl.grading.isolation", "json", "random", "math", "ctypes", "subprocess", "signal", "socket",
           "tempfile", "shutil", "pathlib", "copy", "itertools", "functools", "collections", "dataclasses",
           "typing", "pickle", "io", "time", "traceback", "inspect", "textwrap", "re", "string", "struct",
           "glob", "gc", "types", "warnings", "contextlib", "fractions", "decimal", "statistics", "heapq", "bisect")


def _report_setup_failure(resp_w, out_fd, exc):
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        os.write(out_fd, ("worker setup failed:\n" + text).encode("utf-8", "replace"))
    except OSError:
        pass
    try:
        from minidl.grading import protocol

        data, _ = protocol.encode({"ok": False, "kind": "setup", "error_type": type(exc).__name__,
                                   "message": f"{exc}", "traceback": text[-4000:]})
        protocol.write_message(resp_w, data)
    except Exception:
        pass


def _worker(config, fds, plan, level):
    """The worker process: confine, then serve the submission. Never returns."""
    from minidl.grading import isolation

    req_r, resp_w, out_fd = fds
    try:
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        _close_other_fds((0, 1, 2, req_r, resp_w, out_fd))
        import io

        # unbuffered: what the student printed is in the capture file when the grader reads it,
        # even if the worker is then killed
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                      write_through=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                      write_through=True)
        report = isolation.confine(level, plan)
        os.environ.clear()
        os.environ.update(plan["env"])
        config = dict(config, fd_in=req_r, fd_out=resp_w, ready=report)
    except BaseException as exc:
        _report_setup_failure(resp_w, out_fd, exc)
        os._exit(SETUP_FAILED)
    os.close(out_fd)
    from minidl.grading import worker

    try:
        worker.run(config)
    except BaseException as exc:                 # worker.run never returns: this is a bug, say so
        _report_setup_failure(resp_w, 2, exc)
    os._exit(SETUP_FAILED)


def _close_other_fds(keep):
    """Close every descriptor but ``keep``: the zygote's socket must not reach a worker (it
    could ask for workers of its own)."""
    try:
        open_fds = [int(n) for n in os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd")]
    except OSError:  # pragma: no cover
        open_fds = range(3, 1024)
    for fd in open_fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _mirror_exit(pid):
    """Wait for ``pid`` and end this process the same way (exit status or signal)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:  # pragma: no cover
            continue
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


def _spawn(request, fds):
    """Fork a worker; returns ``(child pid to reap, worker pid to kill)``."""
    from minidl.grading import isolation

    level, plan = request["level"], request["plan"]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _close_other_fds((0, 1, 2, w) + tuple(fds))
        try:
            if level != "audit":
                isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
            if level == "namespace":
                isolation.unshare(isolation.NAMESPACE_FLAGS)
                inner = os.fork()
                if inner == 0:
                    os.close(w)
                    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
                    _worker(request["config"], fds, plan, level)
                os.write(w, str(inner).encode())
                os.close(w)
                for fd in fds:
                    os.close(fd)
                _mirror_exit(inner)
            os.write(w, str(os.getpid()).encode())
            os.close(w)
        except BaseException as exc:
            try:
                os.write(w, b"-1")
            except OSError:
                pass
            _report_setup_failure(fds[1], fds[2], exc)
            os._exit(SETUP_FAILED)
        _worker(request["config"], fds, plan, level)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 64)
        if not chunk:
            break
        data += chunk
    os.close(r)
    for fd in fds:
        os.close(fd)
    worker_pid = int(data or b"-1")
    return pid, (worker_pid if worker_pid > 0 else pid)


def serve(sock, log):
    for name in PRELOAD:                 # loaded once; a worker forked later has them already
        try:
            __import__(name)
        except Exception as exc:  # pragma: no cover
            log.write(f"preload {name}: {exc}\n")

    statuses = {}
    while True:
        try:
            line, fds, _, _ = socket.recv_fds(sock, 1 << 20, MAX_FDS)
            while line and not line.endswith(b"\n"):      # the rest of a long request
                more = sock.recv(1 << 20)
                if not more:
                    return
                line += more
        except OSError:
            return
        if not line:
            return
        request = json.loads(line.decode("utf-8"))
        op = request["op"]
        while True:                      # reap every child that has ended (workers killed unwaited)
            try:
                done, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not done:
                break
            statuses[done] = os.waitstatus_to_exitcode(status)
        try:
            if op == "spawn":
                pid, worker_pid = _spawn(request, fds)
                reply = {"pid": pid, "worker_pid": worker_pid}
            elif op == "poll":
                pid = request["pid"]
                if pid not in statuses:
                    try:
                        done, status = os.waitpid(pid, 0 if request.get("block") else os.WNOHANG)
                    except ChildProcessError:
                        done, status = pid, 0
                    if done:
                        statuses[pid] = os.waitstatus_to_exitcode(status)
                reply = {"returncode": statuses.pop(pid, None)}
                if reply["returncode"] is not None:
                    statuses[pid] = reply["returncode"]
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception as exc:
            log.write(traceback.format_exc())
            log.flush()
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sock.sendall(json.dumps(reply).encode("utf-8") + b"\n")


class ZygoteProcess:
    """The slice of ``subprocess.Popen`` that :class:`~minidl.grading.sandbox.Worker` uses,
    for a worker forked by the zygote. ``pid`` is the worker (kill it: at namespace level
    everything it started dies with it); the zygote reaps ``child``."""

    def __init__(self, zygote, child, pid):
        self.zygote, self.child, self.pid, self.returncode = zygote, child, pid, None

    def poll(self):
        if self.returncode is None:
            self.returncode = self.zygote.poll(self.child)
        return self.returncode

    def wait(self, timeout=None):
        import subprocess

        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("worker", timeout)
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        return self.returncode

    def kill(self):
        for pid in (self.pid, self.child):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class ZygoteDied(OSError):
    """The fork server stopped; ``log`` holds what it wrote."""


class Zygote:
    """Grader side: start the fork server and ask it for workers."""

    def __init__(self, env):
        import subprocess
        import tempfile

        self._sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._cwd = tempfile.mkdtemp(prefix="minidl-zygote-")
        self._log_path = os.path.join(self._cwd, "zygote.log")
        with open(self._log_path, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "minidl.grading.zygote", str(child.fileno())],
                                         pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL,
                                         cwd=self._cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        child.close()
        self._sock.settimeout(60.0)
        self._buf = b""

    def log(self):
        try:
            with open(self._log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def _ask(self, request, fds=()):
        data = json.dumps(request).encode("utf-8") + b"\n"
        try:
            socket.send_fds(self._sock, [data], list(fds))
            while b"\n" not in self._buf:
                chunk = self._sock.recv(1 << 16)
                if not chunk:
                    raise OSError("connection closed")
                self._buf += chunk
        except OSError as exc:
            code = self.proc.poll()
            raise ZygoteDied(f"the worker fork server stopped ({exc}; exit status {code}): {self.log()}") from None
        line, self._buf = self._buf.split(b"\n", 1)
        reply = json.loads(line)
        if "error" in reply:
            raise OSError(f"the worker fork server failed: {reply['error']}\n{self.log()}")
        return reply

    def spawn(self, config, fds, plan, level):
        reply = self._ask({"op": "spawn", "config": config, "plan": plan, "level": level}, fds)
        return ZygoteProcess(self, reply["pid"], reply["worker_pid"])

    def poll(self, pid, block=False):
        return self._ask({"op": "poll", "pid": pid, "block": block})["returncode"]

    @property
    def alive(self):
        return self.proc.poll() is None

    def close(self):
        import shutil

        try:
            self._sock.close()
        finally:
            try:
                self.proc.wait(timeout=2)
            except Exception:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self._cwd, ignore_errors=True)


if __name__ == "__main__":
    sys.path = [p for p in sys.path if p not in ("", os.getcwd())]     # as in a spawned worker
    from minidl.grading.sandbox import die_with_parent

    die_with_parent()
    sock = socket.socket(fileno=int(sys.argv[1]))
    with open(os.path.join(os.getcwd(), "zygote.log"), "a") as log:
        try:
            serve(sock, log)
        except BaseException:
            log.write(traceback.format_exc())
            log.flush()
            os._exit(1)
    os._exit(0)
