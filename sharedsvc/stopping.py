"""Stopping a run cleanly: a signal or an embedder asks, and every stage stops soon after.

A `StopToken` is shared by everything a run starts. `request()` sets it and ends
the solver processes it has started; each stage checks it between steps
(`check()` raises `Interrupted`), HiGHS polls it through its interrupt callbacks,
and no new solver starts once it is set. So SIGTERM to the process alone, with
blocks solving in threads, ends the run within seconds, leaves no child process
and writes nothing (temporary files are removed as the stack unwinds).

Python runs signal handlers in the main thread between bytecodes, which includes
the callbacks HiGHS makes while it solves; an exception raised there would be
lost inside HiGHS. So while the main thread is inside a native solve (`native()`),
the CLI's handler only sets the token, and the solve returns and checks it. And as
the handler may not run at all while HiGHS works without calling back (measured: a
second and more), `watch_signals` also has a thread read the signal from Python's
wakeup file descriptor, written the moment it arrives, and set the token from there.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator, Sequence


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop: Ctrl-C, SIGTERM, or `StopToken.request()`."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 plus the signal (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


class StopToken:
    """Set once to stop a run; shared by every thread and solver of that run."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.RLock()  # a signal handler may run while it is held
        self._children: set[subprocess.Popen] = set()
        self._native_depth = 0
        self._signals = 0
        self.signum: int = signal.SIGINT

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, signum: int = signal.SIGINT) -> None:
        """Ask the run to stop, and end every solver process it has running."""
        with self._lock:
            if not self._event.is_set():
                self.signum = signum
            self._event.set()
            children = list(self._children)
        for child in children:
            _end(child)

    def check(self) -> None:
        """Raise `Interrupted` if a stop was requested."""
        if self._event.is_set():
            raise Interrupted(self.signum)

    @contextlib.contextmanager
    def child(self, process: subprocess.Popen) -> Iterator[subprocess.Popen]:
        """Track a solver process while it runs, so that a stop ends it."""
        with self._lock:
            self._children.add(process)
            stopping = self._event.is_set()
        if stopping:
            _end(process)
        try:
            yield process
        finally:
            with self._lock:
                self._children.discard(process)
            if process.poll() is None:  # left by an exception: never orphan it
                _end(process)

    @contextlib.contextmanager
    def native(self) -> Iterator[None]:
        """Mark native solver code running in the main thread (see the module's note)."""
        main = threading.current_thread() is threading.main_thread()
        if main:
            self._native_depth += 1
        try:
            yield
        finally:
            if main:
                self._native_depth -= 1

    @property
    def in_native_code(self) -> bool:
        """True while the main thread is inside a native solve."""
        return self._native_depth > 0

    def on_signal(self, signum: int, frame: object) -> None:
        """A signal handler: set the token, and unwind now unless a native solve is
        running in the main thread (it returns at its next callback, then unwinds). A
        second signal unwinds at once, wherever it lands."""
        self._signals += 1
        self.request(signum)
        if self._signals > 1 or not self.in_native_code:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def watch_signals(
        self, signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM)
    ) -> Iterator[StopToken]:
        """Stop on these signals while the block runs (main thread only; elsewhere a no-op).

        Installs `on_signal` as their handler and, through `signal.set_wakeup_fd`, a
        thread that sets the token as soon as a signal arrives; restores both after.
        """
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in signals}
        reader, writer = socket.socketpair()
        writer.setblocking(False)
        old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        watcher = threading.Thread(
            target=self._watch, args=(reader, set(signals)), name="sharedsvc-signals", daemon=True
        )
        watcher.start()
        try:
            for s in signals:
                signal.signal(s, self.on_signal)
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            signal.set_wakeup_fd(old_fd)
            writer.close()  # the watcher reads end-of-file and ends
            watcher.join(timeout=5)
            reader.close()

    def _watch(self, reader: socket.socket, signals: set[int]) -> None:
        while True:
            try:
                data = reader.recv(64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in signals:
                    self.request(signum)


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
