"""A seccomp filter for the face workers: what a worker a hostile photo took over still cannot do.

The operating system's limits (:mod:`verifykit.face._sandbox`) bound what a photo may cost; this
bounds what a worker may do. A worker runs as the server's user, so without it a decoder exploit
could reach the store over loopback, signal or trace the server, or rewrite the files the server
writes (its audit log). After the models are loaded, the worker asks the kernel to refuse, with
``EPERM``, every system call that makes a socket, starts a process or runs a program, traces or
signals another process, or changes the file system, and every ``open`` that could write.
Reading photos, models and ``/proc/self`` needs none of them. A refused call fails inside the
worker; it never kills it.

The filter is written for x86-64 Linux, where its system call numbers are known; elsewhere
:func:`confine` returns False and the worker runs with its resource limits alone.
"""

from __future__ import annotations

import ctypes
import platform
import struct
import sys

__all__ = ["confine", "supported"]

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000  # x32 system calls share the x86-64 entry point: refused outright
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_EPERM = 1
# BPF instruction codes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_AND_K = 0x54
_RET_K = 0x06
# struct seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8 i (the low word first on x86-64)
_NR, _ARCH = 0, 4


def _arg(i: int) -> int:
    return 16 + 8 * i


# Refused outright (x86-64 numbers).
_REFUSED = {
    "socket": 41, "connect": 42, "accept": 43, "bind": 49, "listen": 50, "socketpair": 53,
    "accept4": 288, "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "kill": 62,
    "tkill": 200, "tgkill": 234, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "pidfd_open": 434, "pidfd_send_signal": 424, "pidfd_getfd": 438, "truncate": 76, "ftruncate": 77,
    "rename": 82, "renameat": 264, "renameat2": 316, "mkdir": 83, "mkdirat": 258, "rmdir": 84,
    "creat": 85, "link": 86, "linkat": 265, "unlink": 87, "unlinkat": 263, "symlink": 88,
    "symlinkat": 266, "chmod": 90, "fchmod": 91, "fchmodat": 268, "chown": 92, "fchown": 93,
    "lchown": 94, "fchownat": 260, "mount": 165, "umount2": 166, "bpf": 321, "io_uring_setup": 425,
    "memfd_create": 319, "userfaultfd": 323, "perf_event_open": 298,
}  # fmt: skip
# clone makes threads (CLONE_THREAD) but no process; clone3 hides its flags behind a pointer, so
# it answers ENOSYS and the C library falls back to clone.
_CLONE, _CLONE3, _CLONE_THREAD, _ENOSYS = 56, 435, 0x10000, 38
# open and openat are allowed to read only: these flags (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC,
# O_APPEND) are refused, in the argument each call keeps its flags in.
_OPEN, _OPENAT = 2, 257
_WRITING = 0x1 | 0x2 | 0x40 | 0x200 | 0x400


def supported() -> bool:
    """Whether :func:`confine` can install the filter here."""
    return sys.platform == "linux" and platform.machine() in {"x86_64", "AMD64"}


def _program() -> list[tuple[int, int, int, int]]:
    """The filter as (code, jump if true, jump if false, k), jumps resolved."""
    body: list[tuple[int, str | int, str | int, int]] = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ_K, 0, "refuse", _AUDIT_ARCH_X86_64),
        (_LD_W_ABS, 0, 0, _NR),
        (_JGE_K, "refuse", 0, _X32_BIT),
        *((_JEQ_K, "refuse", 0, number) for number in sorted(_REFUSED.values())),
        (_JEQ_K, "openat", 0, _OPENAT),
        (_JEQ_K, "open", 0, _OPEN),
        (_JEQ_K, "clone", 0, _CLONE),
        (_JEQ_K, "clone3", 0, _CLONE3),
        (_RET_K, 0, 0, _RET_ALLOW),
    ]
    labels = {"clone": len(body)}
    body += [(_LD_W_ABS, 0, 0, _arg(0)), (_AND_K, 0, 0, _CLONE_THREAD), (_JEQ_K, "refuse", "allow", 0)]
    labels["clone3"] = len(body)
    body.append((_RET_K, 0, 0, _RET_ERRNO | _ENOSYS))
    labels["openat"] = len(body)
    body += [(_LD_W_ABS, 0, 0, _arg(2)), (_AND_K, 0, 0, _WRITING), (_JEQ_K, "allow", "refuse", 0)]
    labels["open"] = len(body)
    body += [(_LD_W_ABS, 0, 0, _arg(1)), (_AND_K, 0, 0, _WRITING), (_JEQ_K, "allow", "refuse", 0)]
    labels["allow"] = len(body)
    body.append((_RET_K, 0, 0, _RET_ALLOW))
    labels["refuse"] = len(body)
    body.append((_RET_K, 0, 0, _RET_ERRNO | _EPERM))

    def offset(at: int, target: str | int) -> int:
        return labels[target] - at - 1 if isinstance(target, str) else target

    return [(code, offset(i, jt), offset(i, jf), k) for i, (code, jt, jf, k) in enumerate(body)]


def confine() -> bool:
    """Install the filter on this process (and any thread it starts); False where unsupported.

    Irreversible, as seccomp filters are: only a worker process calls it.
    """
    if not supported():
        return False
    program = _program()
    raw = b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in program)
    filters = ctypes.create_string_buffer(raw, len(raw))

    class _Prog(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    prog = _Prog(len(program), ctypes.addressof(filters))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP failed")
    return True
