#!/usr/bin/env python3
"""Walks the customer's steps 7-10 in the app on an Android emulator, through adb.

Reads the screen with `uiautomator dump` (the accessibility tree, in which Android's WebView
publishes the page's elements with their HTML id as resource-id), taps elements by id with
`adb shell input tap` and types digits with `adb shell input text`. Prints the code the app
shows at step 10 (digits only) on standard output; everything else goes to standard error.

FLAG_SECURE makes screenshots of the app black, but the accessibility tree is still readable,
which is what this reads. The element ids are those of ui/index.html, as in tests/tests/app_e2e.rs.
"""

import argparse
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ADB = os.path.join(os.environ["ANDROID_HOME"], "platform-tools", "adb")
LOGS = os.environ.get("SOFTTOKEN_E2E_LOGS", ".")
DUMP = "/sdcard/softtoken-ui.xml"
dumps = 0


def log(message):
    print(f"android-walk: {message}", file=sys.stderr, flush=True)


def adb(*args):
    return subprocess.run([ADB, *args], check=True, capture_output=True, text=True).stdout


def screen():
    """The current accessibility tree; also kept in the logs for a failed run."""
    global dumps
    adb("shell", "uiautomator", "dump", DUMP)
    xml = adb("exec-out", "cat", DUMP)
    dumps += 1
    with open(os.path.join(LOGS, f"ui-{dumps:02}.xml"), "w", encoding="utf-8") as f:
        f.write(xml)
    return ET.fromstring(xml[xml.index("<"):])


def find(tree, element_id):
    for node in tree.iter("node"):
        # Chromium publishes the HTML id as is; some builds prefix it like a native view id.
        rid = node.get("resource-id", "")
        if rid == element_id or rid.endswith(":id/" + element_id):
            return node
    return None


def wait_for(element_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        node = find(screen(), element_id)
        if node is not None and node.get("bounds"):
            return node
        time.sleep(1)
    raise SystemExit(f"android-walk: #{element_id} did not appear within {timeout} s (see {LOGS}/ui-*.xml)")


def tap(element_id):
    node = wait_for(element_id)
    x1, y1, x2, y2 = map(int, re.findall(r"\d+", node.get("bounds")))
    adb("shell", "input", "tap", str((x1 + x2) // 2), str((y1 + y2) // 2))
    log(f"tapped #{element_id}")


def type_digits(element_id, digits):
    if not digits.isdigit():
        raise SystemExit(f"android-walk: only digits are typed through adb, not {element_id}'s value")
    tap(element_id)
    adb("shell", "input", "text", digits)
    log(f"typed {len(digits)} digits into #{element_id}")


def text_of(node):
    return " ".join(t for n in node.iter("node") for t in [n.get("text", "")] if t)


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--service-id", required=True)
    args.add_argument("--user-id", required=True)
    args.add_argument("--password", required=True)
    a = args.parse_args()

    # Step 7: the activation form.
    tap("add-token")
    type_digits("service-id", a.service_id)
    type_digits("user-id", a.user_id)
    type_digits("password", a.password)
    tap("activate-submit")
    # Step 8: initial setup, after the app fetched the token from the bank.
    tap("setup-next")
    # Step 9: the display name; the added wording may stay empty (FLOW.md).
    tap("name-submit")
    # Step 10: the code. The grouped digits are aria-hidden; the screen-reader text holds them.
    node = wait_for("otp-code-sr")
    digits = re.sub(r"\D", "", text_of(node))
    if len(digits) not in (6, 8):
        raise SystemExit(f"android-walk: step 10 shows no 6- or 8-digit code: {text_of(node)!r}")
    log("step 10: the app shows a code")
    print(digits)


if __name__ == "__main__":
    main()
