"""Every tutorial runs in --quick mode and its checks hold (a tutorial that stops working
fails CI). Each runs in its own process, as a student would run it."""
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUTORIALS = sorted(glob.glob(os.path.join(ROOT, "tutorials", "[0-9][0-9]_*.py")))


def run_quick(path, tmp_path, *extra_args, **extra_env):
    # One BLAS thread: reproducible rounding, and OpenBLAS's spinning workers cannot fight
    # the test runner for two cores (small GEMMs then run 5-10x slower).
    env = {k: v for k, v in os.environ.items() if k != "MINIDL_TUTORIAL_BREAK"}
    env.update(MPLBACKEND="Agg", PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", **extra_env)
    proc = subprocess.run(
        [sys.executable, path, "--quick", "--out", str(tmp_path), *extra_args],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    tail = (proc.stdout[-3000:] + "\n" + proc.stderr[-3000:]).strip()
    return proc, tail


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[os.path.basename(p) for p in TUTORIALS])
def test_tutorial_runs_quick_and_its_checks_hold(path, tmp_path):
    proc, tail = run_quick(path, tmp_path)
    assert proc.returncode == 0, f"{os.path.basename(path)} failed:\n{tail}"
    assert "[FAIL]" not in proc.stdout, tail
    assert "[PASS]" in proc.stdout, f"{os.path.basename(path)} checked no claim:\n{tail}"


# A check that proves a claim must be able to fail. Each tutorial below reads
# MINIDL_TUTORIAL_BREAK and, when it names the tutorial's knob, removes the ingredient its claim
# is about from the experiment (the run is otherwise identical). The claims listed must then
# FAIL, and the tutorial must exit non-zero.
BROKEN_VARIANTS = {
    # B pretrained on pixel-shuffled images: "pretrained" no longer resembles the target task
    "09_orthogonal_and_pretrained": ("pretrained", ["pretrained on the same task's data",
                                                    "pretraining on an unrelated task helps less"]),
    # ReLU + He trained at 4x the learning rate with PyTorch's default biases (the old setup:
    # 30 % accuracy, loss spikes, weights doubled) is not healthy training
    "11_vanishing_exploding_gradients": ("he", ["ReLU + He trains healthily"]),
    # peak rate 0.1 instead of 0.3: clipping has nothing to prevent, the no-clipping run learns
    "12_transformer_stability": ("rate", ["at this rate clipping decides"]),
    # clean labels: nothing to memorise, so weight decay has no overfitting to prevent
    "16_weight_decay": ("noise", ["weight decay (λ = 1e-2) generalises better", "fits less of the noise"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BROKEN_VARIANTS))
def test_check_fails_on_a_broken_variant_of_its_experiment(name, tmp_path):
    knob, claims = BROKEN_VARIANTS[name]
    path = os.path.join(ROOT, "tutorials", name + ".py")
    proc, tail = run_quick(path, tmp_path, "--no-plots", MINIDL_TUTORIAL_BREAK=knob)
    failed = [line for line in proc.stdout.splitlines() if line.startswith("[FAIL]")]
    assert proc.returncode == 1, f"{name} with {knob} removed still exited {proc.returncode}:\n{tail}"
    for claim in claims:
        assert any(claim in line for line in failed), f"{claim!r} did not fail with {knob} removed:\n{tail}"


def test_tutorials_are_jupytext_percent_scripts():
    for path in TUTORIALS:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert "# %%" in text, f"{path} has no '# %%' cells"
        assert "# %% [markdown]" in text, f"{path} has no markdown cells"


# The list in TUTORIALS.md (one script per section of the source documents) + the quickstart.
EXPECTED = [
    "00_quickstart", "01_learning_rate", "02_lr_schedules", "03_batch_size", "04_zero_init_symmetry",
    "05_fixed_variance_init", "06_xavier_derivation", "07_kaiming_relu", "08_exploding_vanishing_identity",
    "09_orthogonal_and_pretrained", "10_metrics", "11_vanishing_exploding_gradients",
    "12_transformer_stability", "13_regularization_dropout", "14_batch_normalization",
    "15_gradient_checking", "16_weight_decay",
]


def test_every_listed_tutorial_exists():
    present = {os.path.splitext(os.path.basename(p))[0] for p in TUTORIALS}
    assert sorted(set(EXPECTED) - present) == []


def test_each_tutorial_quotes_its_source():
    for path in TUTORIALS:
        if path.endswith("00_quickstart.py"):
            continue
        with open(path, encoding="utf-8") as f:
            head = f.read(4000)
        assert any(f"{n:03d}_" in head for n in range(5)), f"{os.path.basename(path)} does not name its seed file"
