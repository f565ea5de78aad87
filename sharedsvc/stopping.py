"""Stopping a run cleanly: a signal or an embedder asks, and every stage stops soon after.

A `StopToken` is shared by everything a run starts. `request()` sets it and ends
the solver processes it has started; each stage checks it between steps
(`check()` raises `Interrupted`), HiGHS polls it through its interrupt callbacks,
and no new solver starts once it is set. So SIGTERM to the process alone, with
blocks solving in threads, ends the run within seconds, leaves no child process
and writes nothing (temporary files are removed as the stack unwinds).

Python runs signal handlers in the main thread between bytecodes, so native solver
code must never hold the main thread: solvers run in helper threads (`solver/
backends.in_background`) while the caller waits in Python, checking the token, so
a handler runs within a tenth of a second. `watch_signals` also has a thread read
each signal from Python's wakeup file descriptor the moment it arrives and set the
token from there, so that solvers in other threads stop even before the handler runs.
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
        self._abandoned: list[threading.Thread] = []
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

    def abandon(self, solver: threading.Thread) -> None:
        """Note a solver thread left running on a stop (it ends at HiGHS's next callback)."""
        with self._lock:
            self._abandoned.append(solver)

    @property
    def solvers_running(self) -> bool:
        """True while a solver thread left running on a stop has not ended: a process
        that exits then must skip Python's shutdown, which would abort under it."""
        return any(thread.is_alive() for thread in self._abandoned)

    def on_signal(self, signum: int, frame: object) -> None:
        """A signal handler: set the token, and unwind the main thread now."""
        self.request(signum)
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
