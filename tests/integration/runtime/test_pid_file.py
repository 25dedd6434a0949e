"""`garde serve`'s hold on its data directory: a locked pid file, never a stale one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from garde.runtime.server import (
    AlreadyRunningError,
    hold_data_dir,
    let_go_data_dir,
    pid_file,
    running_pid,
)


def test_a_second_serve_on_the_same_data_directory_is_refused(tmp_path):
    held = hold_data_dir(tmp_path)
    try:
        assert running_pid(tmp_path) == os.getpid()
        with pytest.raises(
            AlreadyRunningError, match=rf"already running on .* \(pid {os.getpid()}\)"
        ):
            hold_data_dir(tmp_path)
    finally:
        let_go_data_dir(tmp_path, held)
    assert not pid_file(tmp_path).exists()
    assert running_pid(tmp_path) is None
    let_go_data_dir(tmp_path, hold_data_dir(tmp_path))  # and it can be taken again


def test_a_file_naming_a_live_process_that_holds_nothing_is_stale(tmp_path):
    # After a kill -9 and a reboot, the pid in the file may be any other process's.
    pid_file(tmp_path).write_text(f"{os.getppid()}\n", encoding="ascii")
    assert running_pid(tmp_path) is None
    let_go_data_dir(tmp_path, hold_data_dir(tmp_path))


def test_a_serve_killed_with_sigkill_never_blocks_the_restart(tmp_path):
    # The killed process stays a zombie until reaped (here: never): its pid still
    # answers kill(pid, 0), which once made the restart say "already running".
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from pathlib import Path
                from garde.runtime.server import hold_data_dir
                hold_data_dir(Path({str(tmp_path)!r}))
                print("held", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        assert running_pid(tmp_path) == holder.pid
        with pytest.raises(AlreadyRunningError):
            hold_data_dir(tmp_path)
        os.kill(holder.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while running_pid(tmp_path) is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(holder.pid, 0)  # not reaped: a zombie with that pid is still there
        assert pid_file(tmp_path).read_text(encoding="ascii") == f"{holder.pid}\n"
        assert running_pid(tmp_path) is None
        let_go_data_dir(tmp_path, hold_data_dir(tmp_path))
    finally:
        holder.kill()
        holder.communicate()
