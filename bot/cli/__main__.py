"""`python -m bot.cli`: the same as the `steadfast` console script."""

from bot.cli import main

main()
