"""Checks on the built documentation site (run by ``docs/build.sh``).

    python docs/check_site.py links docs/_build/html
    python docs/check_site.py browser docs/_build/html/tutorials/07_kaiming_relu.html --screenshot shot.png

``links``: every relative ``href``/``src`` in every built page points to a file that exists,
and every ``#fragment`` to an ``id`` on the target page. External links (http, https,
mailto, ...) are not followed: the site is built and checked offline.

``browser``: opens the page in headless Chromium (Debian's ``chromium``) and checks that its
gallery figures are displayed: each ``<img>`` has loaded (``naturalWidth > 0``) and has a
size on the page, and the screenshot, cut to where the first figure is drawn, looks like the
figure's PNG (correlation of the grey levels) rather than a blank or broken box. Exit status 0
if all is well, 1 with a list of problems, 77 if no Chromium is installed.
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


# -- internal links ----------------------------------------------------------------------------
class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key) and (key == "id" or tag == "a"):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) is not None and not (tag == "link" and "preconnect" in (attrs.get("rel") or "")):
                self.links.append((tag, attrs[key], self.getpos()[0]))


def _parse(path, cache):
    if path not in cache:
        collector = _Collector()
        with open(path, encoding="utf-8", errors="replace") as f:
            collector.feed(f.read())
        cache[path] = collector
    return cache[path]


def check_links(root):
    """Broken internal links of the site in ``root``, as ``"page:line: message"`` strings."""
    root = os.path.abspath(root)
    problems, cache, pages = [], {}, 0
    for folder, _dirs, files in os.walk(root):
        if os.path.relpath(folder, root).split(os.sep)[0] == "_static":
            continue                                  # theme assets and templates, not pages
        for name in files:
            if not name.endswith(".html"):
                continue
            pages += 1
            page = os.path.join(folder, name)
            for tag, link, line in _parse(page, cache).links:
                parts = urllib.parse.urlsplit(link)
                if parts.scheme or parts.netloc or link.startswith("//"):
                    continue                          # external: not checked offline
                where = f"{os.path.relpath(page, root)}:{line}"
                target = page if not parts.path else os.path.normpath(
                    os.path.join(folder, urllib.parse.unquote(parts.path)))
                if os.path.isdir(target):
                    target = os.path.join(target, "index.html")
                if not os.path.exists(target):
                    problems.append(f"{where}: <{tag}> points to a missing file: {link}")
                    continue
                fragment = urllib.parse.unquote(parts.fragment)
                if fragment and target.endswith(".html") and fragment not in _parse(target, cache).ids:
                    problems.append(f"{where}: <{tag}> points to a missing anchor: {link}")
    if pages == 0:
        problems.append(f"{root}: no HTML pages found")
    return problems


# -- the page in a real browser ----------------------------------------------------------------
_PROBE = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.querySelectorAll("img.sphx-glr-single-img, img.sphx-glr-multi-img"));
  var report = images.map(function (img) {
    var r = img.getBoundingClientRect();
    var style = window.getComputedStyle(img);
    return {src: img.getAttribute("src"), complete: img.complete, naturalWidth: img.naturalWidth,
            naturalHeight: img.naturalHeight, x: r.left, y: r.top, width: r.width, height: r.height,
            visible: style.visibility !== "hidden" && style.display !== "none"};
  });
  var out = document.createElement("pre");
  out.id = "minidl-figure-report";
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
});
</script>
"""


def find_browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run_browser(browser, url, *args, timeout=120):
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--force-device-scale-factor=1", "--virtual-time-budget=10000", *args, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS="disabled:"))


def _similarity(screenshot, box, figure_png):
    """Correlation between the screenshot inside ``box`` and the figure's PNG scaled to it."""
    import numpy as np
    from PIL import Image

    x, y, w, h = (int(round(v)) for v in box)
    shot = Image.open(screenshot).convert("L")
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, shot.width), min(y + h, shot.height)
    if x1 - x0 < 20 or y1 - y0 < 20:
        return None, 0.0
    seen = np.asarray(shot.crop((x0, y0, x1, y1)), dtype=float)
    figure = Image.open(figure_png).convert("L").resize((w, h), Image.LANCZOS)
    expected = np.asarray(figure, dtype=float)[y0 - y:y1 - y, x0 - x:x1 - x]
    if seen.std() == 0 or expected.std() == 0:
        return 0.0, float(seen.std())
    return float(np.corrcoef(seen.ravel(), expected.ravel())[0, 1]), float(seen.std())


