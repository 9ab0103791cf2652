"""Commands packed by hiredis on the single-Redis client (`server.store`): the same bytes as
redis-py's own serializers, whatever the arguments, and the same refusal of what Redis
cannot take."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.connection import HiredisRespSerializer
from redis.exceptions import DataError

from server.store import _packing_in_c

COMMANDS: list[tuple[Any, ...]] = [
    ("EVALSHA", "0" * 40, 2, "k1", "k2", b"\x00\xff" * 6, "", 60000, 1.5, "tiếng Việt"),
    ("CLIENT SETNAME", "portal"),  # a command of two words, split as redis-py splits it
    (b"CLIENT SETNAME", b"portal"),
    ("GET", bytearray(b"key")),  # types hiredis refuses, converted as redis-py converts them
    ("SET", memoryview(b"key"), bytearray(b"value")),
    ("PING",),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_the_bytes_are_redis_pys(command: tuple[Any, ...]) -> None:
    packed = _packing_in_c(Connection)().pack_command(*command)
    assert b"".join(packed) == b"".join(HiredisRespSerializer().pack(*command))
    assert b"".join(packed) == b"".join(Connection().pack_command(*command))


@pytest.mark.parametrize("argument", [None, True, object()])
def test_what_redis_cannot_take_is_refused_as_before(argument: object) -> None:
    with pytest.raises(DataError):
        _packing_in_c(Connection)().pack_command("SET", "key", argument)
