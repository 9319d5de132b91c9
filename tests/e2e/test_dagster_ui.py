"""The Dagster UI for real: `mrv dev` on a small data home, driven by headless Chromium.

A tiny cookstove project is ingested and its period materialized with the verifier package (what
`mrv demo` does), then `.venv/bin/mrv dev --port <free port>` serves `dagster dev -w workspace.yaml` on
that data home's instance. Chromium (Debian's chromium + chromium-driver, through Selenium) opens
the lineage graphs and the verifier package's asset page; the asset keys must be on the graphs and
the package must show as materialized for its partition. Screenshots are kept in tmp_path.
"""

from __future__ import annotations

import shutil
import struct
import time
import zlib
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e.infra import dagster_dev, need, need_module
from support import make_project, stove, visit, write_export

from pipelines import orchestration
from pipelines.project import load_project
from pipelines.settings import REPO_ROOT, DataHome

pytestmark = pytest.mark.e2e

PAGE_TIMEOUT = 60  # seconds for a page to show what is expected
STOP_TIMEOUT = 30  # seconds for dagster dev to stop after SIGTERM, before SIGKILL
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1600,1000"]
PERIOD = "T-CS-1:MP1"
AMS_II_G = ["usage_sample", "device_years", "emission_reductions", "calculation_steps",
            "emission_reductions_by_model", "verifier_package"]


@dataclass
class DagsterUI:
    url: str
    home: DataHome
    log: Path


def _browser_binaries() -> tuple[str, str]:
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
    need(chromium, "Chromium not found: apt-get install chromium chromium-driver")
    driver = shutil.which("chromedriver")
    need(driver, "chromedriver not found: apt-get install chromium-driver")
    need_module("selenium")
    return chromium, driver


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory):
    _browser_binaries()
    root = tmp_path_factory.mktemp("ui")
    home = DataHome(root / "home")
    make_project(home)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home.dagster_home))  # orchestration sets it; restored afterwards
        orchestration.ingest(home, "T-CS-1", write_export(root / "d.csv", "stove_distribution", [stove(i) for i in range(1, 5)]))
        orchestration.ingest(home, "T-CS-1", write_export(root / "u.csv", "cookstove_usage", [visit(i) for i in range(1, 5)]))
        orchestration.run_period(home, load_project(home, "T-CS-1"), "MP1", with_package=True)

    log = root / "dagster-dev.log"
    with dagster_dev(home.root, log, REPO_ROOT) as dev:
        yield DagsterUI(dev.url, home, log)


