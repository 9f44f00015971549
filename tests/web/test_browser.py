"""The web interface in a real headless Chromium, against a real `flowtrail serve` process.

A user opens the home page, searches a key, opens the artifact and its lineage, expands a node in
place, opens a run and reads its params, and follows the failed run to its error. Screenshots are
saved in the test's tmp folder; with UPDATE_SCREENSHOTS=1 the lineage screenshot also
replaces docs/lineage.png, the one the README shows.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from browser import Server, flowtrail_command, graph_ready, wait_for
from conftest import clean_env

pytestmark = pytest.mark.slow
DOCS = Path(__file__).resolve().parents[2] / "docs"


def by_css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def node(driver, title):
    """The lineage node whose label is ``title`` (the <g> element)."""
    for element in all_css(driver, "#lineage g.node"):
        if element.find_element("css selector", "text.label").get_attribute("textContent") == title:
            return element
    raise AssertionError(f"no node {title!r} among {sorted(labels_of(driver))}")


def labels_of(driver) -> set[str]:
    """The labels of every node drawn (also those still fading in or outside the view)."""
    return {e.get_attribute("textContent") for e in all_css(driver, "#lineage g.node text.label")}


def settled(driver):
    """Wait for the graph to be drawn and its nodes to finish moving (0.35 s transitions)."""
    wait_for(driver, graph_ready)
    time.sleep(0.5)


def click_node(driver, title):
    from selenium.webdriver.common.action_chains import ActionChains

    settled(driver)
    ActionChains(driver).move_to_element(node(driver, title).find_element("css selector", "rect.box")).click().perform()
    wait_for(driver, lambda d: not by_css(d, "#lineage [data-role=panel]").get_attribute("hidden"))


def test_search_artifact_lineage_expand_run_params_and_the_failed_run(server, browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    shots = tmp_path / "screenshots"
    shots.mkdir()
    browser.get(server.url + "/")
    assert "Latest runs" in browser.page_source
    failed_rows = all_css(browser, "tr.row-failed")
    assert {row.find_element("css selector", "a.run-link").text for row in failed_rows} == {"qc[sample=f]", "workflow/Snakefile"}
    browser.save_screenshot(str(shots / "1-home.png"))

    search = by_css(browser, "#search")
    search.send_keys("summary.tsv", Keys.ENTER)
    wait_for(browser, lambda d: "Results for" in d.page_source)
    by_css(browser, "#found-artifacts a").click()
    wait_for(browser, lambda d: d.current_url.startswith(server.url + "/artifacts/"))
    assert "results/summary.tsv" in by_css(browser, "h1").text
    assert by_css(browser, "ol.versions li.current").text.startswith("v1")
    assert "summary" in by_css(browser, "main").text  # the producing run's transform
    browser.save_screenshot(str(shots / "2-artifact.png"))

    by_css(browser, "#open-lineage").click()
    settled(browser)
    labels = labels_of(browser)
    assert {"results/summary.tsv", "summary", "count[sample=a]", "trimmed/f.fq", "raw/f.fq"} <= labels
    assert "qc[sample=f]" not in labels  # upstream of the summary: the QC is elsewhere
    assert node(browser, "results/summary.tsv").get_attribute("class").split().count("start") == 1
    before = int(by_css(browser, "#lineage").get_attribute("data-nodes"))

    click_node(browser, "trimmed/f.fq")  # expand in place: who else read this file?
    by_css(browser, "#lineage [data-role=expand]").click()
    wait_for(browser, lambda d: int(by_css(d, "#lineage").get_attribute("data-nodes")) > before)
    settled(browser)
    failed = node(browser, "qc[sample=f]")
    assert "failed" in failed.get_attribute("class").split()
    assert failed.find_element("css selector", "rect.box").get_attribute("stroke") == "#d62728"
    by_css(browser, "#lineage [data-role=panel] button.close").click()
    assert not by_css(browser, "#lineage [data-role=panel]").is_displayed()
    browser.save_screenshot(str(shots / "3-lineage.png"))
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copyfile(shots / "3-lineage.png", DOCS / "lineage.png")

    click_node(browser, "count[sample=a]")
    assert "completed" in by_css(browser, "#lineage [data-role=panel]").text
    by_css(browser, "#lineage [data-role=open-page]").click()
    wait_for(browser, lambda d: "/runs/" in d.current_url)
    params = {row.find_element("css selector", "th").text: row.find_element("css selector", "td").text
              for row in all_css(browser, "#params tr")}  # fmt: skip
    assert "reverse" in params["params"] and "5" in params["params"]  # the rule's `params:`
    assert params["wildcards"] == '{"sample": "a"}'
    assert "trimmed/a.fq" in by_css(browser, "main").text  # its input
    browser.save_screenshot(str(shots / "4-run.png"))

    browser.back()
    settled(browser)
    click_node(browser, "qc[sample=f]")
    assert "exit status 3" in by_css(browser, "#lineage [data-role=details]").text  # the error's last line
    by_css(browser, "#lineage [data-role=open-page]").click()
    wait_for(browser, lambda d: "/runs/" in d.current_url)
    assert "failed" in by_css(browser, "h1").get_attribute("class")
    assert "exit status 3" in by_css(browser, "#run-error").text
    browser.save_screenshot(str(shots / "5-failed-run.png"))
    assert all((shots / f).stat().st_size > 10_000 for f in os.listdir(shots))


def test_direction_depth_and_transform_pages(server, browser):
    browser.get(server.url + "/?q=raw/a.fq")
    by_css(browser, "#found-artifacts a").click()
    by_css(browser, "#open-lineage").click()
    settled(browser)
    by_css(browser, "[data-direction=down]").click()
    settled(browser)
    labels = labels_of(browser)
    assert {"raw/a.fq", "trim[sample=a]", "count[sample=a]", "qc[sample=a]", "results/summary.tsv"} <= labels
    from selenium.webdriver.support.ui import Select

    Select(by_css(browser, "select[name=depth]")).select_by_value("1")
    wait_for(browser, lambda d: int(by_css(d, "#lineage").get_attribute("data-nodes")) == 3)  # file, trim, its output
    settled(browser)
    click_node(browser, "trim[sample=a]")
    by_css(browser, "#lineage [data-role=open-page]").click()
    wait_for(browser, lambda d: "/runs/" in d.current_url)
    by_css(browser, "main a[href^='/transforms/']").click()
    wait_for(browser, lambda d: "/transforms/" in d.current_url)
    text = by_css(browser, "main").text
    assert "Runs (6)" in text and "grep -v" in text  # run history and the rule's source

    browser.get(server.url + "/?q=summary.tsv")
    by_css(browser, "#found-artifacts a").click()
    by_css(browser, "#open-lineage").click()
    settled(browser)
    browser.get(browser.current_url.split("?")[0] + "?direction=up&limit=10")  # a cap says so and grows on demand
    settled(browser)
    more = by_css(browser, "[data-action=more]")
    assert more.is_displayed() and "hidden" in more.text and by_css(browser, "#lineage").get_attribute("data-nodes") == "10"
    more.click()
    wait_for(browser, lambda d: int(by_css(d, "#lineage").get_attribute("data-nodes")) > 10)
    settled(browser)
    assert not by_css(browser, "[data-action=more]").is_displayed()


def test_the_pages_ask_for_the_key_once(workflow_project, browser, tmp_path):
    import httpx

    guarded = Server(workflow_project, "--protect-reads", env={"FLOWTRAIL_API_KEY": "k3y"})
    try:
        assert httpx.get(f"{guarded.url}/api/v1/namespaces").status_code == 401
        authorised = httpx.get(f"{guarded.url}/api/v1/namespaces", headers={"Authorization": "Bearer k3y"})
        assert authorised.status_code == 200
        assert httpx.get(f"{guarded.url}/ui/lineage.json?node=artifact:x").status_code == 401
        browser.get(guarded.url + "/?q=summary.tsv")
        assert "/login" in browser.current_url and "results/summary.tsv" not in browser.page_source
        by_css(browser, "#key").send_keys("wrong")
        by_css(browser, "#sign-in").click()
        wait_for(browser, lambda d: "not the key" in d.page_source)
        by_css(browser, "#key").send_keys("k3y")
        by_css(browser, "#sign-in").click()
        wait_for(browser, lambda d: "Results for" in d.page_source)  # back where the user was going
        by_css(browser, "#found-artifacts a").click()
        by_css(browser, "#open-lineage").click()
        settled(browser)  # the graph's JSON is read with the same session: no second question
        assert int(by_css(browser, "#lineage").get_attribute("data-nodes")) > 10
        browser.save_screenshot(str(tmp_path / "protected-lineage.png"))
    finally:
        guarded.stop()


def test_the_html_file_works_offline(workflow_project, browser, tmp_path):
    out = tmp_path / "lineage.html"
    done = subprocess.run([*flowtrail_command(), "lineage", "results/summary.tsv", "--both", "-o", str(out)],
                          cwd=workflow_project, env=clean_env(), capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing loaded from anywhere
    browser.get(out.as_uri())
    settled(browser)
    assert {"results/summary.tsv", "count[sample=c]"} <= labels_of(browser)
    assert not by_css(browser, "[data-direction=up]").is_displayed()  # server-only controls hidden
    click_node(browser, "count[sample=c]")
    assert "completed" in by_css(browser, "#lineage [data-role=panel]").text
    details = by_css(browser, "#lineage [data-role=details]").text  # the run's params travel in the file
    assert "wildcards" in details and '"sample": "c"' in details and "reverse" in details
    browser.save_screenshot(str(tmp_path / "standalone.png"))


def test_a_wide_workflow_opens_grouped_and_a_group_opens_in_place(wide_project, browser, tmp_path):
    server = Server(wide_project)
    try:
        browser.get(server.url + "/?q=results/summary.tsv")
        by_css(browser, "#found-artifacts a").click()
        by_css(browser, "#open-lineage").click()
        settled(browser)
        labels = labels_of(browser)
        assert labels == {"raw/s*.fq × 24", "wf/trim × 24", "trimmed/s*.fq × 24", "wf/count × 24",
                          "counts/s*.tsv × 24", "wf/summary", "results/summary.tsv"}  # fmt: skip
        group = node(browser, "wf/count × 24")
        assert "failed" in group.get_attribute("class").split()  # one failed member colours the group
        assert "1 failed" in group.text
        browser.save_screenshot(str(tmp_path / "grouped.png"))
        click_node(browser, "wf/count × 24")
        assert "count[sample=s07]" in by_css(browser, "#lineage [data-role=panel]").text  # members listed
        by_css(browser, "#lineage [data-role=open-group]").click()
        wait_for(browser, lambda d: int(by_css(d, "#lineage").get_attribute("data-nodes")) > 7)
        settled(browser)
        labels = labels_of(browser)
        # The runs show, with the files next to them; the trim runs stay one group.
        assert {"count[sample=s00]", "trimmed/s00.fq", "counts/s23.tsv", "wf/trim × 24"} <= labels
        assert "failed" in node(browser, "count[sample=s07]").get_attribute("class").split()
        browser.save_screenshot(str(tmp_path / "group-opened.png"))
        assert "completed" in node(browser, "count[sample=s08]").get_attribute("textContent")
    finally:
        server.stop()
