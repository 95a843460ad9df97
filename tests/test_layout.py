"""The house rules, checked on the code itself: no import circle in `watcher/`, and no word of the
default topic (its terms, its drug names, its feeds' hosts) anywhere in it: the topic lives in
feeds.yaml alone."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "watcher"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The watcher modules `path` imports (relative imports resolved), type-checking-only ones included."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            for alias in node.names:
                found.add(f"{target}.{alias.name}")  # `from . import markdown` names a module
                found.add(target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("watcher")}


def test_no_import_circle_in_watcher():
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: {i for i in imports_of(path) if i in modules and i != name} for name, path in modules.items()}
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(name: str) -> None:
        state[name] = "open"
        trail.append(name)
        for nxt in sorted(graph[name]):
            if state.get(nxt) == "open":
                circle = [*trail[trail.index(nxt):], nxt]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if nxt not in state:
                visit(nxt)
        trail.pop()
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)


def topic_words() -> set[str]:
    raw = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))
    words: set[str] = set()
    for topic in raw["topics"].values():
        for group in topic["groups"].values():
            terms = group["terms"] if isinstance(group, dict) else group
            words.update(t for t in terms if "*" not in t and " " not in t and len(t) >= 5)
    for source in raw["sources"]:
        words.update(source.get("search", []))
        if source["type"] == "rss":
            words.add(source["url"].split("/")[2])
    return {w.lower() for w in words}


def test_the_code_knows_no_topic():
    words = topic_words()
    assert {"ketamine", "spravato", "www.fda.gov"} <= words  # the check checks something
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?![\w])", re.I)
    found = [f"{p.relative_to(ROOT)}:{n}: {m.group(0)}"
             for p in sorted(PACKAGE.rglob("*")) if p.suffix in (".py", ".j2")
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             for m in pattern.finditer(line)]
    assert not found, found