@pytest.fixture(scope="module")
def browser(dagster_ui: DagsterUI, tmp_path_factory: pytest.TempPathFactory):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = _browser_binaries()
    options = Options()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    service = Service(executable_path=chromedriver, log_output=str(tmp_path_factory.getbasetemp() / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(PAGE_TIMEOUT)
        driver.set_script_timeout(PAGE_TIMEOUT)
        yield driver
    finally:
        driver.quit()


def _open(driver, url: str, *texts: str, hrefs: tuple[str, ...] = ()) -> str:
    """Load `url` and wait until every text is rendered and a link starts with every href; the page's text."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)

    def ready(d) -> bool:
        text = d.execute_script("return document.body ? document.body.innerText : ''")
        links = d.execute_script("return Array.from(document.querySelectorAll('a[href]'), a => a.getAttribute('href'))")
        return all(t in text for t in texts) and all(any(link.startswith(h) for link in links) for h in hrefs)

    try:
        WebDriverWait(driver, PAGE_TIMEOUT, poll_frequency=0.5).until(ready)
    except TimeoutException:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")
        pytest.fail(f"{url} did not show {texts} / links {hrefs} within {PAGE_TIMEOUT} s; it shows:\n{text[:2000]}",
                    pytrace=False)
    _dismiss_community_dialog(driver)
    return driver.execute_script("return document.body.innerText")


def _click_text(driver, text: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//*[normalize-space(text())='{text}']").click()


def _wait_text(driver, text: str) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, PAGE_TIMEOUT, poll_frequency=0.5).until(
            lambda d: text in d.execute_script("return document.body.innerText"))
    except TimeoutException:
        pytest.fail(f"{driver.current_url} did not show {text!r} within {PAGE_TIMEOUT} s; it shows:\n"
                    f"{driver.execute_script('return document.body.innerText')[:2000]}", pytrace=False)


def _dismiss_community_dialog(driver) -> None:
    """A fresh profile gets Dagster's 'Join the Dagster community' dialog over the page; skip it (nothing is sent)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    if not getattr(driver, "mrv_dialog_seen", False):  # it comes once per profile, just after the first page
        with suppress(Exception):
            WebDriverWait(driver, 5, poll_frequency=0.25).until(
                lambda d: d.find_elements(By.XPATH, "//button[normalize-space()='Skip']"))
        driver.mrv_dialog_seen = True
    buttons = driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']")
    if not buttons:
        return
    for button in buttons:
        with suppress(Exception):
            button.click()
    WebDriverWait(driver, 10, poll_frequency=0.25).until(
        lambda d: not d.find_elements(By.XPATH, "//button[normalize-space()='Skip']"))
    time.sleep(0.5)  # let the overlay fade before a screenshot


def assert_real_png(path: Path, min_size: tuple[int, int] = (800, 600)) -> None:
    """A PNG of at least `min_size` pixels whose content is not one flat colour (or nearly)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= min_size[0] and height >= min_size[1], f"{path}: {width}x{height}"
    idat, offset = b"", 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            idat += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    pixels = zlib.decompress(idat)
    row = len(pixels) // height
    distinct_rows = {pixels[i * row + 1:(i + 1) * row] for i in range(0, height, 4)}  # skip each row's filter byte
    assert len(distinct_rows) > 20, f"{path} looks blank ({len(distinct_rows)} distinct rows)"
    assert len(set(pixels)) > 32, f"{path} has almost no colours"
    assert len(data) > 20_000, f"{path} is suspiciously small ({len(data)} bytes)"


def test_asset_graphs_show_the_asset_keys(dagster_ui: DagsterUI, browser, tmp_path: Path):
    base = f"{dagster_ui.url}/locations/field_mrv/asset-groups"
    _open(browser, f"{base}/surveys/lineage", "batch_upload", "accepted_rows",
          hrefs=("/assets/surveys/batch_upload", "/assets/surveys/accepted_rows"))
    browser.save_screenshot(str(tmp_path / "surveys_lineage.png"))
    assert_real_png(tmp_path / "surveys_lineage.png")

    text = _open(browser, f"{base}/ams_ii_g/lineage", *AMS_II_G, "accepted_rows",
                 hrefs=tuple(f"/assets/ams_ii_g/{name}" for name in AMS_II_G))
    # every node of the period graph is filled for its one partition (the period was materialized)
    assert text.count("100% filled") >= len(AMS_II_G), text
    browser.save_screenshot(str(tmp_path / "ams_ii_g_lineage.png"))
    assert_real_png(tmp_path / "ams_ii_g_lineage.png")

    text = _open(browser, f"{dagster_ui.url}/asset-groups", "Global asset lineage", "surveys", "ams_ii_g")
    browser.save_screenshot(str(tmp_path / "global_lineage.png"))
    assert_real_png(tmp_path / "global_lineage.png")


def test_verifier_package_shows_as_materialized(dagster_ui: DagsterUI, browser, tmp_path: Path):
    url = f"{dagster_ui.url}/assets/ams_ii_g/verifier_package"
    text = _open(browser, url, "Latest materialization", PERIOD, "manifest")
    assert "verifier_package" in text and str(dagster_ui.home.reports / "T-CS-1" / "MP1") in text, text
    browser.save_screenshot(str(tmp_path / "verifier_package.png"))
    assert_real_png(tmp_path / "verifier_package.png")

    text = _open(browser, f"{url}?view=partitions", "Materialized (1)", "Missing (0)", "Failed (0)", PERIOD)
    _click_text(browser, PERIOD)  # the partition's own materialization: one event, from a run
    _wait_text(browser, "historical events (1)")
    browser.save_screenshot(str(tmp_path / "verifier_package_partitions.png"))
    assert_real_png(tmp_path / "verifier_package_partitions.png")
