"""What one step leaves in its worker's interpreter, undone before the worker's next step.

Workers live for a whole apply: the libraries a step imports (pandas, scikit-learn) stay
loaded, which is what makes the next step in the same worker start fast. But a step's result
must not depend on which steps happened to run before it in the same worker, or a cache key
would not say everything that made it: environment variables it set, entries it put on
``sys.path``, the arguments it put in ``sys.argv``, and the globals of the project's own modules and of the libraries beside it (a list one
step appends to, a setting another reads) are therefore put back. Those modules are imported again by
the next step that uses them, from the files on disk, so a step also never runs code older
than what its re-plan fingerprinted; the materializers they registered are forgotten with them. A library
that stays loaded (installed) cannot forget the materializers it registered as it was imported, and importing it
again registers nothing: a step after which one is registered ends its worker, and the next step starts in a new one.

The process-wide settings a step may change are put back too: the working folder, the temporary folder
(``tempfile.tempdir``), the umask,
the recursion limit, resource limits (``resource.setrlimit``: a hard limit lowered cannot be raised again), the
longest number ``int()`` reads from text, a trace or profile function, multiprocessing's start method (unset
while a step runs, which may set it once, as in a new process), signal handlers
and blocked signals (and an alarm left set is cancelled, and so is a ``faulthandler`` watchdog), the warning filters, the locale,
the decimal context, the sockets' default timeout, asyncio's current event loop, the garbage collector's settings, the thread switch
interval, the level, handlers, filters, ``propagate`` and ``disabled`` of the root and named loggers that were there
before the step (``logging.config.dictConfig`` disables them all; a logger made during the step, by a library it
imported, keeps the handlers, filters and ``propagate`` its library set up, at no level of its own and enabled), numpy's error handling and print options, pandas'
options, scikit-learn's configuration (numpy, pandas and scikit-learn only when imported: a library one step imported and configured starts
the next step at its defaults). A niceness a step raised (``os.nice``) stays: a process cannot lower
it again, and it changes only how fast the later steps run. The global random generators (``random``, numpy's legacy one)
are reseeded from the OS's entropy before each step, as a new process would find them: a step that
seeds them (``random.seed(0)``) must not make the numbers of the steps after it repeatable, nor
may two steps that do not seed draw the same numbers; a step that wants repeatable numbers seeds
them itself (reseeding costs less than telling whether a step used them).
"""

from __future__ import annotations

import contextlib
import gc
import locale
import logging
import operator
import os
import signal
import socket
import sys
import tempfile
import time
import warnings
from typing import Any, Iterator

from zplan.apply import library_settings
from zplan.apply.strays import spoil
from zplan.artifacts.materializers import forget_modules, registered_in_last_step, step_registrations

try:
    import resource
except ImportError:  # (not on Windows)
    resource = None  # type: ignore[assignment]

_LIBRARY_FOLDERS = ("site-packages", "dist-packages")  # a virtualenv inside the project folder holds libraries
_SOURCE_SUFFIXES = (".py", ".pyc")  # compiled extension modules cannot be loaded twice: they stay
try:  # the locale's name as the C module gives it (locale.setlocale's query goes through Python code, ~10 us a step)
    from _locale import setlocale as _locale_now
except ImportError:
    _locale_now = locale.setlocale
try:  # a handler as the C module gives it: signal.getsignal turns SIG_DFL and SIG_IGN into enum members (~15 us a step)
    from _signal import getsignal as _handler
except ImportError:
    _handler = signal.getsignal
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGALRM", "SIGTERM", "SIGINT", "SIGCHLD", "SIGPIPE", "SIGHUP", "SIGUSR1",
                                                     "SIGUSR2") if hasattr(signal, name))
_LOCALE_CATEGORIES = tuple(getattr(locale, name) for name in ("LC_CTYPE", "LC_COLLATE", "LC_TIME", "LC_MONETARY", "LC_NUMERIC",
                                                                 "LC_MESSAGES") if hasattr(locale, name))
