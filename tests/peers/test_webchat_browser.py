"""Peer ring: the real Web Chat in headless Chromium, over a local Direct Line, on /chat."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from playwright.async_api import Browser, Page, Route, async_playwright

from tests.conftest import make_settings, printed_address, serve, serve_bot, try_channel
from tools.local_peers import PEERS, DirectLineServer, free_port

ROOT = PEERS.parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"  # Debian's; `make test` installs it
# As root, offline: no sandbox, no GPU, none of Chromium's own network traffic.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
BUBBLE = ".webchat__bubble__content"
SEND_BOX = '[data-id="webchat-sendbox-input"]'


@asynccontextmanager
async def webchat_bundle() -> AsyncIterator[str]:
    """The Web Chat bundle (npm's botframework-webchat) served locally instead of the CDN."""
    app = web.Application()
    app.router.add_static("/", PEERS / "webchat")
    async with serve(app) as url:
        yield f"{url}/webchat.js"


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def loopback_only(route: Route) -> None:
    if route.request.url.startswith(("http://127.0.0.1", "http://localhost")):
        await route.continue_()
    else:
        await route.abort()


async def say(page: Page, text: str, then_shows: str) -> None:
    await page.fill(SEND_BOX, text)
    await page.press(SEND_BOX, "Enter")
    await page.locator(BUBBLE, has_text=then_shows).first.wait_for(timeout=20_000)


async def order_status_conversation(browser: Browser, address: str, screenshot: str) -> list[str]:
    """Opens the chat page offline, asks where order 123456 is; the bubbles' texts."""
    page = await browser.new_page()
    await page.route("**/*", loopback_only)  # offline: nothing from a CDN
    await page.goto(address)
    greeting = page.locator(BUBBLE, has_text="customer service assistant")
    await greeting.first.wait_for(timeout=20_000)
    await say(page, "where is my order?", "Can you provide your order number?")
    await say(page, "123456", "out for delivery and expected by")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / screenshot, full_page=True)
    return await page.locator(BUBBLE).all_inner_texts()


async def test_the_order_status_conversation_in_the_real_web_chat() -> None:
    direct_line_port = free_port()
    async with webchat_bundle() as bundle_url:
        settings = make_settings(
            DIRECT_LINE_SECRET="local-secret",
            DIRECT_LINE_ENDPOINT=f"http://127.0.0.1:{direct_line_port}",
            WEBCHAT_BUNDLE_URL=bundle_url,
        )
        async with serve_bot(settings) as bot_url:
            direct_line = DirectLineServer(direct_line_port, bot_url)
            direct_line.start()
            try:
                async with chromium() as browser:
                    transcript = await order_status_conversation(
                        browser, bot_url.replace("/api/messages", "/chat"), "webchat.png"
                    )
            finally:
                direct_line.stop()
    answer = next(text for text in transcript if "Your order 123456" in text)
    assert "Your order 123456 is out for delivery and expected by" in answer
    # The Adaptive Card rendered its facts too.
    assert any("Status" in text and "out for delivery" in text for text in transcript)
    assert (ARTIFACTS / "webchat.png").stat().st_size > 10_000


async def test_make_webchat_gives_a_working_chat_at_the_printed_address(tmp_path: Path) -> None:
    process = try_channel("webchat", tmp_path)
    try:
        address = await asyncio.to_thread(printed_address, process, "/chat")
        async with chromium() as browser:
            transcript = await order_status_conversation(browser, address, "make-webchat.png")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert any("Status" in text and "out for delivery" in text for text in transcript)
    assert (ARTIFACTS / "make-webchat.png").stat().st_size > 10_000


async def test_a_chat_page_that_cannot_work_says_why_where_it_is_seen() -> None:
    bundle = str(PEERS / "webchat" / "webchat.js")
    unreachable = f"http://127.0.0.1:{free_port()}"
    cases = [
        (make_settings(), "Web chat is not set up on this bot: set DIRECT_LINE_SECRET", False),
        (make_settings(DIRECT_LINE_SECRET="s", DIRECT_LINE_ENDPOINT=unreachable,
                       WEBCHAT_BUNDLE_FILE=bundle),
         "Web chat cannot reach the Direct Line service right now.", True),
    ]  # fmt: skip
    async with chromium() as browser:
        for settings, message, retry in cases:
            async with serve_bot(settings) as bot_url:
                page = await browser.new_page(viewport={"width": 1000, "height": 700})
                await page.route("**/*", loopback_only)
                await page.goto(bot_url.replace("/api/messages", "/chat"))
                problem = page.get_by_role("alert")
                await problem.wait_for(state="visible", timeout=10_000)
                assert message in await problem.inner_text()
                box = await problem.bounding_box()
                assert box is not None and box["y"] + box["height"] <= 700
                assert await page.get_by_role("button", name="Try again").is_visible() == retry
                await page.close()
