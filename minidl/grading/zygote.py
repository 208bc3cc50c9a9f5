"""A fork server for workers: start Python, NumPy and minidl once, fork a worker per test.

Starting a fresh interpreter and importing NumPy costs 0.1–0.4 s, which a per-test worker
pays fifteen times per submission. The zygote is started once per grading run with the
workers' environment (one BLAS thread, fixed hash seed), imports what every worker imports,
and on request forks a child that sets up exactly what a spawned worker would — its own
session (so the grader can kill its process group), the memory and file-size limits, stdout
and stderr to the capture file, the working directory — and then runs
:func:`minidl.grading.worker.run`. The child never returns to the zygote's loop.

It is used only when the worker would run as the grader's own user anyway (not when it drops
to ``nobody``, where a fresh ``exec`` is the safer choice). Control messages are JSON lines
over a Unix socket; the three pipe/file descriptors travel with SCM_RIGHTS.
"""
import json
import os
import signal
import socket
import sys
import time

MAX_FDS = 3


def _child(config, fds, limits):
    import resource

    from minidl.grading.sandbox import die_with_parent

    req_r, resp_w, out_fd = fds
    os.setsid()
    die_with_parent()
    if limits.get("memory"):
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory"], limits["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize"], limits["fsize"]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    os.chdir(limits["cwd"])
    os.environ.update(limits.get("env", {}))
    config = dict(config, fd_in=req_r, fd_out=resp_w)
    from minidl.grading import worker

    try:
        worker.run(config)
    finally:
        os._exit(70)


def serve(sock):
    import numpy  # noqa: F401  (what every worker imports, loaded once)

    from minidl.grading import loading, protocol, worker  # noqa: F401

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
        if op == "spawn":
            pid = os.fork()
            if pid == 0:
                sock.close()
                _child(request["config"], fds, request["limits"])
            for fd in fds:
                os.close(fd)
            reply = {"pid": pid}
        elif op == "poll":
            pid = request["pid"]
            if pid not in statuses:
                try:
                    done, status = os.waitpid(pid, 0 if request.get("block") else os.WNOHANG)
                except ChildProcessError:
                    done, status = pid, 0
                if done:
                    statuses[pid] = os.waitstatus_to_exitcode(status)
            reply = {"returncode": statuses.get(pid)}
        else:
            reply = {"error": f"unknown op {op!r}"}
        sock.sendall(json.dumps(reply).encode("utf-8") + b"\n")


class ZygoteProcess:
    """The slice of ``subprocess.Popen`` that :class:`~minidl.grading.sandbox.Worker` uses,
    for a worker forked by the zygote."""

    def __init__(self, zygote, pid):
        self.zygote, self.pid, self.returncode = zygote, pid, None

    def poll(self):
        if self.returncode is None:
            self.returncode = self.zygote.poll(self.pid)
        return self.returncode

    def wait(self, timeout=None):
        import subprocess

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("worker", timeout)
            time.sleep(0.005)
        return self.returncode

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Zygote:
    """Grader side: start the fork server and ask it for workers."""

    def __init__(self, env):
        import subprocess

        self._sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        import tempfile

        self._cwd = tempfile.mkdtemp(prefix="minidl-zygote-")
        self.proc = subprocess.Popen([sys.executable, "-m", "minidl.grading.zygote", str(child.fileno())],
                                     pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL, cwd=self._cwd,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        child.close()
        self._sock.settimeout(30.0)
        self._buf = b""

    def _ask(self, request, fds=()):
        data = json.dumps(request).encode("utf-8") + b"\n"
        socket.send_fds(self._sock, [data], list(fds))
        while b"\n" not in self._buf:
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                raise OSError("the worker fork server has stopped")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def spawn(self, config, fds, limits):
        return ZygoteProcess(self, self._ask({"op": "spawn", "config": config, "limits": limits}, fds)["pid"])

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
            shutil.rmtree(self._cwd, ignore_errors=True)


if __name__ == "__main__":
    sys.path = [p for p in sys.path if p not in ("", os.getcwd())]     # as in a spawned worker
    from minidl.grading.sandbox import die_with_parent

    die_with_parent()
    sock = socket.socket(fileno=int(sys.argv[1]))
    serve(sock)
    os._exit(0)
