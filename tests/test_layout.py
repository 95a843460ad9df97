"""The house rules, checked on the code itself: no import circle in `watcher/`, and no word of the
default topic (its terms, its drug names, its feeds' hosts) anywhere in it: the topic lives in
feeds.yaml alone."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
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


def external_imports(path: Path) -> set[str]:
    """The top-level names of the modules `path` imports from outside watcher (absolute imports only)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found - {"watcher", "__future__"}


def package_modules(package: str) -> dict[str, Path]:
    folder = PACKAGE / package
    return {module_name(p): p for p in sorted(folder.rglob("*.py"))}


# What a layer may not import: packages of ours, and modules of the outside world.
LAYERS = {
    # A source knows one upstream protocol: nothing of the store, the filter, the digest or the scheduler.
    "sources": ({"store", "digest", "relevance", "schedule", "regulatory", "article", "export", "poll", "web"},
                {"sqlite3", "apscheduler", "jinja2"}),
    # Relevance is pure: text in, verdicts out; no network, no database, no files.
    "relevance": ({"store", "http", "sources", "digest", "schedule", "poll", "regulatory", "article", "export", "web"},
                  {"sqlite3", "requests", "urllib3", "socket", "http", "smtplib", "subprocess", "os", "pathlib", "shutil", "tempfile",
                   "apscheduler", "jinja2"}),
    # The digest reads the store and renders: it fetches nothing and schedules nothing.
    "digest": ({"sources", "schedule", "poll", "http", "web"}, {"apscheduler", "requests", "urllib3"}),
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_imports_only_what_it_may(layer):
    ours, outside = LAYERS[layer]
    modules = package_modules(layer)
    assert modules, layer
    wrong = []
    for name, path in modules.items():
        for imported in imports_of(path):
            parts = imported.split(".")
            if len(parts) > 1 and parts[1] in ours:
                wrong.append(f"{name} imports {imported}")
        wrong += [f"{name} imports {m}" for m in sorted(external_imports(path) & outside)]
    assert not wrong, wrong


def test_the_cli_runs_no_sql():
    source = (PACKAGE / "cli.py").read_text(encoding="utf-8")
    assert ".execute(" not in source and ".conn" not in source
    assert not re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\b\s+[\w*]", source)


def test_the_top_level_holds_the_foundation_only():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 15, top


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
