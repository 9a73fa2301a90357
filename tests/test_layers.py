"""The package's import graph runs one way (DESIGN.md, "Package layout"): every module imports only modules of
its own layer or of layers below, with one justified exception. The graph is read from the code (every
``import``/``from … import`` of ``gancourse``, at module level or inside functions), so a new upward import
fails this test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gancourse"

# bottom to top; a module belongs to the layer of its longest matching prefix ("gancourse" itself: the package's
# __init__, matched exactly)
LAYERS: list[tuple[str, ...]] = [
    ("gancourse", "gancourse.validation", "gancourse.files", "gancourse.paths", "gancourse.profiles",
     "gancourse.results", "gancourse.losses", "gancourse.compat", "gancourse.networks"),
    ("gancourse.data", "gancourse.checkpoints", "gancourse.models", "gancourse.runtime"),
    ("gancourse.train",),
    ("gancourse.attacks",),
    ("gancourse.defenses",),
    ("gancourse.evaluate",),
    ("gancourse.zoo", "gancourse.weights"),
    ("gancourse.matrix", "gancourse.matrix_cache", "gancourse.ledger", "gancourse.robustness", "gancourse.plots", "gancourse.widgets", "gancourse.exercises",
     "gancourse.toys", "gancourse.dirac_gan", "gancourse.saturation", "gancourse.costs", "gancourse.chapter_costs",
     "gancourse.gpu_check", "gancourse.augmentation", "gancourse.diagrams"),
    ("gancourse.book", "gancourse.editions", "gancourse.offline", "gancourse.sphinx_pages", "gancourse.cli"),
]
# the latent-space attack on Defense-GAN searches the defense's own latent space: it imports the defense it attacks
ALLOWED_UPWARD = {("gancourse.attacks.latent_search", "gancourse.defenses.defense_gan")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    matches = [(len(prefix), index) for index, prefixes in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or (prefix != "gancourse" and module.startswith(prefix + "."))]
    if not matches:
        raise AssertionError(f"{module} is in no layer of tests/test_layers.py; add it where it belongs")
    return max(matches)[1]


def imports_of(path: Path) -> set[str]:
    """Every gancourse module ``path`` imports (``from gancourse.x import y`` counts as gancourse.x, or
    gancourse.x.y when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("gancourse")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gancourse"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                as_path = PACKAGE.parent / Path(*candidate.split("."))
                found.add(candidate if as_path.with_suffix(".py").exists() or as_path.is_dir() else node.module)
    return found


def upward_imports(edges: set[tuple[str, str]]) -> list[str]:
    return sorted(f"{source} (layer {layer_of(source)}) imports {target} (layer {layer_of(target)})"
                  for source, target in edges
                  if layer_of(target) > layer_of(source) and (source, target) not in ALLOWED_UPWARD)


def package_edges() -> set[tuple[str, str]]:
    return {(module_name(path), target) for path in PACKAGE.rglob("*.py") for target in imports_of(path)}


def test_every_module_imports_only_its_own_layer_or_below():
    edges = package_edges()
    assert len(edges) > 50, "the import graph looks empty: is the package where this test expects it?"
    assert upward_imports(edges) == []


def test_the_one_justified_upward_import_is_still_needed():
    assert ALLOWED_UPWARD <= package_edges(), "the exception is gone: remove it from ALLOWED_UPWARD"


@pytest.mark.parametrize("edge", [("gancourse.train.gan", "gancourse.attacks.advgan"),
                                  ("gancourse.zoo", "gancourse.book.execute"),
                                  ("gancourse.attacks.pgd", "gancourse.defenses.magnet"),
                                  ("gancourse.models.dcgan", "gancourse.train.loop")])
def test_an_upward_import_is_reported(edge):
    assert upward_imports({edge}) == [f"{edge[0]} (layer {layer_of(edge[0])}) imports {edge[1]} "
                                      f"(layer {layer_of(edge[1])})"]


def test_a_module_outside_every_layer_is_reported():
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("gancourse.somewhere_new")
