"""The live `renewal serve` a bench talks to: started on a free loopback port and stopped,
its worker processes watched, and its stderr summarised (bench_api)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
from _common import free_port


@contextlib.contextmanager
def server(store_path: Path, workers: int, env: dict | None = None,
           log_dir: Path | None = None) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """`renewal serve --workers N` on a free loopback port, answering /conformance; yields
    (base URL, path of its stderr log, process). Terminated and waited for on exit."""
    port = free_port()
    log_dir = log_dir or store_path.parent
    out_path, err_path = log_dir / f"serve-{workers}w-{port}.out", log_dir / f"serve-{workers}w-{port}.err"
    full_env = {k: v for k, v in os.environ.items() if k != "RENEWAL_READ_TOKENS"} | (env or {})
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "renewal_cli.main", "--store", str(store_path), "serve",
                                 "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                                stdout=out, stderr=err, env=full_env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the server did not start (exit {proc.poll()}):\n"
                                   f"{err_path.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{base}/conformance", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield base, err_path, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            print(f"  (the server on {base} did not stop within 30 s of SIGTERM; killed)")


def print_server_log(err_path: Path) -> None:
    """The server's errors: each distinct exception with its count and its last traceback lines."""
    text = err_path.read_text(errors="replace").strip()
    if not text:
        return
    lines = [line for line in text.splitlines() if line.strip(" ^~")]  # without the caret lines
    errors = [i for i, line in enumerate(lines) if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b", line)]
    print(f"  server stderr ({err_path.name}): {len(lines)} lines, {len(errors)} exceptions")
    distinct: dict[str, list[int]] = defaultdict(list)
    for i in errors:
        distinct[lines[i]].append(i)
    for line, where in distinct.items():
        print(f"    {len(where)} x {line}")
        print("      " + "\n      ".join(lines[max(0, where[-1] - 12):where[-1]]))
    if not errors:
        print("    " + text[-3000:].replace("\n", "\n    "))


class WorkerWatch:
    """The child processes of the server (uvicorn's workers), polled twice a second."""

    def __init__(self, pid: int):
        self.pid = pid
        self.initial: set[int] = set()
        self.seen: set[int] = set()
        self.stop = threading.Event()

    def children(self) -> set[int]:
        out = set()
        for f in Path(f"/proc/{self.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                out |= {int(c) for c in f.read_text().split()}
        return out

    def poll(self) -> None:
        while not self.stop.wait(0.5):
            self.seen |= self.children()

    def __enter__(self) -> WorkerWatch:
        self.initial = self.children()
        self.seen = set(self.initial)
        self.thread = threading.Thread(target=self.poll, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
