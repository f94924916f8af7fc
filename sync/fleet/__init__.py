"""The central application's fleet side: groups of halls, validated pushes, fleet health
(report, alarms, Prometheus metrics) and the PostgreSQL store.

The node's own sync lives beside it in ``sync/``; this package is only ever run by the
central platform (``hall-agent central ...``).
"""
