"""The worker process: loads the submission and serves calls from the grader.

Run by :mod:`minidl.grading.sandbox` as ``python -m minidl.grading.worker CONFIG_JSON``
with the request/response pipes on file descriptors named in the config. The grader never
imports the submission; this process is the only place student code runs. Whatever happens
here — an exception, ``sys.exit``, ``os._exit``, an infinite loop, a huge allocation — the
grader sees a failed call, never a blank grade.
"""
import json
import os
import sys
import traceback
import types


def _student_traceback(exc, filename):
    """Format ``exc`` keeping only frames from the submission's file."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    lines = ["Traceback (student code):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def _seed_everything(seed):
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    try:
        import minidl

        minidl.manual_seed(seed)
    except Exception:  # pragma: no cover - minidl is always importable where the worker runs
        pass


class _Server:
    def __init__(self, config):
        from minidl.grading import protocol

        self.protocol = protocol
        self.fd_in = config["fd_in"]
        self.fd_out = config["fd_out"]
        self.filename = config["filename"]
        self.handles = {}
        self.module = None

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
                       "message": str(exc), "traceback": _student_traceback(exc, self.filename)
                       if not isinstance(exc, SyntaxError) else "".join(traceback.format_exception_only(type(exc), exc))})
            return False
        self.module = module
        names = sorted(n for n in vars(module) if not n.startswith("_") and not isinstance(vars(module)[n], types.ModuleType))
        self.send({"ok": True, "kind": "load", "value": names})
        return True

    def serve(self):
        protocol = self.protocol
        while True:
            try:
                raw = protocol.read_message(self.fd_in)
            except EOFError:
                return
            request, generators = protocol.decode(raw, resolve_handle=self.resolve)
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
                elif op == "getattr":
                    obj = self.resolve(request["handle"], "object") if request.get("handle") is not None else self.module
                    value = getattr(obj, request["name"])
                    self.send({"ok": True, "value": value, "rng_states": []})
                    continue
                else:
                    raise ValueError(f"unknown operation {op!r}")
                args = request.get("args") or []
                kwargs = request.get("kwargs") or {}
                value = target(*args, **kwargs)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.send({"ok": False, "kind": "call", "error_type": type(exc).__name__, "message": str(exc)[:2000],
                           "traceback": _student_traceback(exc, self.filename)[-8000:]})
                continue
            states = [protocol.generator_state(g) for g in generators]
            self.send({"ok": True, "value": value, "rng_states": states})


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    config = json.loads(argv[0])
    # The grader's own directory must not be importable from here (a planted conftest.py or
    # numpy.py next to the submission is not picked up before the real packages).
    sys.path = [p for p in sys.path if p not in ("", os.getcwd())]
    sub_dir = os.path.dirname(config["filename"])
    if sub_dir not in sys.path:
        sys.path.append(sub_dir)
    server = _Server(config)
    if server.load(config):
        server.serve()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
