"""Alerts: budgets, forecasts and anomalies evaluated into alerts, and the alerts sent.

budgets, forecast and anomalies read spend through queries; evaluate raises the alerts
once (store/alerts.py); links names the dashboard view behind one; transport sends one
message through Apprise; delivery sends each alert to its channels once, with retries and
a log. The modules import downwards only, in that order (pyproject's import-linter contract).
"""
