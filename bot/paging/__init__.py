"""Paging on-call through PagerDuty or Opsgenie, as outbox rows (`rows`) that the elected
outbox sender delivers (`sender`)."""
