"""Fake container registry speaking the OCI distribution API (Docker Registry HTTP API v2) on 127.0.0.1.

Built to behave like the real ones where the connector can tell the difference:
- documents are real shapes (image config with `config.Entrypoint/Cmd`, schema-2 / OCI manifests, a Docker
  manifest list and an OCI index with an attestation entry), served with `Docker-Content-Digest` and the
  manifest's media type; digests are the sha256 of the exact bytes served;
- a manifest list is refused (404 MANIFEST_UNKNOWN) to a client whose Accept header cannot take it;
- `auth="bearer"` (Docker Hub, GHCR): 401 + `WWW-Authenticate: Bearer realm,service,scope`, a token service
  at /token giving anonymous tokens for public repositories and requiring Basic auth for private ones; an
  unknown or private repository read with an anonymous token answers 401 UNAUTHORIZED, as Docker Hub does;
- `auth="basic"`: 401 + `WWW-Authenticate: Basic`; `auth="none"` (MCR): public, no auth;
- `auth="acr"`: bearer whose token service is /oauth2/token, with /oauth2/exchange turning an accepted
  Entra ID token into a refresh token (user 00000000-0000-0000-0000-000000000000);
- blob GETs redirect (307) to a "CDN" on another host name (`localhost`) that refuses any Authorization
  header, like Docker Hub's signed-URL storage.
Images come from tests/fixtures/registry/images.json. `requests` records each call; `fail_next` injects
5xx/429 answers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURE = Path(__file__).parent.parent / "fixtures" / "registry" / "images.json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
ACR_USER = "00000000-0000-0000-0000-000000000000"


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=3).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Repository:
    """Tags -> manifest digest; every document (manifest or blob) of the repository by digest."""

    private: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Fault:
    status: int
    count: int
    retry_after: str | None = None


class FakeRegistry:
    """One registry host. `start()` returns its base URL; `add_image` / `load_fixture` fill it."""

    def __init__(
        self,
        *,
        auth: str = "bearer",
        service: str = "registry.docker.io",
        users: dict[str, str] | None = None,
        entra_tokens: set[str] | None = None,
        cdn_host: str = "localhost",
    ) -> None:
        self.auth = auth
        self.service = service
        self.users = dict(users or {})
        self.entra_tokens = set(entra_tokens or ())
        self.cdn_host = cdn_host
        self.repositories: dict[str, Repository] = {}
        self.requests: list[tuple[str, str]] = []
        self.tokens_issued = 0
        self._tokens: dict[str, set[str]] = {}
        self._refresh_tokens: set[str] = set()
        self._faults: list[Fault] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ----- content -------------------------------------------------------------------------------------------------

    def add_image(
        self,
        repository: str,
        tag: str,
        platforms: list[dict[str, Any]],
        *,
        index: str | None = None,
        oci: bool = False,
        private: bool = False,
        attestation: bool = False,
    ) -> str:
        """Store an image; `platforms` are image configs (os, architecture, config, ...). Returns the tag's digest."""
        repo = self.repositories.setdefault(repository, Repository())
        repo.private = repo.private or private
        entries = []
        for config in platforms:
            digest, size = self._store_manifest(repo, config, oci or index == "oci")
            media = OCI_MANIFEST if (oci or index == "oci") else DOCKER_MANIFEST
            platform = {"architecture": config["architecture"], "os": config["os"]}
            if config.get("os.version"):
                platform["os.version"] = config["os.version"]
            entries.append({"mediaType": media, "size": size, "digest": digest, "platform": platform})
        if index is None:
            if len(entries) != 1:
                raise ValueError("an image without an index has exactly one platform")
            repo.tags[tag] = entries[0]["digest"]
            return entries[0]["digest"]
        if attestation:
            blob = b'{"_type":"https://in-toto.io/Statement/v0.1"}'
            repo.blobs[_digest(blob)] = blob
            entries.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "size": len(blob),
                    "digest": _digest(blob),
                    "platform": {"architecture": "unknown", "os": "unknown"},
                    "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
                }
            )
        media = OCI_INDEX if index == "oci" else DOCKER_LIST
        body = _canonical({"schemaVersion": 2, "mediaType": media, "manifests": entries})
        repo.manifests[_digest(body)] = (media, body)
        repo.tags[tag] = _digest(body)
        return _digest(body)

    def _store_manifest(self, repo: Repository, config: dict[str, Any], oci: bool) -> tuple[str, int]:
        config = {key: value for key, value in config.items() if key != "os.version"}
        layer = f"layer of {config.get('os')}/{config.get('architecture')} {json.dumps(config)}".encode()
        config.setdefault("rootfs", {"type": "layers", "diff_ids": [_digest(layer)]})
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        repo.blobs[_digest(config_bytes)] = config_bytes
        repo.blobs[_digest(layer)] = layer
        media = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": media,
            "config": {"mediaType": OCI_CONFIG if oci else DOCKER_CONFIG, "size": len(config_bytes)},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"
                    if oci
                    else "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": _digest(layer),
                }
            ],
        }
        manifest["config"]["digest"] = _digest(config_bytes)
        body = _canonical(manifest)
        repo.manifests[_digest(body)] = (media, body)
        return _digest(body), len(body)

    def load_fixture(self, registry: str, path: Path = FIXTURE) -> None:
        """Every image of `registry` (e.g. "docker.io") listed in the fixture file."""
        for image in json.loads(path.read_text())["images"]:
            if image["registry"] == registry:
                self.add_image(
                    image["repository"],
                    image["tag"],
                    image["platforms"],
                    index=image.get("index"),
                    oci=image.get("oci", False),
                    private=image.get("private", False),
                    attestation=image.get("attestation", False),
                )

    def fail_next(self, status: int, count: int = 1, retry_after: str | None = None) -> None:
        """The next `count` registry API calls answer `status` (TOOMANYREQUESTS for 429)."""
        self._faults.append(Fault(status, count, retry_after))

    # ----- lifecycle -----------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-registry", daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError("fake registry did not start within 15 s")
        return self.url

    def _run(self, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._cleanup(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)
        self._loop = self._thread = None

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> FakeRegistry:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- HTTP ----------------------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append((request.method, path))
        if path.startswith("/cdn/"):
            return self._cdn(request, path[len("/cdn/") :])
        if path in ("/token", "/oauth2/token"):
            return self._token(request)
        if path == "/oauth2/exchange":
            return await self._exchange(request)
        if not path.startswith("/v2/"):
            return web.Response(status=404)
        fault = self._take_fault()
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            code = "TOOMANYREQUESTS" if fault.status == 429 else "UNAVAILABLE"
            return _errors(fault.status, code, f"injected {fault.status}", headers=headers)
        rest = path[len("/v2/") :]
        if rest == "":
            denied = self._check_auth(request, None)
            return denied or web.json_response({})
        for kind in ("/manifests/", "/blobs/"):
            name, sep, reference = rest.rpartition(kind)
            if sep:
                denied = self._check_auth(request, name)
                if denied is not None:
                    return denied
                return (
                    self._manifest(request, name, reference) if kind == "/manifests/" else self._blob(name, reference)
                )
        return _errors(404, "NAME_INVALID", "invalid repository name")

    def _take_fault(self) -> Fault | None:
        if not self._faults:
            return None
        fault = self._faults[0]
        fault.count -= 1
        if fault.count <= 0:
            self._faults.pop(0)
        return fault

    def _challenge(self, repository: str | None) -> dict[str, str]:
        if self.auth == "basic":
            return {"WWW-Authenticate": 'Basic realm="Registry Realm"'}
        realm = f"{self.url}/oauth2/token" if self.auth == "acr" else f"{self.url}/token"
        value = f'Bearer realm="{realm}",service="{self.service}"'
        if repository:
            value += f',scope="repository:{repository}:pull"'
        return {"WWW-Authenticate": value}

    def _check_auth(self, request: web.Request, repository: str | None) -> web.Response | None:
        if self.auth == "none":
            return None if repository is None or repository in self.repositories else self._unknown(repository)
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if self.auth == "basic" and scheme == "Basic" and self._basic_ok(value):
            return None if repository is None or repository in self.repositories else self._unknown(repository)
        if self.auth != "basic" and scheme == "Bearer" and value in self._tokens:
            if repository is None:
                return None
            if repository in self._tokens[value]:
                return None if repository in self.repositories else self._unknown(repository)
            detail = [{"Type": "repository", "Name": repository, "Action": "pull"}]
            return _errors(401, "UNAUTHORIZED", "authentication required", detail, self._challenge(repository))
        return _errors(401, "UNAUTHORIZED", "authentication required", None, self._challenge(repository))

    def _unknown(self, repository: str) -> web.Response:
        return _errors(404, "NAME_UNKNOWN", "repository name not known to registry", {"name": repository})

    def _basic_ok(self, value: str) -> bool:
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        if user == ACR_USER and password in self._refresh_tokens:
            return True
        return bool(user) and self.users.get(user) == password

    def _token(self, request: web.Request) -> web.Response:
        scope = request.query.get("scope", "")
        if request.query.get("service") != self.service:
            return web.json_response({"details": "invalid service"}, status=400)
        header = request.headers.get("Authorization", "")
        authenticated = header.startswith("Basic ") and self._basic_ok(header[len("Basic ") :])
        if header and not authenticated:
            return web.json_response({"details": "incorrect username or password"}, status=401)
        granted: set[str] = set()
        parts = scope.split(":")
        if len(parts) == 3 and "pull" in parts[2].split(","):
            repo = self.repositories.get(parts[1])
            if repo is not None and (authenticated or not repo.private):
                granted.add(parts[1])
        token = secrets.token_urlsafe(24)
        self._tokens[token] = granted
        self.tokens_issued += 1
        body = {"token": token, "access_token": token, "expires_in": 300, "issued_at": "2026-01-01T00:00:00Z"}
        return web.json_response(body)

    async def _exchange(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "access_token" or form.get("access_token") not in self.entra_tokens:
            return _errors(401, "UNAUTHORIZED", "the Entra ID token is not accepted")
        refresh = secrets.token_urlsafe(24)
        self._refresh_tokens.add(refresh)
        return web.json_response({"refresh_token": refresh})

    def _manifest(self, request: web.Request, name: str, reference: str) -> web.Response:
        repo = self.repositories[name]
        digest = reference if reference.startswith("sha256:") else repo.tags.get(reference)
        if digest is None or digest not in repo.manifests:
            return _errors(404, "MANIFEST_UNKNOWN", "manifest unknown", {"Tag": reference})
        media, body = repo.manifests[digest]
        accept = request.headers.get("Accept", "")
        if media in (DOCKER_LIST, OCI_INDEX) and media not in accept:
            return _errors(404, "MANIFEST_UNKNOWN", "index found, but the Accept header does not support it")
        headers = {"Docker-Content-Digest": digest, "Content-Type": media}
        if request.method == "HEAD":
            return web.Response(status=200, headers={**headers, "Content-Length": str(len(body))})
        return web.Response(status=200, body=body, headers=headers)

    def _blob(self, name: str, digest: str) -> web.Response:
        if digest not in self.repositories[name].blobs:
            return _errors(404, "BLOB_UNKNOWN", "blob unknown to registry", digest)
        location = f"http://{self.cdn_host}:{self.port}/cdn/{name}/{digest}?sig={secrets.token_hex(8)}"
        return web.Response(status=307, headers={"Location": location})

    def _cdn(self, request: web.Request, rest: str) -> web.Response:
        if "Authorization" in request.headers:
            return web.Response(status=400, text="Only one auth mechanism allowed")
        name, _, digest = rest.rpartition("/")
        blob = self.repositories.get(name, Repository()).blobs.get(digest)
        if blob is None:
            return web.Response(status=404)
        return web.Response(status=200, body=blob, content_type="application/octet-stream")


def _errors(
    status: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"errors": [{"code": code, "message": message, "detail": detail}]}
    return web.json_response(body, status=status, headers=headers)
