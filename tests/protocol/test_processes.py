"""The programs a newcomer runs: `python app.py` (make run) and the chat client (make chat)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_bot(tmp_path: Path, **env: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,  # no .env here: the environment alone
        env={**os.environ, "PORT": str(port), "DATA_DIR": str(tmp_path / "data"), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    assert response.status == 200
                    break
            except (URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"the bot did not start:\n{process.stdout.read()}"
                    ) from None
                time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=15)


def test_make_run_and_make_chat_give_the_order_status_conversation(tmp_path: Path) -> None:
    with running_bot(tmp_path) as (bot, port):
        chat = subprocess.run(
            [sys.executable, "-m", "tools.chat", "--url", f"http://127.0.0.1:{port}/api/messages"],
            cwd=ROOT,
            input="1\n123456\nwhere is my order?\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
    output = bot.stdout.read()
    assert bot.returncode == 0
    assert f"http://localhost:{port}/api/messages" in output
    assert "make chat" in output and "Emulator" in output

    assert chat.returncode == 0, chat.stderr
    lines = chat.stdout
    assert "bot> Hi, I'm the customer service assistant." in lines
    assert (
        "[1] Where is my order?   [2] Book an appointment   [3] Fix a device problem   "
        "[4] Help   [5] Talk to a person"
    ) in lines
    assert "bot> Can you provide your order number?" in lines
    assert "(typing…)" in lines
    assert "bot> Your order 123456 is out for delivery and expected by" in lines
    # "1" picked the welcome's first suggested action.
    assert "(Where is my order?)" in lines
    assert "bot> Is this about order 123456?" in lines


def test_chat_says_how_to_start_the_bot_when_none_answers() -> None:
    chat = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.chat",
            "--url",
            f"http://127.0.0.1:{free_port()}/api/messages",
        ],
        cwd=ROOT,
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert chat.returncode == 1
    assert "make run" in chat.stderr
    assert "Traceback" not in chat.stderr


def failed_start(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=cwd,
        env={**os.environ, "PORT": str(free_port()), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_settings_stop_the_start_with_the_variable_to_set(tmp_path: Path) -> None:
    finished = failed_start(
        tmp_path,
        MicrosoftAppType="SingleTenant",
        MicrosoftAppId="app",
        MicrosoftAppPassword="secret",
        MicrosoftAppTenantId="",
    )
    assert finished.returncode == 2
    assert "MicrosoftAppTenantId" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_a_state_directory_that_cannot_be_created_stops_the_start_with_its_name(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    finished = failed_start(tmp_path, DATA_DIR=str(blocker / "data"))
    assert finished.returncode == 1
    assert "DATA_DIR" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_make_chat_finds_the_bot_at_its_port_and_speaks_sms(tmp_path: Path) -> None:
    with running_bot(tmp_path) as (_, port):
        chat = subprocess.run(
            [sys.executable, "-m", "tools.chat", "--channel", "sms"],
            cwd=tmp_path,  # no .env: PORT from the environment, as `make run` reads it
            env={**os.environ, "PORT": str(port), "PYTHONPATH": str(ROOT)},
            input="4\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert chat.returncode == 0, chat.stderr
    assert f"Talking to http://localhost:{port}/api/messages" in chat.stdout
    # SMS shows no buttons: the choices are numbered in the text, and "4" picks the fourth (Help).
    assert "1. Where is my order?" in chat.stdout
    assert "bot> Here is what I can do:" in chat.stdout


def test_a_failing_install_step_prints_one_line_and_keeps_its_log(tmp_path: Path) -> None:
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt", "tools/step.sh"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    broken_python = tmp_path / "broken-python"
    broken_python.write_text("#!/bin/sh\necho 'venv: No space left on device' >&2\nexit 3\n")
    broken_python.chmod(0o755)
    make = subprocess.run(
        ["make", "--no-print-directory", f"PYTHON={broken_python}", ".venv/.runtime"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert make.returncode != 0
    report = [line for line in make.stdout.splitlines() if not line.startswith("    ")]
    assert report == [
        "Python virtual environment (.venv) ... FAILED (exit 3); the whole log: build/logs/venv.log"
    ]
    assert "    venv: No space left on device" in make.stdout  # the log's last lines
    assert "No space left on device" in (tmp_path / "build/logs/venv.log").read_text()


def test_a_passing_install_step_prints_one_line(tmp_path: Path) -> None:
    step = subprocess.run(
        [str(ROOT / "tools/step.sh"), "Something", "something", "sh", "-c", "seq 1 500"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert step.returncode == 0
    assert step.stdout == "Something ... done\n"
    assert (tmp_path / "build/logs/something.log").read_text().count("\n") == 500
