"""The authoring API instructors import: ``from minidl.grading import G``.

    from minidl.grading import G

    G.assignment("dropout_init", submission="dropout_init.py",
                 names=["dropout_forward", "dropout_backward", "he_normal_"])

    @G.test(2, name="eval mode is the identity", hint="training=False must return x unchanged")
    def test_eval_identity(student, rng):
        x = rng.standard_normal((4, 5))
        out, _ = student.dropout_forward(x, 0.5, False, rng)
        G.check_close(out, x, name="output")

``G.test`` only attaches metadata; the pytest plugin (:mod:`minidl.grading.plugin`) grades.
Every ``check_*``/``require_*`` of :mod:`minidl.grading.checks` is available as ``G.<name>``.
"""
from minidl.grading import checks as _checks

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
ISOLATION_SETTINGS = ("auto", "strict")


class TestSpec:
    """What ``@G.test`` declared about one test function."""

    __test__ = False

    def __init__(self, points, number=None, name=None, visibility="visible", tags=(), timeout=10.0, hint=None,
                 max_score=None):
        if visibility not in VISIBILITIES:
            raise ValueError(f"G.test: visibility must be one of {VISIBILITIES}, got {visibility!r}")
        if points < 0:
            raise ValueError(f"G.test: points must be ≥ 0, got {points}")
        self.points = float(points)
        self.number = None if number is None else str(number)
        self.name = name
        self.visibility = visibility
        self.tags = tuple(tags)
        self.timeout = float(timeout)
        self.hint = hint


class Assignment:
    """Settings of one homework (from ``G.assignment`` or the folder's ``grading.toml``)."""

    def __init__(self, name="assignment", submission=None, names=(), mode="defs", worker="test", memory_mb=512,
                 seed=0, budget=540.0, release_hidden_output=False, load_timeout=30.0, isolation="auto",
                 max_reply_mb=256, worker_user=None):
        if worker not in ("test", "module"):
            raise ValueError(f"worker must be 'test' or 'module', got {worker!r}")
        if isolation not in ISOLATION_SETTINGS:
            raise ValueError(f"isolation must be one of {ISOLATION_SETTINGS}, got {isolation!r}")
        self.name = name
        self.submission = submission
        self.names = list(names)
        self.mode = mode
        self.worker = worker
        self.memory_mb = memory_mb
        self.seed = int(seed)
        self.budget = float(budget)
        self.release_hidden_output = bool(release_hidden_output)
        self.load_timeout = float(load_timeout)
        self.isolation = isolation          # "strict": refuse to grade below namespace isolation
        self.max_reply_mb = float(max_reply_mb)
        self.worker_user = worker_user      # a dedicated account for workers (default: a fresh uid each)

    def update(self, **settings):
        for key, value in settings.items():
            if not hasattr(self, key):
                raise TypeError(f"unknown assignment setting {key!r}")
            if key == "isolation" and value not in ISOLATION_SETTINGS:
                raise ValueError(f"isolation must be one of {ISOLATION_SETTINGS}, got {value!r}")
            setattr(self, key, list(value) if key == "names" else value)
        return self


class _X:
    """Placeholder marking which argument ``check_grad`` perturbs in ``student.spec``."""

    def __repr__(self):
        return "G.X"


class _G:
    X = _X()
    TestSpec = TestSpec

    def __init__(self):
        self.settings = Assignment()

    def test(self, points, number=None, name=None, visibility="visible", tags=(), timeout=10, hint=None):
        """Declare a graded test worth ``points`` (see :class:`TestSpec`)."""
        spec = TestSpec(points, number, name, visibility, tags, timeout, hint)

        def mark(fn):
            fn._minidl_grading = spec
            return fn

        return mark

    def assignment(self, name, submission=None, names=(), **settings):
        """Name the assignment, the submission file students hand in and the names it must
        define; further settings: mode ("defs"/"full"), worker ("test"/"module"), memory_mb,
        seed, budget, release_hidden_output, load_timeout, isolation ("auto"/"strict"),
        max_reply_mb, worker_user."""
        self.settings.update(name=name, submission=submission, names=names, **settings)
        return self.settings

    def __getattr__(self, item):
        if item.startswith(("check_", "require_")) or item in ("frozen", "leaderboard", "recording",
                                                                  "default_tolerances", "describe"):
            return getattr(_checks, item)
        raise AttributeError(f"G has no attribute {item!r}")


G = _G()
