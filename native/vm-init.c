// mags-vm-init: PID 1 of a qemu sandbox's guest, run from its initramfs. It loads the virtio and
// 9p modules, mounts the root filesystem the host exports over virtio-9p (the workspace overlay,
// merged on the host: src/runtimes/qemu/), gives it a minimal /dev and /proc, opens the
// virtio-serial port named "mags" and hands over to the guest agent as PID 1 (fexecve of the
// initramfs's copy, so the agent binary is never visible in the sandbox's filesystem).
//
// Settings come from the kernel command line: mags.hostname=NAME, mags.net=1 (user-mode network:
// 10.0.2.15/24 via 10.0.2.2), mags.pids=N (process limit, a guest cgroup), mags.memory=BYTES (the
// sandbox's memory limit in that cgroup: the VM has more, for its kernel), mags.probe=1 (print
// "mags-vm-init: probe ok" and power off: the accelerator probe, src/runtimes/qemu/accelerator.ts).
// Any failure is printed on the console (the launcher's log) and powers the VM off.
//
// The agent and everything it starts run as the guest's root under the namespace launcher's
// policy (sandbox-policy.h): capabilities cut to Docker's set (no SYS_ADMIN: no remounting the
// cgroup filesystem to lift the process limit; no SYS_MODULE), no_new_privs and the same seccomp
// filter (mount, module loading, new namespaces denied). Nothing after the handover mounts.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "sandbox-policy.h"

static void power_off(void) {
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

static void die(const char *format, ...) {
  int saved = errno;
  va_list args;
  va_start(args, format);
  fputs("mags-vm-init: ", stderr);
  vfprintf(stderr, format, args);
  va_end(args);
  if (saved) fprintf(stderr, ": %s", strerror(saved));
  fputc('\n', stderr);
  power_off();
}

static void mount_or_die(const char *source, const char *target, const char *type, unsigned long flags, const char *data) {
  if (mount(source, target, type, flags, data) < 0) die("mount %s on %s", type ? type : source, target);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die("write %s to %s", text, path);
  close(fd);
}

static char command_line[4096];

// The value of `mags.KEY=` on the kernel command line, or NULL.
static const char *setting(const char *key) {
  static char value[256];
  char pattern[64];
  snprintf(pattern, sizeof pattern, "mags.%s=", key);
  for (char *at = command_line; (at = strstr(at, pattern)); at++) {
    if (at != command_line && at[-1] != ' ') continue;
    at += strlen(pattern);
    size_t length = strcspn(at, " \n");
    if (length >= sizeof value) length = sizeof value - 1;
    memcpy(value, at, length);
    value[length] = 0;
    return value;
  }
  return NULL;
}

static void load_modules(void) {
  FILE *order = fopen("/modules/order", "re");
  if (!order) die("open /modules/order");
  char name[128];
  while (fgets(name, sizeof name, order)) {
    name[strcspn(name, "\n")] = 0;
    if (!name[0]) continue;
    char path[256];
    snprintf(path, sizeof path, "/modules/%s.ko", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open %s", path);
    if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST) die("load the kernel module %s", name);
    close(fd);
  }
  fclose(order);
}

static void sleep_ms(long milliseconds) {
  struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
  nanosleep(&pause, NULL);
}

// The virtio-serial port QEMU names "mags" (/sys/class/virtio-ports/vportNpM/name). Hosts connect
// to its other end (QEMU's socket) and go; the agent (--port) waits for each.
static int open_agent_port(void) {
  for (int attempt = 0; attempt < 1000; attempt++) {
    DIR *ports = opendir("/sys/class/virtio-ports");
    struct dirent *entry;
    while (ports && (entry = readdir(ports))) {
      if (entry->d_name[0] == '.') continue;
      char path[512], name[64] = "";
      snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", entry->d_name);
      FILE *file = fopen(path, "re");
      if (!file) continue;
      if (!fgets(name, sizeof name, file)) name[0] = 0;
      fclose(file);
      if (strcmp(name, "mags\n") && strcmp(name, "mags")) continue;
      snprintf(path, sizeof path, "/dev/%s", entry->d_name);
      int fd = open(path, O_PATH | O_CLOEXEC);  // the agent opens it, and again for each host
      if (fd < 0) break;  // the device node may not exist yet
      closedir(ports);
      return fd;
    }
    if (ports) closedir(ports);
    sleep_ms(5);
  }
  die("no virtio-serial port named mags (is virtio_console loaded and the port given to QEMU?)");
  return -1;
}

static void interface_up(int fd, const char *name) {
  struct ifreq request = {0};
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &request) < 0) die("get %s flags", name);
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &request) < 0) die("bring up %s", name);
}

