"""Helpers for the console tests: a real `myostride console` server, an API client, headless Chromium."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1000")


class Server:
    """`python -m myostride console ...` as a child; .url carries the access token."""

    def __init__(self, data_dir, *extra):
        self.log_path = Path(data_dir).parent / ("%s-server.log" % Path(data_dir).name)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "myostride", "console", "--data", str(data_dir), "--port", "0", "--no-browser", *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        self.url = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            m = re.search(r"(http://\S+/\?token=\S+)", self.log_path.read_text())
            if m:
                self.url = m.group(1)
                break
            time.sleep(0.1)
        if self.url is None:
            self.stop()
            raise AssertionError("console did not start: %s" % self.log_path.read_text())
        self.base = self.url.split("/?")[0]
        self.token = self.url.split("token=")[1]

    def client(self, csrf=True):
        c = httpx.Client(base_url=self.base, headers={"Authorization": "Bearer " + self.token}, timeout=120)
        if csrf:
            page = c.get("/").text
            c.headers["X-Myostride-CSRF"] = re.search(r'name="myostride-csrf" content="([^"]+)"', page).group(1)
        return c

    def output(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGINT, bound_s=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(bound_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def wait_for(fn, timeout_s, what, every_s=0.5):
    deadline = time.monotonic() + timeout_s
    last = None
    from selenium.common.exceptions import StaleElementReferenceException

    while time.monotonic() < deadline:
        try:
            last = fn()
        except StaleElementReferenceException:  # the page re-rendered that part: ask again
            last = None
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError("timed out after %g s waiting for %s (last: %r)" % (timeout_s, what, last))


def chromium(tmp_path):
    """A fresh headless Chromium (Debian's, via chromedriver), or skip when it is not installed."""
    if not (shutil.which("chromium") and os.path.exists(CHROMEDRIVER)):
        pytest.skip("Chromium/chromedriver not installed (apt-get install chromium chromium-driver; .ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for f in CHROME_FLAGS:
        opts.add_argument(f)
    profile = tmp_path / ("chrome-profile-%d" % time.monotonic_ns())
    opts.add_argument("--user-data-dir=%s" % profile)
    opts.binary_location = shutil.which("chromium")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def artefact_dir(tmp_path):
    d = Path(os.environ.get("MYOSTRIDE_ARTIFACTS") or (tmp_path / "artefacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def page_errors(driver):
    """SEVERE entries of the page's console log (JavaScript errors, failed requests)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
