"""Assets the HTML book needs to work without a network: MathJax, served from the book's own ``_static``.

Sphinx's default loads MathJax from a CDN, so equations stay raw TeX when the book is read offline. The
build instead fetches MathJax's npm package once (from the npm registry, checked against a pinned SHA-256),
keeps the parts the pages use in ``_build/assets/mathjax`` and lets Sphinx copy them into ``_static``
(``_config.yml``: ``html_static_path`` and ``mathjax_path``). Set ``GANCOURSE_MATHJAX_TGZ`` to a
downloaded copy of the tarball to build without any network.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

MATHJAX_VERSION = "3.2.2"
MATHJAX_URL = f"https://registry.npmjs.org/mathjax/-/mathjax-{MATHJAX_VERSION}.tgz"
MATHJAX_SHA256 = "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"
MATHJAX_TGZ_ENV = "GANCOURSE_MATHJAX_TGZ"
ENTRY_POINT = "tex-mml-chtml.js"
# The combined TeX/MathML → CommonHTML component, its fonts, and what its menu and extensions load lazily.
KEPT = (ENTRY_POINT, "output/chtml", "input", "ui", "a11y", "sre", "adaptors")


def ensure_mathjax(assets: Path) -> Path:
    """Make ``assets/mathjax/tex-mml-chtml.js`` (and its parts) exist; returns the MathJax folder."""
    target = assets / "mathjax"
    if (target / ENTRY_POINT).is_file():
        return target
    archive = _mathjax_archive()
    digest = hashlib.sha256(archive).hexdigest()
    if digest != MATHJAX_SHA256:
        raise RuntimeError(f"the MathJax {MATHJAX_VERSION} tarball has SHA-256 {digest}, expected {MATHJAX_SHA256}; "
                           "it is corrupted or not the pinned release — delete it and build again")
    staging = assets / "mathjax.partial"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as bundle:
        members = [member for member in bundle.getmembers() if member.isfile() and _kept(member.name)]
        bundle.extractall(staging, members=members, filter="data")
    shutil.rmtree(target, ignore_errors=True)
    (staging / "package" / "es5").rename(target)        # appears complete or not at all
    shutil.rmtree(staging)
    return target


def _kept(name: str) -> bool:
    prefix = "package/es5/"
    return name.startswith(prefix) and any(name[len(prefix):] == part or name[len(prefix):].startswith(part + "/")
                                           for part in KEPT)


def _mathjax_archive() -> bytes:
    local = os.environ.get(MATHJAX_TGZ_ENV)
    if local:
        path = Path(local).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{MATHJAX_TGZ_ENV}={local} is not a file; download {MATHJAX_URL} there")
        return path.read_bytes()
    try:
        with urllib.request.urlopen(MATHJAX_URL, timeout=60) as response:
            return response.read()
    except OSError as error:
        raise RuntimeError(f"could not download MathJax for the offline book from {MATHJAX_URL} ({error}); "
                           f"download it by hand and set {MATHJAX_TGZ_ENV} to the file's path") from error
