"""A small general-English corpus, for pretraining the sample language model offline.

The real ULMFiT starts from a model pretrained on WikiText-103 (Wikipedia). The
sample mode cannot download it, so ``data/make_sample_lm.py`` pretrains a tiny
model on the English that ships with Python itself:

- the Python language reference as bundled in ``pydoc_data.topics``;
- the docstrings of a fixed list of standard-library modules (``MODULES``);
- the Zen of Python (``this``, stored ROT13-encoded, decoded here without importing it).

All of it is part of CPython and distributed under the PSF License Agreement
(https://docs.python.org/3/license.html). Cleaning keeps prose paragraphs and drops
code: doctest lines, indented blocks, grammar rules, headings. Everything is taken
in a fixed, sorted order, so one Python version always gives the same corpus;
another version's docstrings differ a little (the committed weights record which
Python made them).

Example:
    >>> docs = english_corpus()
    >>> len(docs) > 1000 and all(isinstance(d, str) for d in docs)
    True
"""
from __future__ import annotations

import ast
import codecs
import importlib
import importlib.util
import inspect
import pkgutil
import re
import warnings

# The standard library's public modules as of Python 3.10-3.12, minus those deprecated for removal
# in 3.13, those with side effects on import (this, antigravity) and GUI/test packages. Packages
# bring their public submodules.
MODULES = (
    "abc", "argparse", "array", "ast", "asyncio", "atexit", "base64", "bdb", "binascii", "bisect",
    "builtins", "bz2", "cProfile", "calendar", "cmath", "cmd", "code", "codecs", "codeop",
    "collections", "colorsys", "compileall", "concurrent", "configparser", "contextlib",
    "contextvars", "copy", "copyreg", "csv", "ctypes", "dataclasses", "datetime", "dbm", "decimal",
    "difflib", "dis", "doctest", "email", "enum", "errno", "faulthandler", "filecmp", "fileinput",
    "fnmatch", "fractions", "ftplib", "functools", "gc", "getopt", "getpass", "gettext", "glob",
    "graphlib", "gzip", "hashlib", "heapq", "hmac", "html", "http", "imaplib", "importlib", "inspect",
    "io", "ipaddress", "itertools", "json", "keyword", "linecache", "locale", "logging", "lzma",
    "mailbox", "marshal", "math", "mimetypes", "mmap", "modulefinder", "multiprocessing", "netrc",
    "numbers", "operator", "optparse", "os", "pathlib", "pdb", "pickle", "pickletools", "pkgutil",
    "platform", "plistlib", "poplib", "pprint", "profile", "pstats", "py_compile", "pyclbr", "pydoc",
    "queue", "quopri", "random", "re", "reprlib", "rlcompleter", "runpy", "sched", "secrets",
    "select", "selectors", "shelve", "shlex", "shutil", "signal", "site", "smtplib", "socket",
    "socketserver", "sqlite3", "ssl", "stat", "statistics", "string", "struct", "subprocess",
    "symtable", "sys", "sysconfig", "tabnanny", "tarfile", "tempfile", "textwrap", "threading",
    "time", "timeit", "token", "tokenize", "trace", "traceback", "tracemalloc", "types", "typing",
    "unicodedata", "unittest", "urllib", "uuid", "warnings", "wave", "weakref", "webbrowser",
    "wsgiref", "xml", "xmlrpc", "zipapp", "zipfile", "zipimport", "zlib",
)

_CODE_LINE = re.compile(r"^\s*(>>>|\.\.\.|[$%#])|::=|^\s*[*=~^\-]{3,}\s*$")
_MARKUP = re.compile(r":[a-z]+:(?=`)|[`*]")  # reST roles such as :func:`len`, and ``code`` quotes
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_SPACES = re.compile(r"\s+")


def clean_paragraphs(text: str, min_words: int = 6) -> list[str]:
    """The prose paragraphs of a docstring or page, each on one line.

    A paragraph is dropped if it is indented (a code block), has a code-like line
    (doctest, shell prompt, grammar rule, heading underline), or is less than 80%
    ordinary words. reST markup (roles, backquotes, stars) is removed.

    Example:
        >>> clean_paragraphs("Return the sum of the values in the list.\\n\\n   >>> sum([1])\\n   1")
        ['Return the sum of the values in the list.']
    """
    kept = []
    for para in re.split(r"\n\s*\n", inspect.cleandoc(text)):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        if not lines or any(ln.startswith((" ", "\t")) or _CODE_LINE.search(ln) for ln in lines):
            continue
        flat = _SPACES.sub(" ", _MARKUP.sub("", " ".join(lines))).strip()
        words = flat.split()
        if len(words) >= min_words and len(_WORD.findall(flat)) >= 0.8 * len(words):
            kept.append(flat)
    return kept


def _import(name: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation notices of old submodules
            return importlib.import_module(name)
    except ImportError:  # e.g. a Python built without that module: the corpus is a little smaller
        return None


def _public_submodules(module) -> list[str]:
    """A package's public submodules and subpackages, recursively, sorted by name."""
    if not hasattr(module, "__path__"):
        return []
    names = sorted(m.name for m in pkgutil.iter_modules(module.__path__, module.__name__ + ".")
                   if not m.name.rsplit(".", 1)[1].startswith(("_", "test")))
    out = []
    for name in names:
        sub = _import(name)
        out += [name] + (_public_submodules(sub) if sub is not None else [])
    return out


def _module_docstrings(name: str) -> list[str]:
    """The docstrings of a module and of its public classes, functions and methods, sorted by name."""
    module = _import(name)
    if module is None:
        return []
    docs = [module.__doc__ or ""]
    for attr in sorted(vars(module)):
        obj = getattr(module, attr)
        if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isroutine(obj):
            docs.append(obj.__doc__ or "")
        if inspect.isclass(obj):
            docs += [getattr(m, "__doc__", None) or "" for k, m in sorted(vars(obj).items())
                     if not k.startswith("_") and inspect.isroutine(m)]
    return docs


def zen_of_python() -> str:
    """The Zen of Python, read from the source of ``this`` (importing it would print it)."""
    source = open(importlib.util.find_spec("this").origin, encoding="utf-8").read()
    encoded = next(node.value.value for node in ast.parse(source).body
                   if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "s")
    return codecs.decode(encoded, "rot13")


def english_corpus(modules: tuple[str, ...] = MODULES) -> list[str]:
    """The corpus as a list of documents (one per page or docstring), in a fixed order.

    Example:
        >>> english_corpus(modules=())[-1].startswith("Beautiful is better than ugly.")
        True
    """
    from pydoc_data.topics import topics

    sources = [topics[k] for k in sorted(topics)]
    for top in modules:
        module = _import(top)
        for name in [top] + (_public_submodules(module) if module is not None else []):
            sources += _module_docstrings(name)
    docs = [" ".join(clean_paragraphs(s)) for s in sources]
    zen = " ".join(line for line in zen_of_python().splitlines()[2:] if line.strip())
    return [d for d in docs if d] + [zen]
