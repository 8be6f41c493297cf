"""record --board / --check: the session names its node hardware and keeps the pre-trial check."""

import json

import pytest

from myostride.acquire.settings import DEFAULT_BOARD, check_board
from myostride.commands.record import _read_check
from myostride.errors import UserError


def test_known_board_is_accepted_and_unknown_board_names_the_known_ones():
    assert check_board(DEFAULT_BOARD) == DEFAULT_BOARD
    with pytest.raises(UserError, match="unknown board 'esp8266-toy'.*myostride-ref-s3"):
        check_board("esp8266-toy")


def test_check_result_is_read_from_a_check_folder_or_file(tmp_path):
    good = {"schema": "myostride.check/1", "nodes": []}
    (tmp_path / "check.json").write_text(json.dumps(good))
    assert json.loads(_read_check(str(tmp_path))) == good
    assert json.loads(_read_check(str(tmp_path / "check.json"))) == good
    assert _read_check(None) is None


def test_missing_or_foreign_check_result_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no myostride check result"):
        _read_check(str(tmp_path))
    (tmp_path / "check.json").write_text('{"schema": "something/1"}')
    with pytest.raises(UserError, match="run `myostride check --out DIR` first"):
        _read_check(str(tmp_path))
