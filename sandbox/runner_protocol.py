"""The worker ↔ runner wire protocol: one request and one response per Unix-socket connection.

Framing: a 4-byte big-endian unsigned length, then that many bytes of UTF-8 JSON (one object).
Frames larger than `MAX_FRAME_BYTES` are a protocol error; so is anything that is not exactly
one of the messages below (unknown keys included). Either side closes the connection after
the response.

    request   {"version": 1, "op": "run", "command": str, "tenant": str | null,
               "argv": [[str, ...], ...], "merge_stderr": [bool, ...]}
              {"version": 1, "op": "describe"}
    response  {"version": 1, "ok": true, "result": {...}}      run: `ExecResult` fields
                                                               describe: the runner's report
              {"version": 1, "ok": false, "error": {"kind": "refused" | "protocol" | "internal",
                                                   "message": str}}

`run` carries the command text *and* the argv the worker's gate produced from it: the runner
judges the text again with its own policy and runs only when its verdict allows the very
same argv. Any disagreement, malformed frame or unknown field is refused (fail closed).
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.errors import SandboxError

PROTOCOL_VERSION: Literal[1] = 1
MAX_FRAME_BYTES = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


class ProtocolError(SandboxError):
    """A frame or message that does not follow the runner protocol."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class RunRequest(_Message):
    version: Literal[1] = PROTOCOL_VERSION
    op: Literal["run"] = "run"
    command: str = Field(max_length=1_000_000)
    tenant: str | None = None
    argv: list[list[str]]
    merge_stderr: list[bool]


class DescribeRequest(_Message):
    version: Literal[1] = PROTOCOL_VERSION
    op: Literal["describe"] = "describe"


class ErrorBody(_Message):
    kind: Literal["refused", "protocol", "internal"]
    message: str


class Response(_Message):
    version: Literal[1] = PROTOCOL_VERSION
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None


Request = RunRequest | DescribeRequest


def send_frame(sock: socket.socket, message: BaseModel) -> None:
    body = message.model_dump_json().encode()
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"message of {len(body)} bytes exceeds the {MAX_FRAME_BYTES}-byte cap")
    sock.sendall(_HEADER.pack(len(body)) + body)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise ProtocolError(f"connection closed after {len(chunks)} of {size} bytes")
        chunks += chunk
    return bytes(chunks)


def recv_json(sock: socket.socket) -> dict[str, Any]:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {size} bytes exceeds the {MAX_FRAME_BYTES}-byte cap")
    try:
        data = json.loads(_recv_exact(sock, size).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"frame is not UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("frame is not a JSON object")
    return data


def parse_request(data: dict[str, Any]) -> Request:
    try:
        if data.get("op") == "run":
            return RunRequest.model_validate(data)
        if data.get("op") == "describe":
            return DescribeRequest.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(f"malformed {data.get('op')} request: {exc}") from exc
    raise ProtocolError(f"unknown op {data.get('op')!r} (expected 'run' or 'describe')")


def parse_response(data: dict[str, Any]) -> Response:
    try:
        response = Response.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(f"malformed response: {exc}") from exc
    if response.ok == (response.result is None) or response.ok == (response.error is not None):
        raise ProtocolError("a response carries exactly one of result (ok) and error")
    return response
