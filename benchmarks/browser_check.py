"""Open a run's ``report.html`` from disk in headless Chromium and check what a reader sees:
every chart the report declares drawn, no script error, nothing loaded from outside the
file; keep a screenshot of the first screen beside it (``check-report RUN_DIR``).

The report's side of the contract (``benchmarks.report``): its ``<head>`` has
``<meta name="report-charts" content="N">``, and each chart is a
``<div class="report-chart">`` that Plotly draws into (an ``svg.main-svg`` inside);
a report with no chart declares 0.

Chromium is Debian's (``/usr/bin/chromium``, which ``.ci/run`` installs), driven through
Playwright's Python API; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.options import BadInput, WriteFailed, check_positive, path_option
from shared.files import write_atomic

CHROMIUM = Path("/usr/bin/chromium")
# Headless, no sandbox (CI containers run as root, where Chromium's sandbox refuses to
# start), and none of the browser's own traffic (updates, sync, metrics), so every
# request seen comes from the page.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--mute-audio",
)
VIEWPORT = {"width": 1280, "height": 900}  # the first screen of a laptop
REPORT_NAME = "report.html"
SCREENSHOT_NAME = "report-first-screen.png"
# Parsing the inlined plotly.js (4.8 MB) alone takes seconds on a busy 2-core machine.
LOAD_TIMEOUT_S = 120.0  # for the file's load event
TIMEOUT_S = 60.0  # then for every declared chart to be drawn
SETTLE_S = 0.5  # after the last chart, for late script errors and requests
STALL_S = 2.0  # after a script error, a count unchanged this long will not move again
POLL_S = 0.1
INSIDE_SCHEMES = ("data:", "blob:", "about:")

DECLARED_JS = """() => {
  const meta = document.querySelector('meta[name="report-charts"]');
  return meta ? meta.getAttribute('content') : null;
}"""
DRAWN_JS = """() => Array.from(document.querySelectorAll('div.report-chart'))
  .filter((chart) => chart.querySelector('.main-svg') !== null).length"""


class BrowserMissing(BadInput):
    """Playwright is not installed, or Chromium is absent or does not start."""


@dataclass
class ReportCheck:
    """What the browser saw. ``declared``: the report's chart count (None when it
    declares none, or not as a whole number); ``drawn``: chart divs holding Plotly's
    svg; ``errors``: uncaught exceptions and console errors, in order; ``outside``: the
    URL of every request that left the file (each was blocked); ``seconds``: from
    opening the file to the end of the wait (wall time)."""

    declared: int | None
    drawn: int = 0
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return (
            self.declared is not None
            and self.drawn == self.declared
            and not self.errors
            and not self.outside
        )

    def line(self) -> str:
        """One line: the counts, then the first error and the first outside request."""
        declared = "no count declared" if self.declared is None else f"{self.declared} declared"
        parts = [
            f"charts: {self.drawn} drawn of {declared}",
            f"{len(self.errors)} script error(s)",
            f"{len(self.outside)} request(s) leaving the file",
        ]
        if self.errors:
            parts.append(f"first error: {self.errors[0]}")
        if self.outside:
            parts.append(f"first request: {self.outside[0]}")
        verdict = "ok" if self.passed else "FAILED"
        return f"{verdict}: " + "; ".join(parts) + f" ({self.seconds:.1f} s)"


@contextlib.contextmanager
def chromium(executable: Path | None = None) -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed on exit; ``executable``
    defaults to ``CHROMIUM``.

    Raises BrowserMissing when Playwright is not installed or ``executable`` is absent
    or does not start."""
    executable = executable or CHROMIUM
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise BrowserMissing("playwright is not installed (pip install -e '.[browser]')") from None
    if not executable.is_file():
        raise BrowserMissing(
            f"{executable} not found: install Debian's chromium "
            "(apt-get install --no-install-recommends chromium)"
        )
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=str(executable), args=list(CHROMIUM_ARGS), headless=True
            )
        except Error as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "no message"
            raise BrowserMissing(f"{executable} did not start: {first}") from None
        try:
            yield browser
        finally:
            browser.close()


