"""Isolation of a worker: the operating system is the boundary, not Python.

A Python audit hook cannot stop a hostile submission (``_posixsubprocess.fork_exec``,
``os.open(..., dir_fd=)``, ``os.link``, ``pidfd_send_signal`` and ``/proc/<pid>/cmdline``
all step around it), so each worker is confined by the kernel, at the strongest of three
levels this machine allows:

``namespace``  (Linux, grader running as root) its own PID, mount, network, IPC and UTS
               namespaces. The worker is PID 1 of its PID namespace: it cannot see or signal
               the grader, and every process it starts dies with it. Its filesystem is a fresh
               tmpfs holding the Python runtime, the system libraries and minidl read-only, a
               copy of the submission and a private scratch ``/tmp`` — the homework folder,
               tests, solution, mutants, records, results and other submissions do not exist
               there. No network. Plus everything of the ``uid`` level.
``uid``        an unprivileged uid/gid of its own (never shared with another worker), no
               supplementary groups, ``no_new_privs``, rlimits (address space, CPU, processes,
               file size, open files, core = 0), a clean environment. What the grader keeps
               private (its copy of the tests, records, results) is in folders only the
               grader can read; hidden tests, solution and mutants of the homework are made
               unreadable to other users. At the end every process of that uid is killed and
               every file it left in /tmp, /var/tmp and /dev/shm removed.
``audit``      the grader cannot change user (an unprivileged grader without user
               namespaces, or a platform without ``fork``): only the audit hook and the rlimits
               stand between the submission and the grader's files. Fine for students running
               ``minidl-grade check`` on their own work, not for grading.

The level is chosen once per run (:func:`probe`), can be capped with the environment
variable ``MINIDL_GRADE_ISOLATION`` (``namespace``/``uid``/``audit``: the strongest level to
try), is verified for every worker from the outside (:func:`verify_worker`: the grader reads
the worker's namespaces, credentials, ``NoNewPrivs`` and limits from ``/proc``), and is
recorded in results.json. ``isolation = "strict"`` in grading.toml refuses to grade below
``namespace``.
"""
import ctypes
import ctypes.util
import os
import platform
import random
import shutil
import signal
import sys

LEVELS = ("audit", "uid", "namespace")         # weakest first
ENV_LEVEL = "MINIDL_GRADE_ISOLATION"
ENV_USER = "MINIDL_GRADE_USER"

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NAMESPACE_FLAGS = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
NAMESPACES = ("pid", "mnt", "net", "ipc", "uts")

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 1, 38, 39
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217, "i686": 217,
                  "armv7l": 218}

# Unnamed uids handed to workers (one per worker): they own no file, so they read only what
# "others" may read, and every process of one belongs to exactly one worker.
UID_BASE, UID_SPAN = 0x6D640000, 0x10000

SCRATCH_MB = 64
LIMITS = {"nproc": 64, "nofile": 256, "cpu": 600, "fsize": 64 * 1024 * 1024}

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return _libc


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags):
    if hasattr(os, "unshare"):                # Python 3.12+
        os.unshare(flags)
    else:
        _check(libc().unshare(ctypes.c_int(flags)), "unshare")


def mount(source, target, fstype, flags, data=None):
    enc = (lambda s: None if s is None else os.fsencode(s))
    _check(libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def prctl(option, arg2=0):
    if not hasattr(libc(), "prctl"):
        raise OSError(38, "prctl is Linux's")
    value = libc().prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(0), ctypes.c_ulong(0),
                         ctypes.c_ulong(0))
    if value < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")
    return value


def pivot_root(new_root):
    """Make ``new_root`` (the current directory) ``/`` and detach the old root."""
    number = SYS_PIVOT_ROOT.get(platform.machine())
    os.chdir(new_root)
    if number is None or libc().syscall(ctypes.c_long(number), b".", b".") != 0:
        os.chroot(".")                                   # no pivot_root: chroot (still a private mount ns)
    else:
        _check(libc().umount2(b".", ctypes.c_int(MNT_DETACH)), "detaching the old root")
    os.chdir("/")


# -- choosing a level ------------------------------------------------------------------------
class Level:
    """The level reached here, and why not the next one up."""

    def __init__(self, name, reasons):
        self.name, self.reasons = name, list(reasons)

    def at_least(self, name):
        return LEVELS.index(self.name) >= LEVELS.index(name)

    def __repr__(self):
        return f"Level({self.name!r})"


def requested_cap():
    value = os.environ.get(ENV_LEVEL, "").strip().lower()
    if value and value not in LEVELS:
        raise ValueError(f"{ENV_LEVEL} must be one of {LEVELS}, got {value!r}")
    return value or "namespace"


