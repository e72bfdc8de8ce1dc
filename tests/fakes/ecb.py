"""A fake of the ECB's euro reference rates: `GET /stats/eurofxref/eurofxref-daily.xml`, over
real HTTP on 127.0.0.1.

Written from the file the ECB publishes each working day (a gesmes:Envelope whose
`<Cube time="YYYY-MM-DD">` holds one `<Cube currency="USD" rate="1.0705"/>` per
currency; base EUR). The test sets the day's rates (`publish`), or a failure
(`status`), and reads how many requests came (`requests`).
"""

from __future__ import annotations

from datetime import date
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakes.server import FakeHTTPServer, FakeServer

PATH = "/stats/eurofxref/eurofxref-daily.xml"


def daily_xml(day: date, rates: dict[str, str]) -> bytes:
    """The ECB's daily file for `day` with `rates` (currency → rate text)."""
    cubes = "\n".join(f"\t\t\t<Cube currency='{c}' rate='{r}'/>" for c, r in rates.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
        "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
        "\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n"
        f"\t<Cube>\n\t\t<Cube time='{day.isoformat()}'>\n{cubes}\n\t\t</Cube>\n\t</Cube>\n"
        "</gesmes:Envelope>\n"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def do_GET(self) -> None:  # noqa: N802
        fake: FakeECB = self.server.fake
        fake.requests += 1
        status, body = (fake.status, fake.body) if self.path == PATH else (404, b"not found")
        self.send_response(status)
        self.send_header("Content-Type", "text/xml" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class FakeECB(FakeServer):
    url_path = PATH

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        self.requests = 0
        self.listen(_Handler)

    def publish(self, day: date, rates: dict[str, str]) -> None:
        self.status, self.body = 200, daily_xml(day, rates)
