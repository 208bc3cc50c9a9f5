"""The worker process: loads the submission and serves calls from the grader.

Forked by the zygote (:mod:`minidl.grading.zygote`) and confined before this module runs;
the request/response pipes are file descriptors named in the config. It first reports how it
was confined (the grader checks that from outside too), waits for the grader's "load", then
loads the submission and serves calls. The grader never imports the submission; this process
is the only place student code runs, and nothing it computes is trusted beyond the return
values of the student's functions. Whatever happens here — an exception, ``sys.exit``,
``os._exit``, an infinite loop, a huge allocation — the grader sees a failed call, never a
blank grade.
"""
import os
import sys
import traceback
import types


_MISSING = object()


def _generators_in(value):
    import numpy as np

    if isinstance(value, np.random.Generator):
        return [value]
    if isinstance(value, (list, tuple)):
        return [g for v in value for g in _generators_in(v)]
    if isinstance(value, dict):
        return [g for v in value.values() for g in _generators_in(v)]
    return []


def _student_traceback(exc, filename):
    """Format ``exc`` keeping only frames from the submission's file (shown by its name, not
    the worker's temporary folder, so two runs print the same text)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    lines = ["Traceback (student code):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return _scrub("".join(lines), filename)


def _scrub(text, filename):
    return text.replace(os.path.dirname(filename) + os.sep, "")


def _seed_everything(seed):
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    minidl = sys.modules.get("minidl")       # imported with this package
    if minidl is not None:
        try:
            minidl.manual_seed(seed)
        except Exception:  # pragma: no cover
            pass


_SPAWN_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                 "os.forkpty", "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "os.startfile", "os.kill",
                 "os.killpg",
                 "signal.pthread_kill")


def _install_guard(deny_paths):
    """An audit hook (it cannot be removed from Python) that refuses to open or list
    anything under ``deny_paths`` (the instructor's tests, the results folder) and to start
    processes or load native libraries: a defence when the worker cannot drop to ``nobody``."""
    deny = tuple(os.path.realpath(p) for p in deny_paths if p)
    realpath, fspath, sep = os.path.realpath, os.fspath, os.sep

    def denied(path):
        if isinstance(path, int) or path is None:
            return False
        try:
            full = realpath(fspath(path) if not isinstance(path, bytes) else path.decode(errors="replace"))
        except Exception:
            return False
        return any(full == d or full.startswith(d + sep) for d in deny)

    def hook(event, args):
        if event in ("open", "os.listdir", "os.scandir", "shutil.copyfile", "os.rename", "os.remove"):
            if args and denied(args[0]):
                raise PermissionError(f"the grader does not allow access to {args[0]!r}")
        elif event.startswith(_SPAWN_EVENTS):
            raise PermissionError(f"the grader does not allow {event} in a submission")

    sys.addaudithook(hook)


class _Server:
    def __init__(self, config):
        from minidl.grading import protocol

        self.protocol = protocol
        self.fd_in = config["fd_in"]
        self.fd_out = config["fd_out"]
        self.filename = config["filename"]
        self.handles = {}
        self.module = None
        self.overrides = {}

    # -- handles --------------------------------------------------------------------------
    def handle_of(self, obj):
        hid = id(obj)
        self.handles[hid] = obj
        return hid

    def resolve(self, hid, type_name):
        try:
            return self.handles[hid]
        except KeyError:
            raise LookupError(f"unknown object handle #{hid} ({type_name})") from None

    # -- messages -------------------------------------------------------------------------
    def send(self, message):
        try:
            data, _ = self.protocol.encode(message, handle_of=self.handle_of)
        except self.protocol.ProtocolError as exc:
            data, _ = self.protocol.encode({"ok": False, "kind": "protocol", "error_type": "ProtocolError",
                                            "message": f"the return value cannot be graded: {exc}",
                                            "traceback": ""})
        self.protocol.write_message(self.fd_out, data)

    def load(self, config):
        from minidl.grading.loading import read_source, select_source

        _seed_everything(int(config.get("seed", 0)))
        module = types.ModuleType("submission")
        module.__file__ = self.filename
        sys.modules["submission"] = module
        try:
            source = read_source(self.filename)
            code, kept = select_source(source, config.get("mode", "defs"), filename=self.filename)
            exec(code, module.__dict__)
        except BaseException as exc:  # SyntaxError, ImportError, SystemExit, anything
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.send({"ok": False, "kind": "load", "error_type": type(exc).__name__,
                       "message": _scrub(str(exc), self.filename), "traceback": _student_traceback(exc, self.filename)
                       if not isinstance(exc, SyntaxError) else _scrub("".join(traceback.format_exception_only(type(exc), exc)),
                                                         self.filename)})
            return False
        self.module = module
        names = sorted(n for n in vars(module) if not n.startswith("_") and not isinstance(vars(module)[n], types.ModuleType))
        self.send({"ok": True, "kind": "load", "value": names})
        return True

    # -- operations beyond a plain call --------------------------------------------------
    def calls(self, request):
        """Plain calls of one function, in order (the grader differences their results)."""
        protocol = self.protocol
        target = getattr(self.module, request["name"])
        values = []
        for call in request["value"]:
            args = protocol.materialize(list(call.get("args") or []))
            kwargs = protocol.materialize(dict(call.get("kwargs") or {}))
            values.append(target(*args, **kwargs))
        return values

    def define(self, request):
        """Replace the submission's ``name`` with instructor code (``use_reference``)."""
        import numpy as np

        namespace = {"np": np, "numpy": np, "__name__": "reference"}
        exec(compile(request["source"], "<reference>", "exec"), namespace)
        name = request["name"]
        if name not in self.overrides:
            self.overrides[name] = vars(self.module).get(name, _MISSING)
        setattr(self.module, name, namespace[request["fn_name"]])

    def restore(self):
        for name, original in self.overrides.items():
            if original is _MISSING:
                vars(self.module).pop(name, None)
            else:
                setattr(self.module, name, original)
        self.overrides = {}

    def serve(self):
        protocol = self.protocol
        while True:
            try:
                raw = protocol.read_message(self.fd_in)
            except EOFError:
                return
            arrays = []
            request, generators = protocol.decode(raw, resolve_handle=self.resolve, arrays_out=arrays)
            op = request.get("op")
            if op == "exit":
                return
            if op == "seed":
                _seed_everything(int(request["value"]))
                self.send({"ok": True, "value": None})
                continue
            try:
                if op == "call":
                    target = getattr(self.module, request["name"])
                elif op == "call_method":
                    obj = self.resolve(request["handle"], "object")
                    target = getattr(obj, request["name"])
                elif op in ("calls", "define", "restore"):
                    value = self.calls(request) if op == "calls" else \
                        self.define(request) if op == "define" else self.restore()
                    self.send({"ok": True, "value": value, "rng_states": []})
                    continue
                elif op == "getattr":
                    obj = self.resolve(request["handle"], "object") if request.get("handle") is not None else self.module
                    value = getattr(obj, request["name"])
                    self.send({"ok": True, "value": value, "rng_states": []})
                    continue
                else:
                    raise ValueError(f"unknown operation {op!r}")
                args = protocol.materialize(request.get("args") or [])
                kwargs = protocol.materialize(request.get("kwargs") or {})
                before = [a.copy() for a in arrays]
                value = target(*args, **kwargs)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.send({"ok": False, "kind": "call", "error_type": type(exc).__name__, "message": _scrub(str(exc)[:2000], self.filename),
                           "traceback": _student_traceback(exc, self.filename)[-8000:]})
                continue
            states = [protocol.generator_state(g) for g in generators]
            mutated = {str(i): a for i, (a, b) in enumerate(zip(arrays, before))
                       if a.shape != b.shape or a.tobytes() != b.tobytes()}
            self.send({"ok": True, "value": value, "rng_states": states, "mutated": mutated})


def run(config):
    """Report, load and serve one submission until the grader closes the pipe; never returns."""
    # The grader's own directory must not be importable from here (a planted conftest.py or
    # numpy.py next to the submission is not picked up before the real packages).
    sys.path = [p for p in sys.path if p not in ("", os.getcwd())]
    sub_dir = os.path.dirname(config["filename"])
    if sub_dir not in sys.path:
        sys.path.append(sub_dir)
    import numpy  # noqa: F401  (imported before the guard: numpy may load native helpers)

    server = _Server(config)
    server.send({"ok": True, "kind": "ready", "value": config.get("ready") or {}})
    from minidl.grading import protocol

    try:
        request, _ = protocol.decode(protocol.read_message(server.fd_in))
    except (EOFError, protocol.ProtocolError):
        os._exit(0)
    if request.get("op") != "load":
        os._exit(0)
    _install_guard(config.get("deny_paths") or [])
    if server.load(config):
        server.serve()
    sys.stdout.flush()
    os._exit(0)
