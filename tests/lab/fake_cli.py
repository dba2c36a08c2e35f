#!/usr/bin/python3
"""Fake device CLI behind an OpenSSH `ForceCommand`: answers a profile's commands with its recorded fixtures.

Usage (from sshd_config): fake_cli.py FIXTURES_DIR PLATFORM SCENARIO HOSTNAME

A command is looked up as FIXTURES_DIR/PLATFORM/<command slug>/<SCENARIO>.raw (falling back to normal.raw),
the same tree as tests/device_profiles/. SCENARIO `hang` prints prompts but never answers a profile
command (a device that stops talking). Runs under Debian's /usr/bin/python3, stdlib only: the login user
cannot read the project's interpreter. Output goes through sshd's pty, which turns "\n" into "\r\n".
"""

import contextlib
import re
import select
import sys
import time

fixtures, platform, scenario, hostname = sys.argv[1:5]
cisco = platform.startswith("cisco")
out = sys.stdout


def prompt(privileged):
    if cisco:
        return hostname + ("#" if privileged else ">")
    return "vigie@" + hostname + ":~$ "


def slug(command):
    return re.sub(r"[^A-Za-z0-9-]+", "_", command).strip("_")


def fixture(command):
    for case in (scenario, "normal"):
        try:
            with open(f"{fixtures}/{platform}/{slug(command)}/{case}.raw", encoding="utf-8") as f:
                return f.read()
        except OSError:
            continue
    return None


def hang_until_eof():
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], 5)
        if ready and not sys.stdin.readline():
            sys.exit(0)
        time.sleep(0.1)


def main():
    privileged = False
    out.write(prompt(privileged))
    out.flush()
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        command = line.strip()
        if command in ("exit", "logout", "quit"):
            return
        if cisco and command == "enable":
            out.write("Password: ")
            out.flush()
            sys.stdin.readline()
            privileged = True
        elif cisco and command == "disable":
            privileged = False
        elif command == "" or (cisco and command.startswith("terminal ")):
            pass
        else:
            text = fixture(command)
            if text is None:
                if cisco:
                    out.write("                ^\n% Invalid input detected at '^' marker.\n\n")
                else:
                    out.write(f"-bash: {command.split()[0]}: command not found\n")
            elif scenario == "hang":
                hang_until_eof()
            else:
                out.write(text if text.endswith("\n") else text + "\n")
        out.write(prompt(privileged))
        out.flush()


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        main()
