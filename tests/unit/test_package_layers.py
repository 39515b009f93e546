"""The packages follow the data's one path: Sonic Pi text → piece (``notegen.sonicpi``) → model
(``notegen.model``) → notes → edits (``notegen.lsp``) or sound (``notegen.playback``).

Every ``import`` of every runtime module is read from its source (those inside functions and
``TYPE_CHECKING`` blocks too), so a step back up the path fails here even where it would
import without error."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "server" / "notegen"

VOCABULARY = {"notegen", "notegen.melody", "notegen.notes", "notegen.scales", "notegen.keys"}
VOCABULARY |= {"notegen.paths"}
"""What every layer may use: events, Sonic Pi's note names, scales and keys, user paths."""

MAY_IMPORT = {
    "vocabulary": {"vocabulary"},
    "sonicpi": {"vocabulary", "sonicpi"},
    "model": {"vocabulary", "sonicpi", "model"},
    "playback": {"vocabulary", "sonicpi", "playback"},
    "lsp": {"vocabulary", "sonicpi", "model", "playback", "lsp"},
}


def layer(module: str) -> str:
    if module in VOCABULARY:
        return "vocabulary"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else module


def module_name(path: Path) -> str:
    parts = ["notegen", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    """The package a module's relative imports start from."""
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def is_module(name: str) -> bool:
    where = ROOT.parent.joinpath(*name.split("."))
    return where.is_dir() or where.with_suffix(".py").exists()


def imported(path: Path, package: str, top_level_only: bool = False) -> Iterator[str]:
    """The ``notegen`` modules the source at ``path`` imports (``from notegen.x import y``
    counts ``x``, and ``x.y`` when that is a module); ``package``: where it lies."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("notegen."))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base == "notegen" or base.startswith("notegen."):
                yield base
                yield from (f"{base}.{a.name}" for a in node.names if is_module(f"{base}.{a.name}"))


def modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", modules(), ids=lambda p: module_name(p))
def test_each_module_imports_only_its_own_layer_and_those_before_it(path: Path) -> None:
    own = layer(module_name(path))
    if own not in MAY_IMPORT:
        return  # the command line (notegen.cli) stands above every layer
    wrong = sorted(
        {
            m
            for m in imported(path, package_of(path))
            if layer(m) not in MAY_IMPORT[own] and m != "notegen"
        }
    )
    assert wrong == [], f"{module_name(path)} ({own}) imports {wrong}"


def test_no_module_imports_itself_back_through_others_at_load() -> None:
    """No import circle among the modules' top-level imports (those run when it loads)."""
    graph = {
        module_name(p): set(imported(p, package_of(p), top_level_only=True)) for p in modules()
    }
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            pytest.fail("import circle: " + " -> ".join(cycle))
        if module in done:
            return
        for dep in sorted(graph[module]):
            visit(dep, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_a_step_back_up_the_path_is_caught(tmp_path: Path) -> None:
    """The check reads the imports it must: a reader module importing the sampler inside a
    function, or the model relatively, is a step back."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from notegen.model.sampling import Sampler\n"
        "from ..model import conditioning\n"
    )
    found = set(imported(probe, "notegen.sonicpi"))
    assert {"notegen.model.sampling", "notegen.model.conditioning"} <= found
    assert all(layer(m) not in MAY_IMPORT["sonicpi"] for m in found)
