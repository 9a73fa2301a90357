"""Where the book's files live: chapter sources, executed copies, the built HTML, the run-time store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gancourse.paths import repository_root


@dataclass(frozen=True)
class BookLayout:
    """Where sources, executed copies and the built HTML live (all under the repository root)."""

    root: Path

    @property
    def sources(self) -> Path:
        return self.root / "notebooks"

    @property
    def executed(self) -> Path:
        return self.root / "book" / "chapters"

    @property
    def colab(self) -> Path:
        """The reader edition the launch buttons open in Colab (committed; ``gancourse build`` writes it)."""
        return self.root / "colab"

    @property
    def html(self) -> Path:
        return self.root / "_build" / "html"

    @property
    def failed(self) -> Path:
        return self.root / "_build" / "failed"

    @property
    def run_times(self) -> Path:
        return self.root / "book" / "run_times.json"

    @property
    def cost_estimates(self) -> Path:
        return self.root / "book" / "cost_estimates.json"

    @classmethod
    def of_repository(cls) -> BookLayout:
        root = repository_root()
        if root is None:
            raise RuntimeError("the book pipeline runs from a checkout of the repository (pip install -e .)")
        return cls(root)

    def chapter_sources(self) -> list[Path]:
        """The chapter notebooks, ``notebooks/NN_*.ipynb``, in chapter order."""
        return sorted(self.sources.glob("[0-9][0-9]_*.ipynb"))

    def find_chapter(self, selector: str) -> Path:
        """The source of a chapter given by number (``"7"``, ``"07"``), stem or file name."""
        for source in self.chapter_sources():
            number = source.name[:2]
            if selector in (source.stem, source.name, number) or (selector.isdigit() and int(selector) == int(number)):
                return source
        names = ", ".join(source.stem for source in self.chapter_sources())
        raise ValueError(f"no chapter {selector!r}; the chapters are: {names}")

    def executed_copy(self, source: Path) -> Path:
        return self.executed / source.name
