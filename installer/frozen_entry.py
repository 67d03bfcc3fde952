"""The installed app's entry point (PyInstaller runs this file first, before anything of ours).

A frozen app has no `python` to start: `sys.executable` is the app itself. Two kinds of child
process still start it as if it were an interpreter:
- the engine process (multiprocessing, spawn): `freeze_support()` makes that child run its
  task and exit, so it must come first, before any import that is slow or opens a window;
- the fresh processes that verify an exported file (core/delivery/verify.py), and
  multiprocessing's resource tracker: `-m MODULE`, `-c CODE` or `SCRIPT.py`, each possibly after
  flags such as `-I`. `python_mode` does what the interpreter would, with the app's bundled
  modules. It imports nothing of tlstudio itself: the plain-fastai check of a `.pkl` proves
  that tlstudio cannot be imported in its process, which a module already loaded would spoil.
"""
import multiprocessing
import os
import runpy
import sys

# Flags the app accepts and ignores: a frozen interpreter reads no PYTHON* variables and no
# user site folder anyway, and its output is not buffered differently.
IGNORED_FLAGS = {"-I", "-E", "-s", "-S", "-u", "-B", "-O"}


def python_mode(argv):
    """When `argv` (without the program name) asks for what `python` does with `-m`, `-c` or a
    script, do it and return its exit status; None when `argv` is the app's own command line."""
    args = list(argv)
    while args and args[0] in IGNORED_FLAGS:
        args.pop(0)
    # Never the app's own arguments: those are commands, options it knows, or a dataset
    # (a folder, CSV or zip), never a Python file.
    is_script = bool(args) and args[0].endswith(".py") and os.path.isfile(args[0])
    if not args or not (is_script or (args[0] in ("-m", "-c") and len(args) > 1)):
        return None
    try:
        if args[0] == "-m":
            sys.argv = [args[1], *args[2:]]
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        elif args[0] == "-c":
            sys.argv = ["-c", *args[2:]]
            exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
        else:
            sys.argv = list(args)
            sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
            runpy.run_path(args[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    return 0


def main():
    multiprocessing.freeze_support()
    status = python_mode(sys.argv[1:])
    if status is not None:
        return status
    from tlstudio.__main__ import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