static void set_address(int fd, const char *name, unsigned long request_number, const char *address) {
  struct ifreq request = {0};
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  struct sockaddr_in *in = (struct sockaddr_in *)&request.ifr_addr;
  in->sin_family = AF_INET;
  inet_pton(AF_INET, address, &in->sin_addr);
  if (ioctl(fd, request_number, &request) < 0) die("set the address of %s to %s", name, address);
}

static void add_route(int fd, const char *destination, const char *mask, const char *gateway, const char *device, int reject) {
  struct rtentry route = {0};
  struct sockaddr_in *to = (struct sockaddr_in *)&route.rt_dst, *netmask = (struct sockaddr_in *)&route.rt_genmask,
                     *via = (struct sockaddr_in *)&route.rt_gateway;
  to->sin_family = netmask->sin_family = via->sin_family = AF_INET;
  inet_pton(AF_INET, destination, &to->sin_addr);
  inet_pton(AF_INET, mask, &netmask->sin_addr);
  route.rt_flags = RTF_UP | (reject ? RTF_REJECT : 0);
  if (gateway) {
    inet_pton(AF_INET, gateway, &via->sin_addr);
    route.rt_flags |= RTF_GATEWAY;
  }
  route.rt_dev = (char *)device;
  if (ioctl(fd, SIOCADDRT, &route) < 0) die("add the route to %s/%s", destination, mask);
}

// QEMU's user-mode network (slirp): the guest is 10.0.2.15, the gateway 10.0.2.2 and DNS 10.0.2.3,
// the same addresses slirp4netns gives a namespace sandbox. The metadata range gets a reject route
// here too; the launcher's network namespace, where QEMU's sockets live, rejects it on the host.
static void configure_network(int net) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket for the network");
  interface_up(fd, "lo");
  if (net) {
    set_address(fd, "eth0", SIOCSIFADDR, "10.0.2.15");
    set_address(fd, "eth0", SIOCSIFNETMASK, "255.255.255.0");
    interface_up(fd, "eth0");
    add_route(fd, "0.0.0.0", "0.0.0.0", "10.0.2.2", "eth0", 0);
    add_route(fd, "169.254.0.0", "255.255.0.0", NULL, "lo", 1);
  }
  close(fd);
}

