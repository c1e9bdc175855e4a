"""An opaque secret value: printing, logging or serialising it shows only its name."""

from __future__ import annotations


class Secret:
    """Hold a secret value. `str()`/`repr()` show the key name; `reveal()` is the one way out,
    so every place that uses the value is greppable."""

    __slots__ = ("_value", "name")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name!r})"

    def __str__(self) -> str:
        return f"[secret:{self.name}]"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (self.name, self._value) == (other.name, other._value)

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self) -> tuple[object, ...]:
        # pickling would carry the value out of the process boundary unnoticed
        raise TypeError("Secret values cannot be pickled")
