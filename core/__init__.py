"""The lowest layer: what every other package shares and nothing here imports from them.

errors.py    `SteadfastError`, the one exception root
retry.py     `RetryPolicy` and the one `Retry-After` parser
"""
