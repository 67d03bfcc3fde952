"""Run a `tlstudio` command in this process, as a user's shell would see it: exit status, stdout, stderr."""
from __future__ import annotations

from types import SimpleNamespace

from tlstudio.cli import main


def tlstudio(capsys, *args) -> SimpleNamespace:
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return SimpleNamespace(rc=rc, out=out, err=err, lines=out.splitlines())
