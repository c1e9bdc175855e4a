"""Claude on Amazon Bedrock and Google Vertex AI, as the Anthropic emulator serves them.

Both clouds carry the Messages API body with two differences (AWS "Anthropic Claude Messages
API" request reference; Anthropic "Claude on Vertex AI"): the model is in the URL, not the body,
and `anthropic_version` is in the body and must be the cloud's own value. Each wraps errors its
own way. The conversation itself is the emulator's: the same scripts answer every provider,
and a job keeps its state when a step moves from one provider to another.

Bedrock runtime  `POST /model/{modelId}/invoke`
    body `anthropic_version: bedrock-2023-05-31`, no `model`, no `stream` (those are
    "extraneous key" errors); SigV4 `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/
    region/bedrock/aws4_request, SignedHeaders=..., Signature=...` with `x-amz-date` and
    `x-amz-content-sha256` equal to the body's SHA-256 (the emulator checks the form, the scope
    and the body hash; it cannot know the secret key). Errors: `{"message": ...}` with the
    exception name in `x-amzn-ErrorType` (ThrottlingException 429, ValidationException 400,
    AccessDeniedException 403, ServiceUnavailableException 503, InternalServerException 500).

Vertex AI  `POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/
{model}:rawPredict`
    body `anthropic_version: vertex-2023-10-16`, no `model`; `Authorization: Bearer` with a
    token this emulator issued at `POST /token` (an OAuth 2.0 token endpoint in Google's shape).
    A service-account key file whose `token_uri` points here (`service_account_file`) keeps
    google-auth's standard ADC path on loopback; authorized-user files cannot, since google-auth
    always sends those to Google's own endpoint. Errors: Google's `{"error": {"code", "message", "status"}}`; an
    overloaded model (529) passes Anthropic's own error body through.

Scenario keys (`anthropic:` section): `bedrock: {access_key: AKID, region: us-east-1}` and
`vertex: {project: p, region: us-east5}`, each optional: set, a request for another access
key, project or region is refused as the cloud would refuse it.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from emulators.base import Request, Response

if TYPE_CHECKING:
    from emulators.anthropic import AnthropicEmulator

BEDROCK_VERSION = "bedrock-2023-05-31"
VERTEX_VERSION = "vertex-2023-10-16"
BEDROCK_PATH = r"/model/(?P<model>[^/]+)/invoke"
VERTEX_PATH = (
    r"/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)"
    r"/publishers/anthropic/models/(?P<model>[^/:]+):rawPredict"
)
_BEDROCK = re.compile(f"^{BEDROCK_PATH}$")
_VERTEX = re.compile(f"^{VERTEX_PATH}$")
_SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)

_BEDROCK_ERRORS = {
    400: (400, "ValidationException"),
    401: (403, "AccessDeniedException"),  # Bedrock answers bad credentials with 403
    403: (403, "AccessDeniedException"),
    404: (404, "ResourceNotFoundException"),
    408: (408, "ModelTimeoutException"),
    413: (400, "ValidationException"),
    429: (429, "ThrottlingException"),
    500: (500, "InternalServerException"),
    503: (503, "ServiceUnavailableException"),
    504: (503, "ServiceUnavailableException"),
    529: (503, "ServiceUnavailableException"),
}
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class CloudRoutes:
    """The Bedrock, Vertex and token routes of one `AnthropicEmulator`."""

    def __init__(self, emulator: AnthropicEmulator, section: dict[str, Any]) -> None:
        self.emulator = emulator
        self.bedrock: dict[str, Any] = dict(section.get("bedrock") or {})
        self.vertex: dict[str, Any] = dict(section.get("vertex") or {})
        self.tokens: set[str] = set()  # access tokens issued at /token
        self.signed_by: list[str] = []  # access key ids of the SigV4 requests, in order
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        emulator.route("POST", BEDROCK_PATH, self.bedrock_invoke)
        emulator.route("POST", VERTEX_PATH, self.vertex_raw_predict)
        emulator.route("POST", "/token", self.token)

    # --- Bedrock --------------------------------------------------------------------------
    def bedrock_invoke(self, request: Request) -> Response:
        refused = self._sigv4_refusal(request)
        if refused is not None:
            return refused
        return self._converse(request, BEDROCK_VERSION, ("model", "stream"))

    def _sigv4_refusal(self, request: Request) -> Response | None:
        auth = _SIGV4.match(request.headers.get("authorization", ""))
        if auth is None:
            return Response(403, {"message": "Missing Authentication Token"})
        signed = auth["signed"].split(";")
        date = request.headers.get("x-amz-date", "")
        if "host" not in signed or "x-amz-date" not in signed or not date.startswith(auth["date"]):
            return Response(403, {"message": "The request signature we calculated does not match"})
        if auth["service"] != "bedrock":
            return Response(403, {"message": f"Credential should be scoped to correct service: "
                                             f"'bedrock', not '{auth['service']}'"})
        want_key, want_region = self.bedrock.get("access_key"), self.bedrock.get("region")
        if want_key is not None and auth["key"] != want_key:
            return Response(
                403, {"message": "The security token included in the request is invalid."}
            )
        if want_region is not None and auth["region"] != want_region:
            return Response(403, {"message": f"Credential should be scoped to a valid region, "
                                             f"not '{auth['region']}'"})
        claimed = request.headers.get("x-amz-content-sha256")
        if claimed is not None and claimed != hashlib.sha256(request.body).hexdigest():
            return Response(400, {"message": "The provided request body hash does not match"})
        with self._lock:
            self.signed_by.append(auth["key"])
        return None

    # --- Vertex ---------------------------------------------------------------------------
    def vertex_raw_predict(self, request: Request) -> Response:
        bearer = request.headers.get("authorization", "")
        token = bearer.removeprefix("Bearer ").strip()
        with self._lock:
            known = token in self.tokens
        if not bearer.startswith("Bearer ") or not known:
            return Response(401, google_error(401, "Request had invalid authentication "
                                                   "credentials. Expected OAuth 2 access token"))
        for key in ("project", "region"):
            want = self.vertex.get(key)
            if want is not None and request.params[key] != want:
                return Response(
                    404, google_error(404, f"{key} {request.params[key]} is not available")
                )
        return self._converse(request, VERTEX_VERSION, ("model",))

    def token(self, request: Request) -> Response:
        """Google's OAuth 2.0 token endpoint: a refresh-token grant (authorized-user files) or
        a JWT-bearer grant (service-account files) gets a short-lived access token."""
        form = request.form()
        grant = form.get("grant_type", "")
        if grant == "refresh_token" and form.get("refresh_token"):
            pass
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            claims = _jwt_claims(form.get("assertion", ""))
            if claims is None or not claims.get("iss") or not claims.get("aud"):
                return Response(
                    400, {"error": "invalid_grant", "error_description": "Invalid JWT"}
                )
        else:
            return Response(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        access = f"ya29.emulated-{next(self._ids)}"
        with self._lock:
            self.tokens.add(access)
        return Response(
            200,
            {"access_token": access, "expires_in": 3599, "token_type": "Bearer",
             "scope": "https://www.googleapis.com/auth/cloud-platform"},
        )

    # --- shared ---------------------------------------------------------------------------
    def _converse(self, request: Request, version: str, extraneous: tuple[str, ...]) -> Response:
        try:
            body = request.json()
        except ValueError:
            return Response(400, {"message": "Malformed input request: not JSON"})
        if not isinstance(body, dict):
            return Response(400, {"message": "Malformed input request: not a JSON object"})
        for key in extraneous:
            if key in body:
                return Response(400, {"message": f"Malformed input request: extraneous key "
                                                 f"[{key}] is not permitted"})
        if body.get("anthropic_version") != version:
            return Response(400, {"message": f"anthropic_version: must be {version}, got "
                                             f"{body.get('anthropic_version')!r}"})
        body = {k: v for k, v in body.items() if k != "anthropic_version"}
        body["model"] = unquote(request.params["model"])
        return self.emulator.converse(body)

    def shaped(self, request: Request, response: Response) -> Response:
        """An error answered on a cloud path, in that cloud's own error shape."""
        if response.status < 400:
            return response
        message = _message_of(response.body)
        if _BEDROCK.match(request.path):
            status, name = _BEDROCK_ERRORS.get(response.status, (500, "InternalServerException"))
            if response.status == 413:
                message = f"Input is too long for requested model. {message}"
            headers = {
                k: v for k, v in response.headers.items() if k.lower() == "retry-after"
            }
            headers["x-amzn-ErrorType"] = (
                f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"
            )
            return Response(status, {"message": message}, headers)
        if _VERTEX.match(request.path) and response.status != 529:
            return Response(
                response.status, google_error(response.status, message), dict(response.headers)
            )
        return response


def _jwt_claims(assertion: str) -> dict[str, Any] | None:
    """The claims of a signed JWT (`header.claims.signature`), without checking the signature:
    the emulator has no registry of service-account public keys."""
    parts = assertion.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def service_account_file(path: Path, token_uri: str, project: str) -> Path:
    """Write a Google service-account key file (a fresh RSA key) whose `token_uri` is the
    emulator's: `GOOGLE_APPLICATION_CREDENTIALS=path` then takes google-auth's ordinary ADC
    path, signing a JWT and exchanging it here, never at Google."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": hashlib.sha1(pem.encode()).hexdigest(),
        "private_key": pem,
        "client_email": f"steadfast@{project}.iam.gserviceaccount.com",
        "client_id": "100000000000000000000",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    path.chmod(0o600)
    return path


def google_error(status: int, message: str) -> dict[str, Any]:
    return {
        "error": {"code": status, "message": message, "status": _GOOGLE_STATUS.get(status, "UNKNOWN")}
    }


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if body.get("message"):
            return str(body["message"])
    return "error"
