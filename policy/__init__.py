"""The policy admins own: its document model, its command rules and its loader.

document.py   the policy document (pydantic)
rules.py      its `commands` section
loader.py     load/validate YAML with file:line:col errors; hot reload (`PolicyLoader`)
forbidden.py  the built-in mutating verbs and flags no policy can allow (deny wins)

`sandbox/`, `integrations/` and `bot/` depend on this package; it depends on none of them.
"""
