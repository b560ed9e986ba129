"""Run a command under the seccomp part of a systemd unit's sandbox, without systemd as PID 1 (as in a container).

`python -m tests.deploy.unit_sandbox UNIT -- COMMAND...` reads the unit's SystemCallFilter=, SystemCallErrorNumber=,
SystemCallArchitectures=native, MemoryDenyWriteExecute=, RestrictAddressFamilies=, NoNewPrivileges= and UMask=,
installs the same seccomp filters systemd 252 installs for them (through libseccomp, which systemd uses too; the
syscall groups resolved by `systemd-analyze syscall-filter`, so they are this systemd's), and execs COMMAND: its
children inherit all of it. The mount, user and namespace directives need systemd (or root) and are not emulated.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os
import socket
import subprocess
import sys
from functools import cache
from pathlib import Path

SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
SHM_EXEC = 0o100000
AF_MAX = 46  # linux/socket.h (6.x)


def SCMP_ACT_ERRNO(code: int) -> int:  # noqa: N802  (libseccomp's macro)
    return 0x00050000 | (code & 0xFFFF)


class ArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp: compare syscall argument `arg` with `datum_a` (masked by it, for MASKED_EQ)."""
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _libseccomp() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    return lib


def unit_directives(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            name, _, value = line.partition("=")
            out.setdefault(name.strip(), []).append(value.strip())
    return out


@cache
def syscall_group(name: str) -> frozenset[str]:
    """The syscalls of a group such as @system-service, nested groups expanded, as this systemd defines them."""
    text = subprocess.run([SYSTEMD_ANALYZE, "syscall-filter", name], capture_output=True, text=True, check=True,
                          timeout=30).stdout
    calls: set[str] = set()
    for line in text.splitlines()[1:]:
        item = line.strip()
        if item.startswith("@"):
            calls |= syscall_group(item)
        elif item and not item.startswith("#"):
            calls.add(item)
    return frozenset(calls)


def expand(items: list[str]) -> set[str]:
    return set().union(*(syscall_group(i) if i.startswith("@") else {i} for i in items))


def allowed_syscalls(filters: list[str]) -> set[str]:
    """SystemCallFilter= lines as systemd combines them: the first (no ~) is the allow list, a ~ line removes."""
    allowed: set[str] = set()
    for value in filters:
        if value.startswith("~"):
            allowed -= expand(value[1:].split())
        else:
            allowed |= expand(value.split())
    return allowed


class Filter:
    """One seccomp filter (systemd installs several; the kernel applies the strictest answer of all)."""

    def __init__(self, lib: ctypes.CDLL, default_action: int) -> None:
        self.lib = lib
        self.ctx = lib.seccomp_init(default_action)
        if not self.ctx:
            raise OSError("seccomp_init failed")

    def rule(self, action: int, syscall: str, *conditions: tuple[int, int, int, int]) -> None:
        nr = self.lib.seccomp_syscall_resolve_name(syscall.encode())
        if nr < 0:  # not a syscall of this architecture (systemd skips those too)
            return
        cmps = (ArgCmp * max(1, len(conditions)))(*(ArgCmp(*c) for c in conditions))
        if self.lib.seccomp_rule_add_array(self.ctx, action, nr, len(conditions), cmps) != 0:
            raise OSError(f"seccomp rule for {syscall} refused")

    def load(self) -> None:
        if self.lib.seccomp_load(self.ctx) != 0:
            raise OSError("seccomp_load failed")
        self.lib.seccomp_release(self.ctx)


def apply(unit: Path) -> None:
    """Install in this process what `unit` asks for (NoNewPrivileges is implied: seccomp_load sets it)."""
    d = unit_directives(unit)
    lib = _libseccomp()
    deny = SCMP_ACT_ERRNO(errno.EPERM)
    if d.get("SystemCallErrorNumber"):
        deny = SCMP_ACT_ERRNO(getattr(errno, d["SystemCallErrorNumber"][0]))
    if d.get("MemoryDenyWriteExecute") == ["true"]:
        # systemd 252's seccomp_memory_deny_write_execute(): no mapping both writable and executable, no mprotect
        # to executable, no executable SysV shared memory
        wx = mmap.PROT_WRITE | mmap.PROT_EXEC
        mdwe = Filter(lib, SCMP_ACT_ALLOW)
        mdwe.rule(SCMP_ACT_ERRNO(errno.EPERM), "mmap", (2, SCMP_CMP_MASKED_EQ, wx, wx))
        for call in ("mprotect", "pkey_mprotect"):
            mdwe.rule(SCMP_ACT_ERRNO(errno.EPERM), call, (2, SCMP_CMP_MASKED_EQ, mmap.PROT_EXEC, mmap.PROT_EXEC))
        mdwe.rule(SCMP_ACT_ERRNO(errno.EPERM), "shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
        mdwe.load()
    if d.get("RestrictAddressFamilies"):
        families = {int(getattr(socket, name)) for name in " ".join(d["RestrictAddressFamilies"]).split()}
        afs = Filter(lib, SCMP_ACT_ALLOW)
        for family in sorted(set(range(AF_MAX)) - families):
            afs.rule(SCMP_ACT_ERRNO(errno.EAFNOSUPPORT), "socket", (0, SCMP_CMP_EQ, family, 0))
        afs.load()
    if d.get("SystemCallFilter"):  # the last: it leaves no seccomp() to load another filter
        calls = Filter(lib, deny)  # SystemCallArchitectures=native: libseccomp's context holds the native ABI only
        for name in sorted(allowed_syscalls(d["SystemCallFilter"])):
            calls.rule(SCMP_ACT_ALLOW, name)
        calls.load()
    if d.get("UMask"):
        os.umask(int(d["UMask"][0], 8))


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m tests.deploy.unit_sandbox UNIT -- COMMAND...")
    apply(Path(argv[0]))
    os.execvp(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
