#!/usr/bin/env python3
"""Writes events/: API Gateway HTTP API (payload 2.0) events for every route, success and
failure cases, against the fixture apps and users in events/seed.json. Run after changing
a route; the handler and Runtime-API tests read these files."""
import base64
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "events")


def event(method, path, headers, body, route_key=None, raw_body=None, b64=False):
    hdrs = {"content-type": "application/json", "host": "api.example.com", "user-agent": "curl/8.5.0"}
    hdrs.update(headers)
    if body is not None and raw_body is None:
        raw_body = json.dumps(body)
    key = route_key or f"{method} {path}"
    ev = {
        "version": "2.0",
        "routeKey": key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "imauthapi",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "req-" + path.strip("/").replace("/", "-").replace(".", "") + "-" + method.lower(),
            "routeKey": key,
            "stage": "$default",
            "time": "22/Nov/2026:13:00:00 +0000",
            "timeEpoch": 1795352400000,
        },
        "isBase64Encoded": b64,
    }
    if raw_body is not None:
        ev["body"] = raw_body
    return ev


A = {"app_id": "demo"}
EASEMOB = "POST /{org_name}/{app_name}/token"


def easemob(body, org="demo-org", app="demo-app", raw_body=None):
    ev = event("POST", f"/{org}/{app}/token", {"accept": "application/json"}, body,
               route_key=EASEMOB, raw_body=raw_body)
    ev["pathParameters"] = {"org_name": org, "app_name": app}
    return ev


