"""A standards-following OAuth 2.0 provider for the scale-out harness, built on Authlib (PyPI) and Flask.

It is what the harness authorizes Switchboard against, as a workspace's own ("custom") authorization profile would be:
- the authorization code grant with PKCE (S256 required), approved at once for the one harness user;
- access tokens that live --lifetime seconds (3 by default);
- rotating refresh tokens: a refresh answers a new pair and revokes the old pair, the access token with it, so a call
  still carrying the old access token is refused with 401, as strict providers do;
- a refresh token used a second time is refused (invalid_grant) and counted: the harness requires zero;
- `GET /me`, an Intercom-shaped identity behind the bearer token, which the `intercom.who_am_i` action calls: its
  workspace is in region EU, and serve's EU API base points here (the US one at the Intercom sandbox).
`GET /_stats` reports what happened: refreshes, refused refresh tokens, 401s, tokens issued.
"""

import argparse
import os
import secrets
import threading
import time

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http only: the harness never leaves the machine

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token  # noqa: E402
from authlib.oauth2.rfc6749 import grants  # noqa: E402
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin, ClientMixin, TokenMixin  # noqa: E402
from authlib.oauth2.rfc6750 import BearerTokenValidator  # noqa: E402
from authlib.oauth2.rfc7636 import CodeChallenge  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402

lock = threading.Lock()
stats = {"refreshes": 0, "refresh_reused": 0, "unauthorized": 0, "tokens_issued": 0, "me_ok": 0}


class User:
    id = "admin-1"
    email = "ops@scaleout.test"


USER = User()


class Client(ClientMixin):
    def __init__(self, client_id, client_secret):
        self.client_id, self.client_secret = client_id, client_secret

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return scope or ""

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri.startswith("http://127.0.0.1:")

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_post", "client_secret_basic")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


class Code(AuthorizationCodeMixin):
    def __init__(self, code, client_id, redirect_uri, scope, challenge, method):
        self.code, self.client_id, self.redirect_uri, self.scope = code, client_id, redirect_uri, scope
        self.code_challenge, self.code_challenge_method = challenge, method

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


class Token(TokenMixin):
    def __init__(self, client_id, access, refresh, scope, lifetime):
        self.client_id, self.access_token, self.refresh_token, self.scope = client_id, access, refresh, scope
        self.issued_at, self.expires_in, self.revoked, self.claimed = time.time(), lifetime, False, False

    def check_client(self, client):
        return client.client_id == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return self.revoked

    def get_user(self):
        return USER

    def get_client(self):
        return clients[self.client_id]


clients: dict = {}
codes: dict = {}
by_access: dict = {}
by_refresh: dict = {}


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        with lock:
            codes[code] = Code(code, request.client.client_id, request.payload.redirect_uri, request.payload.scope,
                               data.get("code_challenge"), data.get("code_challenge_method"))

    def query_authorization_code(self, code, client):
        with lock:
            found = codes.get(code)
        return found if found and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code):
        with lock:
            codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return USER


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh answers a new refresh token

    def authenticate_refresh_token(self, refresh_token):
        with lock:
            token = by_refresh.get(refresh_token)
            if token is None or token.revoked or token.claimed:
                # Spent (or being spent by a refresh in flight): a second use is the failure the harness counts.
                stats["refresh_reused"] += 1
                return None
            token.claimed = True
            return token

    def authenticate_user(self, refresh_token):
        return USER

    def revoke_old_credential(self, refresh_token):
        # The old pair goes: its access token is refused from now on, its refresh token can never be used again.
        with lock:
            refresh_token.revoked = True
            stats["refreshes"] += 1


def create_app(client_id: str, client_secret: str, lifetime: int) -> Flask:
    app = Flask("scaleout-provider")
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": lifetime, "refresh_token": lifetime}
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True  # issue refresh tokens
    clients[client_id] = Client(client_id, client_secret)

    def save_token(token, request):
        with lock:
            stored = Token(request.client.client_id, token["access_token"], token.get("refresh_token"), token.get("scope", ""), lifetime)
            by_access[stored.access_token] = stored
            if stored.refresh_token:
                by_refresh[stored.refresh_token] = stored
            stats["tokens_issued"] += 1

    server = AuthorizationServer(app, query_client=lambda cid: clients.get(cid), save_token=save_token)
    server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant)

    class Validator(BearerTokenValidator):
        def authenticate_token(self, token_string):
            with lock:
                return by_access.get(token_string)

    protect = ResourceProtector()
    protect.register_token_validator(Validator())

    @app.get("/authorize")
    def authorize():
        # The harness's user has already consented: the code goes straight back.
        return server.create_authorization_response(grant_user=USER)

    @app.post("/token")
    def token():
        return server.create_token_response()

    @app.get("/me")
    def me():
        try:
            protect.acquire_token()
        except Exception:  # noqa: BLE001 - any refusal is a 401, as Intercom answers it
            with lock:
                stats["unauthorized"] += 1
            return jsonify({"type": "error.list", "errors": [{"code": "unauthorized", "message": "Access Token Invalid"}]}), 401
        with lock:
            stats["me_ok"] += 1
        return jsonify({"type": "admin", "id": USER.id, "email": USER.email, "email_verified": True, "name": "Ops",
                        "app": {"type": "app", "id_code": "scaleout1", "name": "Scale-out Inc", "region": "EU"}})

    @app.get("/_stats")
    def report():
        with lock:
            return jsonify(dict(stats))

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--lifetime", type=int, default=3)
    args = parser.parse_args()
    app = create_app(args.client_id, args.client_secret, args.lifetime)
    app.run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
