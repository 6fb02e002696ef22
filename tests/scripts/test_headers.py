"""Script headers match the registry; all of a queue's keys live in one cluster slot."""

from __future__ import annotations

import binascii
import re

import pytest

from relay.broker.scripts import ARITY, SCRIPTS
from relay.keys import QueueKeys


@pytest.mark.parametrize("name", sorted(ARITY))
def test_header_documents_every_key_argument_and_reply(name: str) -> None:
    script = SCRIPTS[name]
    header = script.source.split("]]", 1)[0]
    assert script.source.startswith("#!lua"), "scripts carry a shebang so flags apply"
    assert script.declared_keys() == script.nkeys
    assert "ARGV" in header or name == "stats"
    assert "Returns:" in header
    assert re.search(rf"--\[\[ {name}: ", header)


def _slot(key: str) -> int:
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return binascii.crc_hqx(key.encode(), 0) % 16384


@pytest.mark.parametrize("queue", ["emails", "a.b-c", "x" * 100])
def test_all_keys_of_a_queue_hash_to_one_slot(queue: str) -> None:
    k = QueueKeys.for_queue(queue)
    slots = {_slot(key) for key in [*k.all_fixed(), k.idem("some-key")]}
    assert len(slots) == 1