EVENTS = {
    "token-id/ok.json": event("POST", "/token/id", A, {"user_id": 10001, "password": "alice-password"}),
    "token-id/ok-device.json": event("POST", "/token/id", A, {"user_id": 10001, "password": "alice-password", "device_guid": "ios-7f3a9c"}),
    "token-id/wrong-password.json": event("POST", "/token/id", A, {"user_id": 10001, "password": "wrong"}),
    "token-id/unknown-user.json": event("POST", "/token/id", A, {"user_id": 99999, "password": "wrong"}),
    "token-id/banned.json": event("POST", "/token/id", A, {"user_id": 10002, "password": "bob-password"}),
    "token-id/user-id-not-int.json": event("POST", "/token/id", A, {"user_id": "abc", "password": "x"}),
    "token-id/missing-password.json": event("POST", "/token/id", A, {"user_id": 10001}),
    "token-id/malformed-json.json": event("POST", "/token/id", A, None, raw_body='{"user_id": 10001, "password": '),
    "token-id/empty-body.json": event("POST", "/token/id", A, None, raw_body=""),
    "token-id/missing-app-id.json": event("POST", "/token/id", {}, {"user_id": 10001, "password": "alice-password"}),
    "token-id/unknown-app-id.json": event("POST", "/token/id", {"app_id": "nope"}, {"user_id": 10001, "password": "alice-password"}),
    "token-id/acting-without-admin.json": event("POST", "/token/id", {"app_id": "demo", "user_id": "10001"}, {"user_id": 10001, "password": "x"}),
    # The admin token is minted by the test and put in the access-token header.
    "token-id/acting-as-user.json": event("POST", "/token/id", {"app_id": "demo", "user_id": "10001", "access-token": "ADMIN_TOKEN"}, {"device_guid": "admin-console"}),
    "token-id/acting-as-group-admin.json": event("POST", "/token/id", {"app_id": "demo", "group_id": "555", "access-token": "ADMIN_TOKEN"}, {}),
    "token-id/get.json": event("GET", "/token/id", A, None, route_key="ANY /token/id"),
    "token-login/ok-phone.json": event("POST", "/token/login", A, {"login_name": "+86 138-0000-0000", "password": "alice-password"}),
    "token-login/ok-email.json": event("POST", "/token/login", A, {"login_name": "Alice@Example.com", "password": "alice-password", "device_guid": "android-1"}),
    "token-login/ok-username.json": event("POST", "/token/login", A, {"login_name": "ALICE", "password": "alice-password"}),
    "token-login/wrong-password.json": event("POST", "/token/login", A, {"login_name": "alice@example.com", "password": "wrong"}),
    "token-login/unknown-user.json": event("POST", "/token/login", A, {"login_name": "nobody@example.com", "password": "wrong"}),
    "token-login/missing-login-name.json": event("POST", "/token/login", A, {"password": "x"}),
    "token-user/ok.json": event("POST", "/token/user", A, {"name": "alice", "password": "alice-password"}),
    "token-user/ok-base64.json": event("POST", "/token/user", A, None, raw_body=base64.b64encode(json.dumps({"name": "Alice", "password": "alice-password"}).encode()).decode(), b64=True),
    "token-user/wrong-password.json": event("POST", "/token/user", A, {"name": "alice", "password": "wrong"}),
    "token-user/unknown-user.json": event("POST", "/token/user", A, {"name": "nobody", "password": "wrong"}),
    "token-user/banned.json": event("POST", "/token/user", A, {"name": "bob", "password": "bob-password"}),
    "token-user/name-not-string.json": event("POST", "/token/user", A, {"name": 12, "password": "x"}),
    "app-token/seed-example.json": easemob({"grant_type": "password", "username": "C", "password": "1", "ttl": "1024000"}),
    "app-token/password-default-ttl.json": easemob({"grant_type": "password", "username": "alice", "password": "alice-password"}),
    "app-token/password-ttl-zero.json": easemob({"grant_type": "password", "username": "alice", "password": "alice-password", "ttl": 0}),
    "app-token/password-ttl-zero-not-allowed.json": easemob({"grant_type": "password", "username": "sam", "password": "sam-password", "ttl": 0}, org="strict-org", app="strict-app"),
    "app-token/wrong-password.json": easemob({"grant_type": "password", "username": "alice", "password": "wrong"}),
    "app-token/unknown-user.json": easemob({"grant_type": "password", "username": "nobody", "password": "wrong"}),
    "app-token/banned.json": easemob({"grant_type": "password", "username": "bob", "password": "bob-password"}),
    "app-token/banned-wrong-password.json": easemob({"grant_type": "password", "username": "bob", "password": "wrong"}),
    "app-token/unknown-app.json": easemob({"grant_type": "password", "username": "alice", "password": "alice-password"}, org="no-org", app="no-app"),
    "app-token/unsupported-grant.json": easemob({"grant_type": "authorization_code", "code": "x"}),
    "app-token/missing-grant-type.json": easemob({"username": "alice", "password": "alice-password"}),
    "app-token/missing-username.json": easemob({"grant_type": "password", "password": "x"}),
    "app-token/malformed-json.json": easemob(None, raw_body='{"grant_type": "password",'),
    "app-token/ttl-negative.json": easemob({"grant_type": "password", "username": "alice", "password": "alice-password", "ttl": -1}),
    "app-token/ttl-fractional.json": easemob({"grant_type": "password", "username": "alice", "password": "alice-password", "ttl": 1.5}),
    "app-token/ttl-not-numeric.json": easemob({"grant_type": "password", "username": "alice", "password": "alice-password", "ttl": "one day"}),
    "app-token/ttl-huge.json": easemob({"grant_type": "password", "username": "alice", "password": "alice-password", "ttl": "99999999999999999999"}),
    # The demo app's cap on a client-chosen ttl is the default, 30 days (2592000 s).
    "app-token/ttl-over-app-cap.json": easemob({"grant_type": "password", "username": "alice", "password": "alice-password", "ttl": 2592001}),
    "app-token/client-credentials-ttl-over-app-cap.json": easemob({"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret-0123456789", "ttl": "2592001"}),
    "app-token/client-credentials.json": easemob({"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-client-secret-0123456789"}),
    "app-token/client-credentials-wrong-secret.json": easemob({"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "not-the-secret-0123456789"}),
    "app-token/get.json": event("GET", "/demo-org/demo-app/token", {}, None, route_key="ANY /{org_name}/{app_name}/token"),
    # Tokens are minted by the tests and replace the placeholders.
    "token-refresh/refresh.json": event("POST", "/token/refresh", {}, {"refresh_token": "REFRESH_TOKEN"}),
    "token-refresh/refresh-reflash-key.json": event("POST", "/token/refresh", {}, {"reflash_key": "REFRESH_TOKEN"}),
    "token-refresh/refresh-garbage.json": event("POST", "/token/refresh", {}, {"refresh_token": "r.not-a-real-token"}),
    "token-refresh/refresh-missing-token.json": event("POST", "/token/refresh", {}, {}),
    "token-refresh/revoke.json": event("POST", "/token/revoke", {}, {"refresh_token": "REFRESH_TOKEN"}),
    "token-refresh/logout-everywhere.json": event("POST", "/token/revoke", {"authorization": "Bearer ACCESS_TOKEN"}, {"all": True}),
    "token-refresh/logout-everywhere-no-token.json": event("POST", "/token/revoke", {}, {"all": True}),
    "token-refresh/get.json": event("GET", "/token/refresh", {}, None, route_key="ANY /token/refresh"),
    "push-token/register-ring.json": event("POST", "/v1/api/user/token", {"authorization": "Bearer ACCESS_TOKEN"}, {
        "push_token": "ring-7f3a9c0d", "language": "zh-CN", "id": 10001, "dev": 0,
        "bundleid": "com.example.chat", "os": "huawei", "os_token": "hw-token-1", "push_platform": "HUAWEI"}),
    "push-token/register-message.json": event("POST", "/v1/api/user/message/token", {"access-token": "ACCESS_TOKEN"}, {
        "push_token": "apns-0123456789abcdef", "language": "en", "id": 10001, "dev": 1}),
    "push-token/register-other-user.json": event("POST", "/v1/api/user/token", {"authorization": "Bearer ACCESS_TOKEN"}, {
        "push_token": "ring-7f3a9c0d", "language": "en", "id": 10003}),
    "push-token/register-bad-platform.json": event("POST", "/v1/api/user/token", {"authorization": "Bearer ACCESS_TOKEN"}, {
        "push_token": "ring-1", "language": "en", "id": 10001, "push_platform": "BLACKBERRY", "os_token": "x"}),
    "push-token/register-no-token.json": event("POST", "/v1/api/user/token", {}, {
        "push_token": "ring-1", "language": "en", "id": 10001}),
    "push-token/list-ring.json": event("GET", "/v1/api/user/token", {"authorization": "Bearer ACCESS_TOKEN"}, None),
    "push-token/unregister-ring.json": event("DELETE", "/v1/api/user/token", {"authorization": "Bearer ACCESS_TOKEN"}, {
        "push_token": "ring-7f3a9c0d", "push_platform": "huawei"}),
    "push-token/put.json": event("PUT", "/v1/api/user/token", {"authorization": "Bearer ACCESS_TOKEN"}, {}, route_key="ANY /v1/api/user/token"),
    "push-token/list-message.json": event("GET", "/v1/api/user/message/token", {"access-token": "ACCESS_TOKEN"}, None),
    "push-token/unregister-message.json": event("DELETE", "/v1/api/user/message/token", {"access-token": "ACCESS_TOKEN"}, {
        "push_token": "apns-0123456789abcdef"}),
    # Public keys: no headers, no body (sam local invoke JwksFunction -e events/jwks/get.json).
    "jwks/get.json": event("GET", "/.well-known/jwks.json", {"accept": "application/json"}, None),
}

if __name__ == "__main__":
    for name, ev in EVENTS.items():
        path = os.path.join(ROOT, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(ev, f, indent=2)
            f.write("\n")
    print(f"wrote {len(EVENTS)} events")
