"""The voice-guided kiosk (适老化): each step of taking a ticket is also spoken, for citizens
who do not read the screen easily — "已读取身份证，请选择办理事项" when a card is read, "您的
号码是 A 零 一 二，请取走号票，留意叫号" when the number is shown. Off unless the kiosk is
started with ``--voice-guide``; it speaks through the kiosk's own voice, not the hall's."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject

from ui.presenters.kiosk import HomeVM, KioskPresenter, SlipVM
from ui.voice import Announcer, Line, number_clips


class KioskVoiceGuide(QObject):
    def __init__(self, presenter: KioskPresenter, voice: Announcer) -> None:
        super().__init__()
        self.voice = voice
        self._citizen: str | None = None
        presenter.home_changed.connect(self._home)
        presenter.ticket_shown.connect(self._ticket)

    def _home(self, vm: HomeVM) -> None:
        if vm.citizen and vm.citizen != self._citizen:
            text = QCoreApplication.translate(
                "VoiceGuide", "Your ID card is read. Please choose a service"
            )
            self.voice.say(Line(text, ("card_read",), "", 0, self.voice.language()))
        self._citizen = vm.citizen

    def _ticket(self, vm: SlipVM) -> None:
        language = self.voice.language()
        text = QCoreApplication.translate(
            "VoiceGuide", "Your number is {number}. Please take your ticket"
        ).replace("{number}", vm.number)
        clips = ("your_number", *number_clips(vm.number, language), "take_slip")
        self.voice.say(Line(text, clips, vm.number, 0, language))
