// What every sandbox's processes may do, shared by the namespace launcher (native/sandbox.c: the
// agent of a namespace sandbox, or a VM's monitor) and the guest's init (native/vm-init.c: the
// agent of a microVM and everything it starts): the capabilities kept, and the seccomp filter.
// Each function returns NULL, or what failed (errno says why) for the caller's die().
#ifndef MAGS_SANDBOX_POLICY_H
#define MAGS_SANDBOX_POLICY_H

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// Docker's default capability set less NET_RAW; everything else (SYS_ADMIN, SYS_MODULE, NET_ADMIN,
// SYS_PTRACE, ...) goes. In a namespace sandbox these only ever apply inside its own user
// namespace; in a guest they are the guest kernel's, where SYS_ADMIN would remount cgroupfs (and
// lift the process limit) and SYS_MODULE load modules. NET_RAW goes too: a packet socket
// (AF_PACKET) writes frames straight onto tap0, past the output hook where an egress allow-list's
// rules are and past the reject route for 169.254/16, and slirp4netns forwards whatever arrives.
// In a guest the same frames reach QEMU's user-mode network, whose own sockets do pass the
// launcher's rules; it goes there as well, so a guest's root cannot feed forged frames (spoofed
// sources, odd fragments) to QEMU's slirp parser. Ping keeps working through ICMP datagram
// sockets, which need no capability: policy_allow_ping_sockets below.
static const int kept_capabilities[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,     CAP_MKNOD,
                                        CAP_SETGID, CAP_SETUID,       CAP_SETFCAP,          CAP_SETPCAP,    CAP_NET_BIND_SERVICE,
                                        CAP_SYS_CHROOT, CAP_KILL,     CAP_AUDIT_WRITE};

// Lets every group of this network namespace open ICMP echo ("ping") datagram sockets, which is
// how ping works without CAP_NET_RAW (icmp(7), net.ipv4.ping_group_range). `last_group` is the
// highest group id mapped in the namespace's user namespace: the kernel refuses an unmapped one.
// Called with /proc mounted, before the capabilities go (writing the sysctl needs NET_ADMIN over
// the namespace, which its own root has until then).
static inline const char *policy_allow_ping_sockets(unsigned long last_group) {
  char range[32];
  int length = snprintf(range, sizeof range, "0 %lu", last_group);
  int fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return "open /proc/sys/net/ipv4/ping_group_range";
  ssize_t written = write(fd, range, (size_t)length);
  close(fd);
  return written == length ? NULL : "write /proc/sys/net/ipv4/ping_group_range";
}

// Drops every other capability from the bounding set (so no exec gets it back) and from this
// process's effective, permitted and inheritable sets.
static inline const char *policy_drop_capabilities(void) {
  unsigned long long kept = 0;
  for (size_t i = 0; i < sizeof kept_capabilities / sizeof *kept_capabilities; i++) kept |= 1ULL << kept_capabilities[i];
  for (int cap = 0; cap <= 63; cap++) {
    if (kept & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return "drop a capability from the bounding set";
  }
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2] = {0};
  for (int i = 0; i < 2; i++) {
    data[i].effective = data[i].permitted = data[i].inheritable = (unsigned)(kept >> (32 * i));
  }
  if (syscall(SYS_capset, &header, data) < 0) return "capset";
  return NULL;
}

// Syscalls a sandbox has no business making (Docker's default profile, GUIDE §2b): they fail
// with EPERM so programs that probe for them degrade gracefully.
static const char *denied_syscalls[] = {
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd", "acct", "swapon", "swapoff",
    "reboot", "mount", "umount2", "pivot_root", "setns", "unshare", "open_by_handle_at",
    "name_to_handle_at", "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "syslog", "quotactl", "vhangup", "lookup_dcookie", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr", "nfsservctl", "process_madvise", "kcmp",
};

// Loads the filter into this process (and, across exec and fork, everything it starts). Needs
// no_new_privs set first, or CAP_SYS_ADMIN.
static inline const char *policy_install_seccomp(void) {
  const char *failed = NULL;
  scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
  if (!filter) return "seccomp_init";
  // Only the native ABI: a foreign or x32 syscall would bypass every rule below.
  if (seccomp_attr_set(filter, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0) failed = "seccomp badarch";
  for (size_t i = 0; !failed && i < sizeof denied_syscalls / sizeof *denied_syscalls; i++) {
    int number = seccomp_syscall_resolve_name(denied_syscalls[i]);
    if (number == __NR_SCMP_ERROR) continue;
    if (seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), number, 0) < 0) failed = "seccomp rule for a denied syscall";
  }
  // New namespaces through clone(): its flags are the first argument on x86_64. One rule per flag,
  // because a masked comparison can only test "all of these bits", not "any of them".
  const unsigned long namespace_flags[] = {CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,   CLONE_NEWNET,
                                           CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWCGROUP};
  for (size_t i = 0; !failed && i < sizeof namespace_flags / sizeof *namespace_flags; i++) {
    unsigned long flag = namespace_flags[i];
    if (seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)) < 0)
      failed = "seccomp clone rule";
  }
  // clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes glibc fall back
  // to clone(), which the rules above do check (the same choice as Docker's profile).
  if (!failed && seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0) failed = "seccomp clone3";
  // personality(): no turning off address-space randomization or making data executable for
  // the sandbox's own exploits (the flags Docker's profile keeps out, one rule per bit).
  const unsigned long personality_flags[] = {0x0040000 /* ADDR_NO_RANDOMIZE */, 0x0400000 /* READ_IMPLIES_EXEC */};
  for (size_t i = 0; !failed && i < 2; i++) {
    unsigned long flag = personality_flags[i];
    if (seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)) < 0)
      failed = "seccomp personality";
  }
  if (!failed && seccomp_load(filter) < 0) failed = "seccomp load";
  seccomp_release(filter);
  return failed;
}

#endif
