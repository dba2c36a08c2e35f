#!/usr/bin/python3
"""Fake device CLI behind an OpenSSH `ForceCommand`: answers a profile's commands with its recorded fixtures.

Usage (from sshd_config): fake_cli.py FIXTURES_DIR PLATFORM SCENARIO HOSTNAME

A command is looked up as FIXTURES_DIR/PLATFORM/<command slug>/<SCENARIO>.raw (falling back to normal.raw),
the same tree as tests/device_profiles/. SCENARIO `hang` prints prompts but never answers a profile
command (a device that stops talking). PLATFORM picks the prompt and the session: linux (default), cisco_*,
fortinet_fortigate ("HOST # ", answers the probes netmiko's fortinet driver sends before the first command)
and mikrotik_routeros ("[user@HOST] > ", the login name without netmiko's "+ct511w4098h" console options,
an Enter of "\r\n" read as one line). Runs under Debian's /usr/bin/python3, stdlib only: the login user
cannot read the project's interpreter. Output goes through sshd's pty, which turns "\n" into "\r\n".
"""

import contextlib
import getpass
import re
import select
import sys
import termios
import time

fixtures, platform, scenario, hostname = sys.argv[1:5]
cisco = platform.startswith("cisco")
fortinet = platform == "fortinet_fortigate"
mikrotik = platform == "mikrotik_routeros"
out = sys.stdout

# What netmiko's fortinet driver asks before the first command (VDOMs? FortiOS 6 or 7? output paging?),
# answered as a FortiOS 7.2 box without VDOMs and with `set output standard` (no pager, nothing to undo).
FORTINET_SESSION = {
    "get system status | grep Virtual": "Virtual domain configuration: disable\n",
    "get system status | grep Version": "Version: FortiGate-60F v7.2.8,build1639,240313 (GA.M)\n",
    "get system console": "output              : standard\nlogin               : enable\n"
    "fortiexplorer       : enable\n",
}


def prompt(privileged):
    if cisco:
        return hostname + ("#" if privileged else ">")
    if fortinet:
        return hostname + " # "
    if mikrotik:  # RouterOS reads console options after "+" in the login name and shows the bare user
        return "[" + getpass.getuser().split("+", 1)[0] + "@" + hostname + "] > "
    return "vigie@" + hostname + ":~$ "


def refused(command):
    if cisco:
        return "                ^\n% Invalid input detected at '^' marker.\n\n"
    if fortinet:
        return "Unknown action 0\nCommand fail. Return code -61\n"
    if mikrotik:
        return f"bad command name {command.split()[0].lstrip('/')} (line 1 column 2)\n"
    return f"-bash: {command.split()[0]}: command not found\n"


def enter_is_crlf():
    """netmiko's mikrotik driver ends a line with "\r\n"; the pty would turn it into two Enters (ICRNL)."""
    with contextlib.suppress(termios.error):
        attrs = termios.tcgetattr(sys.stdin.fileno())
        attrs[0] &= ~termios.ICRNL
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, attrs)


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
    if mikrotik:
        enter_is_crlf()
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
        elif fortinet and command in FORTINET_SESSION:
            out.write(FORTINET_SESSION[command])
        else:
            text = fixture(command)
            if text is None:
                out.write(refused(command))
            elif scenario == "hang":
                hang_until_eof()
            else:
                out.write(text if text.endswith("\n") else text + "\n")
        out.write(prompt(privileged))
        out.flush()


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        main()