// The process and memory limits of everything the agent starts: a cgroup of the guest's own, set
// up before the switch to the new root, where no cgroup filesystem is mounted. The memory limit is
// the sandbox's own: an allocation past it is OOM-killed here and counted in memory.events, where
// the host reads it, while the guest kernel keeps the rest of the VM's memory.
static void limit_sandbox(const char *pids, const char *memory) {
  if (mkdir("/cgroup", 0755) < 0 && errno != EEXIST) die("mkdir /cgroup");
  mount_or_die("cgroup2", "/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  write_file("/cgroup/cgroup.subtree_control", "+pids +memory");
  if (mkdir("/cgroup/sandbox", 0755) < 0) die("mkdir the sandbox cgroup");
  write_file("/cgroup/sandbox/pids.max", pids);
  write_file("/cgroup/sandbox/memory.max", memory);
  char self[32];
  snprintf(self, sizeof self, "%d", getpid());
  write_file("/cgroup/sandbox/cgroup.procs", self);
}

// Called with the new root as the working directory, as native/sandbox.c's setup_dev: only the
// devices a sandbox may use, as nodes of the guest's own kernel.
static void setup_dev(void) {
  mount_or_die("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k");
  static const struct { const char *name; unsigned major, minor; } devices[] = {
      {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  char path[64];
  for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
    snprintf(path, sizeof path, "dev/%s", devices[i].name);
    if (mknod(path, S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor)) < 0) die("mknod %s", path);
  }
  if (mkdir("dev/pts", 0755) < 0) die("mkdir /dev/pts");
  mount_or_die("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  if (mkdir("dev/shm", 01777) < 0) die("mkdir /dev/shm");
  mount_or_die("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  static const char *links[][2] = {{"pts/ptmx", "dev/ptmx"}, {"/proc/self/fd", "dev/fd"}, {"/proc/self/fd/0", "dev/stdin"},
                                   {"/proc/self/fd/1", "dev/stdout"}, {"/proc/self/fd/2", "dev/stderr"}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    if (symlink(links[i][0], links[i][1]) < 0) die("symlink %s", links[i][1]);
  }
}

int main(void) {
  // The kernel starts an initramfs's init without a console when /dev/console is missing from
  // the archive: mount devtmpfs first and open it, so every message reaches the launcher's log.
  mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  int console = open("/dev/console", O_RDWR);
  if (console >= 0) {
    for (int fd = 0; fd < 3; fd++) dup2(console, fd);
    if (console > 2) close(console);
  }
  mount_or_die("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_or_die("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  int command_line_fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (command_line_fd < 0 || read(command_line_fd, command_line, sizeof command_line - 1) < 0) die("read /proc/cmdline");
  close(command_line_fd);
  if (setting("probe")) {
    puts("mags-vm-init: probe ok");
    fflush(stdout);
    power_off();
  }

  load_modules();
  // setting() returns one static buffer: each value is copied before the next is read.
  const char *pids = setting("pids");
  char *pids_copy = strdup(pids ? pids : "max");
  const char *memory = setting("memory");
  limit_sandbox(pids_copy, memory ? memory : "max");
  int agent = open("/mags-agent", O_RDONLY | O_CLOEXEC);
  if (agent < 0) die("open /mags-agent");
  int port = open_agent_port();
  fcntl(port, F_SETFD, 0);  // the agent's stream must outlive exec; it sets its own flags

  // The workspace, merged on the host. cache=mmap: no page cache for reads and writes (every write
  // reaches the host's layer at once, so a sync of a parked sandbox sees it), but mmap works.
  // access=client: the guest kernel checks permissions with the file modes and owners it is shown.
  mount_or_die("root", "/newroot", "9p", 0, "trans=virtio,version=9p2000.L,cache=mmap,access=client,msize=524288");
  if (chdir("/newroot") < 0) die("chdir /newroot");
  mount_or_die("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  setup_dev();
  // Read-only views of the guest's sysfs and cgroups: the host reads the sandbox's counters
  // (processes, memory, OOM kills) from /sys/fs/cgroup/sandbox through the agent, as a
  // container reads its own. They are the guest kernel's: nothing of the host's is in them.
  mount_or_die("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_or_die("cgroup2", "sys/fs/cgroup", "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  // switch_root without deleting the initramfs (it is a few MiB): move the new root onto /. The
  // initramfs's own mounts go first: a chroot escape (CAP_SYS_CHROOT is kept) leads back to the
  // initramfs, where the writable cgroup filesystem and devtmpfs (every device node, the agent's
  // port among them) must no longer be. The open port and console fds stay usable.
  umount2("/proc", MNT_DETACH);
  umount2("/sys", MNT_DETACH);
  if (umount2("/cgroup", MNT_DETACH) < 0) die("unmount the initramfs's /cgroup");
  if (umount2("/dev", MNT_DETACH) < 0) die("unmount the initramfs's /dev");
  if (mount(".", "/", NULL, MS_MOVE, NULL) < 0) die("move the new root onto /");
  if (chroot(".") < 0 || chdir("/") < 0) die("chroot into the new root");

  const char *hostname = setting("hostname");
  if (hostname && sethostname(hostname, strlen(hostname)) < 0) die("sethostname");
  const char *net = setting("net");
  configure_network(net && !strcmp(net, "1"));

  char port_text[16];
  snprintf(port_text, sizeof port_text, "%d", port);
  char *argv[] = {"mags-agent", "--port", port_text, NULL};
  char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", NULL};
  // Ping through ICMP datagram sockets: CAP_NET_RAW is not kept (sandbox-policy.h). The guest
  // kernel's root namespace maps every group.
  const char *failed = policy_allow_ping_sockets(2147483647UL);
  if (failed) die("%s", failed);
  failed = policy_drop_capabilities();
  if (failed) die("%s", failed);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("PR_SET_NO_NEW_PRIVS");
  if ((failed = policy_install_seccomp())) die("%s", failed);
  fexecve(agent, argv, envp);
  die("exec the guest agent");
  return 1;
}
