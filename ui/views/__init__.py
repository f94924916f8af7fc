"""Screens: they draw view-models and forward clicks; no hall rules live here."""
