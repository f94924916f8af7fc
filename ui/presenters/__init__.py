"""View-models and presenters: the only place in ui/ that talks to the core."""
