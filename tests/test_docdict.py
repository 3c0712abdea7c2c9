"""Shared parameter documentation (issue 13, item 7).

The docstrings that share a parameter take its text from
``vaesource._docs.docdict`` through ``fill_doc``, as MNE's do: no public
docstring keeps an unfilled ``%(name)s``, every entry is used, no parameter
is documented as "As in :func:`...`", and the filled docstrings parse as
numpydoc sections that document exactly the function's parameters.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from numpydoc.docscrape import FunctionDoc

import vaesource
from vaesource._docs import docdict, fill_doc

PACKAGE = Path(vaesource.__file__).resolve().parent
SOURCES = {p: p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py"))}


def _modules():
    yield vaesource
    for info in pkgutil.walk_packages(vaesource.__path__, "vaesource."):
        if info.name.rpartition(".")[2] != "__main__":  # runs on import
            yield importlib.import_module(info.name)


def _public_docstrings():
    """(qualified name, docstring) of every public function, class and
    method defined in vaesource."""
    seen = set()
    for module in _modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or id(obj) in seen:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("vaesource"):
                continue
            seen.add(id(obj))
            yield f"{obj.__module__}.{obj.__qualname__}", obj.__doc__ or ""
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    member = getattr(member, "fget", member)  # properties
                    if attr.startswith("_") or not callable(member):
                        continue
                    yield (f"{obj.__module__}.{obj.__qualname__}.{attr}",
                           getattr(member, "__doc__", None) or "")


def _filled_functions():
    """Every function decorated with ``@fill_doc`` (read from the sources)."""
    found = []
    for path, text in SOURCES.items():
        names = re.findall(r"^@fill_doc\n(?:@\w.*\n)*def (\w+)", text, re.M)
        if not names:
            continue
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = importlib.import_module(".".join(rel.parts).replace(".__init__", ""))
        found += [getattr(module, name) for name in names]
    return found


def test_fill_doc_indents_each_entry_and_names_a_missing_one():
    def func(verbose=None):
        """Do it.

        Parameters
        ----------
        %(verbose)s
        """

    fill_doc(func)
    lines = func.__doc__.splitlines()
    assert lines[4] == "        verbose : bool | str | int | None"
    assert lines[5].startswith("            Log level for this call")
    assert "%(" not in func.__doc__

    def bad():
        """%(no_such_parameter)s"""

    with pytest.raises(KeyError, match="no_such_parameter"):
        fill_doc(bad)


def test_no_public_docstring_keeps_a_placeholder():
    unfilled = [name for name, doc in _public_docstrings()
                if "%(" in doc and name != "vaesource._docs.fill_doc"]  # the syntax
    assert not unfilled


def test_every_docdict_entry_is_used():
    text = "\n".join(SOURCES.values())
    unused = [key for key in docdict if f"%({key})s" not in text]
    assert not unused


def test_no_parameter_documented_as_in_another_function():
    """A shared parameter's text comes from the docdict, not from a pointer
    to another function's docstring ("As in :func:`full_vae`")."""
    pointers = [name for name, doc in _public_docstrings()
                if re.search(r"^\s*As in :func:", doc, re.M)]
    assert not pointers


def test_filled_docstrings_document_exactly_the_parameters():
    functions = _filled_functions()
    assert len(functions) >= 10
    for func in functions:
        doc = FunctionDoc(func)
        documented = {name.strip() for param in doc["Parameters"]
                      for name in param.name.split(",")}
        params = {name for name, p in inspect.signature(func).parameters.items()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        assert documented == params, func.__qualname__
        assert doc["Returns"], func.__qualname__
