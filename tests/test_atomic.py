"""Atomic writes (nnlab.results.atomic): the temporary file has the final mode from its creation, is never a link
someone left, and is gone after any error, SIGTERM and Ctrl-C included."""

import os
import signal

import pytest

from nnlab.results import atomic, bounded, status


def test_the_temporary_file_is_created_with_the_final_mode(tmp_path):
    target = tmp_path / "private.txt"
    with atomic.replacing(target, mode=0o600) as tmp:
        assert tmp.name.startswith(".private.txt.") and tmp.name.endswith(".tmp")
        assert tmp.stat().st_mode & 0o777 == 0o600, "never wider than the file it becomes"
        tmp.write_text("secret")
    assert target.read_text() == "secret" and target.stat().st_mode & 0o777 == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["private.txt"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_temporary_file_is_removed_on_a_signal(tmp_path, signum):
    with pytest.raises(status.Interrupted), status.interruptible(), atomic.replacing(tmp_path / "a.txt") as tmp:
        tmp.write_text("half")
        os.kill(os.getpid(), signum)
    assert list(tmp_path.iterdir()) == []


def test_a_link_left_at_a_temporary_name_is_never_written_through(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    names = iter(["aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda size: next(names))
    (tmp_path / ".a.txt.aaaaaaaaaaaa.tmp").symlink_to(victim)  # a name guessed in advance
    atomic.write_text(tmp_path / "a.txt", "new")
    assert victim.read_text() == "keep" and (tmp_path / "a.txt").read_text() == "new"
    assert (tmp_path / ".a.txt.aaaaaaaaaaaa.tmp").is_symlink(), "someone else's entry: neither used nor deleted"


def test_read_json_is_bounded(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 1000 + "]" * 1000)
    with pytest.raises(bounded.Unreadable, match="levels deep"):
        atomic.read_json(path)
    atomic.write_json(path, {"a": [1, float("nan")]})
    assert atomic.read_json(path) == {"a": [1, None]}
