"""The repository the book names: ``_config.yml``'s ``repository.url`` and every notebook's Colab install
cell (``pip install git+https://...``), rewritten together by :func:`set_repository`."""

from __future__ import annotations

import re

from gancourse.book.layout import BookLayout
from gancourse.weights import github_repository

INSTALL_URL_PATTERN = re.compile(r"git\+https://[^\s\"'\\]+")
CONFIG_URL_PATTERN = re.compile(r"^(repository:\n(?:[ \t]+.*\n)*?[ \t]+url:[ \t]*)(\S+)", re.MULTILINE)


def set_repository(layout: BookLayout, url: str) -> int:
    """Set the repository URL in ``_config.yml`` and every notebook's Colab install cell; returns how many
    notebooks were rewritten. ``_config.yml``'s ``repository.url`` is the one place that names it."""
    url = url.rstrip("/")
    if not re.fullmatch(r"https://[^\s\"'\\]+", url):
        raise ValueError(f"the repository URL must start with https:// and contain no spaces or quotes: {url!r}")
    config = layout.root / "_config.yml"
    text, count = CONFIG_URL_PATTERN.subn(lambda match: match.group(1) + url, config.read_text(), count=1)
    if count != 1:
        raise ValueError(f"{config} has no 'url:' line under 'repository:' to change")
    config.write_text(text)
    notebooks = [*layout.chapter_sources(), *sorted(layout.executed.glob("*.ipynb"))]
    for notebook in notebooks:
        notebook.write_text(INSTALL_URL_PATTERN.sub(f"git+{url}", notebook.read_text()))
    return len(notebooks)


def pages_url(repository_url: str) -> str:
    """Where GitHub Pages publishes the book of a GitHub repository (the `publish` workflow):
    ``https://github.com/ORG/REPO`` -> ``https://ORG.github.io/REPO/``."""
    match = github_repository(repository_url)
    if match is None:
        raise ValueError(f"no GitHub Pages address is known for {repository_url!r}: the online book is published "
                         "from a GitHub repository (https://github.com/ORG/REPO; `gancourse set-repository URL`)")
    return f"https://{match[0].lower()}.github.io/{match[1]}/"
