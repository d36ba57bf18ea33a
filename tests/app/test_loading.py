"""`runbook run` paints the steps from the raw runbook, then opens the run.

While the run loads nothing can be acted on, except that `ctrl+r` (or the key
the settings map it to) is remembered and the rollback question opens as soon
as the run has loaded; `q` leaves, and a run that opened after the app closed
is handed back to be closed. A run that fails to open closes the app with the
error for the command line. Real pilots against moto's server, a real process
for what the first paint imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from textual.widgets import Static

from runbook.loader import RunbookError
from runbook.outline import Outline, read_outline
from runbook.runtime import Runtime
from screens.app import RunbookApp, build_app
from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.loading import Loading, LoadingScreen
from screens.overview import OverviewScreen
from screens.settings_file import raw_keymap
from tests.support.modules import imported
from tests.support.pilot import settle, within
from tests.support.rollbackworld import flipped_world

ROOT = Path(__file__).resolve().parents[2]

# What `runbook run` imports before its first paint on a terminal.
FIRST_PAINT = (
    "runbook.cli.main",
    "runbook.cli.app",
    "runbook.outline",
    "screens.app",
    "screens.loading",
    "screens.settings_file",
)
# Each costs more than the first paint may: the models, the engine, AWS's SDK.
NOT_BEFORE_FIRST_PAINT = (
    "pydantic",
    "runbook.model",
    "runbook.state",
    "runbook.loader",
    "runbook.runtime",
    "runbook.engine",
    "runbook.registry",
    "botocore",
    "boto3",
)


def test_the_first_paint_imports_no_model_and_no_engine() -> None:
    probe = f"import json, sys\nfor name in {FIRST_PAINT!r}: __import__(name)\n"
    probe += "print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    modules = json.loads(done.stdout)
    early = {name: imported(modules, name)[:3] for name in NOT_BEFORE_FIRST_PAINT}
    assert not any(early.values()), early
    assert "textual.app" in modules


class Opening:
    """`open_run` for the app, held until the test lets it go (or failing with `error`)."""

    def __init__(self, path: Path, error: BaseException | None = None) -> None:
        self.path = path
        self.error = error
        self.go = threading.Event()

    def __call__(self) -> Runtime:
        assert self.go.wait(30), "the test never let the run open"
        if self.error is not None:
            raise self.error
        return Runtime.open(self.path)


def outline_of(path: Path) -> Outline:
    outline = read_outline(path)
    assert outline is not None
    return outline


def loading_app(
    tmp_path: Path, keymap: dict[str, str] | None = None, error: BaseException | None = None
) -> tuple[RunbookApp, Opening, Path]:
    """The app as `runbook run` builds it on a terminal, on a flipped run held from opening."""
    world = flipped_world(tmp_path, with_pool=False)
    opening = Opening(world.path, error)
    app = build_app(loading=Loading(outline_of(world.path), opening, keymap or {}))
    return app, opening, world.path


def shown(app: object) -> str:
    screen = app.screen  # type: ignore[attr-defined]
    return "\n".join(str(s.render()) for s in screen.query(Static))


async def test_the_steps_first_then_the_overview_and_a_remembered_rollback(
    moto_server: str, tmp_path: Path
) -> None:
    app, opening, path = loading_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LoadingScreen)
        text = shown(app)
        for step in outline_of(path).steps:
            assert step.title in text
        assert "REHEARSAL" in text and "Loading the run" in text
        await pilot.press("question_mark")  # nothing but rollback and quit while loading
        await pilot.pause()
        assert isinstance(app.screen, LoadingScreen)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.rollback_asked
        assert "Rollback asked: the question opens" in shown(app)
        opening.go.set()
        asked = await within(pilot, 20, lambda: isinstance(app.screen, ConfirmScreen))
        assert asked, type(app.screen).__name__
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "rollback"
        assert [type(s) for s in app.screen_stack[1:-1]] == [OverviewScreen]  # loading gone
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("question_mark")  # loaded: every key again
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
    assert app.runtime is not None and app.opened_runtime() is app.runtime
    app.runtime.close()


async def test_a_remapped_rollback_key_is_remembered_while_loading(
    moto_server: str, tmp_path: Path, monkeypatch: object
) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('[keymap]\nrollback = "ctrl+b"\n')
    monkeypatch.setenv("RUNBOOK_SETTINGS", str(settings))  # type: ignore[attr-defined]
    app, opening, _path = loading_app(tmp_path, raw_keymap())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "ctrl+b asks to roll DNS back" in shown(app)
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert app.rollback_asked
        opening.go.set()
        assert await within(pilot, 20, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await settle(pilot)
    assert app.runtime is not None
    app.runtime.close()


async def test_a_run_that_does_not_open_closes_the_app_with_its_error(
    moto_server: str, tmp_path: Path
) -> None:
    error = RunbookError(["runbook.toml:9:14: accounts.target.account_id: bad"])
    app, opening, _path = loading_app(tmp_path, error=error)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        opening.go.set()
        await within(pilot, 20, lambda: app.return_code is not None)
    assert app.return_code == 2
    assert app.load_error is error
    assert app.runtime is None and app.opened_runtime() is None


async def test_quitting_while_loading_hands_back_the_run_opened_after(
    moto_server: str, tmp_path: Path
) -> None:
    app, opening, _path = loading_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.runtime is None  # it closed before the run opened
    opening.go.set()
    runtime = app.opened_runtime()  # waits for the open that had begun
    assert runtime is not None and runtime.audit.path.exists()
    runtime.close()


async def test_a_rollback_remapped_onto_quit_is_not_honoured_while_loading(
    moto_server: str, tmp_path: Path
) -> None:
    """`rollback = "q"` is refused once the settings are checked; until then `q` must
    still leave, not ask for a rollback the operator never meant."""
    app, opening, _path = loading_app(tmp_path, {"rollback": "q"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "ctrl+r asks to roll DNS back" in shown(app)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.rollback_asked
    opening.go.set()
    runtime = app.opened_runtime()
    assert runtime is not None
    runtime.close()