def _try_in_child(fn):
    """Run ``fn`` in a forked child; True when it exits 0 (namespaces must be tried: container
    runtimes refuse them with EPERM although the kernel has them)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if fn() else 1
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _namespace_probe():
    unshare(NAMESPACE_FLAGS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", "/tmp" if os.path.isdir("/tmp") else "/", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
    return True


def _uid_probe():
    os.setgroups([])
    os.setresgid(UID_BASE, UID_BASE, UID_BASE)
    os.setresuid(UID_BASE, UID_BASE, UID_BASE)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    try:
        os.setuid(0)
    except PermissionError:
        return True
    return False


def probe(cap=None):
    """The strongest level (at most ``cap``) that works here, with the reasons for the ones
    above it that do not."""
    cap = cap or requested_cap()
    reasons = []
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return Level("audit", [f"{sys.platform}: no Linux namespaces or fork-based workers"])
    if LEVELS.index(cap) < LEVELS.index("namespace"):
        reasons.append(f"namespace level not tried: {ENV_LEVEL}={cap}")
    elif os.geteuid() != 0:
        reasons.append("namespace: the grader is not root (workers in a user namespace of their own, for an "
                       "unprivileged grader, are not implemented)")
    elif _try_in_child(_namespace_probe):
        return Level("namespace", reasons)
    else:
        reasons.append("namespace: unshare(PID|mount|net|IPC) or mount was refused here "
                       "(a container runtime without CAP_SYS_ADMIN, or user namespaces disabled)")
    if LEVELS.index(cap) < LEVELS.index("uid"):
        reasons.append(f"uid level not tried: {ENV_LEVEL}={cap}")
    elif os.geteuid() != 0:
        reasons.append("uid: the grader is not root, so the worker cannot run as another user")
    elif _try_in_child(_uid_probe):
        return Level("uid", reasons)
    else:
        reasons.append("uid: switching to an unprivileged uid failed")
    return Level("audit", reasons)


def worker_ids(user=None):
    """``(uid, gid)`` for one worker: the named user (``MINIDL_GRADE_USER`` or the
    assignment's ``worker_user``), else a fresh unnamed uid."""
    user = user or os.environ.get(ENV_USER)
    if user:
        import pwd

        entry = pwd.getpwnam(user)
        if entry.pw_uid == 0:
            raise ValueError(f"worker user {user!r} is root")
        return entry.pw_uid, entry.pw_gid
    uid = UID_BASE + random.SystemRandom().randrange(1, UID_SPAN)
    return uid, uid


# -- inside the worker, before any student code ----------------------------------------------
def _bind(src, dst, readonly=True):
    if os.path.islink(src):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.lexists(dst):
            os.symlink(os.readlink(src), dst)
        return
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        open(dst, "a").close()
    mount(src, dst, None, MS_BIND)
    if readonly:
        mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _inside(path, folder):
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def runtime_paths():
    """What a worker's filesystem shows read-only: system libraries, the Python runtime,
    minidl (only its package folder: an editable install's checkout holds the homework)."""
    import minidl

    paths = ["/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/etc/ld.so.cache",
             "/etc/localtime", "/etc/alternatives"]
    paths += [sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix]
    package = os.path.dirname(os.path.realpath(minidl.__file__))
    paths.append(package)
    for entry in sys.path:
        if entry and os.path.isdir(entry) and os.path.basename(entry.rstrip(os.sep)) in ("site-packages",
                                                                                         "dist-packages"):
            paths.append(entry)
    for name in ("numpy", "numpy.libs"):
        for entry in sys.path:
            cand = os.path.join(entry, name) if entry else None
            if cand and os.path.isdir(cand):
                paths.append(cand)
    out = []
    for p in paths:
        p = os.path.abspath(p)
        if os.path.lexists(p) and p not in out:
            out.append(p)
    return out


def build_view(root, submission_dir, uid, gid, protected=()):
    """In a fresh mount namespace (and as PID 1 of a fresh PID namespace): make ``root`` a
    tmpfs holding only the runtime (read-only), ``/submission`` (a writable copy of
    ``submission_dir``), ``/tmp``, ``/dev/{null,zero,random,urandom}`` and a ``/proc`` of this
    PID namespace, then pivot into it. ``protected`` paths that a runtime folder happens to
    contain are covered with an empty read-only tmpfs."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=755")
    # The scratch folders first: a runtime that lives under /tmp (a CI virtualenv, a clone in
    # /tmp) is then bound *inside* the private /tmp instead of being hidden by it.
    for name, mode in (("/tmp", "1777"), ("/submission", "755")):
        os.makedirs(root + name)
        mount("tmpfs", root + name, "tmpfs", MS_NOSUID | MS_NODEV,
              f"size={SCRATCH_MB}m,mode={mode},uid={uid},gid={gid}")
    for src in runtime_paths():
        _bind(src, root + src)
    for name in ("null", "zero", "random", "urandom", "full"):
        if os.path.exists("/dev/" + name):
            _bind("/dev/" + name, root + "/dev/" + name, readonly=False)
    os.makedirs(root + "/proc")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in os.listdir(submission_dir):
        src = os.path.join(submission_dir, name)
        if os.path.isfile(src):
            shutil.copyfile(src, root + "/submission/" + name)
            os.chown(root + "/submission/" + name, uid, gid)
    for p in protected:
        target = root + os.path.abspath(p)
        if os.path.isdir(target):
            mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0")
        elif os.path.lexists(target):
            mount("/dev/null", target, None, MS_BIND)
    os.makedirs(root + "/etc", exist_ok=True)
    with open(root + "/etc/passwd", "w") as f:
        f.write(f"root:x:0:0::/:/bin/false\nstudent:x:{uid}:{gid}::/tmp:/bin/false\n")
    pivot_root(root)
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def drop_privileges(uid, gid):
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def set_limits(memory_bytes, limits=None, strict=True):
    """The worker's rlimits; ``strict=False`` (audit level, e.g. macOS without RLIMIT_AS)
    skips the ones the platform refuses."""
    import resource

    limits = dict(LIMITS, **(limits or {}))
    pairs = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, limits["fsize"]),
             (resource.RLIMIT_NOFILE, limits["nofile"]), (resource.RLIMIT_CPU, limits["cpu"])]
    if strict:      # RLIMIT_NPROC counts every process of the uid: only a worker's own uid can take it
        pairs.append((resource.RLIMIT_NPROC, limits["nproc"]))
    if memory_bytes:
        pairs.append((resource.RLIMIT_AS, memory_bytes))
    for which, value in pairs:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            if strict:
                raise
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def confine(level, plan):
    """Everything between fork and the first line of student code, in the worker. ``plan``:
    uid, gid, root (namespace), submission_dir, protected, memory, limits. Returns what the
    worker should report about itself (checked again by the grader from outside)."""
    report = {"level": level}
    if level == "namespace":
        build_view(plan["root"], plan["submission_dir"], plan["uid"], plan["gid"], plan.get("protected", ()))
        os.chdir("/submission")
        report["visible_protected"] = [p for p in plan.get("protected", ()) if _visible(p)]
    else:
        os.setsid()
        os.chdir(plan["submission_dir"])
    set_limits(plan.get("memory"), plan.get("limits"), strict=level != "audit")
    if level in ("namespace", "uid"):
        drop_privileges(plan["uid"], plan["gid"])
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError:                                       # pragma: no cover - pre-3.5 kernels
        pass
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)           # after setuid, which clears it
    except OSError:  # pragma: no cover
        pass
    report["pid"] = os.getpid()
    report["uid"] = os.getuid()
    try:
        os.setuid(0)
        report["regained_root"] = True
    except PermissionError:
        report["regained_root"] = False
    return report


def _visible(path):
    try:
        return bool(os.listdir(path)) if os.path.isdir(path) else os.path.exists(path) and os.path.getsize(path) > 0
    except OSError:
        return False


# -- the grader's side -----------------------------------------------------------------------
def _status_fields(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


def _limits_of(pid):
    """Hard limits of ``pid`` from /proc/<pid>/limits (``prlimit`` would need CAP_SYS_RESOURCE,
    which container runtimes often drop); "unlimited" is None."""
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        next(f)
        for line in f:
            name, hard = line[:26].strip(), line[47:68].strip()
            out[name] = None if hard == "unlimited" else int(hard)
    return out


def verify_worker(pid, level, uid, memory_bytes=None):
    """The grader's own look at a running worker: does each mechanism of ``level`` hold?
    Returns the list of problems (empty when everything engaged)."""
    if level == "audit" or not sys.platform.startswith("linux"):
        return []
    problems = []
    try:
        status = _status_fields(pid)
    except OSError as exc:
        return [f"cannot inspect the worker: {exc}"]
    if [int(v) for v in status.get("Uid", [])] != [uid] * 4:
        problems.append(f"worker uid {status.get('Uid')} is not {uid}")
    if status.get("Groups"):
        problems.append(f"worker keeps supplementary groups {status['Groups']}")
    if status.get("NoNewPrivs", ["0"])[0] != "1":
        problems.append("no_new_privs is not set")
    if int(status.get("CapEff", ["0"])[0], 16) != 0:
        problems.append("the worker kept capabilities")
    try:
        limits = _limits_of(pid)
        wanted = {"Max processes": LIMITS["nproc"], "Max core file size": 0, "Max file size": LIMITS["fsize"],
                  "Max open files": LIMITS["nofile"], "Max cpu time": LIMITS["cpu"]}
        if memory_bytes:
            wanted["Max address space"] = memory_bytes
        for name, value in wanted.items():
            if limits.get(name) != value:
                problems.append(f"{name.lower()} is {limits.get(name)}, not {value}")
    except OSError as exc:       # pragma: no cover
        problems.append(f"cannot read the worker's limits: {exc}")
    if level == "namespace":
        for ns in NAMESPACES:
            try:
                if os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}"):
                    problems.append(f"the worker shares the grader's {ns} namespace")
            except OSError as exc:
                problems.append(f"cannot read the worker's {ns} namespace: {exc}")
        nspid = status.get("NSpid", [])
        if len(nspid) < 2 or nspid[-1] != "1":
            problems.append(f"the worker is not PID 1 of its own PID namespace (NSpid {nspid})")
    return problems


def processes_of(uid):
    """Host pids whose real or effective uid is ``uid``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = _status_fields(name)
        except OSError:
            continue
        ids = [int(v) for v in status.get("Uid", [])[:2]]
        if uid in ids and status.get("State", ["?"])[0] != "Z":       # a zombie is dead already
            found.append(int(name))
    return found


def kill_uid(uid, rounds=20):
    """SIGKILL every process of ``uid`` until none is left (they may be forking). A worker's
    uid is its own, so nothing else is touched. Returns how many were killed."""
    if uid is None or uid == os.getuid() or uid == 0:
        return 0
    killed = 0
    for _ in range(rounds):
        pids = processes_of(uid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        import time

        time.sleep(0.01)
    return killed


SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")


def remove_files_of(uid, folders=SHARED_WRITABLE):
    """Delete what ``uid`` left in the world-writable folders (uid level: a namespace worker's
    scratch is a tmpfs that vanishes with it). Returns the paths removed."""
    if uid is None or uid == 0:
        return []
    removed = []
    for top in folders:
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_uid == uid:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    try:
                        os.unlink(entry.path)
                    except OSError:
                        continue
                removed.append(entry.path)
    return removed


def close_to_others(paths):
    """uid level: remove the "others" permission bits of ``paths`` (hidden tests, solution,
    mutants, submissions) so an unprivileged worker cannot read them. Returns what changed."""
    changed = []
    for p in paths:
        try:
            mode = os.stat(p).st_mode
        except OSError:
            continue
        if mode & 0o007:
            os.chmod(p, mode & ~0o007)
            changed.append(p)
    return changed


def reachable_by_others(path):
    """Could an unprivileged stranger read ``path``? (every parent folder searchable by
    others, the path itself readable by others)."""
    path = os.path.abspath(path)
    try:
        parts = path.split(os.sep)
        for i in range(2, len(parts)):
            if not os.stat(os.sep.join(parts[:i])).st_mode & 0o001:
                return False
        return bool(os.stat(path).st_mode & 0o004)
    except OSError:
        return False


def describe(level):
    """What ``level`` protects against (for doctor, README and results)."""
    return {
        "namespace": "own PID/mount/network/IPC namespaces, a filesystem with only the runtime and the submission, "
                     "an unprivileged uid, no_new_privs, rlimits: hidden files, the grader and other submissions "
                     "are out of reach, and every process the submission starts dies with it",
        "uid": "an unprivileged uid of its own, no_new_privs, rlimits, hidden files closed to other users: "
               "the submission cannot read the grader's private files or signal it, but it sees the rest of "
               "the filesystem and the process list; its processes and files are removed at the end",
        "audit": "only a Python audit hook and rlimits: a determined submission can read hidden tests and "
                 "forge results — use for students' own checks, never for grading",
    }[level]


def doctor_lines(cap=None):
    level = probe(cap)
    lines = [f"isolation level: {level.name}", f"  protects: {describe(level.name)}"]
    for r in level.reasons:
        lines.append(f"  not higher: {r}")
    lines.append(f"  grader: uid {os.geteuid()}, Python {platform.python_version()} at {sys.executable}, "
                 f"{platform.system()} {platform.release()}")
    if os.environ.get(ENV_LEVEL):
        lines.append(f"  capped by {ENV_LEVEL}={os.environ[ENV_LEVEL]}")
    if level.name == "uid":
        hidden = [p for p in dict.fromkeys((sys.base_prefix, sys.prefix)) if not reachable_by_others(p)]
        if hidden:
            lines.append(f"  note: {', '.join(hidden)} is not readable by other users: a worker can use the "
                         f"modules the zygote preloads (numpy, minidl, much of the standard library), but "
                         f"importing anything else fails; install Python where others can read it")
    return level, lines
