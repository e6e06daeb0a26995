"""`make push` and `make promote` through real registries: two of Debian's `docker-registry` (the
distribution registry) on 127.0.0.1, the images pushed by the engine, promoted by digest with skopeo
(deploy/oci.py) within one registry and to the other. The ECR path (batch_get_image/put_image) is
tested against moto in tests/test_promote.py.

Needs a container engine, docker-registry and skopeo: without them these tests skip and say why
(with MEDIASCRUB_REQUIRE_ENGINE=1, as in CI, they fail instead).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from containers import ARCH, KINDS, built_images, make
from deploy.oci import digest
from devtools.emulator import free_port

pytestmark = [pytest.mark.containers, pytest.mark.slow]

TAG = f"test{os.getpid()}-{ARCH}"
REGISTRY_CONFIG = """version: 0.1
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def _tool_or_skip(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        message = f"{name} missing (Debian: apt-get install {name}; devtools/ci-services.sh installs it)"
        if os.environ.get("MEDIASCRUB_REQUIRE_ENGINE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _registry(tmp_path_factory):
    """A distribution registry on a free loopback port, storing in a fresh directory."""
    binary = _tool_or_skip("docker-registry")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    (root / "config.yml").write_text(REGISTRY_CONFIG.format(root=root / "data", port=port))
    process = subprocess.Popen([binary, "serve", str(root / "config.yml")], stdin=subprocess.DEVNULL,
                               stdout=(root / "log").open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"docker-registry did not start: {(root / 'log').read_text()[-2000:]}")
            time.sleep(0.2)
    return process, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def registries(engine, tmp_path_factory):
    """(source, second) registry addresses; both stopped afterwards."""
    _tool_or_skip("skopeo")
    started = [_registry(tmp_path_factory), _registry(tmp_path_factory)]
    yield [address for _, address in started]
    for process, _ in started:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def pushed(engine, registries):
    """`make push REGISTRY=<source>`: kind -> the digest it printed. The engine's push tags are removed after."""
    built_images(engine)
    done = make(engine, "push", f"REGISTRY={registries[0]}", f"GIT_SHA={TAG.removesuffix('-' + ARCH)}")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    printed = dict(re.findall(r"^  (image|video) " + ARCH + r": \S+@(sha256:[0-9a-f]{64})$", done.stdout, re.MULTILINE))
    assert set(printed) == set(KINDS), done.stdout
    yield printed
    subprocess.run([engine, "rmi", *(f"{registries[0]}/mediascrub-{kind}:{TAG}" for kind in KINDS)],
                   capture_output=True, timeout=120, check=False)


def _digests(registry: str, tag: str) -> dict[str, str | None]:
    return {kind: digest(f"{registry}/mediascrub-{kind}:{tag}") for kind in KINDS}


def test_push_prints_the_digests_the_registry_holds(engine, registries, pushed):
    assert _digests(registries[0], TAG) == pushed
    for kind in KINDS:  # the engine's own record of what it pushed agrees
        done = subprocess.run([engine, "image", "inspect", "--format", "{{json .RepoDigests}}", f"mediascrub-{kind}:{ARCH}"],
                              capture_output=True, text=True, timeout=60, check=True)
        assert f"{registries[0]}/mediascrub-{kind}@{pushed[kind]}" in done.stdout


def test_promote_by_digest_within_the_registry_and_to_a_second_one(engine, registries, pushed):
    source, second = registries
    within = make(engine, "promote", f"REGISTRY={source}", f"FROM_TAG={TAG}", "TO_TAG=prod")
    assert within.returncode == 0, within.stderr
    assert _digests(source, "prod") == pushed

    across = make(engine, "promote", f"REGISTRY={source}", f"TO_REGISTRY={second}", f"FROM_TAG={TAG}", "TO_TAG=prod")
    assert across.returncode == 0, across.stderr
    assert _digests(second, "prod") == pushed

    again = make(engine, "promote", f"REGISTRY={source}", f"FROM_TAG={TAG}", "TO_TAG=prod")
    assert again.returncode == 0, again.stderr  # the same digest onto the same tag: nothing changes
    assert _digests(source, "prod") == pushed


def test_promoting_onto_a_tag_held_by_another_digest_fails_clearly(engine, registries, pushed):
    source = registries[0]
    held = f"{source}/mediascrub-image:held"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{source}/mediascrub-video@{pushed['video']}", f"docker://{held}"],
                   capture_output=True, timeout=600, check=True)
    done = make(engine, "promote", f"REGISTRY={source}", f"FROM_TAG={TAG}", "TO_TAG=held")
    assert done.returncode != 0
    assert f"promote: {held} is an immutable tag on {pushed['video']}; it cannot move to {pushed['image']}" in done.stderr
    assert digest(held) == pushed["video"]
