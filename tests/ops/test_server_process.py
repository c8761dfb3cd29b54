"""What a server process does at start-up beyond building the app."""

from __future__ import annotations

import gc

from app.config import Settings
from app.main import server_app


def test_a_server_process_keeps_its_start_up_heap_out_of_full_collections(settings: Settings) -> None:
    # A full collection walks every tracked object of the oldest generation: the rule book, routes and
    # mappers built at start-up would be walked on every one for as long as the process lives.
    gc.unfreeze()
    try:
        app = server_app(settings)
        assert gc.get_freeze_count() > 0
        book = app.state.rulebook
        assert gc.is_tracked(book)
        assert not any(obj is book for obj in gc.get_objects())
    finally:
        gc.unfreeze()
