"""The chaos suite's parts: the emulated world with a request log (`world`), worker
subprocesses (`workers`), the seeded fault plan (`faults`), the run (`run`) and the checks made
afterwards from the database and the emulators' records (`checks`)."""
