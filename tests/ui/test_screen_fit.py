"""Every screen fits every screen size it is sold for, with the sample hall and a city hall of
40 services and 30 windows: nothing outside the screen, no text cut or wrapped into a
column, and the display's texts no smaller than the hall's rules (latest call ≥ 1/6 of the
screen height, recent calls, windows and waiting counts ≥ 1/16)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from PySide6.QtWidgets import QApplication

from agent import commands as c
from agent.alarms import ALL_SERVICES, AlarmRules
from agent.calendar import Closure, HallCalendar
from agent.config import sample_config
from ui.demo import big_hall
from ui.fit import misfits

pytestmark = pytest.mark.qt

SIZES = {
    "kiosk": [(1080, 1920), (1920, 1080), (1280, 1024)],
    "display": [(1920, 1080), (3840, 2160), (1080, 1920)],
    "window": [(1366, 768), (1920, 1080)],
}


#: every service with someone waiting raises an alarm, on the display too (a busy large hall)
ALARMS = AlarmRules(waiting_count={ALL_SERVICES: 1}, on_display=["waiting_count"])


@pytest.fixture(params=["sample", "city"])
def hall(request, make_hall):
    """A running hall (all screens, fake devices) with tickets issued and windows busy: a
    bundle ticket at a window, served with help; a service closed today; alarms raised."""
    config = big_hall(40, 30) if request.param == "city" else None
    services = (config or sample_config()).services
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    closure = Closure(
        start=today, services=[services[-1].code], name_zh="系统升级", name_en="Upgrade"
    )
    calendar = HallCalendar(closures=[closure])
    app = make_hall(hall_config=config, hall_changes={"alarms": ALARMS, "calendar": calendar})
    runtime = app.core.runtime
    bundle = app.node.hall.bundles[0]
    runtime.execute(c.IssueTicket(bundle.services[0], bundle=bundle.code))
    for service in app.node.hall.services:
        if service.code != services[-1].code:
            runtime.execute(c.IssueTicket(service.code))
    first = app.node.hall.windows_serving(bundle.services[0])[0]
    for i, number in enumerate(app.windows):
        if i % 4 == 3 and number != first:
            runtime.execute(c.PauseWindow(number, "break"))
            continue
        runtime.execute(c.CallNext(number))
        if i % 4 == 1:
            runtime.execute(c.StartService(number))
    ticket = runtime._query(lambda s: s.state.tickets[s.state.windows[first].current])
    runtime.execute(c.MarkAssisted(first, "proxy", "S-0042"))
    assert ticket.bundle == bundle.code, "the bundle ticket is at a window"
    return app


def settle(qtbot, view, size: tuple[int, int]) -> None:
    view.resize(*size)
    view.show()
    qtbot.waitUntil(lambda: view.size().toTuple() == size, timeout=3000)
    qtbot.wait(50)  # queued refreshes and layout passes


def assert_fits(view, size, rules=()) -> None:
    QApplication.processEvents()  # texts set by the last refresh are laid out
    assert view.size().toTuple() == size, "the screen's content pushed it bigger"
    problems = misfits(view, rules)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize("size", SIZES["kiosk"], ids=lambda s: "x".join(map(str, s)))
def test_kiosk_fits(hall, qtbot, size, language):
    hall.languages.set(language)
    kiosk, view = hall.kiosk, hall.kiosk_view
    settle(qtbot, view, size)
    for large in (False, True):
        if large:
            view.toggle_large_font()
            qtbot.wait(50)
        kiosk.idle()
        qtbot.wait(50)
        assert_fits(view, size)
        if view.page_row.isVisible():
            view.next_button.click()
            assert_fits(view, size)
        view.search_button.click()  # the letter keys take room from the tiles
        for letter in "SB":
            view.letter_buttons[letter].click()
        assert_fits(view, size)
        view.search_button.click()
        if view.category_bar.cells:
            view.category_bar.cells[-1].click()
            assert_fits(view, size)
        code = hall.node.hall.services[0].code
        kiosk.take(code)
        qtbot.waitUntil(lambda: view.pages.currentWidget() is view.ticket_page, timeout=3000)
        assert_fits(view, size)
        kiosk.guide(code)
        assert_fits(view, size)
        kiosk.show_progress(view.number.text())
        assert_fits(view, size)


@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize("size", SIZES["display"], ids=lambda s: "x".join(map(str, s)))
def test_display_fits_and_is_readable_from_afar(hall, qtbot, size, language):
    hall.languages.set(language)
    view = hall.display_view
    settle(qtbot, view, size)
    qtbot.waitUntil(lambda: view.latest_number.text() != "—", timeout=3000)
    height = size[1]
    big, row = math.ceil(height / 6), math.ceil(height / 16)

    def rules():  # the cells on screen now (a refresh, e.g. an alarm raised, makes new ones)
        QApplication.processEvents()
        found = [(view.latest_number, big)]
        found += [(cell.number, row) for cell in view.recent.visible_cells()]
        found += [(cell, row) for cell in view.windows.pager.visible_cells()]
        found += [(cell, row) for cell in view.waiting.pager.visible_cells()]
        return found

    assert view.windows.pager.visible_cells() and view.waiting.pager.visible_cells()
    for _page in range(view.windows.pager.pages):
        assert_fits(view, size, rules())
        view.rotate()
        qtbot.wait(20)  # the page mark's new text is laid out
    shown = view.windows.pager.per_page * view.windows.pager.pages
    assert shown >= len(hall.windows), "every window is on some page"


@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize("size", SIZES["window"], ids=lambda s: "x".join(map(str, s)))
def test_window_station_fits(hall, qtbot, size, language):
    hall.languages.set(language)
    for number in list(hall.window_views)[:4]:
        view = hall.window_views[number]
        settle(qtbot, view, size)
        assert_fits(view, size)


def test_the_largest_hall_fits(make_hall, qtbot):
    """120 services and 40 windows (two-letter prefixes) on the portrait kiosk and the
    1080p display: paged, nothing cut, the display's rules kept."""
    app = make_hall(hall_config=big_hall(120, 40))
    runtime = app.core.runtime
    for service in app.node.hall.services:
        runtime.execute(c.IssueTicket(service.code))
    for number in list(app.windows)[:10]:
        runtime.execute(c.CallNext(number))
    kiosk, display = app.kiosk_view, app.display_view
    settle(qtbot, kiosk, (1080, 1920))
    assert len(kiosk.tiles.cells) == 120 + 1 and kiosk.tiles.pages > 10  # and the bundle
    assert_fits(kiosk, (1080, 1920))
    kiosk.tiles.set_page(kiosk.tiles.pages - 1)
    assert_fits(kiosk, (1080, 1920))
    settle(qtbot, display, (1920, 1080))
    qtbot.waitUntil(lambda: display.latest_number.text() != "—", timeout=3000)
    rules = [(display.latest_number, 180)]
    rules += [(cell, 68) for cell in display.windows.pager.visible_cells()]
    rules += [(cell, 68) for cell in display.waiting.pager.visible_cells()]
    assert_fits(display, (1920, 1080), rules)
    assert len(display.window_cells()) == 40
