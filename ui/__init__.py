"""The hall's screens: self-service kiosk, window station, hall display (PySide6).

Views only draw view-models and forward clicks; presenters talk to the core through
:class:`ui.core.CoreClient` (commands in, events out, re-emitted as Qt signals).
"""
