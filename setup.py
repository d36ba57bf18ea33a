"""Build hook only (the project is declared in pyproject.toml): ship the playbook in the wheel.

`runbook demo` derives its runbook from the bundled playbook, `runbook.toml` at
the repository root. A source tree (an editable install) reads it there; a
wheel has no repository root, so this build_py copies it into the built
package as `runbook/demo/playbook.toml`, in build_lib only: never into the
source tree (where it is git-ignored, should it ever appear). The sdist carries
runbook.toml at its root, so a wheel built from it (`python -m build`) has it too.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import FileError

ROOT = Path(__file__).resolve().parent
PLAYBOOK = ROOT / "runbook.toml"
PACKAGED = ("runbook", "demo", "playbook.toml")


class BuildPyWithPlaybook(build_py):
    """build_py, plus the root runbook.toml as runbook/demo/playbook.toml in build_lib."""

    def _playbook_target(self) -> Path:
        return Path(self.build_lib, *PACKAGED)

    def _copies_playbook(self) -> bool:
        # An editable install maps the package onto the source tree, where the
        # demo reads runbook.toml at the root itself: nothing to copy.
        return not getattr(self, "editable_mode", False)

    def run(self) -> None:
        super().run()
        if not self._copies_playbook():
            return
        if not PLAYBOOK.is_file():
            raise FileError(f"{PLAYBOOK} is missing: `runbook demo` needs the bundled playbook")
        target = self._playbook_target()
        if target.resolve().is_relative_to(ROOT / "runbook"):
            raise FileError(f"refusing to write {target} into the source tree")
        self.mkpath(str(target.parent))
        self.copy_file(str(PLAYBOOK), str(target), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if self._copies_playbook():
            outputs.append(str(self._playbook_target()))
        return outputs


class SdistWithPlaybook(sdist):
    """sdist, plus the root runbook.toml that the wheel's build_py copies in."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        target = Path(base_dir, PLAYBOOK.name)
        if not target.exists():
            self.copy_file(str(PLAYBOOK), str(target), preserve_mode=False)


setup(cmdclass={"build_py": BuildPyWithPlaybook, "sdist": SdistWithPlaybook})
