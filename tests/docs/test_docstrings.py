"""Every public docstring renders on the documentation site. A docstring that is not valid
reST once napoleon has converted it (``|x|`` read as a substitution, ``*`` as emphasis, an
indented line that ends a definition list) used to be shown verbatim in silence, and an
indented formula without its ``::`` became a block quote; now both are Sphinx warnings, which
fail ``docs/build.sh`` (``sphinx -W``). These tests run the same check on the
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
    assert broken == [], "docstrings that do not render as written:\n" + "\n".join(broken)
    assert "does not render as written" not in warnings


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


        def quoted(x):
            """A formula without its ``::``:

                y = 2·x        (the columns would be lost)

            for every x.
            """
            return 2 * x


        def literal(x):
            """A formula with its ``::``::

                y = 2·x        (shown as written)

            >>> literal(1)
            2
            """
            return 2 * x
        '''), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    broken, warnings = minidl_docs.check_api_docstrings(str(tmp_path / "build"), ["doc_example"])
    assert broken == ['doc_example.broken: <string>:1: (ERROR/3) Undefined substitution referenced: "y_i − ŷ_i".',
                      "doc_example.quoted: indented block 'y = 2·x        (the columns would be los' renders "
                      "as a block quote: end the line before it with '::' to show it as written"]
    assert "docstring of doc_example.broken does not render as written" in warnings
    assert "docstring of doc_example.quoted does not render as written" in warnings
    assert "doc_example.fine" not in warnings and "doc_example.literal" not in warnings
