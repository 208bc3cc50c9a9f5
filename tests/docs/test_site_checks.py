"""The checks docs/build.sh runs on the built site (docs/check_site.py): the internal-link
checker and the headless-Chromium figure check, each shown to pass on a good page and to fail
on a broken one. (The site itself is built and checked by docs/build.sh in .ci/run.)"""
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("check_site", os.path.join(ROOT, "docs", "check_site.py"))
check_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_site)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_link_checker_finds_missing_files_and_anchors(tmp_path):
    write(tmp_path / "index.html", """<html><body>
        <a href="api/page.html#there">ok</a> <a href="api/page.html#gone">bad anchor</a>
        <a href="api/">directory index</a> <a href="#top">self</a> <span id="top"></span>
        <a href="https://example.org/x.html#y">external: not followed</a> <a href="mailto:a@b">mail</a>
        <img src="_images/missing.png"> <link rel="stylesheet" href="_static/x.css?digest=1">
        </body></html>""")
    write(tmp_path / "api" / "page.html", '<html><body><dt id="there">x</dt><a href="../index.html#top">up</a></body></html>')
    write(tmp_path / "api" / "index.html", "<html><body></body></html>")
    write(tmp_path / "_static" / "x.css", "")
    write(tmp_path / "_static" / "template.html", '<a href="{{ pathto(x) }}">theme template, not a page</a>')
    problems = check_site.check_links(str(tmp_path))
    assert len(problems) == 2, problems
    assert "missing anchor: api/page.html#gone" in problems[0] or "missing anchor: api/page.html#gone" in problems[1]
    assert any("missing file: _images/missing.png" in p for p in problems)


def test_link_checker_on_an_empty_folder(tmp_path):
    assert check_site.check_links(str(tmp_path)) == [f"{tmp_path}: no HTML pages found"]


needs_browser = pytest.mark.skipif(check_site.find_browser() is None,
                                   reason="no Chromium installed (apt-get install chromium); .ci/run installs it as root")


@pytest.fixture
def figure_png(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    pytest.importorskip("PIL")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([0, 1, 2, 3], [0, 1, 4, 9], marker="o")
    ax.set_title("a figure")
    path = tmp_path / "_images" / "fig.png"
    path.parent.mkdir()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def page(tmp_path, body):
    path = tmp_path / "tutorials" / "page.html"
    write(path, f"<html><head><style>body {{margin: 20px; font-family: sans-serif}}</style></head><body>"
                f"<h1>Tutorial</h1><p>text</p>{body}</body></html>")
    return path


@needs_browser
def test_browser_sees_a_displayed_figure(tmp_path, figure_png):
    path = page(tmp_path, '<img src="../_images/fig.png" class="sphx-glr-single-img">')
    problems, report = check_site.check_figure_in_browser(str(path), str(tmp_path / "shot.png"))
    assert problems == [], problems
    assert report["images"][0]["naturalWidth"] == 600 and report["correlation"] > 0.8
    assert not [f for f in os.listdir(path.parent) if f.startswith(".figure-check-")]   # probe page removed


@needs_browser
def test_browser_check_fails_on_a_broken_image(tmp_path, figure_png):
    path = page(tmp_path, '<img src="../_images/nothing.png" class="sphx-glr-single-img" width="600" height="400">')
    problems, _ = check_site.check_figure_in_browser(str(path), str(tmp_path / "shot.png"))
    assert any("figure not loaded" in p for p in problems), problems


@needs_browser
def test_browser_check_fails_when_the_figure_is_covered(tmp_path, figure_png):
    # The image loads and has a size, but a white box is drawn over it: only the screenshot
    # analysis can tell.
    path = page(tmp_path, '<div style="position: relative"><img src="../_images/fig.png" class="sphx-glr-single-img">'
                          '<div style="position: absolute; inset: 0; background: white"></div></div>')
    problems, _ = check_site.check_figure_in_browser(str(path), str(tmp_path / "shot.png"))
    assert any("does not show it" in p for p in problems), problems


@needs_browser
def test_browser_check_fails_without_a_gallery_figure(tmp_path):
    path = page(tmp_path, "<p>no figure</p>")
    problems, _ = check_site.check_figure_in_browser(str(path), str(tmp_path / "shot.png"))
    assert problems and "no gallery figure" in problems[0]
