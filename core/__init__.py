"""Lowest layer: pieces every other package may import (secrets, scrubbing); imports nothing of ours."""
