"""Reporting: the figures (``stats``) over reporting periods (``periods``)
that the dashboard, the six-monthly report, the exports and the JSON API
share, so each figure has one definition."""
