"""Incidents: the one service layer that the API, the web app and paging callbacks all use."""
