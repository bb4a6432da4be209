"""A stand-in for the Hugging Face hub on 127.0.0.1, answering as the hub does (status codes and the X-Error-Code /
X-Error-Message headers huggingface_hub reads), so the exporter's download and its errors are tested offline.

Repositories: `test/tiny` (public: serves the files of a folder), `test/gated` (gated: readable with the token
GOOD_TOKEN only; the token NOT_GRANTED is valid but has not been granted access); any other id does not exist. The
token BAD_TOKEN is refused (401) everywhere, as the hub refuses an invalid one.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

GOOD_TOKEN = "hf_fakehub_good_0123456789"
NOT_GRANTED = "hf_fakehub_not_granted_0123456789"
BAD_TOKEN = "hf_fakehub_bad_0123456789"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, files_dir: str | None = None):
        self.files = {}
        if files_dir:
            for f in sorted(os.listdir(files_dir)):
                with open(os.path.join(files_dir, f), "rb") as fh:
                    self.files[f] = fh.read()
        self.requests = []  # (method, path, whether a token came)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub.answer(self, body=False)

            def do_GET(self):
                hub.answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        auth = h.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        path = unquote(urlparse(h.path).path)
        self.requests.append((h.command, path, token is not None))
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 6:
            repo, what, rest = "/".join(parts[2:4]), parts[4], parts[5:]
        elif len(parts) >= 5 and parts[2] == "resolve":
            repo, what, rest = "/".join(parts[0:2]), "resolve", parts[3:]
        else:
            return self.send(h, 404, body=body)
        if token is not None and token not in (GOOD_TOKEN, NOT_GRANTED):
            return self.send(h, 401, message="Invalid credentials in Authorization header", body=body)
        if repo not in ("test/tiny", "test/gated"):
            # the hub answers 401 to an anonymous request for a repo it does not show, 404 to an authenticated one
            return self.send(h, 404 if token else 401, code="RepoNotFound", message="Repository not found", body=body)
        if what == "revision":
            return self.send_json(h, {"id": repo, "sha": COMMIT, "gated": "manual" if repo == "test/gated" else False,
                                      "siblings": [{"rfilename": f} for f in self.files]}, body)
        if what == "tree":
            return self.send_json(h, [{"type": "file", "path": f, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                                      for f, d in self.files.items()], body)
        if what != "resolve":
            return self.send(h, 404, body=body)
        if repo == "test/gated" and token != GOOD_TOKEN:
            if token is None:
                return self.send(h, 401, code="GatedRepo", body=body, message=(
                    f"Access to model {repo} is restricted. You must have access to it and be authenticated to "
                    "access it. Please log in."))
            return self.send(h, 403, code="GatedRepo", body=body, message=(
                f"Access to model {repo} is restricted and you are not in the authorized list."))
        name = "/".join(rest[1:])
        if name not in self.files:
            return self.send(h, 404, code="EntryNotFound", message="Entry not found", body=body)
        data = self.files[name]
        self.send(h, 200, data, {"ETag": f'"{hashlib.sha1(data).hexdigest()}"', "X-Repo-Commit": COMMIT,
                                 "Content-Type": "application/octet-stream"}, body=body)

    def send_json(self, h, obj, body: bool) -> None:
        self.send(h, 200, json.dumps(obj).encode(), {"Content-Type": "application/json"}, body=body)

    @staticmethod
    def send(h, status: int, data: bytes = b"", headers: dict | None = None, code: str | None = None,
             message: str | None = None, body: bool = True) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if code:
            h.send_header("X-Error-Code", code)
        if message:
            h.send_header("X-Error-Message", message)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if body:
            h.wfile.write(data)
