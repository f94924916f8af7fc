"""A large hall's kiosk: categories, paging and search by pinyin initials, tiles kept large."""

from __future__ import annotations

import pytest

from ui.demo import big_hall
from ui.search import matches, search_keys

pytestmark = pytest.mark.qt


def shown(view) -> list[str]:
    return [tile.name.text() for tile in view.tiles.cells]


def test_pinyin_initials_and_english_find_a_service():
    keys = search_keys("社保卡申领", "Social security card")
    assert matches("SBK", keys) and matches("sb", keys) and matches("", keys)
    assert matches("SSC", keys) and matches("card", keys)
    assert not matches("HK", keys)


def test_categories_search_and_pages(make_hall, qtbot):
    hall = make_hall(hall_config=big_hall(40, 30))
    view = hall.kiosk_view
    view.resize(1080, 1920)
    view.show()
    qtbot.waitUntil(lambda: len(view.tiles.cells) == 41, timeout=3000)  # and the bundle
    assert view.tiles.pages > 1 and view.page_row.isVisible()
    first_page = [tile.name.text() for tile in view.tiles.visible_cells()]
    view.next_button.click()
    assert [tile.name.text() for tile in view.tiles.visible_cells()] != first_page
    assert [b.text() for b in view.category_bar.cells[:3]] == ["全部", "社保医保", "户籍证件"]
    assert len(view.category_bar.cells) == 9  # 全部 and 8 categories, every one reachable
    assert all(b.isVisible() for b in view.category_bar.cells)
    view.category_bar.cells[2].click()
    assert shown(view) == [
        "户口迁移",
        "身份证办理",
        "居住证",
        "出入境证件",
        "人才引进落户",
        "生育登记",
    ]
    assert view.tiles.page == 0
    view.category_bar.cells[0].click()  # 全部
    view.search_button.click()
    for letter in "SBK":
        view.letter_buttons[letter].click()
    assert shown(view) == ["社保卡申领"] and view.query.text() == "查找：SBK"
    view.backspace_button.click()
    view.letter_buttons["X"].click()  # SBX: nothing
    assert shown(view) == [] and view.no_match.isVisible()
    for _ in range(3):
        view.backspace_button.click()
    for letter in "XSE":  # 新生儿出生一件事: the bundle is found like a service
        view.letter_buttons[letter].click()
    assert shown(view) == ["新生儿出生一件事 · 一次办"]
    view.search_button.click()  # closing the search shows every service again
    assert len(shown(view)) == 41
    view.search_button.click()
    for letter in "HK":
        view.letter_buttons[letter].click()
    view.tiles.cells[0].click()  # the tile found takes a ticket
    qtbot.waitUntil(lambda: view.pages.currentWidget() is view.ticket_page, timeout=3000)
    assert view.slip_service.text() == "户口迁移"
    hall.kiosk.idle()
    qtbot.waitUntil(lambda: len(shown(view)) == 41, timeout=3000)  # home forgets the search
