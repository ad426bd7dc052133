"""A real SMTP server on loopback (aiosmtpd), for tests/it/alerts.rs: each message it accepts is
written whole to <dir>/<n>.eml. It prints its port on the first line of standard output.
Usage: smtp.py DIR"""

import asyncio
import os
import socket
import sys

from aiosmtpd.controller import Controller

DIR = sys.argv[1]


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


with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
controller = Controller(Keep(), hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
try:
    asyncio.new_event_loop().run_forever()
finally:
    controller.stop()
