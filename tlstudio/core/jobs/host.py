"""The engine process: one long-lived child that owns the models and serves jobs one at a time.

Why a process: a thread inside the window's process shares the GIL with the event loop, and
every redraw holds up fastai's per-batch Python (docs/benchmarks.md, "GUI training"); and a
window that imports torch and fastai holds them, and a second copy of the model, for good. The
window sends a job (a picklable object, `job(reporter) -> plain result`, see `jobs/__init__`);
the host runs it with a reporter whose events travel back through a queue and whose
`cancel_requested()` reads a shared flag; the result comes back as plain data. Learners never
cross: a trained one stays in the host (`jobs.held`) and the window keeps its id.

One job at a time: a caller whose job is waiting can still cancel it. When the host dies (a
crash, the system killing it for memory), the caller gets one line and the next job starts a new
host; the models it held are gone, and jobs that name them say so. The child ends when the
window does (it watches its parent) and at interpreter exit.

The CLI runs the same jobs in this process: `run_here(job, reporter)`.
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
import multiprocessing.util  # noqa: F401 - registers its exit hook before ours (see _stop_all)
import os
import queue as queue_module
import sys
import threading
import time
import traceback
from multiprocessing.reduction import ForkingPickler

from tlstudio.core.errors import UserFacingError
from tlstudio.core.events import Cancelled, NullReporter, Progress, Reporter

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often a waiting caller looks at its cancel flag and at the host's health
# "spawn", never "fork": forking a process that runs Qt and torch threads can deadlock the child.
_CONTEXT = mp.get_context("spawn")


class EngineError(UserFacingError):
    """A job failed in the engine process; the message is one line (exception type and text)."""


class EngineCrashed(EngineError):
    """The engine process ended while running a job."""


class _QueueReporter:
    def __init__(self, events, cancel) -> None:
        self._events, self._cancel = events, cancel

    def emit(self, event: object) -> None:
        self._events.put(("event", event))

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()


def _exit_with_parent() -> None:
    """A host whose window was killed must not go on training unseen."""
    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_here(job, reporter: Reporter | None = None):
    """Run `job` in this process (the CLI, tests): the same code the host runs."""
    return job(reporter or NullReporter())


def _host_main(jobs, events, cancel, preload: bool) -> None:
    _exit_with_parent()
    if preload:  # the slow imports, done before the first job arrives
        import tlstudio.core.training.run  # noqa: F401
    while True:
        try:
            job = jobs.recv()
        except (EOFError, OSError):  # the window went away
            break
        if job is None:
            break
        _serve(job, events, cancel)
    events.close()
    events.join_thread()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip the interpreter's teardown (seconds with torch loaded)


def _serve(job, events, cancel) -> None:
    try:
        result = job(_QueueReporter(events, cancel))
    except Cancelled:
        events.put(("cancelled", None))
    except UserFacingError as exc:  # itself when it pickles, so the window can tell kinds apart
        events.put(("user_error", exc if _pickles(exc) else str(exc)))
    except BaseException as exc:  # noqa: BLE001 - everything must reach the window as text
        events.put(("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc())))
    else:
        # The queue pickles in a thread of its own, where a failure would be lost: check here.
        if _pickles(result):
            events.put(("done", result))
        else:
            events.put(("error", (f"TypeError: the result of {type(job).__name__} cannot be sent to the window", "")))


def _pickles(obj) -> bool:
    try:
        ForkingPickler.dumps(obj)
    except Exception:  # noqa: BLE001 - any failure means it cannot cross
        return False
    return True


def exit_text(code: int | None) -> str:
    why = "; the system stopped it, perhaps for lack of memory" if code in (-9, 137) else ""
    return f"The engine process stopped unexpectedly (exit code {code}{why}); a new one starts with the next task."


class EngineHost:
    """The window's side of one engine process. Thread-safe: jobs from several threads queue."""

    def __init__(self, *, shared: bool = False) -> None:
        self.shared = shared  # the window's host, meant to serve one task after another
        self._lock = threading.Lock()  # one job at a time
        self._start_lock = threading.Lock()
        self._proc = None
        self.generation = 0  # counts started processes: a model held by an older one is gone
        self.last_job_s = 0.0

    # -- the process ------------------------------------------------------------------
    def start(self, *, preload: bool = True) -> int | None:
        """Start the process now (it imports torch and fastai while the window paints); its pid."""
        with self._start_lock:
            if self._proc is None or not self._proc.is_alive():
                self._spawn(preload)
            return self._proc.pid

    def _spawn(self, preload: bool) -> None:
        if self._proc is not None:
            self._close_channels()
        self._events, self._cancel = _CONTEXT.Queue(), _CONTEXT.Event()
        jobs_in, self._jobs = _CONTEXT.Pipe(duplex=False)
        self._proc = _CONTEXT.Process(target=_host_main, args=(jobs_in, self._events, self._cancel, preload),
                                      name="tlstudio-engine")
        self._proc.start()
        jobs_in.close()  # the child holds its end; closing ours lets it see EOF if we go away
        self.generation += 1
        _live.add(self)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """End the process at once (the window is closing); a running job is abandoned."""
        proc = self._proc
        if proc is None:
            return
        self._cancel.set()
        proc.terminate()
        proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            proc.join()
        self._close_channels()
        self._proc = None
        _live.discard(self)

    def _close_channels(self) -> None:
        for close in (self._jobs.close, self._events.close):
            try:
                close()
            except OSError:
                pass

    # -- jobs ---------------------------------------------------------------------------
    def run(self, job, reporter: Reporter | None = None):
        """Run `job` in the engine process and return its result; raises `Cancelled`,
        `EngineError` (its one line) or `EngineCrashed`."""
        reporter = reporter or NullReporter()
        while not self._lock.acquire(timeout=POLL_S):
            if reporter.cancel_requested():
                raise Cancelled("cancelled while waiting for the engine")
        try:
            if not self.alive():
                reporter.emit(Progress("engine", 0, 0, "Starting the engine process…"))
                self.start()
            self._cancel.clear()
            started = time.perf_counter()
            try:
                self._jobs.send(job)
            except (OSError, ValueError):  # it died since it was checked
                self.start()
                self._jobs.send(job)
            try:
                return self._forward(reporter)
            finally:
                self.last_job_s = time.perf_counter() - started
        finally:
            self._lock.release()

    def _forward(self, reporter: Reporter):
        proc, events, cancel = self._proc, self._events, self._cancel
        while True:
            if reporter.cancel_requested() and not cancel.is_set():
                cancel.set()
            try:
                kind, payload = events.get(timeout=POLL_S)
            except queue_module.Empty:
                if proc.is_alive():
                    continue
                try:  # it may have exited just after its last put
                    kind, payload = events.get(timeout=1.0)
                except queue_module.Empty:
                    code = proc.exitcode
                    self.stop()
                    raise EngineCrashed(exit_text(code)) from None
            if kind == "event":
                reporter.emit(payload)
            elif kind == "done":
                return payload
            elif kind == "cancelled":
                raise Cancelled("cancelled")
            elif kind == "user_error":
                raise payload if isinstance(payload, UserFacingError) else EngineError(payload)
            else:
                text, trace = payload
                log.error("engine job failed:\n%s", trace)
                raise EngineError(text)


_live: set[EngineHost] = set()


def shared_pids() -> set[int]:
    """Processes of the hosts meant to outlive one task (`EngineHost(shared=True)`)."""
    return {h.pid for h in list(_live) if h.shared and h.pid is not None}


@atexit.register
def _stop_all() -> None:
    """At interpreter exit, end every engine process at once. multiprocessing's own exit hook
    joins non-daemon children (ours cannot be daemons: DataLoader workers are processes of
    their own) and would wait for a whole run. Registered after its hook, so it runs first."""
    for host in list(_live):
        host.stop()
