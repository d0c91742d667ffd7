#!/usr/bin/env python3
"""Walk the Home Assistant UI in headless Chromium and fail on what a homeowner should never see.

Run by scripts/e2e (which starts Home Assistant and the demo charger first); by hand:

    .venv/bin/python scripts/e2e_walk.py --url http://127.0.0.1:8123 --log .develop/hass.log

It speaks Chromium's DevTools protocol over a WebSocket (no Selenium, no driver), logs in through
the login page, then visits the integration page, the charger's and a connector's device pages,
every step of the options flow, Developer tools > Actions (the forms of the actions whose help
texts once broke, and one action run with bad input) and the Energy configuration. On every page
it reads the text of the whole document, shadow roots included (the frontend's elements keep
their text there, where document.body.innerText does not reach), and fails on
"Translation error", on a raw translation key, and on a brand picture that did not load. At the
end it fails on any ocpp_cs error in Home Assistant's log. A screenshot of every page is saved.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
from dataclasses import dataclass, field
import itertools
import json
from pathlib import Path
import re
import shutil
import sys
import tempfile
import time
from typing import Any
import urllib.request

from websockets.asyncio.client import ClientConnection, connect

# Everything the page shows: text of all nodes, shadow roots included, plus what the frontend keeps
# in attributes that it renders (labels, helpers, placeholders).
TEXT_JS = """
(() => {
  const parts = [];
  const walk = (root) => {
    for (const node of root.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        if (node.parentElement && ['STYLE', 'SCRIPT'].includes(node.parentElement.tagName)) continue;
        const text = node.textContent.trim();
        if (text) parts.push(text);
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        for (const attribute of ['label', 'helper', 'placeholder', 'title', 'aria-label']) {
          const value = node.getAttribute(attribute);
          if (value) parts.push(value);
        }
        if (node.shadowRoot) walk(node.shadowRoot);
        walk(node);
      }
    }
  };
  walk(document);
  return parts.join('\\n');
})()
"""

# Brand pictures (the firmware update entity's, the integration's logo) that did not load.
BROKEN_IMAGES_JS = """
(() => {
  const broken = [];
  const walk = (root) => {
    for (const element of root.querySelectorAll('*')) {
      if (element.tagName === 'IMG' && element.src.includes('/brands/')
          && element.complete && element.naturalWidth === 0) broken.push(element.src.split('?')[0]);
      if (element.shadowRoot) walk(element.shadowRoot);
    }
  };
  walk(document);
  return broken;
})()
"""

# Brand pictures shown as backgrounds (state-badge: an update entity's entity_picture) that the
# server does not serve as an image. Returns [broken URLs, how many were checked].
BROKEN_BACKGROUNDS_JS = """
(async () => {
  const urls = new Set();
  const walk = (root) => {
    for (const element of root.querySelectorAll('*')) {
      const match = (element.style && element.style.backgroundImage || '').match(/url\\("?([^")]*)"?\\)/);
      if (match && match[1].includes('/brands/')) urls.add(match[1]);
      if (element.shadowRoot) walk(element.shadowRoot);
    }
  };
  walk(document);
  const broken = [];
  for (const url of urls) {
    const response = await fetch(url);
    if (!response.ok || !(response.headers.get('content-type') || '').startsWith('image/')) {
      broken.push(`${url.split('?')[0]} (HTTP ${response.status})`);
    }
  }
  return [broken, urls.size];
})()
"""

# Deep-find the element to act on: a helper the other snippets call with a predicate.
FIND_JS = """
window.__e2eFind = (predicate) => {
  const walk = (root) => {
    for (const element of root.querySelectorAll('*')) {
      if (predicate(element)) return element;
      if (element.shadowRoot) {
        const found = walk(element.shadowRoot);
        if (found) return found;
      }
    }
    return null;
  };
  return walk(document);
};
window.__e2eText = (element) => (element.innerText || element.textContent || '').trim();
"""

RAW_KEY = re.compile(r"component\.ocpp_cs\.|\bocpp_cs\.(?:config|options|entity|services|exceptions|issues|selector)\.")
TRANSLATION_ERROR = "Translation error"
# What the options flow's menu offers (translations/en.json options.step.init.menu_options).
STRINGS = Path(__file__).resolve().parent.parent / "custom_components" / "ocpp_cs" / "translations" / "en.json"


class WalkError(Exception):
    """Something a homeowner should not see, or a step that could not be done."""


@dataclass
class Browser:
    """One Chromium page driven over the DevTools protocol."""

    socket: ClientConnection
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)

    async def reader(self) -> None:
        """Route answers to their callers; keep the page's console errors."""
        async for raw in self.socket:
            message = json.loads(raw)
            if "id" in message and (future := self.pending.pop(message["id"], None)) is not None:
                if "error" in message:
                    future.set_exception(WalkError(f"DevTools: {message['error']}"))
                else:
                    future.set_result(message.get("result", {}))
            elif message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                self.console_errors.append(str(details.get("exception", {}).get("description") or details))

    async def send(self, method: str, **params: Any) -> Any:
        """Send one command and return its result."""
        command_id = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[command_id] = future
        await self.socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        return await asyncio.wait_for(future, 60)

    async def js(self, expression: str) -> Any:
        """Evaluate JavaScript in the page (awaiting promises) and return its value."""
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise WalkError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def until(self, expression: str, what: str, timeout: float = 60) -> Any:
        """Wait until a JavaScript expression is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(WalkError):
                if value := await self.js(expression):
                    return value
            await asyncio.sleep(0.25)
        raise WalkError(f"timed out after {timeout:.0f} s waiting for {what}")

    async def click(self, predicate: str, what: str, timeout: float = 30) -> None:
        """Click the first element (shadow roots included) that the JS predicate `e => ...` matches."""
        await self.until(f"(() => {{ const e = window.__e2eFind({predicate}); if (e) e.click(); return !!e; }})()",
                         what, timeout)

    async def type_into(self, predicate: str, text: str, what: str) -> None:
        """Focus an input that the predicate matches and type text as a keyboard would."""
        await self.until(f"(() => {{ const e = window.__e2eFind({predicate}); if (e) e.focus(); return !!e; }})()",
                         what)
        await self.send("Input.insertText", text=text)


def by_text(text: str, tags: str = "") -> str:
    """Return a predicate for an element whose own visible text is `text` (optionally of some tags)."""
    tag_check = f"[{', '.join(repr(t.upper()) for t in tags.split())}].includes(e.tagName) && " if tags else ""
    return f"(e) => {tag_check}window.__e2eText(e) === {json.dumps(text)}"


@dataclass
class Walk:
    """The walk's state: the browser, where screenshots go, what was found."""

    browser: Browser
    base_url: str
    shots: Path
    problems: list[str] = field(default_factory=list)
    pages: int = 0
    backgrounds: int = 0  # brand pictures shown as backgrounds on the last page checked

    async def check(self, name: str, settle: float = 1.5) -> str:
        """Screenshot the page, read its text and record what must not be there; return the text."""
        await asyncio.sleep(settle)  # the frontend renders lazily, translations arrive after the page
        self.pages += 1
        shot = await self.browser.send("Page.captureScreenshot", format="png")
        (self.shots / f"{self.pages:02d}-{name}.png").write_bytes(base64.b64decode(shot["data"]))
        text: str = await self.browser.js(TEXT_JS)
        for line in text.splitlines():
            if TRANSLATION_ERROR in line or RAW_KEY.search(line):
                self.problems.append(f"{name}: {line.strip()[:200]}")
        for src in await self.browser.js(BROKEN_IMAGES_JS):
            self.problems.append(f"{name}: a picture did not load: {src}")
        broken, self.backgrounds = await self.browser.js(BROKEN_BACKGROUNDS_JS)
        for src in broken:
            self.problems.append(f"{name}: a picture did not load: {src}")
        print(f"  {self.pages:02d} {name}: {len(text)} characters checked", flush=True)
        return text

    async def go(self, path: str) -> None:
        """Navigate inside the single-page app, as a click on a link does."""
        await self.browser.js(
            f"history.pushState(null, '', {json.dumps(path)}); "
            "window.dispatchEvent(new CustomEvent('location-changed')); true"
        )

    async def hass_ws(self, message: dict[str, Any]) -> Any:
        """Send a WebSocket API message through the logged-in frontend's own connection."""
        return await self.browser.js(f"document.querySelector('home-assistant').hass.callWS({json.dumps(message)})")


