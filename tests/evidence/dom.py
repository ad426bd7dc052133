"""Checks the DOM headless Chromium dumped of the demo's evidence pack: each of the eight checks
has a section with a timeline bar of at least one interval (an SVG rect with its state as class
and a title), the summary table names every check, and the offboarding table has a row for the
demo's leaver, and the signed checkpoint is told. Uses only Python's standard library (html.parser). Exits 1 with the reasons."""

import sys
from html.parser import HTMLParser

STATES = {"passing", "due", "failing"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.section = None
        self.bars = {}
        self.in_offboarding = False
        self.offboarding_rows = 0
        self.summary_rows = 0
        self.table = None
        self.scripts = 0
        self.in_checkpoint = False
        self.checkpoint_text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "section" and attrs.get("id", "").startswith("check-"):
            self.section = attrs["id"][len("check-"):]
            self.bars[self.section] = []
        if tag == "rect" and self.section:
            classes = set(attrs.get("class", "").split())
            if "interval" in classes:
                self.bars[self.section].append(classes & STATES)
        if tag == "td" and attrs.get("id") == "checkpoint":
            self.in_checkpoint = True
        if tag == "table":
            self.table = attrs.get("id")
        if tag == "tr" and self.table == "offboarding":
            self.offboarding_rows += 1
        if tag == "tr" and self.table == "summary":
            self.summary_rows += 1

    def handle_data(self, data):
        if self.in_checkpoint:
            self.checkpoint_text += data

    def handle_endtag(self, tag):
        if tag == "td":
            self.in_checkpoint = False
        if tag == "section":
            self.section = None
        if tag == "table":
            self.table = None


def main(path):
    page = Page()
    page.feed(open(path, encoding="utf-8").read())
    failures = []
    if len(page.bars) < 8:
        failures.append(f"{len(page.bars)} check sections, not every check: {sorted(page.bars)}")
    for check, bars in page.bars.items():
        if not bars or any(len(states) != 1 for states in bars):
            failures.append(f"{check}: the timeline bar has no interval, or one without a state")
    if page.summary_rows < len(page.bars) + 1:
        failures.append(f"the summary table has {page.summary_rows} rows")
    if page.offboarding_rows < 2:
        failures.append("the offboarding table has no row for the demo's leaver")
    if "tree size" not in page.checkpoint_text or "signed by" not in page.checkpoint_text:
        failures.append(f"the signed checkpoint is not told: {page.checkpoint_text!r}")
    if page.scripts:
        failures.append("the page holds a script")
    if failures:
        for failure in failures:
            print(f"evidence browser FAILED: {failure}", file=sys.stderr)
        return 1
    total = sum(len(bars) for bars in page.bars.values())
    print(f"evidence browser ok: Chromium rendered {len(page.bars)} check timelines "
          f"({total} intervals), the offboarding table ({page.offboarding_rows - 1} rows) "
          f"and the signed checkpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
