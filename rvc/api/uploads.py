"""Receiving an upload as it streams: the multipart body is parsed chunk by chunk and the file part goes straight
to `rvc.service.UploadWriter`, which counts the bytes against the limit. Nothing is buffered whole (FastAPI's
`UploadFile` would spool the entire body before the limit could be checked), and a body announced larger
than the limit is refused before it is read.

A body must also be whole: the server reads no further than its Content-Length, so a Content-Length that stops
short of the multipart's closing boundary cuts the file, which would still sniff and decode as audio. A body
that ends before its closing boundary, or with fewer bytes than it announced, is a 400 and nothing is kept.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status
from python_multipart.multipart import MultipartParser, parse_options_header

from rvc import service

FIELD = "file"
MULTIPART_SLACK_BYTES = 64 * 1024  # boundaries and part headers around the file, in a body's Content-Length


class _FilePart:
    """The multipart callbacks: the part named `FIELD` is written to an `UploadWriter`, other parts are skipped."""

    def __init__(self, limit_bytes: int, folder: str | None, owner: service.Owner | None) -> None:
        self.limit_bytes, self.folder, self.owner = limit_bytes, folder, owner
        self.writer: service.UploadWriter | None = None
        self._in_file = False
        self.complete = False  # the closing boundary was read
        self._field, self._value = b"", b""
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        if options.get(b"name") == FIELD.encode() and filename is not None and self.writer is None:
            self.writer = service.UploadWriter(filename.decode("utf-8", "replace"), self.limit_bytes, self.folder,
                                               self.owner)
            self._in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.writer.write(data[start:end])

    def _part_end(self) -> None:
        self._in_file = False

    def _end(self) -> None:
        self.complete = True


def announced_too_large(announced: str | None, limit_bytes: int) -> str | None:
    """Why a body whose Content-Length is ``announced`` cannot hold an upload within the limit, or None if it may
    (the multipart's boundaries and part headers may come on top of the file: `MULTIPART_SLACK_BYTES`)."""
    if announced and announced.isdigit() and int(announced) > limit_bytes + MULTIPART_SLACK_BYTES:
        return f"the upload ({int(announced) // 2**20} MB) is larger than the limit of {limit_bytes // 2**20} MB"
    return None


def _cut_short(announced: str | None, received: int, complete: bool) -> str | None:
    """Why a body that was read to its end is not whole (see the module's docstring), or None when it is."""
    if announced and announced.isdigit() and received < int(announced):
        return f"the body ended after {received} of the {announced} bytes its Content-Length announced"
    return None if complete else "the multipart body ends before its closing boundary"


async def receive_upload(
    request: Request, folder: str | None = None, owner: service.Owner | None = None
) -> dict[str, Any]:
    """Store the `file` field of a multipart/form-data request into ``owner``'s uploads (see the module's
    docstring and `rvc.service.owner_uploads`)."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise service.UnsupportedMedia(f"send multipart/form-data with the file in the field {FIELD!r}")
    limit = service.upload_limit_bytes()
    announced = request.headers.get("content-length")
    if too_large := announced_too_large(announced, limit):
        raise service.TooLarge(too_large)
    part = _FilePart(limit, folder, owner)
    parser = MultipartParser(options[b"boundary"], part.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            parser.write(chunk)
        parser.finalize()
        if short := _cut_short(announced, received, part.complete):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{short}: the upload was cut short, nothing is kept; "
                                                             "send the whole file again")
    except BaseException:
        if part.writer is not None:
            part.writer.abort()
        raise
    if part.writer is None:
        raise ValueError(f"the multipart body has no file in the field {FIELD!r}")
    return part.writer.finish()
