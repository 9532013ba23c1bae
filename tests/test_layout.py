"""The code's placement (../shared/style.md): everything about a workload in its package,
no generic module that names one, no import cycle, no file too long to read whole.

Static checks over the source tree: nothing is imported or run.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmarks", "shared", "backends")
WORKLOADS_DIR = ROOT / "benchmarks" / "workloads"
# The workloads, and the words that belong to one of them alone. "search" is also an
# everyday word: only the exact string "search" and its package count.
WORKLOAD_WORDS = re.compile(
    r"(?<![a-z0-9])(copy-?net|xor|n-?body|dqn|atari|space.invaders|metaqnn)(?![a-z0-9])", re.I
)
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Every module of the project's packages by dotted name (a package by its own)."""
    found = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _in_a_workload_package(path: Path) -> bool:
    """Inside ``benchmarks/workloads/<name>/``; the registry (``__init__.py``, one line a
    workload) and the kinds beside it are generic."""
    relative = path.relative_to(WORKLOADS_DIR) if path.is_relative_to(WORKLOADS_DIR) else None
    return relative is not None and len(relative.parts) > 1


def _is_docstring(tokens: list[tokenize.TokenInfo], index: int) -> bool:
    """A string token that is a statement of its own at the start of a body."""
    skip = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT)
    before = [token for token in tokens[:index] if token.type not in skip]
    return not before or before[-1].string == ":"


def workload_names_in(path: Path) -> list[str]:
    """``line: token`` for each identifier, string literal (docstrings apart) or import in
    ``path`` that names a workload. Comments and docstrings may cite one as an example."""
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
    found = []
    for index, token in enumerate(tokens):
        text = token.string
        if token.type == tokenize.STRING and not _is_docstring(tokens, index):
            named = WORKLOAD_WORDS.search(text) or text.strip("\"'") == "search"
        elif token.type == tokenize.NAME:
            after_dot = index > 0 and tokens[index - 1].string == "."
            named = WORKLOAD_WORDS.search(text) or (text == "search" and after_dot)
        else:
            named = False
        if named:
            found.append(f"{token.start[0]}: {text[:60]}")
    return found


def test_no_generic_module_names_a_workload() -> None:
    named = {
        str(path.relative_to(ROOT)): hits
        for path in _modules().values()
        if not _in_a_workload_package(path) and path != WORKLOADS_DIR / "__init__.py"
        for hits in [workload_names_in(path)]
        if hits
    }
    assert not named, f"generic modules that name a workload: {named}"


def test_the_check_finds_a_workload_named_in_code(tmp_path: Path) -> None:
    module = tmp_path / "generic.py"
    module.write_text(
        '"""Docstrings may say DQN."""\n'
        "# and so may comments: N-body\n"
        "from benchmarks.workloads.search import loop\n"
        'BLOCKS = {"xor": 1}\n'
        "def dqn_blocks(): ...\n"
    )
    assert [hit.split(":")[0] for hit in workload_names_in(module)] == ["3", "4", "5"]


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in it, in functions too (a lazy
    import that dodges a cycle is still a cycle), ``TYPE_CHECKING`` blocks apart."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], base]).strip(".")
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in modules else base)
    guarded = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module:
                    guarded.add(inner.module)
    edges = set()
    for target in targets - guarded:
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            module = ".".join(parts[:end])
            # Importing a module runs its packages' __init__ first; a package's own
            # modules importing it back is how packages work, not a cycle.
            if module in modules and module != name and not name.startswith(module + "."):
                edges.add(module)
    return edges


def import_cycles(modules: dict[str, Path]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    order, low, stack, cycles = {}, {}, [], []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for neighbour in graph[node]:
            if neighbour not in order:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in stack:
                low[node] = min(low[node], order[neighbour])
        if low[node] == order[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in order:
            visit(node)
    return cycles


def test_no_import_cycle() -> None:
    assert import_cycles(_modules()) == []


def test_the_cycle_check_finds_a_lazy_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def f():\n    import a\n")
    (tmp_path / "c.py").write_text("import a\n")
    modules = {name: tmp_path / f"{name}.py" for name in "abc"}
    assert import_cycles(modules) == [["a", "b"]]


@pytest.mark.parametrize("top", [*PACKAGES, "tests"])
def test_no_source_file_is_longer_than_a_sitting(top: str) -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / top).rglob("*.py"))
        for lines in [len(path.read_text().splitlines())]
        if lines > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines: {long}"