_LIMITS = tuple(getattr(resource, name) for name in ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CPU", "RLIMIT_FSIZE",
                                                      "RLIMIT_NOFILE", "RLIMIT_NPROC")  # (what a step can fail on)
                if resource is not None and hasattr(resource, name))
# decimal's default context (rounding half to even)
_DECIMAL_CONTEXT = {"prec": 28, "Emin": -999999, "Emax": 999999, "capitals": 1, "clamp": 0}
_DECIMAL_TRAPS = ("InvalidOperation", "DivisionByZero", "Overflow")


@contextlib.contextmanager
def step_interpreter_state(project_dir: str) -> Iterator[None]:
    env, path, argv, modules = _environment(), list(sys.path), list(sys.argv), set(sys.modules)
    settings, runtime, start_method = _settings(), _runtime_settings(), _free_start_method()
    _note_new_loggers()
    library_settings.fresh_random_state()
    try:
        with warnings.catch_warnings(), step_registrations():  # filters (and warnings already shown) as they were
            yield
    finally:
        _restore_settings(settings)
        _restore_runtime_settings(runtime)
        _restore_start_method(start_method)
        _restore_loggers()
        if _environment() != env:
            _restore_environment(env)
            time.tzset()  # the C library's time zone, which a step changes by setting TZ and calling tzset()
        sys.path[:] = path
        if sys.argv != argv:  # a step calling a script's main() sets the arguments its argparse reads
            sys.argv = argv
        dropped = _step_code_modules(set(sys.modules) - modules, project_dir)
        _unbind_from_parents({name: sys.modules.pop(name) for name in dropped})
        if dropped:
            forget_modules(dropped)  # a materializer the step's code registered would store the next step's outputs
        if registered_in_last_step():  # by a library that stays: a later step that never imports it must not meet it
            spoil()


def _settings() -> tuple:
    """The process-wide settings a step may change, as they are before it."""
    umask = os.umask(0o022)
    os.umask(umask)
    libraries = library_settings
    return (_cwd(), umask, sys.getrecursionlimit(), _signal_settings(), libraries.numpy_settings(), libraries.pandas_options(),
            tempfile.tempdir, libraries.sklearn_config(), _event_loop())


def _restore_settings(settings: tuple) -> None:
    cwd, umask, limit, signals, numpy, pandas, tempfile.tempdir, sklearn, loop = settings  # (a temp folder the step set, maybe removed since)
    _restore_event_loop(loop)
    _restore_signals(signals)
    _cancel_watchdog()
    if cwd is not None and _cwd() != cwd:
        with contextlib.suppress(OSError):  # (the step removed it)
            os.chdir(cwd)
    os.umask(umask)
    sys.setrecursionlimit(limit)
    library_settings.restore_numpy(numpy)
    library_settings.restore_pandas(pandas)
    library_settings.restore_sklearn(sklearn)


def _runtime_settings() -> tuple:
    """The interpreter's and the C library's settings a step may change (~10 us)."""
    decimal = sys.modules.get("decimal")
    return (tuple(map(_locale_now, _LOCALE_CATEGORIES)), socket.getdefaulttimeout(),
            gc.isenabled(), gc.get_threshold(), gc.get_debug(), sys.getswitchinterval(),
            decimal.getcontext().copy() if decimal is not None else None, _int_digits(), sys.gettrace(), sys.getprofile(),
            tuple(map(resource.getrlimit, _LIMITS)) if _LIMITS else ())


def _restore_runtime_settings(before: tuple) -> None:
    locales, timeout, collecting, threshold, debug, interval, context, digits, trace, profile, limits = before
    _restore_limits(limits)
    if sys.gettrace() is not trace:  # (a tracer, as a profiler, runs on every call of the later steps)
        sys.settrace(trace)
    if sys.getprofile() is not profile:
        sys.setprofile(profile)
    if digits is not None:
        sys.set_int_max_str_digits(digits)  # (how long a number int() reads from text before it refuses)
    if tuple(map(_locale_now, _LOCALE_CATEGORIES)) != locales:
        for category, name in zip(_LOCALE_CATEGORIES, locales):
            if _locale_now(category) != name:
                locale.setlocale(category, name)
    socket.setdefaulttimeout(timeout)
    (gc.enable if collecting else gc.disable)()
    gc.set_threshold(*threshold)
    gc.set_debug(debug)
    sys.setswitchinterval(interval)
    _restore_decimal(context)


