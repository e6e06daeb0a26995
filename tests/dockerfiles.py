"""A small Dockerfile reader for the tests: instructions of the final stage, as the builder sees them."""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Instruction:
    name: str  # upper case: FROM, RUN, COPY, ...
    args: str

    def words(self) -> list[str]:
        """Exec form (JSON array) or shell words."""
        text = self.args.strip()
        return json.loads(text) if text.startswith("[") else shlex.split(text)


@dataclass
class Dockerfile:
    path: Path
    instructions: list[Instruction]
    stages: list[list[Instruction]]  # instructions per build stage, FROM first

    @classmethod
    def read(cls, name: str) -> Dockerfile:
        path = REPO / name
        instructions = [Instruction(word.upper(), rest) for word, rest in _logical_lines(path.read_text())]
        stages: list[list[Instruction]] = []
        for instruction in instructions:
            if instruction.name == "FROM":
                stages.append([])
            if stages:
                stages[-1].append(instruction)
        return cls(path, instructions, stages)

    @property
    def final(self) -> list[Instruction]:
        return self.stages[-1]

    def stage(self, name: str) -> Dockerfile:
        """This Dockerfile seen up to the build stage `FROM ... AS name`, which becomes its final stage."""
        for index, stage in enumerate(self.stages):
            if stage[0].args.lower().endswith(f" as {name.lower()}"):
                return Dockerfile(self.path, self.instructions, self.stages[:index + 1])
        raise AssertionError(f"{self.path.name}: no stage named {name}")

    def all(self, name: str) -> list[Instruction]:
        return [i for i in self.final if i.name == name]

    def one(self, name: str) -> Instruction:
        found = self.all(name)
        assert len(found) == 1, f"{self.path.name}: expected one {name} in the final stage, found {len(found)}"
        return found[0]

    def copies(self) -> list[tuple[str, str]]:
        """(source, destination) of each COPY/ADD from the build context into the final stage."""
        pairs = []
        for instruction in self.all("COPY") + self.all("ADD"):
            words = [w for w in instruction.words() if not w.startswith("--")]
            if any(w.startswith("--from=") for w in instruction.words()):
                continue
            pairs += [(source, words[-1]) for source in words[:-1]]
        return pairs

    def run_commands(self) -> list[str]:
        return [i.args for i in self.all("RUN")]


def _logical_lines(text: str) -> list[tuple[str, str]]:
    """Instructions with continuation lines joined; comments and parser directives dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        lines.append((word, re.sub(r"\s+", " ", rest).strip()))
        current = ""
    return lines
