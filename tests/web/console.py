"""The web console in a real browser: headless Chromium (Debian's, at /usr/bin/chromium) driven by
Playwright for Python, against `tailledger demo`'s console (docs/reference/web.md).

- As an admin: a failing check (the demo's contractor, declassified over gRPC beforehand) is
  followed to its account, the account is linked, and the check passes; a review is handed from
  one reviewer to another and cancelled, each shown as appended by the admin.
- As a reviewer: only the reviewer's own reviews are listed, and a decision is recorded.
- As an auditor: no admin action is offered anywhere, and the evidence pack downloads as a tar
  holding the pack's page and manifest.

Usage: console.py WEB_URL GRPC_ADDRESS BINARY [--screenshots DIR]. Exits 0 when every step holds.
"""

import datetime
import subprocess
import sys
import tarfile

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The demo's contractor, classified `external` in the story, and its reviewers.
CONTRACTOR = "uW5tYb1Nq811CNTRL"
DANA = "dana.whitfield@acme-corp.example"
LENA = "lena.vogt@acme-corp.example"


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def sign_in(browser, base, token):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(base + "/signin")
    page.fill('input[name="token"]', token)
    page.click('form.signin button[type="submit"]')
    return context, page


def state_of(page, check_id):
    check(page.locator(f'tr[data-check-id="{check_id}"]').count() == 1,
          f"{page.url} shows no check {check_id}: {page.content()[:3000]}")
    return page.locator(f'tr[data-check-id="{check_id}"]').get_attribute("data-state")


def start_review(page, base, reviewer):
    page.goto(base + "/reviews")
    form = page.locator('form[data-action="start-review"]')
    form.locator('input[name="reviewers"]').fill(reviewer)
    form.locator('input[name="due"]').fill("2999-01-01")
    form.locator('button[type="submit"]').click()
    check(page.locator('tr[data-event="AccessReviewStarted"]').count() >= 1, "no review started")
    href = page.locator("a[data-back]").get_attribute("href")
    return href.rsplit("/", 1)[1]


def submit(page, action, fields, event):
    form = page.locator(f'form[data-action="{action}"]')
    for name, value in fields.items():
        field = form.locator(f'[name="{name}"]')
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.locator('button[type="submit"]').click()
    check(page.locator(f'tr[data-event="{event}"] td[data-actor="web:admin"]').count() == 1,
          f"{action} was not shown as appended by web:admin: {page.content()[:3000]}")


def reassign_and_cancel(page, base):
    review = start_review(page, base, LENA)
    page.goto(f"{base}/reviews/{review}")
    submit(page, "reassign-reviewer",
           {"from_employee_id": LENA, "to_employee_id": DANA, "reason": "Lena is on leave"},
           "AccessReviewReviewerReassigned")
    page.goto(f"{base}/reviews/{review}")
    submit(page, "cancel-review", {"reason": "started by mistake"}, "AccessReviewCancelled")
    page.goto(f"{base}/reviews/{review}")
    check(page.locator("[data-cancelled]").count() == 1, "the review is not shown cancelled")
    check(page.locator("[data-action]").count() == 0, "a cancelled review offers forms")


def admin(browser, base, screenshots):
    context, page = sign_in(browser, base, "demo-admin")
    check(state_of(page, "user-identified") == "FAILING", "user-identified is not failing")
    page.locator('tr[data-check-id="user-identified"] a').first.click()
    finding = page.locator(f'tr[data-account-id="{CONTRACTOR}"]')
    check(finding.count() == 1, "the contractor is not among the findings")
    finding.locator("a").first.click()
    form = page.locator('form[data-action="link"]')
    form.locator('input[name="employee_id"]').fill(DANA)
    form.locator('input[name="reason"]').fill("Dana vouches for the contractor's access")
    form.locator('button[type="submit"]').click()
    check(page.locator('tr[data-event="AccountLinked"] td[data-actor="web:admin"]').count() == 1,
          "the link was not shown as appended by web:admin")
    page.goto(base + "/")
    check(state_of(page, "user-identified") == "PASSING", "user-identified still fails after the link")
    if screenshots:
        page.screenshot(path=f"{screenshots}/web-overview.png", full_page=True)
    dana = start_review(page, base, DANA)
    lena = start_review(page, base, LENA)
    reassign_and_cancel(page, base)
    context.close()
    return dana, lena