def _free_start_method() -> tuple | None:
    """multiprocessing's start method left unset for the step, as in a new process, where a step may set
    it once (``set_start_method("spawn")``; a worker has it set when it starts, and a second call is refused),
    with the worker's own as the default the step gets; what it was, to put back after the step."""
    default = getattr(sys.modules.get("multiprocessing.context"), "_default_context", None)
    if not hasattr(default, "_actual_context") or not hasattr(default, "_default_context"):
        return None  # (not CPython's)
    saved = default._actual_context, default._default_context
    if saved[0] is not None:
        default._default_context, default._actual_context = saved[0], None
    return saved


def _restore_start_method(saved: tuple | None) -> None:
    default = getattr(sys.modules.get("multiprocessing.context"), "_default_context", None)
    if saved is not None and default is not None:
        default._actual_context, default._default_context = saved


def _restore_limits(limits: tuple) -> None:
    """The resource limits a step set for itself (memory, CPU time, open files) lifted again, as far as the
    hard limits allow: a process cannot raise a hard limit it lowered."""
    if not limits or tuple(map(resource.getrlimit, _LIMITS)) == limits:  # (the usual case, without a loop)
        return
    for which, limit in zip(_LIMITS, limits):
        if resource.getrlimit(which) != limit:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(which, limit)


def _int_digits() -> int | None:
    get = getattr(sys, "get_int_max_str_digits", None)  # (Python 3.11 and some 3.10 releases)
    return get() if get is not None else None


def _restore_decimal(context) -> None:
    """The decimal context (precision, rounding, traps, flags) as before the step; decimal's default
    after the step that imported it."""
    decimal = sys.modules.get("decimal")
    if decimal is None or not hasattr(decimal, "setcontext"):
        return
    if context is None:
        context = decimal.Context(**_DECIMAL_CONTEXT, rounding=decimal.ROUND_HALF_EVEN, flags=[],
                                  traps=[getattr(decimal, name) for name in _DECIMAL_TRAPS])
    decimal.setcontext(context)


# Each named logger's settings as steps find it: as before the first step in this worker, or, for a logger
# a step's library made, as after that step (what the library set up when imported). ~20 us a step.
_loggers: dict[logging.Logger, tuple] = {}
_loggers_known = 0  # how many entries the logging manager had when they were noted


_logger_fields = operator.attrgetter("level", "propagate", "disabled", "handlers", "filters")


def _logger_settings(logger: logging.Logger) -> tuple:
    level, propagate, disabled, handlers, filters = _logger_fields(logger)
    return level, propagate, disabled, list(handlers), list(filters)  # (equal to _logger_fields' while unchanged)


def _note_new_loggers() -> None:
    """Named loggers made since the last step ended (by zplan between steps, or before the first)."""
    global _loggers_known
    table = logging.Logger.manager.loggerDict
    if len(table) != _loggers_known or not _loggers:
        for logger in (logging.root, *table.values()):  # (the root's filters, say: its handlers are step_log's)
            if isinstance(logger, logging.Logger) and logger not in _loggers:
                _loggers[logger] = _logger_settings(logger)
        _loggers_known = len(table)


def _restore_loggers() -> None:
    """Named loggers as the step found them; those made during the step noted as they are now."""
    global _loggers_known
    table = logging.Logger.manager.loggerDict
    if len(table) == _loggers_known and list(map(_logger_fields, _loggers)) == list(_loggers.values()):
        return  # (the usual case, compared without a call per logger)
    for logger in (logging.root, *table.values()):
        if not isinstance(logger, logging.Logger):
            continue
        before = _loggers.get(logger)
        if before is None:  # made during the step: its level and disabled as a library leaves them when imported
            logger.disabled = False  # (only logging.config disables a logger: dictConfig, as the step set up logging)
            logger.setLevel(logging.NOTSET)  # (a step's setLevel on a library's logger, made by its import in the step)
            _loggers[logger] = _logger_settings(logger)
        elif _logger_settings(logger) != before:
            _restore_logger(logger, before)
    _loggers_known = len(table)


