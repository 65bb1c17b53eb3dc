"""The documentation page fits a laptop (1280 px) and a phone (390 px) in a real Chromium.

Screenshots at both widths; nothing is wider than the page: the document and every table
keep ``scrollWidth <= clientWidth``. And what a reader looks for first: sample answers, one
table of error codes, the sources out of the way, a search box that works offline.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from selenium import webdriver
from selenium.webdriver.common.by import By

from dcs_contract.cli.app import main
from dcs_contract.contract.spec import Spec
from tests.harness.test_docs_browser import chromium

pytestmark = pytest.mark.browser

WIDTHS = {"laptop": 1280, "phone": 390}
# The page was 22,000 px tall at 1280 px before its consumers and sources were collapsed.
MAX_HEIGHT_AT_1280 = 16_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "site"
    assert main(["docs", "--out", str(out)]) == 0
    return out / "index.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    with chromium(tmp_path_factory.mktemp("profile")) as driver:
        yield driver


def _at_width(browser: webdriver.Chrome, site: Path, width: int) -> webdriver.Chrome:
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    browser.get(site.as_uri())
    return browser


OVERFLOWS = """
const page = document.documentElement;
const out = [];
if (page.scrollWidth > page.clientWidth) out.push(`document ${page.scrollWidth} > ${page.clientWidth}`);
document.querySelectorAll("table").forEach((table, index) => {
  const right = table.getBoundingClientRect().right;
  if (table.scrollWidth > table.clientWidth || right > page.clientWidth + 0.5) {
    const near = table.previousElementSibling ? table.previousElementSibling.textContent.slice(0, 40) : "";
    out.push(`table ${index} after "${near}": ${table.scrollWidth} > ${table.clientWidth}, right ${right}`);
  }
});
return out;
"""


@pytest.mark.parametrize("device", sorted(WIDTHS))
def test_nothing_overflows_and_the_screenshot_is_a_page(
    browser: webdriver.Chrome, site: Path, device: str, tmp_path: Path
) -> None:
    page = _at_width(browser, site, WIDTHS[device])
    assert page.execute_script(OVERFLOWS) == []
    # Opened, the sources still fit.
    page.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert page.execute_script(OVERFLOWS) == []
    png = page.get_screenshot_as_png()
    (tmp_path / f"docs-{device}.png").write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.size[0] == WIDTHS[device]
    assert ImageStat.Stat(image).stddev[0] > 20, "text and tables, not a blank page"


def test_descriptions_get_room_and_the_page_is_not_endless(browser: webdriver.Chrome, site: Path) -> None:
    page = _at_width(browser, site, WIDTHS["laptop"])
    widths = page.execute_script(
        "return [...document.querySelectorAll('table.parameters tr td:last-child')].map(c => c.clientWidth)"
    )
    assert widths and min(widths) > 300, f"the description column is squeezed: {widths}"
    height = page.execute_script("return document.documentElement.scrollHeight")
    assert height < MAX_HEIGHT_AT_1280


def test_the_sources_are_a_collapsed_line(browser: webdriver.Chrome, site: Path) -> None:
    page = _at_width(browser, site, WIDTHS["laptop"])
    # The Sources section's legend names each source once: the only badges not collapsed.
    loose = page.execute_script(
        "return [...document.querySelectorAll('main td .source')]"
        ".filter(s => !s.closest('details.sources') && !s.closest('h2#sources ~ table')).length"
    )
    assert loose == 0
    closed = page.find_elements(By.CSS_SELECTOR, "#param-limit details.sources")
    assert closed and not closed[0].get_attribute("open")
    closed[0].find_element(By.TAG_NAME, "summary").click()
    assert closed[0].find_element(By.CSS_SELECTOR, ".source").is_displayed()


def test_sample_answers_from_the_spec_and_one_error_code_table(
    browser: webdriver.Chrome, site: Path, spec: Spec
) -> None:
    page = _at_width(browser, site, WIDTHS["laptop"])
    samples = [
        element.get_attribute("textContent") or "" for element in page.find_elements(By.CSS_SELECTOR, "pre.sample")
    ]
    assert any('"backup_record_response"' in text for text in samples), "a sample 200 body"
    assert any('"error_code"' in text and '"error_msg"' in text for text in samples), "a sample error body"
    code = spec.enum_values("error_code")[0]
    tables = page.execute_script(
        "return [...document.querySelectorAll('table')].filter(t => t.textContent.includes(arguments[0])).length",
        code,
    )
    assert tables == 1, "the error codes are listed once"


def test_the_search_box_filters_the_page_offline(browser: webdriver.Chrome, site: Path) -> None:
    page = _at_width(browser, site, WIDTHS["laptop"])
    assert page.execute_script("return document.querySelectorAll('script[src], link[href]').length") == 0
    box = page.find_element(By.ID, "search")
    box.send_keys("backup_format")
    rows = page.execute_script(
        "return [...document.querySelectorAll('main tr')].filter(r => !r.hidden && !r.querySelector('th'))"
        ".map(r => r.textContent)"
    )
    assert rows and all("backup_format" in text for text in rows), rows
    assert "match" in page.find_element(By.ID, "search-count").text
    box.clear()
    box.send_keys(" ")
    hidden = page.execute_script("return document.querySelectorAll('main tr[hidden]').length")
    assert hidden == 0
