"""A real ``flowtrail serve`` process and Debian's headless Chromium driven through Selenium.

Shared by the browser tests and the benchmark: :class:`Server` starts the ``flowtrail``
executable on a free port of 127.0.0.1 and waits until it answers; :func:`chromium` starts
``/usr/bin/chromium`` through ``/usr/bin/chromedriver`` (installed by
scripts/install-test-services), never downloading a browser or a driver.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = os.environ.get("FLOWTRAIL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FLOWTRAIL_CHROMEDRIVER", "/usr/bin/chromedriver")
# What Chromium needs to run headless as root in a container, and to stay off the network.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,900", "--hide-scrollbars")  # fmt: skip


def flowtrail_command() -> list[str]:
    beside = Path(sys.executable).with_name("flowtrail")
    return [str(beside)] if beside.is_file() else [shutil.which("flowtrail") or "flowtrail"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: run scripts/install-test-services (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing: pip install -e '.[test]'"
    return None


class Server:
    """``flowtrail serve`` in a fresh process, for the registry of ``project`` (or the environment's)."""

    def __init__(self, project: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
        environment |= {"OPENLINEAGE_DISABLED": "true"} | (env or {})
        self.log = project.parent / f"serve-{self.port}.log"
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                [*flowtrail_command(), "serve", "--port", str(self.port), *args],
                cwd=project, env=environment, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flowtrail serve exited {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"flowtrail serve did not answer within 90 s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def chromium(profile: Path) -> Any:
    """A headless Chromium WebDriver with a fresh profile in ``profile``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download a driver or browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.implicitly_wait(10)  # elements of a page still loading
    return driver


def wait_for(driver: Any, condition: Any, timeout: float = 30) -> Any:
    """Wait until ``condition(driver)`` is truthy (Selenium's WebDriverWait) and return it."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def graph_ready(driver: Any) -> bool:
    """True once the lineage viewer drew the graph it asked for last."""
    return driver.execute_script(
        "var v = document.getElementById('lineage'); return !!v && v.getAttribute('data-state') === 'ready';"
    )
