"""Running the real ``softreg`` console script in a subprocess, on this source tree.

Not a test module: imported by ``test_cli_hostile.py`` and ``test_cli_script.py``
(pytest puts ``tests/`` on ``sys.path``).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

SRC = str(Path(__file__).resolve().parents[1] / "src")
#: the console script installed beside this Python, or None where there is none
SCRIPT = shutil.which("softreg", path=str(Path(sys.executable).parent))
#: a hang guard only (a loaded 2-core machine starts Python slowly, never this slowly)
HANG = 1800


def script_env(**extra):
    """The environment for the script: this tree's ``src`` first on ``PYTHONPATH``, no
    ``PYTHONWARNINGS`` (pytest's warnings-as-errors is not the script's), then ``extra``."""
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    env.pop("PYTHONWARNINGS", None)
    return {**env, **extra}


def run_script(*args, expect=0, stdin=None, text=False, cwd=None, timeout=HANG, **extra):
    """Run ``softreg ARGS`` (``python -m softreg`` without a console script) and check its
    exit status is ``expect``.

    Parameters
    ----------
    *args : path-like or str
        The command line after ``softreg``.
    expect : int, default=0
        The exit status required.
    stdin : bytes or str, optional
        Standard input (str when ``text``).
    text : bool, default=False
        Decode standard output and error.
    cwd : path-like, optional
        Working directory.
    timeout : float, default=HANG
        Seconds before the run counts as hung.
    **extra : str
        Environment variables added to :func:`script_env`.

    Returns
    -------
    subprocess.CompletedProcess
    """
    command = [SCRIPT] if SCRIPT else [sys.executable, "-m", "softreg"]
    proc = subprocess.run([*command, *map(str, args)], input=stdin, capture_output=True,
                          text=text, cwd=cwd, env=script_env(**extra), timeout=timeout)
    assert proc.returncode == expect, (proc.returncode, proc.stdout[-2000:],
                                       proc.stderr[-2000:])
    return proc


def three_class_data(n):
    """Three Gaussian features and labels 0, 1, 2 from a softmax model with Gumbel noise.

    Returns
    -------
    X : ndarray of shape (n, 3)
    y : ndarray of shape (n,)
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(n, 3)), axis=1)
    return X, y
