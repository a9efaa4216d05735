"""The seccomp policy of the sandbox, and its compilation to raw BPF.

An allow list: what CPython, NumPy and the common stdlib need. Everything else fails
with ENOSYS (which libc and Python read as "not supported"), a few calls that honest
code may try fail with EPERM (an ordinary ``PermissionError``), and the dangerous
ones kill the process with SIGSYS, which the runner reports as "not allowed in the
sandbox: a forbidden system call".

Compiled once per runner, in the grader (libseccomp needs ``ldconfig`` to be found,
and the fork server is better off without it); the server loads the bytes with one
``prctl`` per child. Needs pyseccomp and libseccomp (Linux only).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading

CLONE_THREAD = 0x00010000
#: The student always runs as PID 2 in its own PID namespace (see zygote.py).
STUDENT_PID = 2

# fmt: off
#: Allowed: what CPython, NumPy and the common stdlib need, on files, memory,
#: time, signals (to itself) and threads (clone with CLONE_THREAD; counted by
#: RLIMIT_NPROC). Anything not named anywhere fails with ENOSYS, which libc and
#: Python treat as "not supported" (glibc falls back from clone3 to clone, say).
ALLOWED = (
    # file descriptors and I/O
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
    "preadv2", "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3",
    "fcntl", "flock", "fsync", "fdatasync", "ftruncate", "truncate", "fallocate",
    "fadvise64", "readahead", "sendfile", "copy_file_range", "ioctl", "pipe", "pipe2",
    # paths (the jail is read-only except /tmp)
    "open", "openat", "openat2", "creat", "stat", "fstat", "lstat", "newfstatat",
    "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2", "readlink",
    "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir",
    "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
    "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "umask",
    "utime", "utimes", "utimensat", "futimesat", "getxattr", "lgetxattr", "fgetxattr",
    "listxattr", "llistxattr", "flistxattr",
    # memory (bounded by RLIMIT_AS)
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore", "msync",
    # identity and limits of itself
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid",
    "getgroups", "getresuid", "getresgid", "getpgrp", "getpgid", "getsid", "setsid",
    "setpgid", "capget", "uname", "sysinfo", "getrlimit", "setrlimit", "getrusage",
    "times", "getpriority", "setpriority", "getcpu", "sched_getaffinity",
    "sched_getparam", "sched_getscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "sched_rr_get_interval", "sched_getattr", "sched_yield",
    "getrandom",
    # time
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
    "time", "alarm", "getitimer", "setitimer", "timer_create", "timer_settime",
    "timer_gettime", "timer_getoverrun", "timer_delete", "timerfd_create",
    "timerfd_settime", "timerfd_gettime",
    # signals (kill and friends: to itself only, below)
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigsuspend", "sigaltstack", "pause", "signalfd", "signalfd4",
    # waiting and polling
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
    "wait4", "waitid",
    # threads and process lifetime
    "futex", "futex_waitv", "set_robust_list", "get_robust_list", "set_tid_address",
    "rseq", "arch_prctl", "membarrier", "exit", "exit_group", "restart_syscall",
)

#: Refused with EPERM, so Python raises an ordinary OSError the student can read.
REFUSED = (
    # network (the namespace has no interfaces anyway)
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
    "getsockname", "getpeername", "setsockopt", "getsockopt",
    # new processes (threads are allowed through clone below)
    "fork", "vfork", "tkill",
    # persistent or shared kernel state
    "memfd_create", "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv",
    "msgctl", "semget", "semop", "semtimedop", "semctl", "mq_open", "mq_unlink",
    "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr", "inotify_init",
    "inotify_init1", "fanotify_init",
    # credentials, ownership, scheduling, other processes
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capset", "chown", "fchown", "lchown", "fchownat", "mknod",
    "mknodat", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
    "fremovexattr", "sync", "syncfs", "sched_setaffinity", "sched_setparam",
    "sched_setscheduler", "sched_setattr", "personality", "pidfd_open",
    "pidfd_send_signal", "seccomp",
)

#: Kill the process (SIGSYS): no honest submission makes these calls.
KILLED = (
    "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
    "process_madvise", "pidfd_getfd", "kcmp", "mount", "umount2", "pivot_root",
    "chroot", "unshare", "setns", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr", "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "open_by_handle_at", "name_to_handle_at", "reboot",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "swapon", "swapoff", "acct", "iopl", "ioperm", "quotactl", "quotactl_fd",
    "lookup_dcookie", "syslog", "vhangup", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "uselib", "ustat",
    "sysfs", "nfsservctl", "vmsplice",
)
# fmt: on

_PRCTL_OK = (15, 16, 3, 21, 39, 0x53564D41)  # SET/GET_NAME, GET_DUMPABLE/SECCOMP/NNP, SET_VMA


def compile_filter() -> bytes:
    """The policy as raw BPF for this machine's architecture (cached)."""
    with _lock:
        if not _cache:
            _cache.append(_compile())
        return _cache[0]


_lock = threading.Lock()
_cache: list[bytes] = []


def _compile() -> bytes:
    import pyseccomp as sc

    filt = sc.SyscallFilter(defaction=sc.ERRNO(errno.ENOSYS))
    # A binary tree: fewer instructions per call, and a 2x faster load (the kernel
    # pre-evaluates the filter for every syscall number to build its cache).
    filt.set_attr(sc.Attr.CTL_OPTIMIZE, 2)
    # Other ABIs (i386 through int 0x80, x32) would dodge an x86-64 rule list.
    filt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
    eperm = sc.ERRNO(errno.EPERM)

    def add(action: int, name: str, *args) -> None:  # type: ignore[no-untyped-def]
        with contextlib.suppress(OSError, ValueError):  # unknown to this libseccomp
            filt.add_rule(action, name, *args)

    for name in ALLOWED:
        add(sc.ALLOW, name)
    for name in REFUSED:
        add(eperm, name)
    for name in KILLED:
        add(sc.KILL_PROCESS, name)
    # Threads yes, new processes no.
    add(sc.ALLOW, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, CLONE_THREAD))
    add(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    add(sc.ERRNO(errno.ENOSYS), "clone3")  # glibc then falls back to clone
    # Signals: only to itself. Rules on one call never overlap, so which of two
    # matching rules wins never matters; anything else gets the default ENOSYS.
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        add(sc.ALLOW, name, sc.Arg(0, sc.EQ, STUDENT_PID))
        add(eperm, name, sc.Arg(0, sc.NE, STUDENT_PID))
    for pid in (0, STUDENT_PID):  # 0 means "self" for prlimit
        add(sc.ALLOW, "prlimit64", sc.Arg(0, sc.EQ, pid))
    for option in _PRCTL_OK:
        add(sc.ALLOW, "prctl", sc.Arg(0, sc.EQ, option))

    memfd = os.memfd_create("seccomp-bpf")
    try:

        class _File:
            def fileno(self) -> int:
                return memfd

        filt.export_bpf(_File())
        return os.pread(memfd, os.lseek(memfd, 0, os.SEEK_END), 0)
    finally:
        os.close(memfd)
