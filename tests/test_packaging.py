"""What an install gets: the locks pin every dependency pyproject.toml asks for, with hashes, and
the sdist and the wheel carry every file of the package (templates and static files included),
so an installed `watcher` finds what it reads at run time."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK, TEST_LOCK = ROOT / "requirements.txt", ROOT / "requirements-test.txt"
REFRESH = "run scripts/lock after changing pyproject.toml"


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: Version
    marker: str  # "" when it applies everywhere
    hashes: tuple[str, ...]


def read_lock(path: Path) -> list[Pin]:
    """The pins of a hash-checked requirements file: `name==version [; marker] \\` then `--hash=` lines."""
    text = re.sub(r"#.*", "", path.read_text(encoding="utf-8")).replace("\\\n", " ")
    pins = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        spec, *options = re.split(r"\s+(?=--)", line)
        requirement = Requirement(spec)
        (pinned,) = requirement.specifier  # exactly one specifier, and it is ==
        assert pinned.operator == "==", f"{path.name}: {spec} is not pinned"
        hashes = tuple(o.removeprefix("--hash=") for o in options if o.startswith("--hash=sha256:"))
        assert len(hashes) == len(options), f"{path.name}: {spec}: an option other than --hash=sha256"
        pins.append(Pin(canonicalize_name(requirement.name), Version(pinned.version), str(requirement.marker or ""), hashes))
    return pins


def asked(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in [*project["dependencies"], *(r for e in extras for r in project["optional-dependencies"][e])]]


@pytest.mark.parametrize(("lock", "extras"), [(RUNTIME_LOCK, ()), (TEST_LOCK, ("test",))], ids=["runtime", "test"])
def test_a_lock_pins_every_dependency_pyproject_asks_for_with_hashes(lock: Path, extras: tuple[str, ...]) -> None:
    assert lock.is_file(), f"{lock.name} is missing: {REFRESH}"
    pins = read_lock(lock)
    assert len(pins) >= 15  # the transitive ones too: the runtime alone has more than its 8 direct dependencies
    assert all(pin.hashes for pin in pins), [p.name for p in pins if not p.hashes]
    by_name: dict[str, list[Pin]] = {}
    for pin in pins:
        by_name.setdefault(pin.name, []).append(pin)
    for requirement in asked(*extras):
        found = by_name.get(canonicalize_name(requirement.name), [])
        assert found, f"{lock.name} lacks {requirement.name}: {REFRESH}"
        for pin in found:
            assert requirement.specifier.contains(pin.version, prereleases=True), f"{lock.name}: {pin.name}=={pin.version} is outside {requirement}: {REFRESH}"


def test_the_runtime_lock_is_the_test_lock_without_the_test_tools() -> None:
    """The quick start installs the very versions the tests ran with."""
    runtime, test = set(read_lock(RUNTIME_LOCK)), set(read_lock(TEST_LOCK))
    assert runtime <= test, sorted(p.name for p in runtime - test)
    assert {"pytest", "mypy"}.isdisjoint(p.name for p in runtime)


# ---- the built distributions ----


def package_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in (root / "watcher").rglob("*") if p.is_file()}


@pytest.mark.slow  # builds an sdist and a wheel from it in a subprocess (a few seconds)
def test_the_sdist_and_the_wheel_carry_every_file_of_the_package(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "watcher", source / "watcher", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    expected = package_files(source)
    assert any(f.endswith(".j2") for f in expected)  # the check checks something

    # Offline: the build backend is the one installed from the lock, never downloaded.
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")

    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in in_wheel if n.endswith(".dist-info/entry_points.txt"))
    assert not expected - in_wheel, f"missing from the wheel: {sorted(expected - in_wheel)}"
    assert "watcher = watcher.cli:main" in entry_points
    with tarfile.open(sdist) as archive:
        in_sdist = {name.partition("/")[2] for name in archive.getnames()}
    assert not expected - in_sdist, f"missing from the sdist: {sorted(expected - in_sdist)}"
