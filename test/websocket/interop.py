#!/usr/bin/python3
"""interop.py PORT: wsserver's ws: listener (service strip, max_message
65536) against an independent WebSocket client, Debian's python3-websockets.
Prints one line per check and exits 0 only if every check passed."""
import asyncio
import sys

import websockets

TIMEOUT = 5


async def connect(port):
    return await asyncio.wait_for(websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None), TIMEOUT)


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


async def closed_with(ws, code):
    try:
        got = await recv(ws)
        raise AssertionError(f"expected close {code}, got message {got!r}")
    except websockets.ConnectionClosed as e:
        assert e.rcvd is not None and e.rcvd.code == code, f"expected close {code}, got {e.rcvd}"


async def served(port):
    ws = await connect(port)
    await ws.send("a b\tc")
    assert await recv(ws) == "abc"
    await ws.send(b"x y")
    got = await recv(ws)
    assert got == b"xy", f"binary reply {got!r}"
    await ws.send(["fr ", "ag ", "ments"])  # three frames, one message
    assert await recv(ws) == "fragments"
    await ws.send("κόσμε 😀")
    assert await recv(ws) == "κόσμε😀"
    big = "ab " * 20000
    await ws.send(big)
    assert await recv(ws) == "ab" * 20000
    pong = await ws.ping(b"are you there")
    await asyncio.wait_for(pong, TIMEOUT)
    await ws.close()
    assert ws.close_code == 1000, f"close code {ws.close_code}"


async def exit_closes_1000(port):
    ws = await connect(port)
    await ws.send("exit")
    await closed_with(ws, 1000)


async def too_long_closes_1009(port):
    ws = await connect(port)
    await ws.send("x" * 70000)
    await closed_with(ws, 1009)


async def main(port):
    failed = 0
    for check in (served, exit_closes_1000, too_long_closes_1009):
        try:
            await check(port)
            print(f"pass {check.__name__}")
        except Exception as e:  # every failure is reported, then the next check runs
            failed += 1
            print(f"FAIL {check.__name__}: {type(e).__name__}: {e}")
    return failed


if __name__ == "__main__":
    sys.exit(1 if asyncio.run(main(int(sys.argv[1]))) else 0)
