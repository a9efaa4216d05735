"""Kernel escape attempts with the audit hook gone: one dangerous system call per run.

Disables the audit hook (see the prelude) and makes the system call numbered
``PARAMS["number"]`` with harmless-looking arguments: mount, unshare (a user namespace),
setns, pivot_root, chroot, bpf, io_uring_setup, userfaultfd, perf_event_open, keyctl,
process_vm_readv, pidfd_getfd, open_by_handle_at, init_module, kexec_load, reboot,
ptrace. ``probe`` makes the calls that should fail with an error instead (and returns
the errnos): setuid(0), capset, pidfd_open, memfd_create, shmget, msgget, mknod, kill
of pid 1, prctl(PR_SET_DUMPABLE), prlimit on pid 1, personality, seccomp, clone3.
"""

import ctypes

from _prelude import raw, unhook  # inlined by the test

PARAMS: dict = {}  # filled in by the test


def _libc():
    unhook()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def call(a):
    libc = _libc()
    args = [ctypes.c_long(x) for x in PARAMS.get("args", [0, 0, 0, 0, 0])]
    result = libc.syscall(PARAMS["number"], *args)
    return [float(result), float(ctypes.get_errno())]


def probe(a):
    libc = _libc()
    results = []
    for number, args in PARAMS["refused"]:
        result = libc.syscall(number, *[ctypes.c_long(x) for x in args])
        results.append(float(-ctypes.get_errno() if result < 0 else result))
    return results


assert raw
