"""One headless Chromium session for printing reports to PDF and checking how they render.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages ending in a NUL byte, the browser reading fd 3 and writing fd 4), so no network port,
no extra Python package and one browser start for a whole round. Several tabs print side by
side; the result of each page does not depend on how many there are.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from jumpup.provenance import output_timestamp

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--remote-debugging-pipe",
)
A4_INCHES = (8.27, 11.69)


class BrowserError(RuntimeError):
    """The browser is missing, died, or answered a command with an error."""


def find_browser() -> str | None:
    """Path of a Chromium-family browser on this machine (Debian: package ``chromium``), or None."""
    override = os.environ.get("JUMPUP_BROWSER")
    if override:
        return override
    return next((path for path in map(shutil.which, BROWSER_NAMES) if path), None)


class HeadlessBrowser:
    """A context manager around one browser process; ``print_pdfs`` and ``evaluate`` use its tabs."""

    def __init__(self, executable: str | None = None, tabs: int = 2, timeout: float = 120.0):
        self.executable = executable or find_browser()
        if self.executable is None:
            raise BrowserError("no Chromium found: install the Debian package 'chromium' or set JUMPUP_BROWSER")
        self.tab_count = max(1, tabs)
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []
        self._replies: dict[int, dict] = {}

    def __enter__(self) -> HeadlessBrowser:
        self._profile = tempfile.TemporaryDirectory(prefix="jumpup-browser-")
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # bash puts our pipe ends on the fds the protocol expects (3: commands in, 4: replies out);
        # unlike dash, it accepts descriptors above 9 in a redirection.
        command = [
            shutil.which("bash") or "bash",
            "-c",
            f'exec "$0" "$@" 3<&{to_browser_read} 4>&{from_browser_write}',
            self.executable,
            *FLAGS,
            f"--user-data-dir={self._profile.name}",
            "about:blank",
        ]
        self._log = open(Path(self._profile.name) / "browser.log", "w+b")  # never a pipe: it could fill and block
        # Chromium keeps more than the profile under the home directory (crash reports in
        # ~/.config, a disk cache in ~/.cache, a certificate store in ~/.pki): all of it goes to the
        # temporary profile, so printing writes nothing outside --out.
        home = Path(self._profile.name)
        environment = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_DATA_HOME": str(home / "data"),
        }
        self._process = subprocess.Popen(
            command,
            pass_fds=(to_browser_read, from_browser_write),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            env=environment,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.version = self.call("Browser.getVersion").get("product", "")
        self.tabs = [self._open_tab() for _ in range(self.tab_count)]
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._process.poll() is None:
                self._send("Browser.close")
                self._process.wait(timeout=10)
        except Exception:  # the browser is going away either way
            pass
        finally:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            self._log.close()
            for fd in (self._to_browser, self._from_browser):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._profile.cleanup()

    # -- protocol -----------------------------------------------------------------------------
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            try:
                written = os.write(self._to_browser, data)
            except BrokenPipeError:  # the browser is gone (or never started): say why, as a read would
                raise self._exited() from None
            data = data[written:]
        return self._next_id

    def _exited(self) -> BrowserError:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)
        self._log.seek(0)
        log = self._log.read().decode(errors="replace")[-1500:]
        return BrowserError(f"browser exited (code {self._process.poll()}): {log}")

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise BrowserError(f"browser did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise self._exited()
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def _pump(self, deadline: float) -> None:
        message = self._read_message(deadline)
        if "id" in message:
            self._replies[message["id"]] = message
        else:
            self._events.append(message)

    def _reply(self, message_id: int, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while message_id not in self._replies:
            self._pump(deadline)
        reply = self._replies.pop(message_id)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')} ({reply['error'].get('data', '')})")
        return reply.get("result", {})

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        return self._reply(self._send(method, params, session), method)

    def _wait_event(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self._events.pop(i)
            self._pump(deadline)

    def _open_tab(self) -> str:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=session)
        return session

    def _load(self, session: str, url: str) -> int:
        self._events = [e for e in self._events if e.get("sessionId") != session]
        return self._send("Page.navigate", {"url": url}, session)

    def _loaded(self, session: str, message_id: int, url: str) -> None:
        """Wait for the navigation, the load event and the page's web fonts (the load event does not wait for those)."""
        navigated = self._reply(message_id, "Page.navigate")
        if navigated.get("errorText"):
            raise BrowserError(f"cannot open {url}: {navigated['errorText']}")
        self._wait_event("Page.loadEventFired", session)
        self.call(
            "Runtime.evaluate", {"expression": "document.fonts.ready.then(() => true)", "awaitPromise": True}, session
        )

    # -- work ---------------------------------------------------------------------------------
    def _batches(self, pages: list) -> Iterable[list[tuple[str, object]]]:
        for start in range(0, len(pages), len(self.tabs)):
            yield list(zip(self.tabs, pages[start : start + len(self.tabs)], strict=False))

    def print_pdfs(self, pages: Iterable[tuple[Path, Path]]) -> int:
        """Print each (HTML file, PDF file) pair on A4 with backgrounds; returns the number printed."""
        pages = list(pages)
        for batch in self._batches(pages):
            urls = {session: Path(html).resolve().as_uri() for session, (html, _) in batch}
            navigations = [(session, self._load(session, url)) for session, url in urls.items()]  # all tabs at once
            for session, message_id in navigations:
                self._loaded(session, message_id, urls[session])
            printing = [
                (
                    self._send(
                        "Page.printToPDF",
                        {
                            "paperWidth": A4_INCHES[0],
                            "paperHeight": A4_INCHES[1],
                            "printBackground": True,
                            "preferCSSPageSize": True,
                            # Tagged PDFs number their structure elements per tab, and tabs are reused
                            # from page to page, so the same page printed twice differed in those ids.
                            "generateTaggedPDF": False,
                        },
                        session,
                    ),
                    pdf,
                )
                for session, (_, pdf) in batch
            ]
            for message_id, pdf in printing:
                data = base64.b64decode(self._reply(message_id, "Page.printToPDF")["data"])
                Path(pdf).write_bytes(fix_pdf_dates(data, output_timestamp()))
        return len(pages)

    def evaluate(self, url: str, expression: str):
        """Open ``url`` in the first tab and return the JSON value of a JavaScript expression."""
        session = self.tabs[0]
        self._loaded(session, self._load(session, url), url)
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def fonts_used(self, url: str, selector: str) -> list[str]:
        """Names of the platform fonts the browser actually used to draw the text of ``selector``."""
        self.evaluate(url, "document.readyState")
        session = self.tabs[0]
        self.call("DOM.enable", session=session)
        self.call("CSS.enable", session=session)
        root = self.call("DOM.getDocument", session=session)["root"]["nodeId"]
        node = self.call("DOM.querySelector", {"nodeId": root, "selector": selector}, session)["nodeId"]
        if not node:
            raise BrowserError(f"{url}: no element matches {selector!r}")
        fonts = self.call("CSS.getPlatformFontsForNode", {"nodeId": node}, session)["fonts"]
        return [f["familyName"] for f in fonts]

    def screenshot(self, url: str, path: Path, width: int = 900, height: int = 1600) -> int:
        """A PNG of the page at the given viewport; returns its size in bytes."""
        self.evaluate(url, "document.readyState")
        session = self.tabs[0]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        data = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"}, session)["data"])
        Path(path).write_bytes(data)
        return len(data)


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate)\s*\(D:[0-9]{4,14}[^)]{0,12}\)")


def fix_pdf_dates(data: bytes, stamp: dt.datetime) -> bytes:
    """The PDF with its /CreationDate and /ModDate set to ``stamp`` (UTC), byte offsets unchanged.

    Chromium writes the wall-clock time into both; each value is replaced by one of the same
    length (padded with spaces, which PDF reads as whitespace), so the cross-reference table stays
    valid and equal pages give equal bytes.
    """
    value = stamp.astimezone(dt.UTC).strftime("D:%Y%m%d%H%M%SZ").encode()

    def replace(match: re.Match) -> bytes:
        fixed = b"/" + match.group(1) + b" (" + value + b")"
        return fixed.ljust(len(match.group(0)), b" ") if len(fixed) <= len(match.group(0)) else match.group(0)

    return _PDF_DATE.sub(replace, data)