def reviewer(browser, base, dana, lena, screenshots):
    context, page = sign_in(browser, base, "demo-reviewer")
    check(page.url.endswith("/reviews"), f"a reviewer landed on {page.url}")
    listed = page.locator("tr[data-review-id]").evaluate_all("rows => rows.map(r => r.dataset.reviewId)")
    check(dana in listed, f"the reviewer's own review is not listed: {listed}")
    check(lena not in listed, f"someone else's review is listed: {listed}")
    for row in page.locator("tr[data-review-id]").all():
        check(DANA in row.inner_text(), "a listed review is not the reviewer's")
    page.goto(f"{base}/reviews/{dana}")
    form = page.locator("form[data-review-decision]").first
    account = form.get_attribute("data-review-decision")
    form.locator('select[name="decision"]').select_option("keep")
    form.locator('input[name="reason"]').fill("still on the team")
    form.locator('button[type="submit"]').click()
    check(page.locator('tr[data-event="AccessReviewDecided"] td[data-actor="web:reviewer"]').count() == 1,
          "the decision was not shown as appended by web:reviewer")
    page.goto(f"{base}/reviews/{dana}")
    decision = page.locator(f'tr[data-account-id="{account}"]').first.get_attribute("data-decision")
    check(decision == "keep", f"the decision reads {decision!r}")
    if screenshots:
        page.screenshot(path=f"{screenshots}/web-review.png", full_page=True)
    response = page.goto(f"{base}/reviews/{lena}")
    check(response.status == 403, f"someone else's review answered {response.status}")
    response = page.goto(base + "/")
    check(response.status == 403, f"the overview answered a reviewer {response.status}")
    context.close()


def auditor(browser, base):
    context, page = sign_in(browser, base, "demo-auditor")
    for path in ["/", "/checks/user-identified", "/accounts", f"/accounts/{CONTRACTOR}", "/people",
                 "/report", "/exceptions", "/reviews", "/ledger", "/evidence"]:
        response = page.goto(base + path)
        check(response.status == 200, f"{path} answered an auditor {response.status}")
        offered = page.locator('[data-action]:not([data-action="download-evidence"])').count()
        check(offered == 0, f"{path} offers an auditor {offered} admin action(s)")
        check(page.locator("form[data-review-decision]").count() == 0, f"{path} offers a decision")
    now = datetime.datetime.now(datetime.timezone.utc)
    page.fill('input[name="from"]', (now - datetime.timedelta(days=30)).strftime("%Y-%m-%d"))
    page.fill('input[name="to"]', (now - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    with page.expect_download() as download:
        page.click('button[data-action="download-evidence"]')
    path = download.value.path()
    check(download.value.suggested_filename.endswith(".tar"), download.value.suggested_filename)
    with tarfile.open(path) as pack:
        names = pack.getnames()
    for name in ["evidence/index.html", "evidence/MANIFEST.sha256", "evidence/ledger.jsonl"]:
        check(name in names, f"{name} is not in the pack: {names}")
    context.close()


def main(base, grpc, binary, screenshots):
    # A failing check to act on: the contractor's classification removed, as an admin would over
    # gRPC (the demo's API has no authentication; the CLI still wants a token to send).
    subprocess.run(
        [binary, "admin", "--server", f"http://{grpc}", "--token", "demo", "classify", CONTRACTOR, "none",
         "--reason", "the contract ended; to be decided"],
        check=True, stdout=subprocess.DEVNULL,
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            dana, lena = admin(browser, base, screenshots)
            reviewer(browser, base, dana, lena, screenshots)
            auditor(browser, base)
        finally:
            browser.close()
    print("web console ok: admin linked a failing account and reassigned and cancelled a review, "
          "a reviewer decided their own review, "
          "an auditor downloaded the pack with no admin action offered")
    return 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    shots = None
    if "--screenshots" in arguments:
        at = arguments.index("--screenshots")
        shots = arguments[at + 1]
        del arguments[at:at + 2]
    sys.exit(main(arguments[0], arguments[1], arguments[2], shots))