def _figure_report(browser, url, width, height):
    """The probe's list of gallery images (position, size, natural size), or None."""
    dom = _run_browser(browser, url, f"--window-size={width},{height}", "--dump-dom")
    match = re.search(r'<pre id="minidl-figure-report"[^>]*>(.*?)</pre>', dom.stdout, flags=re.S)
    if dom.returncode != 0 or not match:
        return None, dom
    return json.loads(html.unescape(match.group(1))), dom


def check_figure_in_browser(page, screenshot, width=1280, height=1000, browser=None):
    """Open ``page`` in headless Chromium; return ``(problems, report)``."""
    browser = browser or find_browser()
    if browser is None:
        raise FileNotFoundError("no Chromium found (tried " + ", ".join(BROWSERS) + ")")
    page = os.path.abspath(page)
    with open(page, encoding="utf-8") as f:
        text = f.read()
    if "</body>" not in text:
        return [f"{page}: no </body>"], {}
    if os.path.exists(screenshot):
        os.remove(screenshot)
    # A copy beside the page, so that its relative links (CSS, images) resolve the same way.
    fd, probe_page = tempfile.mkstemp(suffix=".html", prefix=".figure-check-", dir=os.path.dirname(page))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text.replace("</body>", _PROBE + "</body>", 1))
        url = "file://" + urllib.parse.quote(probe_page)
        images, dom = _figure_report(browser, url, width, height)
        if images:
            # Make the window tall enough for the first figure (scrolling the page in a
            # headless screenshot gives a blank capture), and measure again at that size.
            first = images[0]
            needed = max(height, min(int(first["y"] + first["height"]) + 100, 12000))
            if needed != height:
                height = needed
                images, dom = _figure_report(browser, url, width, height)
        shot = _run_browser(browser, url, f"--window-size={width},{height}",
                            f"--screenshot={os.path.abspath(screenshot)}")
    finally:
        os.remove(probe_page)
    if images is None:
        return [f"the browser gave no report (exit {dom.returncode}): {dom.stderr[-500:]}"], {}
    report = {"page": page, "screenshot": os.path.abspath(screenshot), "images": images}
    problems = []
    if not images:
        problems.append("no gallery figure (<img class='sphx-glr-*-img'>) on the page")
    for img in images:
        if not (img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0):
            problems.append(f"figure not loaded: {img['src']} (naturalWidth {img['naturalWidth']})")
        elif not (img["visible"] and img["width"] > 50 and img["height"] > 50):
            problems.append(f"figure has no size on the page: {img['src']} ({img['width']}x{img['height']})")
    if shot.returncode != 0 or not os.path.exists(screenshot):
        problems.append(f"no screenshot (exit {shot.returncode}): {shot.stderr[-500:]}")
    elif images and not problems:
        first = images[0]
        figure_png = os.path.normpath(os.path.join(os.path.dirname(page), urllib.parse.unquote(first["src"])))
        correlation, contrast = _similarity(screenshot, (first["x"], first["y"], first["width"], first["height"]),
                                            figure_png)
        report.update(correlation=correlation, contrast=contrast)
        if correlation is None:
            problems.append(f"the first figure is not inside the screenshot: {first}")
        elif contrast < 5 or correlation < 0.8:
            problems.append(f"the screenshot where the first figure should be does not show it "
                            f"(correlation with its PNG {correlation:.2f}, grey-level std {contrast:.1f})")
    return problems, report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    links = sub.add_parser("links", help="check the internal links of a built site")
    links.add_argument("root")
    browser = sub.add_parser("browser", help="check that a page's figures display in headless Chromium")
    browser.add_argument("page")
    browser.add_argument("--screenshot", required=True)
    args = parser.parse_args(argv)
    if args.command == "links":
        problems = check_links(args.root)
        for p in problems:
            print(p)
        n = sum(len(files) for _, _, files in os.walk(args.root))
        print(f"internal links: {len(problems)} broken ({n} files under {args.root})")
        return 1 if problems else 0
    if find_browser() is None:
        print("browser check skipped: no Chromium installed (apt-get install chromium)")
        return 77
    problems, report = check_figure_in_browser(args.page, args.screenshot)
    for p in problems:
        print("browser check:", p)
    if report:
        images = report["images"]
        print(f"browser check: {len(images)} figure(s) on {os.path.basename(args.page)}, loaded: "
              + ", ".join(f"{i['naturalWidth']}x{i['naturalHeight']}" for i in images)
              + (f"; screenshot {report['screenshot']} matches the first figure "
                 f"(correlation {report['correlation']:.2f})" if "correlation" in report and not problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