def _restore_logger(logger: logging.Logger, settings: tuple) -> None:
    level, logger.propagate, logger.disabled, handlers, filters = settings
    logger.handlers[:] = handlers
    logger.filters[:] = filters
    logger.setLevel(level)  # (which also clears the loggers' cached levels)


def _signal_settings() -> tuple:
    """The signal handlers a step may install, whether the alarm timer is set, and the signals blocked."""
    armed = hasattr(signal, "getitimer") and signal.getitimer(signal.ITIMER_REAL)[0] > 0
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, ()) if hasattr(signal, "pthread_sigmask") else None
    return {sig: _handler(sig) for sig in _SIGNALS}, armed, blocked


def _restore_signals(before: tuple) -> None:
    """An alarm the step set and did not cancel would go off in a later step (with the step's
    handler, or killing the worker), and its handlers (SIGTERM ignored, say) would change how a
    later step is stopped: the alarm is cancelled first, then the handlers put back. A signal the
    step blocked (SIGALRM: a later step's own alarm would never go off) is unblocked, what arrived
    for it meanwhile dropped (ignored while unblocked): it was the step's."""
    handlers, armed, blocked = before
    if not armed and hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)
    if blocked is not None:
        _unblock(blocked)
    for sig, handler in handlers.items():
        if handler is not None and _handler(sig) != handler:
            with contextlib.suppress(ValueError, OSError):  # (not the main thread: handlers cannot be set)
                signal.signal(sig, handler)


def _cancel_watchdog() -> None:
    """A ``faulthandler.dump_traceback_later`` a step armed and did not cancel would go off in a later step, as an
    alarm would (with ``exit=True`` ending its worker under it); zplan arms none of its own."""
    faulthandler = sys.modules.get("faulthandler")
    if faulthandler is not None:
        faulthandler.cancel_dump_traceback_later()


def _unblock(blocked: set) -> None:
    now = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    if now == blocked:
        return
    dropped = {}
    for sig in (signal.sigpending() & now) - blocked:
        with contextlib.suppress(ValueError, OSError, TypeError):
            dropped[sig] = signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    for sig, handler in dropped.items():
        with contextlib.suppress(ValueError, OSError, TypeError):  # (a handler not set from Python: None)
            signal.signal(sig, handler)


def _event_loop() -> tuple:
    """asyncio's event loop policy, and the loop it holds as current for this thread."""
    policy = getattr(sys.modules.get("asyncio.events"), "_event_loop_policy", None)
    local = getattr(policy, "_local", None)
    return policy, getattr(local, "_loop", None), getattr(local, "_set_called", False)


def _restore_event_loop(before: tuple) -> None:
    """The current event loop as before the step: ``asyncio.run`` leaves none set, after which ``get_event_loop()``
    (in many libraries) fails, where a new process would make one; a loop a step set and closed would fail the same."""
    events = sys.modules.get("asyncio.events")
    if events is None or not hasattr(events, "_event_loop_policy") or _event_loop() == before:
        return
    policy, loop, set_called = before
    events._event_loop_policy = policy  # (none yet: the next step that asks gets a new one)
    local = getattr(policy, "_local", None)
    if local is not None:
        local._loop, local._set_called = loop, set_called


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # removed
        return None


def _environment() -> dict:
    """The environment as ``os.environ`` keeps it (encoded): copied and compared as a plain dict,
    ~2 us, where comparing ``os.environ`` itself decodes every entry (~50 us a step)."""
    data = getattr(os.environ, "_data", None)
    return dict(data) if isinstance(data, dict) else dict(os.environ)


