"""Languages through Qt's translation system.

Source strings are English; ``zh_CN.qm`` (compiled from ``zh_CN.ts``) turns them into
Simplified Chinese, the default. Switching language at run time installs or removes the
translator; Qt then sends every widget a ``LanguageChange`` event and the views re-read
their texts.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QObject, QTranslator, Signal

log = logging.getLogger(__name__)

I18N_DIR = Path(__file__).resolve().parent
LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"


_installed: QTranslator | None = None  # one translator per process, whoever installed it


class Languages(QObject):
    """The application's current language; one per process."""

    changed = Signal(str)

    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        super().__init__()
        self._language = ""
        self.set(language)

    @property
    def current(self) -> str:
        return self._language

    def is_chinese(self) -> bool:
        return self._language == "zh_CN"

    def pick(self, zh: str, en: str) -> str:
        """The config text for the current language (hall data comes in both)."""
        return zh if self.is_chinese() or not en else en

    def set(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}; known: {', '.join(LANGUAGES)}")
        if language == self._language:
            return
        global _installed
        if _installed is not None:
            QCoreApplication.removeTranslator(_installed)
            _installed = None
        if language != "en":
            translator = QTranslator()
            if not translator.load(str(I18N_DIR / f"{language}.qm")):
                log.warning("translation %s.qm missing: run python -m ui.i18n.build", language)
            else:
                QCoreApplication.installTranslator(translator)
                _installed = translator
        QLocale.setDefault(QLocale(QLocale.Language.Chinese if language == "zh_CN" else "en"))
        self._language = language
        self.changed.emit(language)

    def toggle(self) -> None:
        self.set("en" if self.is_chinese() else "zh_CN")
