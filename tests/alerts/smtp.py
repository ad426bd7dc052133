"""A real SMTP server on loopback (aiosmtpd), for tests/it/alerts.rs and alerts_smtp.rs: each
message it accepts is written whole to <dir>/<n>.eml. It prints its port on the first line of
standard output.
Usage: smtp.py DIR [--starttls CERT KEY | --tls CERT KEY] [--password-env NAME]
--starttls offers STARTTLS and requires it before anything else; --tls speaks TLS from the first
byte; --password-env requires AUTH (only over TLS) with user "alerts" and the password in the
environment variable NAME."""

import asyncio
import os
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

DIR = sys.argv[1]
ARGS = sys.argv[2:]


class Keep:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(DIR, f"{self.count}.eml")
        with open(path + ".part", "wb") as out:
            out.write(envelope.original_content or envelope.content)
        os.rename(path + ".part", path)
        return "250 Message accepted for delivery"


def option(name, count):
    if name not in ARGS:
        return None
    at = ARGS.index(name)
    return ARGS[at + 1 : at + 1 + count]


def context(files):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(files[0], files[1])
    return ctx


kwargs = {}
starttls = option("--starttls", 2)
tls = option("--tls", 2)
if starttls:
    kwargs.update(tls_context=context(starttls), require_starttls=True)
if tls:
    kwargs.update(ssl_context=context(tls))
password_env = option("--password-env", 1)
if password_env:
    password = os.environ[password_env[0]].encode()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"alerts" and auth_data.password == password
        return AuthResult(success=ok)

    # aiosmtpd counts only STARTTLS as TLS for AUTH; with --tls the whole connection is.
    kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=not tls)

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
controller = Controller(Keep(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print(port, flush=True)
try:
    asyncio.new_event_loop().run_forever()
finally:
    controller.stop()
