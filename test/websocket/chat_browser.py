#!/usr/bin/python3
"""chat_browser.py PORT SCREENSHOT: two pages of a real Chromium (headless,
driven over its DevTools protocol with python3-websockets) open the chat
page of wsserver's ws: listener on 127.0.0.1:PORT (service chat). One sends,
the other must show the message; a screenshot of the receiving page goes to
SCREENSHOT; then the sender types exit and its page must say the connection
dropped. Exit status 0 only if every step passed; 77 if chromium is not
installed."""
import asyncio
import base64
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import websockets

STEP_TIMEOUT = 15
STARTED = time.monotonic()


def say(text):
    """A step passed, with the seconds since the start: where the time goes."""
    print(f"pass {text} ({time.monotonic() - STARTED:.1f} s)", flush=True)


def die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Browser:
    """One chromium process in its own process group and profile."""

    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="wsserver-chromium-")
        self.log = open(os.path.join(self.profile, "chromium.log"), "w")
        args = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--disable-dev-shm-usage", "--window-size=800,600",
                "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"]
        # Its own group, to be stopped whole; and killed with this script
        # (PR_SET_PDEATHSIG) should the test's deadline kill the script first.
        self.process = subprocess.Popen(args, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=die_with_parent)

    def devtools_url(self):
        """The browser's DevTools WebSocket, from the file chromium writes once it listens."""
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}: {self.tail()}")
            try:
                with open(path) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[1]:
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise RuntimeError("chromium wrote no DevToolsActivePort within 30 s: " + self.tail())

    def tail(self):
        self.log.flush()
        with open(os.path.join(self.profile, "chromium.log"), errors="replace") as f:
            return f.read()[-2000:]

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class Cdp:
    """Commands over one DevTools connection, pages addressed by session."""

    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0

    async def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self.socket.send(json.dumps(message))
        while True:  # events are not needed here: skipped
            reply = json.loads(await asyncio.wait_for(self.socket.recv(), STEP_TIMEOUT))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    async def open_page(self, url):
        target = await self.call("Target.createTarget", {"url": url})
        attached = await self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        return attached["sessionId"]

    async def evaluate(self, session, expression):
        result = await self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, session, expression, what):
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            if await self.evaluate(session, expression):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}")


STATUS = "(document.getElementById('status') || {}).textContent"
LINES = "[...document.querySelectorAll('#log li')].map(li => li.textContent)"


def type_and_send(text):
    return (f"document.getElementById('text').value = {json.dumps(text)};"
            "document.getElementById('send').click(); true")


async def chat(cdp, port, screenshot):
    url = f"http://127.0.0.1:{port}/"
    sender, receiver = await cdp.open_page(url), await cdp.open_page(url)
    for page in (sender, receiver):
        await cdp.wait_for(page, f"{STATUS} === 'connected'", "the page to connect")
    say("both pages loaded the chat page and connected")
    # A chat client hears what is sent once its worker has joined the ring;
    # the sender repeats until the receiver shows it.
    text = "hello from the other page"
    deadline = time.monotonic() + STEP_TIMEOUT
    while not await cdp.evaluate(receiver, f"{LINES}.includes({json.dumps(text)})"):
        if time.monotonic() > deadline:
            raise RuntimeError("the receiving page never showed the message")
        await cdp.evaluate(sender, type_and_send(text))
        await asyncio.sleep(0.3)
    say("a message typed in one page shows in the other")
    shot = await cdp.call("Page.captureScreenshot", {"format": "png"}, receiver)
    with open(screenshot, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    say(f"screenshot in {screenshot}")
    await cdp.evaluate(sender, type_and_send("exit"))
    await cdp.wait_for(sender, f"{STATUS} === 'disconnected'", "the page to say the connection dropped")
    await cdp.wait_for(sender, f"{LINES}.some(l => l.startsWith('connection closed (1000'))", "the close code shown")
    say("the page says when the connection drops")


async def main(port, screenshot):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        print("chromium is not installed")
        return 77
    browser = Browser(binary)
    try:
        url = browser.devtools_url()
        say("chromium started")
        async with websockets.connect(url, max_size=None) as socket:
            await chat(Cdp(socket), port, screenshot)
        return 0
    except Exception as e:  # reported with chromium's own words
        print(f"FAIL {type(e).__name__}: {e}\n---- chromium log\n{browser.tail()}")
        return 1
    finally:
        browser.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]), sys.argv[2])))
