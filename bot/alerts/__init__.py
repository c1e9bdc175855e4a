"""Alertmanager as a ticket source: its webhook (`POST /alerts/alertmanager`) turns each firing
alert into a job, routed by the policy's `alert_routes`. See docs/alerts-and-paging.md."""