async def login(walk: Walk, username: str, password: str) -> None:
    """Log in through the login page, as a person would type."""
    browser = walk.browser
    await browser.send("Page.navigate", url=walk.base_url + "/")
    await browser.until("location.pathname.startsWith('/auth/authorize')", "the login page")
    await browser.js(FIND_JS)
    await browser.until("!!window.__e2eFind((e) => e.tagName === 'INPUT' && e.name === 'username')", "the login form")
    await walk.check("login")
    await browser.type_into("(e) => e.tagName === 'INPUT' && e.name === 'username'", username, "the user name field")
    await browser.type_into("(e) => e.tagName === 'INPUT' && e.name === 'password'", password, "the password field")
    await browser.js(FIND_JS)
    await browser.click(by_text("Log in", "ha-button mwc-button button"), "the Log in button")
    await browser.until(
        "!!(document.querySelector('home-assistant')?.hass?.connected)", "the frontend to connect after login", 90
    )
    await browser.js(FIND_JS)


async def ocpp_devices(walk: Walk) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the demo charger's device and one of its connectors' devices."""
    entries = await walk.hass_ws({"type": "config_entries/get", "domain": "ocpp_cs"})
    if not entries:
        raise WalkError("no ocpp_cs config entry")
    entry_ids = {entry["entry_id"] for entry in entries}
    devices = [d for d in await walk.hass_ws({"type": "config/device_registry/list"})
               if entry_ids & set(d["config_entries"])]
    identifiers = {tuple(i)[1]: d for d in devices for i in d["identifiers"]}
    chargers = [d for key, d in identifiers.items() if d.get("via_device_id") is None and not key.startswith("01")
                and f"{key}_1" in identifiers]
    if not chargers:
        raise WalkError(f"no charger with connector devices among {sorted(identifiers)}")
    charger = chargers[0]
    connector = next(d for d in devices if d.get("via_device_id") == charger["id"])
    return charger, connector


async def offered_options(walk: Walk, entry_id: str) -> list[str]:
    """Return the steps the options menu offers now, as the flow itself says (then abort that flow)."""
    menu = await walk.browser.js(
        "(async () => { const hass = document.querySelector('home-assistant').hass;"
        f" const step = await hass.callApi('POST', 'config/config_entries/options/flow', {{handler: {json.dumps(entry_id)}}});"
        " await hass.callApi('DELETE', 'config/config_entries/options/flow/' + step.flow_id);"
        " return step.menu_options; })()"
    )
    if not isinstance(menu, list) or not menu:
        raise WalkError(f"the options flow offered no menu: {menu!r}")
    return [str(option) for option in menu]


async def options_flow(walk: Walk, entry_id: str) -> None:
    """Open the options flow from the integration page and show every step its menu offers."""
    labels: dict[str, str] = json.loads(STRINGS.read_text(encoding="utf-8"))["options"]["step"]["init"]["menu_options"]
    browser = walk.browser
    offered = await offered_options(walk, entry_id)
    for option in [name for name in labels if name not in offered]:
        # Not offered by this setup (e.g. the upstream test without an upstream URL).
        print(f"  (options step {option!r} not offered by this setup)")
    for option in offered:
        label = labels[option]
        await walk.go(f"/config/integrations/integration/ocpp_cs#config_entry={entry_id}")
        await asyncio.sleep(1)
        await browser.js(FIND_JS)
        await browser.click(
            "(e) => ['HA-ICON-BUTTON', 'HA-BUTTON', 'BUTTON'].includes(e.tagName) && [e.getAttribute('label'), "
            "e.getAttribute('aria-label'), e.title, window.__e2eText(e)].includes('Configure')",
            "the Configure button",
        )
        # Every step the flow offers must show in the menu under its translated label.
        await browser.until(f"!!window.__e2eFind({by_text(label)})", f"the options menu ({label})")
        if option == offered[0]:
            await walk.check("options-menu")
        await browser.click(
            f"(e) => ['HA-MD-LIST-ITEM', 'HA-LIST-ITEM', 'MWC-LIST-ITEM', 'HA-ITEM'].includes(e.tagName) "
            f"&& window.__e2eText(e).includes({json.dumps(label)})",
            f"the menu option {label!r}",
        )
        await asyncio.sleep(1.5)
        await walk.check(f"options-{option}")
        await browser.send("Input.dispatchKeyEvent", type="keyDown", key="Escape", code="Escape",
                           windowsVirtualKeyCode=27)
        await browser.send("Input.dispatchKeyEvent", type="keyUp", key="Escape", code="Escape",
                           windowsVirtualKeyCode=27)
        await asyncio.sleep(0.5)


async def actions(walk: Walk, charger_id: str) -> None:
    """Show the forms of the actions whose help once broke; run one with bad input."""
    browser = walk.browser
    forms = ["get_diagnostics", "update_firmware", "signed_update_firmware", "send_local_list", "set_charging_profile"]
    for action in forms:
        await browser.js(
            "localStorage.setItem('panel-dev-action-state-yaml-mode', 'false');"
            "localStorage.setItem('panel-dev-action-state-service-data', "
            f"JSON.stringify({json.dumps({'action': f'ocpp_cs.{action}', 'data': {'device_id': charger_id}})})); true"
        )
        await browser.send("Page.navigate", url=f"{walk.base_url}/developer-tools/action")
        await browser.until("!!(document.querySelector('home-assistant')?.hass?.connected)", "the frontend")
        await browser.js(FIND_JS)
        await asyncio.sleep(2)
        await walk.check(f"action-{action}")
    # Bad input: neither a limit nor a charging profile; the translated error must show.
    await browser.js(
        "localStorage.setItem('panel-dev-action-state-service-data', JSON.stringify("
        + json.dumps({"action": "ocpp_cs.set_charging_profile",
                      "data": {"device_id": charger_id}})
        + ")); true"
    )
    await browser.send("Page.navigate", url=f"{walk.base_url}/developer-tools/action")
    await browser.until("!!(document.querySelector('home-assistant')?.hass?.connected)", "the frontend")
    await asyncio.sleep(2)
    await browser.click(by_text("Perform action", "ha-button mwc-button button ha-progress-button"),
                        "the Perform action button")
    await browser.until(f"({TEXT_JS}).includes('Give either limit (with unit) or a full charging_profile')",
                        "the action's translated error on screen")
    await walk.check("action-bad-input", settle=0.5)


async def run(args: argparse.Namespace) -> int:
    """Start Chromium, walk the pages, report; return the exit code."""
    shots = Path(args.shots)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="e2e-chromium-") as profile:
        chromium = await asyncio.create_subprocess_exec(
            args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1400,1000",
            "--lang=en-US", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            for _ in range(300):
                if port_file.exists() and port_file.read_text().strip():
                    break
                await asyncio.sleep(0.1)
            port = port_file.read_text().split()[0]
            targets = json.loads(await asyncio.to_thread(read_url, f"http://127.0.0.1:{port}/json/list"))
            page = next(t for t in targets if t["type"] == "page")
            async with connect(page["webSocketDebuggerUrl"], max_size=64 * 2**20) as socket:
                browser = Browser(socket)
                reader = asyncio.create_task(browser.reader())
                await browser.send("Runtime.enable")
                await browser.send("Page.enable")
                await browser.send("Page.addScriptToEvaluateOnNewDocument", source=FIND_JS)
                walk = Walk(browser, args.url.rstrip("/"), shots)
                try:
                    await walk_all(walk, args)
                except WalkError as err:
                    walk.problems.append(f"the walk stopped: {err}")
                    with contextlib.suppress(Exception):
                        await walk.check("where-it-stopped", settle=0)
                finally:
                    reader.cancel()
        finally:
            with contextlib.suppress(ProcessLookupError):
                chromium.terminate()
            await chromium.wait()
    walk.problems.extend(log_errors(Path(args.log)))
    print(f"{walk.pages} pages checked; screenshots in {shots}")
    for problem in walk.problems:
        print(f"PROBLEM {problem}")
    # Pages (and the log) with a problem fail; the others pass.
    failed = len({problem.split(":")[0] for problem in walk.problems})
    print(f"e2e: {max(walk.pages + 1 - failed, 0)} passed, {failed} failed")
    return 1 if walk.problems else 0


# A page with what check() must find, hidden as the frontend hides it: in shadow roots, an
# attribute and a picture that does not load.
SELF_TEST_PAGE = """<!doctype html><body><p>plain text</p><x-card></x-card><script>
customElements.define('x-card', class extends HTMLElement { constructor() { super();
  this.attachShadow({mode: 'open'}).innerHTML = '<x-field></x-field>'
    + '<img src="http://127.0.0.1:9/api/brands/integration/ocpp_cs/icon.png">'; } });