def check_report(
    browser: Any, report: Path, timeout_s: float = TIMEOUT_S
) -> tuple[ReportCheck, bytes]:
    """Open ``report`` (an HTML file) in a new page of ``browser`` (see ``chromium``),
    wait for its load event (up to ``LOAD_TIMEOUT_S``), then up to ``timeout_s`` seconds
    for its declared charts, and return what it saw with a PNG of the first screen
    (``VIEWPORT``, CSS pixels); no PNG (empty bytes) when the page never loaded.

    Every request for another URL than the file's own, or a data:, blob: or about: one,
    is recorded and blocked, so a report that would need the network fails here
    instead of drawing from a cache or a CDN."""
    from playwright.sync_api import TimeoutError as PageTimeout

    url = report.resolve().as_uri()
    page = browser.new_page(viewport=VIEWPORT)
    try:
        check = ReportCheck(declared=None)
        _watch(page, url, check)
        start = time.perf_counter()
        try:
            page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_S * 1000)
        except PageTimeout:  # a script that never ends: the page answers nothing more
            check.errors.append(f"the page did not finish loading in {LOAD_TIMEOUT_S:g} s")
            check.seconds = time.perf_counter() - start
            return check, b""
        check.declared = _whole_count(page.evaluate(DECLARED_JS))
        _wait_for_charts(page, check, time.perf_counter() + timeout_s)
        page.wait_for_timeout(SETTLE_S * 1000)
        check.drawn = page.evaluate(DRAWN_JS)
        check.seconds = time.perf_counter() - start
        return check, page.screenshot(type="png")
    finally:
        page.close()


def _watch(page: Any, url: str, check: ReportCheck) -> None:
    """Record ``page``'s script errors and block, recording, its outside requests."""

    def route(route: Any, request: Any) -> None:
        if request.url.split("#")[0] == url or request.url.startswith(INSIDE_SCHEMES):
            route.continue_()
        else:
            check.outside.append(request.url)
            route.abort()

    def console(message: Any) -> None:
        # A blocked request's "Failed to load resource" is the request, counted there.
        if message.type == "error" and message.location.get("url") not in check.outside:
            check.errors.append(f"console: {message.text}")

    page.route("**/*", route)
    page.on("pageerror", lambda error: check.errors.append(f"{error.name}: {error.message}"))
    page.on("console", console)
    # WebSockets bypass routing: record them (they cannot be blocked here).
    page.on("websocket", lambda socket: check.outside.append(socket.url))


def _wait_for_charts(page: Any, check: ReportCheck, deadline: float) -> None:
    """Poll until every declared chart is drawn or ``deadline`` (perf_counter seconds);
    after a script error, until the count has not moved for ``STALL_S`` (a chart whose
    script threw is never drawn: waiting out the timeout would show nothing more)."""
    target = check.declared or 0
    last, since = -1, time.perf_counter()
    while time.perf_counter() < deadline:
        drawn = page.evaluate(DRAWN_JS)
        if drawn >= target:
            return
        now = time.perf_counter()
        if drawn != last:
            last, since = drawn, now
        elif check.errors and now - since >= STALL_S:
            return
        page.wait_for_timeout(POLL_S * 1000)


def _whole_count(content: str | None) -> int | None:
    """The declared chart count, or None when absent or not a whole number >= 0."""
    try:
        count = int(content) if content is not None else None
    except ValueError:
        return None
    return count if count is not None and count >= 0 else None


def command_check_report(args: argparse.Namespace) -> int:
    """Check ``RUN_DIR/report.html``, write the screenshot beside it, print one line.
    Exit 0 when it passed, 1 when not (or the screenshot could not be written);
    BadInput (exit 2) for a missing folder or report, or no usable browser."""
    check_positive(args.timeout, "--timeout")
    report = args.run_dir / REPORT_NAME
    if not args.run_dir.is_dir():
        exists = args.run_dir.exists()
        raise BadInput(f"{args.run_dir} {'is not a folder' if exists else 'does not exist'}")
    if not report.is_file():
        raise BadInput(f"{args.run_dir} holds no {REPORT_NAME} (python -m benchmarks report)")
    with chromium() as browser:
        check, png = check_report(browser, report, args.timeout)
    if not png:
        print(f"{check.line()}; no screenshot")
        return 1
    try:
        shot = write_atomic(args.run_dir / SCREENSHOT_NAME, png)
    except OSError as error:
        print(f"{check.line()}; no screenshot", flush=True)  # the verdict stands without it
        raise WriteFailed(f"the screenshot of {report} was not written: {error}") from None
    print(f"{check.line()}; first screen: {shot}")
    return 0 if check.passed else 1


def add_commands(
    commands: argparse._SubParsersAction,
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """The ``check-report`` command's parser, added to ``commands``; its handler by name."""
    parser = commands.add_parser(
        "check-report",
        help="open a run's report.html in headless Chromium: charts drawn, no script "
        f"error, no request leaving the file; saves {SCREENSHOT_NAME}",
    )
    parser.add_argument("run_dir", type=path_option, metavar="RUN_DIR")
    parser.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT_S,
        help=f"seconds to wait for every declared chart (default {TIMEOUT_S:g})",
    )
    return {"check-report": command_check_report}
