"""The lowest layer: what every other package shares; it imports nothing of ours.

errors.py      `SteadfastError`, the one exception root
retry.py       `RetryPolicy` and the one `Retry-After` parser
secret.py      `Secret`, a value that never prints itself
scrubber.py    `Scrubber`: known values in every encoded form, plus detectors (forms.py,
               detectors.py); logfilter.py scrubs log records with it
"""
