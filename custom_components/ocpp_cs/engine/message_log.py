"""
The message log: the last frames each charger exchanged, for troubleshooting.

Recording must cost next to nothing on a charger's hot path: a frame is kept as the text it
already is, with the time, in a bounded deque. Parsing, redaction and round-trip times are
worked out only when someone reads the log (a diagnostics download).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from datetime import UTC, datetime
import json
import logging
import time
from typing import Any

_LOGGER = logging.getLogger(__name__.rsplit(".", 2)[0] + ".frames")

# Frames kept per charger (both directions) ...
MAX_FRAMES = 500
# ... and characters: a charger sending 1 kB MeterValues flat out keeps its last ~60 exchanges,
# one sending them every 10 s its last ten minutes. (The `debug` option logs every frame.)
MAX_CHARS = 64 * 1024
# Longer frames are kept cut to this many characters (a frame may be up to 1 MiB).
MAX_FRAME_CHARS = 32 * 1024
# Chargers whose logs are kept (an id that only ever knocked is forgotten first).
MAX_LOGS = 100

RECEIVED = "received"
SENT = "sent"
EVENT = "event"

REDACTED = "**REDACTED**"
# Configuration keys whose values are secrets (security profiles 1-2: the Basic auth password).
SECRET_KEYS = frozenset({"authorizationkey"})
# Object fields that are secrets wherever they appear.
SECRET_FIELDS = frozenset({"password", "authorizationkey", "authorization_key"})

_MESSAGE_TYPES = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}

type Entry = tuple[float, str, str | bytes]


def _might_hold_secret(text: str) -> bool:
    folded = text.casefold()
    return any(secret in folded for secret in SECRET_FIELDS)


def redact(value: Any) -> Any:
    """
    Return a decoded payload with secrets replaced.

    A configuration key that is a secret (`{"key": "AuthorizationKey", "value": ...}` in
    ChangeConfiguration and GetConfiguration) loses its value; fields named like a password
    lose theirs wherever they are.
    """
    if isinstance(value, list):
        return [redact(item) for item in value]
    if not isinstance(value, dict):
        return value
    secret_key = isinstance(value.get("key"), str) and value["key"].casefold() in SECRET_KEYS
    result: dict[str, Any] = {}
    for field, item in value.items():
        if (secret_key and field == "value") or (isinstance(field, str) and field.casefold() in SECRET_FIELDS):
            result[field] = REDACTED
        else:
            result[field] = redact(item)
    return result


def redact_frame(frame: str) -> str:
    """Return a frame's text with secrets replaced (parsed only when it might hold one)."""
    if not _might_hold_secret(frame):
        return frame
    try:
        return json.dumps(redact(json.loads(frame)), separators=(",", ":"))
    except (ValueError, RecursionError):
        return REDACTED


def _text(frame: str | bytes) -> str:
    if isinstance(frame, bytes):
        return frame.decode("utf-8", errors="replace")
    return frame


# WebSocket close codes (RFC 6455) and what they usually mean for a charger.
_CLOSE_CODES = {
    1000: "normal closure",
    1001: "going away (the charger or this central system restarts)",
    1002: "protocol error",
    1006: "connection lost without a close frame (network drop, or no answer to keep-alive pings)",
    1009: "frame too big",
    1011: "internal error",
    1012: "service restart",
}


def describe_close(code: int | None, reason: str | None) -> str:
    """Return a connection's end as the message log shows it."""
    if code is None:
        return "disconnected"
    text = f"disconnected (code {code}: {_CLOSE_CODES.get(code, 'see RFC 6455')}"
    return text + (f", reason {reason!r})" if reason else ")")


def format_address(address: Any) -> str:
    """Return a peer address (a (host, port, ...) tuple) as host:port."""
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    return str(address)