customElements.define('x-field', class extends HTMLElement { constructor() { super();
  this.attachShadow({mode: 'open'}).innerHTML =
    '<span>Translation error: INVALID_TAG</span><input label="component.ocpp_cs.config.step.user.title">'; } });
</script></body>"""


async def self_test(walk: Walk) -> None:
    """Check that check() sees through shadow roots: else a clean walk would prove nothing."""
    await walk.browser.send("Page.navigate", url="data:text/html;base64," + base64.b64encode(
        SELF_TEST_PAGE.encode()).decode())
    await walk.browser.until("document.readyState === 'complete'", "the self-test page")
    await walk.check("self-test", settle=0.5)
    found, walk.problems = walk.problems, []
    expected = ["Translation error: INVALID_TAG", "component.ocpp_cs.config.step.user.title", "did not load"]
    if len(found) != len(expected) or not all(any(e in f for f in found) for e in expected):
        raise WalkError(f"the self-test page's problems were not all found: {found}")


async def walk_all(walk: Walk, args: argparse.Namespace) -> None:
    """The pages a homeowner visits, in order."""
    await self_test(walk)
    await login(walk, args.username, args.password)
    await walk.check("overview", settle=3)
    await walk.go("/config/integrations/integration/ocpp_cs")
    await walk.check("integration", settle=3)
    charger, connector = await ocpp_devices(walk)
    await walk.go(f"/config/devices/device/{charger['id']}")
    await walk.check("charger-device", settle=3)
    if not walk.backgrounds:  # the firmware update entity's picture (its entity_picture)
        walk.problems.append("charger-device: no brand picture shown (the firmware update entity's icon)")
    await walk.go(f"/config/devices/device/{connector['id']}")
    await walk.check("connector-device", settle=3)
    entry_id = charger["primary_config_entry"] or charger["config_entries"][0]
    # An id tag, so that the menu offers editing and removing one (it offers only steps that apply).
    await walk.browser.js(
        "document.querySelector('home-assistant').hass.callService('ocpp_cs', 'add_id_tag', "
        f"{json.dumps({'config_entry_id': entry_id, 'id_tag': 'E2E-CARD', 'name': 'E2E card'})})"
        ".then(() => true)"
    )
    await options_flow(walk, entry_id)
    await actions(walk, charger["id"])
    await walk.go("/config/energy")
    await walk.check("energy-configuration", settle=3)
    await walk.go("/logbook")
    await walk.check("logbook", settle=3)
    if args.develop_log:
        await restart(walk, Path(args.develop_log), charger["id"])


async def restart(walk: Walk, develop_log: Path, charger_id: str) -> None:
    """Settings > Restart: scripts/develop starts Home Assistant again and the charger reconnects."""
    boots = develop_log.read_text(encoding="utf-8").count("BootNotification -> Accepted")
    await walk.browser.js(
        "document.querySelector('home-assistant').hass.callService('homeassistant', 'restart')"
        ".then(() => true, () => true)"  # the connection may close before the answer
    )
    deadline = time.monotonic() + 180
    while True:
        text = develop_log.read_text(encoding="utf-8")
        back = text.split("Home Assistant asked to be restarted", 1)[-1] if "asked to be restarted" in text else ""
        if "Home Assistant is back" in back and text.count("BootNotification -> Accepted") > boots:
            break
        if "Home Assistant exited" in text or time.monotonic() > deadline:
            raise WalkError("after Settings > Restart, Home Assistant and the demo charger did not come back")
        await asyncio.sleep(1)
    await walk.browser.send("Page.navigate", url=f"{walk.base_url}/config/devices/device/{charger_id}")
    await walk.browser.until("!!(document.querySelector('home-assistant')?.hass?.connected)", "the frontend", 90)
    await walk.check("charger-device-after-restart", settle=3)


def read_url(url: str) -> bytes:
    """Return the body of a local URL (Chromium's list of pages)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def log_errors(log: Path) -> list[str]:
    """Return the ocpp_cs errors of Home Assistant's log (with their first line)."""
    found = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if re.search(r"\b(ERROR|CRITICAL)\b", line) and "ocpp_cs" in line:
            found.append(f"hass.log: {line.strip()[:240]}")
    return found


def main() -> None:
    """Parse the arguments and walk."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="Home Assistant's URL")
    parser.add_argument("--log", required=True, help="Home Assistant's log file, checked for ocpp_cs errors")
    parser.add_argument("--shots", default=".e2e/screenshots", help="where screenshots go (emptied first)")
    parser.add_argument("--username", default="dev")
    parser.add_argument("--password", default="dev")
    parser.add_argument("--develop-log", help="scripts/develop's output: then Settings > Restart is tried last")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
