"""Who may talk to the console, and how cross-site requests are refused.

* Listening: 127.0.0.1 unless `--listen ADDR` says otherwise (the CLI checks that).
* Access token: random per server run, in the address the CLI prints and opens. The first
  visit trades `?token=` for an HttpOnly, SameSite=Strict cookie; scripts may send
  `Authorization: Bearer TOKEN`. Every request without it gets 401.
* Host header: on a loopback bind only 127.0.0.1 / localhost / [::1] with our port (a
  DNS-rebinding page cannot pose as us).
* State changes (POST/PUT/DELETE) and the live WebSocket: the Origin, when sent, must be
  our own; state changes also need the X-Myostride-CSRF header carrying the per-run CSRF
  value that only our own page can read (it is in the HTML we serve).
Nothing here logs a request: the server runs without an access log.
"""

import hmac
import ipaddress
import secrets

COOKIE = "myostride_token"
CSRF_HEADER = "x-myostride-csrf"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def is_loopback(host):
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Guard:
    def __init__(self, listen_host, port, token=None):
        self.token = token or secrets.token_urlsafe(24)
        self.csrf = secrets.token_urlsafe(24)
        self.listen_host = listen_host
        self.port = port
        self.local = is_loopback(listen_host)

    def allowed_hosts(self):
        return {"127.0.0.1:%d" % self.port, "localhost:%d" % self.port, "[::1]:%d" % self.port}

    def host_ok(self, host_header):
        if not self.local:
            return True  # reachable under any name: the token guards it
        return (host_header or "").lower() in self.allowed_hosts()

    def origin_ok(self, origin, host_header):
        if origin is None:
            return True
        return origin.lower() in ("http://%s" % (host_header or "").lower(),)

    def token_ok(self, cookies, headers, query=None):
        cands = [cookies.get(COOKIE), (headers.get("authorization") or "")[7:] if (headers.get("authorization") or "").lower().startswith("bearer ") else None]
        if query is not None:
            cands.append(query.get("token"))
        return any(c and hmac.compare_digest(c, self.token) for c in cands)

    def csrf_ok(self, headers):
        v = headers.get(CSRF_HEADER) or ""
        return hmac.compare_digest(v, self.csrf)

    def check(self, method, headers, cookies, query=None):
        """None if the request may proceed, else (status, one-line reason)."""
        host = headers.get("host")
        if not self.host_ok(host):
            return 403, "wrong Host header %r: open the console at the address `myostride console` printed" % host
        if not self.origin_ok(headers.get("origin"), host):
            return 403, "cross-origin request refused"
        if not self.token_ok(cookies, headers, query):
            return 401, "no access token: open the address `myostride console` printed (it carries the token)"
        if method not in SAFE_METHODS and not self.csrf_ok(headers):
            return 403, "missing CSRF header: state changes come from the console page only"
        return None
