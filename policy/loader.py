"""Load, validate and hot-reload the policy file; every refusal names file:line:col.

The loader never leaves the agent without a decision: an invalid edit keeps the last valid
policy in force (and says why in `.error` and the log); no usable policy at all means an empty
policy, which denies every command.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policy.document import Policy
from policy.errors import PolicyError
from policy.forbidden import policy_violations

log = logging.getLogger(__name__)

SHIPPED_POLICY = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"
RECHECK_SECONDS = 1.0


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A SafeLoader that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node)
    return mapping


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _node_at(root: yaml.Node, loc: tuple[int | str, ...], *, at_key: bool) -> yaml.Node:
    """The YAML node a pydantic error location points at (as deep as the file goes);
    `at_key` points at the last key itself (for unknown keys) rather than its value."""
    node = root
    for index, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    node = key_node if at_key and index == len(loc) - 1 else value_node
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate policy YAML text; raise `PolicyError` with file:line:col and the problem."""
    if not text.strip():
        raise PolicyError("the policy file is empty; it must be a YAML mapping", file=source)
    loader = _UniqueKeyLoader(text)
    try:
        # one parse: the node tree locates errors, the document built from it is validated
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise PolicyError(
            f"invalid YAML: {exc.problem or exc}", file=source, line=line, column=column
        ) from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {exc}", file=source) from exc
    finally:
        loader.dispose()
    if root is None:
        raise PolicyError(
            "the policy file is empty (only comments); it must be a YAML mapping", file=source
        )
    if not isinstance(data, dict):
        raise PolicyError("the policy must be a YAML mapping of sections", file=source)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        unknown = first["type"] == "extra_forbidden"
        node = _node_at(root, tuple(first["loc"]), at_key=unknown)
        where = ".".join(str(p) for p in first["loc"])
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        message = first["msg"]
        if unknown:
            message = "unknown key (check the spelling against policies/README.md)"
        raise PolicyError(
            f"{where}: {message}{more}",
            file=source,
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1,
        ) from exc
    violations = policy_violations(data)
    if violations:
        loc, problem = violations[0]
        node = _node_at(root, loc, at_key=True)
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        raise PolicyError(
            f"{'.'.join(map(str, loc))}: {problem}; no policy can allow it (deny wins){more}",
            file=source,
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1,
        )
    return policy


def load_policy(path: Path) -> Policy:
    """Read and validate one policy file; raise `PolicyError` if it cannot be used."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read the policy file: {exc}", file=str(path)) from exc
    return parse_policy(text, str(path))


class PolicyLoader:
    """The policy in force, reloaded when its file changes (checked at most once a second).

    `path=None` means the shipped `policies/default.yaml`. A missing or invalid file at start
    gives an empty policy that denies every command; an invalid edit later keeps the last
    valid policy. Safe to share between threads.
    """

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path) if path is not None else SHIPPED_POLICY
        self._clock = clock
        self._lock = threading.Lock()
        self._policy = Policy()
        self._stamp: tuple[int, int, int] | None = None
        self._checked_at = float("-inf")
        self.error: str | None = None
        self.loaded = False
        with self._lock:
            self._refresh()

    def current(self) -> Policy:
        with self._lock:
            if self._clock() - self._checked_at >= RECHECK_SECONDS:
                self._refresh()
            return self._policy

    def _refresh(self) -> None:
        self._checked_at = self._clock()
        try:
            info = self.path.stat()
        except OSError as exc:
            if self._stamp is not None or self.error is None:
                self.error = f"{self.path}: policy file not found ({exc.strerror})"
                log.error("policy refused: %s; %s", self.error, self._keeping())
            self._stamp = None
            return
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            policy = load_policy(self.path)
        except PolicyError as exc:
            self.error = str(exc)
            log.error("policy refused: %s; %s", exc, self._keeping())
            return
        self._policy = policy
        self.loaded = True
        self.error = None
        log.info("policy loaded from %s", self.path)

    def _keeping(self) -> str:
        if self.loaded:
            return "keeping the last valid policy"
        return "no valid policy: every command is denied"
