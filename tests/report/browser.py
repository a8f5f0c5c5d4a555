"""A real headless Chromium for tests: install it if missing, load a page, report what the browser saw.

Talks the Chrome DevTools protocol over `--remote-debugging-pipe` (NUL-terminated JSON on file descriptors 3
and 4), so it needs no network port and no websocket library. The browser reports image loads, console errors,
uncaught exceptions and every network request itself, which a DOM dump cannot tell us.
"""

import base64
import dataclasses
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
]
# Reports every <img> as the browser sees it after the load event.
IMAGES_JS = """JSON.stringify(Array.from(document.images, image => ({
    alt: image.alt, complete: image.complete, naturalWidth: image.naturalWidth, src: image.src.slice(0, 40)})))"""


class BrowserError(RuntimeError):
    pass


def ensure_chromium():
    """Path of Debian's chromium, installed with apt-get when missing; raise BrowserError if that fails."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if shutil.which("apt-get") is None:
        raise BrowserError(f"{CHROMIUM} is missing and there is no apt-get to install Debian's chromium package.")
    if os.geteuid() != 0:
        raise BrowserError(
            f"{CHROMIUM} is missing and the tests are not running as root, so they cannot install it; run "
            f"`sudo apt-get install -y chromium` once (the browser test needs it), or run the tests as root."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", "chromium"]
    result = subprocess.run(install, capture_output=True, text=True, env=env)
    if result.returncode != 0:  # a fresh machine may have no package lists yet
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, env=env)
        result = subprocess.run(install, capture_output=True, text=True, env=env)
    if result.returncode != 0 or not os.access(CHROMIUM, os.X_OK):
        raise BrowserError(
            f"Could not install chromium with `{' '.join(install)}` (exit {result.returncode}); the browser test "
            f"needs it. Install it by hand (as root) and re-run.\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return CHROMIUM


@dataclasses.dataclass
class PageReport:
    images: list  # [{"alt", "complete", "naturalWidth", "src"}]
    errors: list  # console errors, uncaught exceptions and browser log errors, as text
    requests: list  # every URL the page asked for
    screenshot: Path


class _Pipe:
    """One Chromium process and its DevTools pipe; `call` sends a command and waits for its answer."""

    def __init__(self, chromium, user_data_dir):
        to_browser_read, self._write = os.pipe()
        self._read, from_browser_write = os.pipe()
        # Chromium expects the pipe's ends at fds 3 (commands in) and 4 (replies out). subprocess cannot renumber
        # fds, and a preexec_fn is unsafe in a process with threads (TensorFlow's), so bash renumbers them (dash
        # cannot: it rejects fds above 9). The sources are moved to 10+ first, so that neither is 3 or 4 itself.
        high_read, high_write = (
            fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_read, from_browser_write)
        )
        command = [chromium, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"]
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$0" "$@" 3<&{high_read} 4>&{high_write}', *command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(high_read, high_write),
        )
        for fd in (to_browser_read, from_browser_write, high_read, high_write):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events = []

    def call(self, method, session=None, timeout=30, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event, timeout=30):
        for index, message in enumerate(self.events):
            if message.get("method") == event:
                return self.events.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline, event)
            if message.get("method") == event:
                return message
            self.events.append(message)

    def _receive(self, deadline, waiting_for):
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._read], [], [], remaining)[0]:
                raise BrowserError(f"chromium did not answer {waiting_for} in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited (code {self.process.poll()}) while waiting for {waiting_for}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except BrowserError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)


def render(page, workdir, width=1280, max_height=12000):
    """Load `page` (a local file) in headless Chromium; return a PageReport with a full-page screenshot."""
    workdir = Path(workdir)
    profile = workdir / "chromium-profile"
    profile.mkdir(parents=True)
    browser = _Pipe(ensure_chromium(), profile)
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            session=session,
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.call("Page.navigate", session=session, url=Path(page).resolve().as_uri())
        browser.wait_for("Page.loadEventFired", timeout=60)
        images = json.loads(
            browser.call("Runtime.evaluate", session=session, expression=IMAGES_JS, returnByValue=True)["result"][
                "value"
            ]
        )
        height = browser.call("Page.getLayoutMetrics", session=session)["cssContentSize"]["height"]
        clip = {"x": 0, "y": 0, "width": width, "height": min(height, max_height), "scale": 1}
        shot = browser.call(
            "Page.captureScreenshot", session=session, format="png", clip=clip, captureBeyondViewport=True
        )
        screenshot = workdir / "screenshot.png"
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        events = list(browser.events)
    finally:
        browser.close()
    return PageReport(images=images, errors=_errors(events), requests=_requests(events), screenshot=screenshot)


def _errors(events):
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                "console: " + " ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            errors.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Network.loadingFailed":
            errors.append(f"network: {params.get('errorText')}")
    return errors


def _requests(events):
    return [event["params"]["request"]["url"] for event in events if event.get("method") == "Network.requestWillBeSent"]
