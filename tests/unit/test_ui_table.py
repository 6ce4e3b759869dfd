"""The dashboard's service table, driven in process by Textual's test pilot with status documents
written by hand: what a cell shows for values the real-terminal tests meet only by chance."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

textual = pytest.importorskip("textual")

from corral.dashboard import Dashboard  # noqa: E402
from corral.model import ProjectSpec  # noqa: E402


class StillDashboard(Dashboard):
    """Shows only the documents a test hands it: no status reads, no log pane."""

    def refresh_status(self) -> None:
        pass

    def _show_log(self) -> None:
        pass


def document(pid: int) -> dict[str, Any]:
    service = {"name": "worker", "state": "ready", "pid": pid, "members": [], "restarts": 0}
    return {"source": "supervisor", "services": [service]}


def screen_row(app: Dashboard, name: str) -> list[str]:
    table = app.query_one("DataTable")
    lines = [strip.text for strip in table.render_lines(table.region.reset_offset)]
    found = [line.split() for line in lines if line.split()[:1] == [name]]
    return found[0] if found else []


@pytest.mark.timeout(30)
def test_a_pid_with_more_digits_is_shown_whole(tmp_path: Path) -> None:
    """pids wrap (pid_max 32768 is common): a restart can turn pid 9999 into 10000."""

    async def scenario() -> list[list[str]]:
        app = StillDashboard(ProjectSpec("p", tmp_path, "id", (), ()), None)
        async with app.run_test(size=(80, 24)) as pilot:
            app._show(document(9999))
            await pilot.pause()
            first = screen_row(app, "worker")
            app._show(document(1234567))
            await pilot.pause()
            return [first, screen_row(app, "worker")]

    first, second = asyncio.run(scenario())
    assert first[:3] == ["worker", "ready", "9999"]
    assert second[:3] == ["worker", "ready", "1234567"]
