"""The documentation page in a real headless Chromium (Debian's chromium and chromium-driver).

What a reader sees is the rendered, visible text, not the HTML source: every field, enum
value and status code, and the conformance panel's verdict. A screenshot proves it is not blank.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from dcs_contract.cli.app import main
from dcs_contract.contract.consumers import Consumers
from dcs_contract.contract.spec import Spec
from dcs_contract.docs.model import DocsModel

pytestmark = pytest.mark.browser

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
# The same flags as a closed machine needs: no background calls home, a fresh profile.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]


@contextmanager
def chromium(profile: Path, *, log_requests: bool = False) -> Iterator[webdriver.Chrome]:
    """Debian's headless Chromium with a fresh profile; ``log_requests`` keeps every request it sends.

    Skipped where Chromium is not installed, except in CI, which must install it.
    """
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium and chromium-driver (.ci/run does)")
        pytest.skip("Debian's chromium and chromium-driver are not installed: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    if log_requests:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    with chromium(tmp_path_factory.mktemp("profile")) as driver:
        yield driver


@pytest.fixture(scope="module")
def page(browser: webdriver.Chrome, tmp_path_factory: pytest.TempPathFactory) -> webdriver.Chrome:
    work = tmp_path_factory.mktemp("docs")
    main(["run", "--report-dir", str(work / "run"), "--max-examples", "20", "--seed", "9"], env={})
    assert main(["docs", "--out", str(work / "site"), "--report", str(work / "run" / "report.json")]) == 0
    browser.get((work / "site" / "index.html").as_uri())
    return browser


def test_a_reader_sees_every_field_enum_value_and_status(page: webdriver.Chrome, spec: Spec) -> None:
    visible = page.find_element(By.TAG_NAME, "body").text
    model = DocsModel(spec)
    expected = [field.path for field in model.fields]
    expected += [json.dumps(value) for values in spec.enum_fields.values() for value in values]
    expected += [str(code) for code in spec.status_codes]
    expected += list(spec.parameters)
    assert [item for item in expected if item not in visible] == []


def test_a_reader_sees_each_consumer_what_it_relies_on_and_how_it_breaks(page: webdriver.Chrome, spec: Spec) -> None:
    section = page.find_element(By.ID, "consumers")
    assert section.is_displayed() and section.text.startswith("Consumers")
    # Each consumer is a collapsed line until opened, as a reader opens it.
    for summary in page.find_elements(By.CSS_SELECTOR, "details.consumer > summary"):
        summary.click()
    for consumer in Consumers.of(spec).consumers:
        panel = page.find_element(By.ID, f"consumer-{consumer.id}")
        assert panel.is_displayed(), consumer.id
        shown = " ".join(panel.text.split())
        expected = [consumer.name, consumer.repository, *consumer.files]
        expected += [" ".join(text.replace("`", "").split()) for r in consumer.relies_on for text in (r.what, r.breaks)]
        assert [text for text in expected if text not in shown] == [], consumer.id


def test_a_reader_sees_the_record_time_s_alternatives(page: webdriver.Chrome, spec: Spec) -> None:
    table = page.find_element(By.CSS_SELECTOR, "#alternatives-RecordTime + p + table")
    assert table.is_displayed()
    # The sources are a collapsed line of each row, opened as a reader opens them.
    for summary in table.find_elements(By.CSS_SELECTOR, "details.sources > summary"):
        summary.click()
    rows = [" ".join(row.text.split()) for row in table.find_elements(By.TAG_NAME, "tr")[1:]]
    forms = spec.component("RecordTime")["x-alternatives"]
    assert len(rows) == len(forms)
    for row, alternative in zip(rows, forms, strict=True):
        assert alternative["form"].replace("`", "") in row and alternative["x-source"] in row
    heading = page.find_element(By.ID, "alternatives-RecordTime").text
    assert "RecordTime" in heading and "alternatives" in heading


def test_the_conformance_panel_shows_the_verdict(page: webdriver.Chrome) -> None:
    verdict = page.find_element(By.CSS_SELECTOR, "#conformance ~ section.panel .verdict")
    assert verdict.is_displayed()
    assert verdict.text == "conforms"


def test_the_sidebar_links_to_each_section(page: webdriver.Chrome) -> None:
    links = page.find_elements(By.CSS_SELECTOR, "nav a")
    assert len(links) >= 10
    for link in links:
        target = link.get_attribute("href")
        assert target is not None and "#" in target
        assert page.find_element(By.ID, target.rsplit("#", 1)[1]).is_displayed()


def test_the_page_is_not_blank(page: webdriver.Chrome, tmp_path: Path) -> None:
    png = page.get_screenshot_as_png()
    (tmp_path / "page.png").write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.size[0] >= 1000
    # Text and tables on white: many dark pixels and a wide spread of greys, unlike an empty page.
    dark = sum(count for level, count in enumerate(image.histogram()) if level < 128)
    assert dark / (image.size[0] * image.size[1]) > 0.01
    assert ImageStat.Stat(image).stddev[0] > 20