def _time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MessageLog:
    """The last frames of one charger (both directions) and its connection events."""

    __slots__ = ("charge_point_id", "chars", "close", "debug", "frames", "max_chars", "max_frames")

    def __init__(
        self, charge_point_id: str, max_frames: int = MAX_FRAMES, *, max_chars: int = MAX_CHARS, debug: bool = False
    ) -> None:
        """Create an empty log."""
        self.charge_point_id = charge_point_id
        self.frames: deque[Entry] = deque()
        self.max_frames = max_frames
        self.max_chars = max_chars
        # Characters of the frames kept (the newest frame is kept whatever its size).
        self.chars = 0
        # Also log every frame at DEBUG level (the entry's `debug` option).
        self.debug = debug
        # How the last connection ended, as `describe_close` says it.
        self.close: str | None = None

    def received(self, frame: str | bytes) -> None:
        """Record a frame the charger sent."""
        if len(frame) > MAX_FRAME_CHARS:
            frame = frame[:MAX_FRAME_CHARS]
        self._append(RECEIVED, frame)
        if self.debug:
            _LOGGER.debug("%s -> %s", self.charge_point_id, redact_frame(_text(frame)))

    def sent(self, frame: str) -> None:
        """Record a frame sent to the charger."""
        if len(frame) > MAX_FRAME_CHARS:
            frame = frame[:MAX_FRAME_CHARS]
        self._append(SENT, frame)
        if self.debug:
            _LOGGER.debug("%s <- %s", self.charge_point_id, redact_frame(frame))

    def event(self, text: str) -> None:
        """Record a connection event (connected, disconnected and why)."""
        self._append(EVENT, text)
        if self.debug:
            _LOGGER.debug("%s: %s", self.charge_point_id, text)

    def _append(self, direction: str, frame: str | bytes) -> None:
        frames = self.frames
        frames.append((time.time(), direction, frame))
        self.chars += len(frame)
        while len(frames) > 1 and (self.chars > self.max_chars or len(frames) > self.max_frames):
            self.chars -= len(frames.popleft()[2])

    def closed(self, code: int | None, reason: str | None) -> None:
        """Record the end of a connection."""
        self.close = describe_close(code, reason)
        self.event(self.close)

    def entries(self) -> list[dict[str, Any]]:
        """
        Return the log oldest first, decoded and redacted.

        A CALL's answer (CALLRESULT or CALLERROR, the other direction, same unique id) shows
        the action it answers and the round trip in milliseconds.
        """
        result: list[dict[str, Any]] = []
        calls: dict[tuple[str, str], tuple[float, str]] = {}
        for moment, direction, frame in list(self.frames):
            entry: dict[str, Any] = {"time": _time(moment), "direction": direction}
            text = _text(frame)
            if direction == EVENT:
                entry["event"] = text
                result.append(entry)
                continue
            try:
                message = json.loads(text)
            except (ValueError, RecursionError):
                message = None
            if not isinstance(message, list) or len(message) < 3 or message[0] not in _MESSAGE_TYPES:
                entry["raw"] = REDACTED if _might_hold_secret(text) else text
                entry["truncated"] = len(frame) >= MAX_FRAME_CHARS
                result.append(entry)
                continue
            message_type, unique_id = message[0], str(message[1])
            entry["message_type"] = _MESSAGE_TYPES[message_type]
            entry["unique_id"] = unique_id
            if message_type == 2:
                entry["action"] = message[2] if len(message) > 2 else None
                entry["payload"] = redact(message[3]) if len(message) > 3 else None
                calls[(direction, unique_id)] = (moment, str(entry["action"]))
            else:
                caller = SENT if direction == RECEIVED else RECEIVED
                call = calls.pop((caller, unique_id), None)
                if call is not None:
                    entry["action"] = call[1]
                    entry["round_trip_ms"] = round((moment - call[0]) * 1000.0, 1)
                if message_type == 3:
                    entry["payload"] = redact(message[2])
                else:
                    entry["error_code"] = message[2]
                    entry["error_description"] = message[3] if len(message) > 3 else None
                    entry["error_details"] = redact(message[4]) if len(message) > 4 else None
            result.append(entry)
        return result


class MessageLogs:
    """The message logs of every charger of a central system (kept across reconnects)."""

    def __init__(self, max_frames: int = MAX_FRAMES, max_logs: int = MAX_LOGS) -> None:
        """Create an empty set of logs."""
        self.max_frames = max_frames
        self.max_logs = max_logs
        self._debug = False
        self._logs: OrderedDict[str, MessageLog] = OrderedDict()

    @property
    def debug(self) -> bool:
        """Return True when frames are also logged at DEBUG level."""
        return self._debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self._debug = value
        for log in self._logs.values():
            log.debug = value

    def log_for(self, charge_point_id: str) -> MessageLog:
        """Return a charger's log, creating it (a connection is being opened)."""
        log = self._logs.get(charge_point_id)
        if log is None:
            log = MessageLog(charge_point_id, self.max_frames, debug=self._debug)
            self._logs[charge_point_id] = log
            while len(self._logs) > self.max_logs:
                self._logs.popitem(last=False)
        else:
            self._logs.move_to_end(charge_point_id)
        return log

    def get(self, charge_point_id: str) -> MessageLog | None:
        """Return a charger's log, None when it never connected in this run."""
        return self._logs.get(charge_point_id)

    def forget(self, charge_point_id: str) -> None:
        """Drop a charger's log (the charger was removed)."""
        self._logs.pop(charge_point_id, None)

    def __iter__(self) -> Iterator[str]:
        """Iterate the charge point ids that have a log."""
        return iter(list(self._logs))