def _restore_environment(saved: dict) -> None:
    data = getattr(os.environ, "_data", None)
    decode = (lambda k, v: (os.environ.decodekey(k), os.environ.decodevalue(v))) if isinstance(data, dict) else (lambda k, v: (k, v))
    os.environ.clear()
    os.environ.update(decode(k, v) for k, v in saved.items())


def _step_code_modules(names: set[str], project_dir: str) -> set[str]:
    """Of the modules ``names`` (imported during the step), those of the project or of a library beside it
    (``../libs/common`` on the path, an editable install): both are step code, fingerprinted from their files
    and unloaded after each step. Left loaded, a library's materializer (``@zplan.materializer(list)``) would
    store the outputs of the worker's later steps whose keys never met it, and an edit to it would not reach them."""
    from zplan.apply.step_function import OUTSIDE_ROOTS

    for name in names:
        _note_compiled(name, sys.modules.get(name), project_dir)
    return {name for name in names if _project_module(name, sys.modules.get(name), project_dir)
            or _library_beside(name, sys.modules.get(name), project_dir) or name.partition(".")[0] in OUTSIDE_ROOTS}


def _unbind_from_parents(dropped: dict[str, Any]) -> None:
    """A package that stays loaded (a namespace package: a folder of the project without ``__init__.py``) holds each
    submodule imported as an attribute, which ``from steps import helpers`` returns without importing it again:
    the dropped module, its globals as the step left them, its code as it was then."""
    for name, module in dropped.items():
        parent, _, child = name.rpartition(".")
        holder = sys.modules.get(parent) if parent else None
        if holder is not None and getattr(holder, child, None) is module:
            with contextlib.suppress(AttributeError, TypeError):
                delattr(holder, child)


_beside: dict[tuple[str, str], bool] = {}  # (project folder, top-level name) -> its code is a library beside it, unloaded


def _note_compiled(name: str, module, project_dir: str) -> None:
    """A library with a compiled module stays loaded whole, for the worker's life: its Python code run again over
    the extension that cannot be loaded twice (a developer's editable install of numpy or torch) would fail."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str) and not file.endswith(_SOURCE_SUFFIXES):
        _beside[project_dir, name.partition(".")[0]] = False


def _library_beside(name: str, module, project_dir: str) -> bool:
    """A source module of a top-level package the plan reads as step code (``zplan.plan.source_roots``),
    zplan itself aside (never keyed; its registries live for the whole worker)."""
    if not isinstance(getattr(module, "__file__", None), str) or not module.__file__.endswith(_SOURCE_SUFFIXES):
        return False
    top = name.partition(".")[0]
    if (project_dir, top) not in _beside:
        from pathlib import Path

        from zplan.plan.source_roots import source_root

        keyed = top not in sys.stdlib_module_names and top != "zplan"
        _beside[project_dir, top] = keyed and source_root(top, Path(project_dir).resolve()) is not None
    return _beside[project_dir, top]


def _project_module(name: str, module, project_dir: str) -> bool:
    """A module imported by its name from a source file of the project (``steps.train`` from
    steps/train.py, ``mylib.core`` from src/mylib/core.py; not from a library folder in it). A library that loads a project file
    under a name of its own (TFX's ``user_module_0``) keeps its own account of it: left alone."""
    file = getattr(module, "__file__", None)
    root = project_dir.rstrip(os.sep) + os.sep
    if not isinstance(file, str) or not file.endswith(_SOURCE_SUFFIXES) or not file.startswith(root):
        return False
    if any(f"{os.sep}{folder}{os.sep}" in file for folder in _LIBRARY_FOLDERS):
        return False
    rel = os.path.splitext(file[len(root):])[0].replace(os.sep, "/")
    rel = rel[: -len("/__init__")] if rel.endswith("/__init__") else rel
    dotted = rel.replace("/", ".").lstrip(".")  # (a git module's checkout under .zplan: named without the dot)
    return dotted == name or dotted.endswith("." + name)  # (or imported from a folder of its own: src/mylib/core.py)
