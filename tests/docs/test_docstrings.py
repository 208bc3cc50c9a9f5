"""Every public docstring renders on the documentation site. A docstring that is not valid
reST once napoleon has converted it (an indented formula without ``::``, ``|x|`` read as a
substitution, ``*`` as emphasis) used to be shown verbatim in silence; now it is a Sphinx
warning, which fails ``docs/build.sh`` (``sphinx -W``). These tests run the same check on the
API pages alone (autodoc + napoleon + docs/_ext/minidl_docs.py, no tutorials, no HTML)."""
import os
import sys
import textwrap

import pytest

pytest.importorskip("sphinx", reason="the [docs] extra is not installed")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "docs", "_ext"))
import minidl_docs  # noqa: E402

# napoleon's own use of a deprecated autodoc interface (Sphinx 9), not minidl's.
pytestmark = pytest.mark.filterwarnings("ignore:The mapping interface for autodoc options")


def test_every_public_docstring_is_valid_rest(tmp_path):
    broken, warnings = minidl_docs.check_api_docstrings(str(tmp_path))
    assert broken == [], "docstrings shown verbatim on the site (not valid reST):\n" + "\n".join(broken)
    assert "not valid reST" not in warnings


def test_an_invalid_docstring_is_a_build_warning(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "doc_example.py").write_text(textwrap.dedent('''\
        """A module."""


        def fine(x):
            """Absolute value: ``|x|``.

            Args:
                x: a number.
            """
            return abs(x)


        def broken(y, y_hat):
            """MAE = Σ |y_i − ŷ_i| / N."""
            return y - y_hat
        '''), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    broken, warnings = minidl_docs.check_api_docstrings(str(tmp_path / "build"), ["doc_example"])
    assert broken == ['doc_example.broken: <string>:1: (ERROR/3) Undefined substitution referenced: "y_i − ŷ_i".']
    assert "docstring of doc_example.broken is not valid reST" in warnings
    assert "doc_example.fine" not in warnings
