// mags-sandbox: sets up one namespace sandbox and runs the guest agent as its PID 1.
//
// Host side (this process, host root): take workspace locks, join the sandbox's cgroups, clone a
// child into new user/mount/pid/net/ipc/uts/cgroup namespaces, map its ids to an unprivileged
// range, optionally attach slirp4netns, then wait and exit with the child's status.
// Child side: mount the overlay root, /proc and a minimal /dev, pivot into it, drop capabilities,
// set no_new_privs, install the seccomp filter and fexecve the agent (opened before the pivot, so
// the agent binary is never visible in the sandbox's filesystem).
//
// With --vm DIR it runs a virtual machine monitor instead of the agent (the qemu runtime: the
// agent runs inside the VM). Everything above stays as it is, but the new root is a jail for the
// monitor: a tmpfs holding the host's /usr (read-only), DIR (the guest kernel, read-only) at /vm,
// the overlay at /rootfs (exported to the guest over virtio-9p) and a /dev with the harmless
// devices plus each --vm-device; the jail's root and /dev are then read-only. The --listen socket
// (the agent's stream, which hosts connect to and leave) is made here as for the agent, in the
// root-owned run directory, and handed to the monitor as fd 3 (VM_AGENT_FD): the monitor never
// sees a directory of the host's it could write to. The monitor's stdout and stderr (the guest's
// serial console) come through a pipe, of which the first VM_CONSOLE_BYTES reach this process's
// stderr (the launcher's log) and the rest is counted and dropped: a guest cannot fill the disk.
// The program after -- is run as given.
//
// With --attach-fd N the launcher stops before the layers: a pooled sandbox, created ahead of
// time, waits with its namespaces and cgroups in place until the attach message on fd N names
// its layers, locks, hostname and network (see read_attach).
//
// Exit codes: the agent's status (128+signal if killed); 75 a lock is busy; 71 setup failed;
// 64 usage error. See docs/design.md.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "egress.h"
#include "sandbox-policy.h"

#define EXIT_USAGE 64
#define EXIT_SETUP 71
#define EXIT_BUSY 75
#define MAX_LIST 32
// The fd a monitor finds the agent's listening socket at: QEMU's `-chardev socket,fd=3,...`
// (src/runtimes/qemu/qemu-command-line.ts, agentListenFd).
#define VM_AGENT_FD 3
#define VM_CONSOLE_BYTES (64 * 1024)

struct options {
  const char *root, *upper, *work, *hostname, *listen_path, *scratch, *scratch_bytes, *vm;
  const char *lowers[MAX_LIST], *cgroups[MAX_LIST], *locks_exclusive[MAX_LIST], *locks_shared[MAX_LIST];
  const char *vm_devices[MAX_LIST];
  int lower_count, cgroup_count, exclusive_count, shared_count, vm_device_count;
  long uid_base, id_count;
  int net, fd, attach_fd;
  char **agent_argv;
  struct egress_options egress;  // --allow-host, --allow-cidr, --egress-log (egress.h)
};

static void die(const char *format, ...) {
  int saved = errno;
  va_list args;
  va_start(args, format);
  fputs("mags-sandbox: ", stderr);
  vfprintf(stderr, format, args);
  va_end(args);
  if (saved) fprintf(stderr, ": %s", strerror(saved));
  fputc('\n', stderr);
  _exit(EXIT_SETUP);
}

static void usage(const char *message) {
  fprintf(stderr, "mags-sandbox: %s\nusage: mags-sandbox --root DIR --lower DIR... (--upper DIR --work DIR | --scratch DIR --scratch-bytes N) "
                  "[--uid-base N] [--id-count N] [--cgroup DIR]... [--lock-exclusive F]... [--lock-shared F]... "
                  "[--scratch DIR --scratch-bytes N] [--hostname NAME] [--net] [--allow-host NAME[:PORT]]... [--allow-cidr A.B.C.D/N[:PORT]]... [--egress-log PATH] [--fd N] [--listen PATH] "
                  "-- AGENT [ARGS...]\n"
                  "       mags-sandbox --vm DIR [--vm-device /dev/NAME]... --listen PATH (the same layer, id, cgroup, lock, "
                  "hostname and --net options) -- MONITOR [ARGS...]\n", message);
  exit(EXIT_USAGE);
}

static void add(const char **list, int *count, const char *value) {
  if (*count >= MAX_LIST) usage("too many repeated options");
  list[(*count)++] = value;
}

// Overlay mount options are comma- and colon-separated: such characters in a path would be
// misparsed (Documentation/filesystems/overlayfs.rst), so refuse them up front.
static void mount_or_die(const char *source, const char *target, const char *type, unsigned long flags, const char *data);
static void path_join(char *out, size_t size, const char *a, const char *b);

static void check_layer_path(const char *path) {
  if (path[0] != '/' || strpbrk(path, ",:\\")) usage("layer paths must be absolute and contain no ',' ':' or '\\'");
}

// The options that say what a sandbox runs on (its layers, locks, hostname, network). They come
// from the command line, or, for a sandbox started ahead of time (--attach-fd), later from the
// attach message. Returns 0 for an option that is not one of them.
static int parse_attachable(struct options *o, const char *a, const char *v) {
  if (!strcmp(a, "--lower")) { check_layer_path(v); add(o->lowers, &o->lower_count, v); }
  else if (!strcmp(a, "--upper")) { check_layer_path(v); o->upper = v; }
  else if (!strcmp(a, "--work")) { check_layer_path(v); o->work = v; }
  else if (!strcmp(a, "--lock-exclusive")) add(o->locks_exclusive, &o->exclusive_count, v);
  else if (!strcmp(a, "--lock-shared")) add(o->locks_shared, &o->shared_count, v);
  else if (!strcmp(a, "--hostname")) o->hostname = v;
  else if (!strcmp(a, "--scratch")) { check_layer_path(v); o->scratch = v; }
  else if (!strcmp(a, "--scratch-bytes")) o->scratch_bytes = v;
  else if (!strcmp(a, "--allow-host") || !strcmp(a, "--allow-cidr")) {
    const char *wrong = egress_add_rule(&o->egress, !strcmp(a, "--allow-cidr"), v);
    if (wrong) usage(wrong);
    o->net = 1;  // an allow-list is a network, filtered
  } else if (!strcmp(a, "--egress-log")) { check_layer_path(v); o->egress.log_path = v; }
  else return 0;
  return 1;
}

static void check_layers(const struct options *o) {
  if (o->lower_count == 0) usage("missing --lower");
  if (!o->scratch && (!o->upper || !o->work)) usage("missing --upper and --work, or --scratch");
  if (o->scratch && (o->upper || o->work || !o->scratch_bytes)) usage("--scratch takes --scratch-bytes and no --upper or --work");
  // tmpfs reads size=0 as "no limit": an empty or zero size must never reach the mount.
  if (o->scratch_bytes && (strspn(o->scratch_bytes, "0123456789") != strlen(o->scratch_bytes) ||
                           strspn(o->scratch_bytes, "0") == strlen(o->scratch_bytes)))
    usage("--scratch-bytes takes a number above 0");
}

// A throw-away sandbox's writable layer (--scratch DIR --scratch-bytes N): a tmpfs of N bytes
// mounted on DIR in the sandbox's own mount namespace, so a writer past N gets ENOSPC and the
// host's disk is never touched. tmpfs mounts in a user namespace and has user.* xattrs (which
// overlayfs's "userxattr" needs) since Linux 6.6; its pages are charged to the sandbox's memory
// cgroup, so the layer also counts against --memory.
static void mount_scratch(struct options *o) {
  static char upper[4096], work[4096], data[64];
  snprintf(data, sizeof data, "size=%s,mode=0755", o->scratch_bytes);
  mount_or_die("tmpfs", o->scratch, "tmpfs", MS_NOSUID | MS_NODEV, data);
  path_join(upper, sizeof upper, o->scratch, "/upper");
  path_join(work, sizeof work, o->scratch, "/work");
  if (mkdir(upper, 0755) < 0 || mkdir(work, 0755) < 0) die("mkdir the scratch layer in %s", o->scratch);
  o->upper = upper;
  o->work = work;
}

static void parse(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  o->uid_base = 100000;
  o->id_count = 65536;
  o->hostname = "mags";
  o->fd = -1;
  o->attach_fd = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      if (i + 1 >= argc) usage("missing agent path after --");
      o->agent_argv = &argv[i + 1];
      break;
    }
    if (!strcmp(a, "--net")) { o->net = 1; continue; }
    if (i + 1 >= argc) usage("option needs a value");
    const char *v = argv[++i];
    if (parse_attachable(o, a, v)) continue;
    if (!strcmp(a, "--root")) o->root = v;
    else if (!strcmp(a, "--uid-base")) o->uid_base = atol(v);
    else if (!strcmp(a, "--id-count")) o->id_count = atol(v);
    else if (!strcmp(a, "--cgroup")) add(o->cgroups, &o->cgroup_count, v);
    else if (!strcmp(a, "--listen")) o->listen_path = v;
    else if (!strcmp(a, "--fd")) o->fd = atoi(v);
    else if (!strcmp(a, "--attach-fd")) o->attach_fd = atoi(v);
    else if (!strcmp(a, "--vm")) { check_layer_path(v); o->vm = v; }
    else if (!strcmp(a, "--vm-device")) { check_layer_path(v); add(o->vm_devices, &o->vm_device_count, v); }
    else usage("unknown option");
  }
  if (!o->root || !o->agent_argv) usage("missing a required option");
  if (o->attach_fd < 0) check_layers(o);
  if (o->fd < 0 && !o->listen_path) usage("give --fd, --listen, or both (--vm: --listen)");
  if (o->vm && (!o->listen_path || o->fd >= 0)) usage("--vm takes --listen and no --fd (the monitor serves the stream)");
  // Never map anything onto host root: that is the whole point of the id shift.
  if (o->uid_base < 1 || o->id_count < 1) usage("--uid-base and --id-count must be positive");
}

// The attach message: a 4-byte length (the host's byte order: little-endian on x86_64 and arm64), then NUL-terminated option/value strings
// (`--upper\0/path\0...`; `--net` takes the value `1`). The strings stay allocated for the
// sandbox's life: the options point into them.
#define MAX_ATTACH (64 * 1024)

static int read_full(int fd, void *buffer, size_t length) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = read(fd, (char *)buffer + done, length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

static char *read_attach(int fd, uint32_t *length) {
  if (read_full(fd, length, sizeof *length) < 0) return NULL;
  if (*length > MAX_ATTACH) usage("attach message too long");
  char *message = calloc(1, *length + 1);
  if (!message) die("calloc");
  if (read_full(fd, message, *length) < 0) return NULL;
  return message;
}

static void apply_attach(struct options *o, char *message, uint32_t length) {
  char *end = message + length, *a = message;
  while (a < end) {
    char *v = a + strlen(a) + 1;
    if (v >= end) usage("attach message: option without a value");
    if (!strcmp(a, "--net")) o->net = 1;
    else if (!parse_attachable(o, a, v)) usage("attach message: unknown option");
    a = v + strlen(v) + 1;
  }
  check_layers(o);
}

static void take_lock(const char *path, int operation) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) die("open lock %s", path);
  if (flock(fd, operation | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) {
      fprintf(stderr, "mags-sandbox: busy: %s is locked by another sandbox\n", path);
      _exit(EXIT_BUSY);
    }
    die("flock %s", path);
  }
  // Kept open (and close-on-exec) until this launcher exits; the kernel releases it even on SIGKILL.
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("open %s", path);
  ssize_t length = (ssize_t)strlen(text);
  if (write(fd, text, length) != length) die("write %s", path);
  close(fd);
}

static int listen_on(const char *path) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof address.sun_path) usage("--listen path too long");
  strcpy(address.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);  // the child keeps it across exec
  if (fd < 0) die("socket");
  unlink(path);
  // Created 0600 by bind itself: a chmod after bind would leave a moment in which the socket
  // has the process umask's mode (0777 with umask 0) and anyone could connect to the agent.
  mode_t umask_before = umask(0177);
  int bound = bind(fd, (struct sockaddr *)&address, sizeof address);
  umask(umask_before);
  if (bound < 0) die("bind %s", path);
  if (listen(fd, 64) < 0) die("listen %s", path);
  return fd;
}

// ---------------------------------------------------------------- child (inside the namespaces)

static void mount_or_die(const char *source, const char *target, const char *type, unsigned long flags, const char *data) {
  if (mount(source, target, type, flags, data) < 0) die("mount %s on %s", type ? type : source, target);
}

static void path_join(char *out, size_t size, const char *a, const char *b) {
  if ((size_t)snprintf(out, size, "%s%s", a, b) >= size) usage("path too long");
}

// Called with the new root as the working directory; returns with /dev as the working directory.
static void setup_dev(void) {
  mount_or_die("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k");
  if (chdir("dev") < 0) die("chdir /dev");
  // Device nodes cannot be created in a user namespace; bind-mount the host's harmless ones.
  static const char *devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
    char host[64];
    snprintf(host, sizeof host, "/dev/%s", devices[i]);
    int fd = open(devices[i], O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) die("create /dev/%s", devices[i]);
    close(fd);
    mount_or_die(host, devices[i], NULL, MS_BIND, NULL);
  }
  if (mkdir("pts", 0755) < 0) die("mkdir /dev/pts");
  mount_or_die("devpts", "pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  if (mkdir("shm", 01777) < 0) die("mkdir /dev/shm");
  mount_or_die("tmpfs", "shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  static const char *links[][2] = {{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                                   {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    if (symlink(links[i][0], links[i][1]) < 0) die("symlink /dev/%s", links[i][1]);
  }
  // The tmpfs was writable only to set it up.
  mount_or_die(NULL, ".", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL);
}

static void bring_up_loopback(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket for lo");
  struct ifreq request = {0};
  strcpy(request.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &request) < 0) die("get lo flags");
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &request) < 0) die("bring up lo");
  close(fd);
}

// With --net, the link-local range (169.254.0.0/16: the cloud metadata service at
// 169.254.169.254) gets a reject route. The sandbox cannot remove it: CAP_NET_ADMIN is dropped.
static void reject_link_local(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket for routes");
  struct rtentry route = {0};
  struct sockaddr_in *destination = (struct sockaddr_in *)&route.rt_dst;
  struct sockaddr_in *mask = (struct sockaddr_in *)&route.rt_genmask;
  destination->sin_family = mask->sin_family = AF_INET;
  destination->sin_addr.s_addr = htonl(0xa9fe0000);  // 169.254.0.0
  mask->sin_addr.s_addr = htonl(0xffff0000);         // /16
  route.rt_flags = RTF_UP | RTF_REJECT;
  route.rt_dev = "lo";
  if (ioctl(fd, SIOCADDRT, &route) < 0) die("add the reject route for 169.254.0.0/16");
  close(fd);
}

static void apply_policy(void) {
  const char *failed = policy_drop_capabilities();
  if (failed) die("%s", failed);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("PR_SET_NO_NEW_PRIVS");
  if ((failed = policy_install_seccomp())) die("%s", failed);
}

static void bind_or_die(const char *source, const char *target, int read_only) {
  mount_or_die(source, target, NULL, MS_BIND | MS_REC, NULL);
  // A bind mount takes no flags of its own: read-only is a remount of it (mount(2)).
  if (read_only) mount_or_die(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

// The monitor's jail (--vm): the new root is a small tmpfs with what QEMU needs and nothing else of
// the host's. Called with the jail as the working directory, the overlay not yet mounted.
static void setup_vm_jail(const struct options *o) {
  static const char *directories[] = {"usr", "vm", "rootfs", "proc", "dev", "tmp", "etc"};
  for (size_t i = 0; i < sizeof directories / sizeof *directories; i++) {
    if (mkdir(directories[i], 0755) < 0) die("mkdir %s in the monitor's jail", directories[i]);
  }
  // Debian's /bin, /lib and /lib64 are links into /usr (merged /usr); the loader finds the
  // multiarch library directories without /etc/ld.so.cache.
  static const char *links[][2] = {{"usr/bin", "bin"}, {"usr/lib", "lib"}, {"usr/lib64", "lib64"}, {"usr/sbin", "sbin"}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    if (symlink(links[i][0], links[i][1]) < 0) die("symlink /%s in the monitor's jail", links[i][1]);
  }
  bind_or_die("/usr", "usr", 1);
  bind_or_die(o->vm, "vm", 1);
  mount_or_die("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k");
  static const char *devices[] = {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"};
  const char *all[MAX_LIST + 4];
  int count = 0;
  for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) all[count++] = devices[i];
  for (int i = 0; i < o->vm_device_count; i++) all[count++] = o->vm_devices[i];
  for (int i = 0; i < count; i++) {
    if (strncmp(all[i], "/dev/", 5) || strchr(all[i] + 5, '/')) usage("--vm-device takes /dev/NAME");
    char target[128];
    path_join(target, sizeof target, "dev/", all[i] + 5);
    int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) die("create %s", target);
    close(fd);
    mount_or_die(all[i], target, NULL, MS_BIND, NULL);
  }
  mount_or_die("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=1m");
  // QEMU's user-mode network forwards the guest's DNS (10.0.2.3) to the resolver this file names:
  // slirp4netns's, in this network namespace (--net), which forwards to the host's.
  int resolv = open("etc/resolv.conf", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (resolv < 0 || write(resolv, "nameserver 10.0.2.3\n", 21) != 21) die("write the monitor's resolv.conf");
  close(resolv);
  // Both tmpfs were writable only to set them up.
  mount_or_die(NULL, "dev", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL);
}

struct child_arguments {
  struct options *options;
  int sync_fd;
  int agent_fd;
  int stream_fd;  // the first connection (--fd), or -1
  int listen_fd;  // the socket later connections come through (--listen), or -1
  int console_fd; // --vm: the write end of the pipe the launcher reads the monitor's output from
};

// Inherited across exec: every fd above 2 is close-on-exec but the ones named here, so nothing the
// launcher's own parent passed (the mags server's socketpair, say) reaches the program by mistake.
static void keep_across_exec(int fd) {
  if (fd >= 0 && fcntl(fd, F_SETFD, 0) < 0) die("keep fd %d across exec", fd);
}

// Moves `fd` off `target` (which is about to be replaced), keeping it close-on-exec.
static int move_off(int fd, int target) {
  if (fd != target) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, target + 1);
  if (moved < 0) die("move fd %d", fd);
  return moved;
}

static int child_main(void *argument) {
  struct child_arguments *c = argument;
  struct options *o = c->options;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die("PR_SET_PDEATHSIG");
  // Wait until the parent has written our id maps (and attached the network); in attach mode
  // the parent passes the attach message on, which is how this copy of the options gets it.
  uint32_t length;
  char *message = read_attach(c->sync_fd, &length);
  if (!message) _exit(EXIT_SETUP);
  if (o->attach_fd >= 0) apply_attach(o, message, length);
  // getppid() is 0 across a pid namespace, so liveness is read off the pipe instead: the launcher
  // holds its end open until it exits, so a hang-up means it died before PDEATHSIG was armed.
  struct pollfd parent = {.fd = c->sync_fd, .events = POLLIN};
  if (poll(&parent, 1, 0) > 0 && (parent.revents & POLLHUP)) _exit(EXIT_SETUP);
  close(c->sync_fd);
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) die("become root in the user namespace");

  // Only now, after the attach: until here the namespace, a copy of the host's, still receives
  // mounts made on the host under a shared mount (a workspace's disk mounted after this sandbox
  // was prepared for a pool: src/workspaces/workspace-disk.ts). From here on nothing propagates.
  mount_or_die(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  if (o->scratch) mount_scratch(o);
  // Overlayfs inside a user namespace needs "userxattr": trusted.* xattrs are host-root only.
  // The layers are resolved here, with the sandbox's credentials and in its own mount namespace
  // (overlayfs clones the upper mount and refuses one from another namespace), so every
  // directory above them must be traversable by the sandbox's host uid (see docs/design.md).
  char data[16384], lowers[12288] = "";
  for (int i = 0; i < o->lower_count; i++) {
    if (i) strncat(lowers, ":", sizeof lowers - strlen(lowers) - 1);
    strncat(lowers, o->lowers[i], sizeof lowers - strlen(lowers) - 1);
  }
  if ((size_t)snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s,userxattr", lowers, o->upper, o->work) >= sizeof data)
    usage("overlay options too long");
  if (o->vm) {
    mount_or_die("tmpfs", o->root, "tmpfs", MS_NOSUID, "mode=0755,size=1m");
    if (chdir(o->root) < 0) die("chdir into the monitor's jail %s", o->root);
    setup_vm_jail(o);
    mount_or_die("overlay", "rootfs", "overlay", 0, data);
    mount_or_die("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_or_die(NULL, ".", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  } else {
    mount_or_die("overlay", o->root, "overlay", 0, data);
    if (chdir(o->root) < 0) die("chdir into the new root %s", o->root);
    mount_or_die("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    setup_dev();
    if (chdir("..") < 0) die("chdir back to the new root");
  }

  // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the new
  // root, without creating a directory for the old one in the workspace (pivot_root(2) notes).
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root");
  if (umount2(".", MNT_DETACH) < 0) die("detach the host root");
  if (chdir("/") < 0) die("chdir /");

  if (sethostname(o->hostname, strlen(o->hostname)) < 0) die("sethostname");
  if (!o->net) bring_up_loopback();  // slirp4netns --configure brings up lo and tap0 itself
  else reject_link_local();
  // Ping without CAP_NET_RAW (dropped by apply_policy); in a VM's monitor this is what lets QEMU's
  // user-mode network answer the guest's pings through ICMP datagram sockets.
  const char *ping = policy_allow_ping_sockets((unsigned long)o->id_count - 1);
  if (ping) die("%s", ping);
  apply_policy();

  int argc = 0;
  while (o->agent_argv[argc]) argc++;
  char fd_text[16], listen_text[16];
  snprintf(fd_text, sizeof fd_text, "%d", c->stream_fd);
  snprintf(listen_text, sizeof listen_text, "%d", c->listen_fd);
  char **argv = calloc(argc + 5, sizeof *argv);
  if (!argv) die("calloc");
  for (int i = 0; i < argc; i++) argv[i] = o->agent_argv[i];
  if (c->stream_fd >= 0 && !o->vm) { argv[argc++] = "--fd"; argv[argc++] = fd_text; }
  if (c->listen_fd >= 0 && !o->vm) { argv[argc++] = "--listen-fd"; argv[argc++] = listen_text; }
  char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", NULL};
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) die("close_range");
  int program_fd = c->agent_fd;
  if (o->vm) {
    // The agent's listening socket at the fd QEMU's command line names; the program and the
    // console pipe are moved off that number first.
    program_fd = move_off(program_fd, VM_AGENT_FD);
    int console = move_off(c->console_fd, VM_AGENT_FD);
    if (c->listen_fd != VM_AGENT_FD && dup2(c->listen_fd, VM_AGENT_FD) < 0) die("dup2 the agent's socket");
    keep_across_exec(VM_AGENT_FD);
    // The monitor's stdout (the serial console, -serial stdio) and stderr: the launcher's pipe.
    if (dup2(console, 1) < 0 || dup2(console, 2) < 0) die("dup2 the monitor's output");
  } else {
    keep_across_exec(c->stream_fd);
    keep_across_exec(c->listen_fd);
  }
  fexecve(program_fd, argv, envp);
  die(o->vm ? "exec the monitor" : "exec the guest agent");
  return EXIT_SETUP;
}

// ---------------------------------------------------------------- parent (host side)

static pid_t child_pid;


static void forward_signal(int signal_number) {
  if (child_pid > 0) kill(child_pid, signal_number);
}

static pid_t start_slirp(pid_t pid, int *exit_write_fd) {
  int ready[2], exit_pipe[2];
  if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(exit_pipe, O_CLOEXEC) < 0) die("pipe");
  pid_t slirp = fork();
  if (slirp < 0) die("fork slirp4netns");
  if (slirp == 0) {
    // The pipe ends slirp4netns needs must survive exec.
    int ready_fd = dup(ready[1]), exit_fd = dup(exit_pipe[0]);
    char pid_text[16], ready_arg[32], exit_arg[32];
    snprintf(pid_text, sizeof pid_text, "%d", pid);
    snprintf(ready_arg, sizeof ready_arg, "--ready-fd=%d", ready_fd);
    snprintf(exit_arg, sizeof exit_arg, "--exit-fd=%d", exit_fd);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    // --disable-host-loopback: 10.0.2.2 must not reach the host's loopback services (GUIDE §2b).
    execlp("slirp4netns", "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback", ready_arg, exit_arg,
           pid_text, "tap0", (char *)NULL);
    fprintf(stderr, "mags-sandbox: --net needs slirp4netns (apt-get install slirp4netns): %s\n", strerror(errno));
    _exit(EXIT_SETUP);
  }
  close(ready[1]);
  close(exit_pipe[0]);
  char answer = 0;
  if (read(ready[0], &answer, 1) != 1 || answer != '1') {
    int status;
    waitpid(slirp, &status, 0);
    errno = 0;
    die("slirp4netns did not start (is it installed? apt-get install slirp4netns)");
  }
  close(ready[0]);
  *exit_write_fd = exit_pipe[1];
  return slirp;
}

// The monitor's output (the guest's serial console: whatever the guest writes to it) to this
// process's stderr, the launcher's log, until the monitor exits: the first VM_CONSOLE_BYTES, then
// one line saying how much was dropped. Read to the end, so the monitor never blocks on a full pipe.
static void copy_console(int fd) {
  static char buffer[16384];
  size_t kept = 0;
  unsigned long long dropped = 0;
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t keep = kept < VM_CONSOLE_BYTES ? VM_CONSOLE_BYTES - kept : 0;
    if (keep > (size_t)n) keep = (size_t)n;
    for (size_t written = 0; written < keep;) {
      ssize_t w = write(2, buffer + written, keep - written);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;  // a log that cannot be written: keep reading anyway
      written += (size_t)w;
    }
    kept += keep;
    dropped += (unsigned long long)n - keep;
  }
  close(fd);
  if (dropped) fprintf(stderr, "\nmags-sandbox: dropped %llu bytes of the monitor's output after the first %d\n", dropped, VM_CONSOLE_BYTES);
}

static void take_locks(const struct options *o) {
  for (int i = 0; i < o->exclusive_count; i++) take_lock(o->locks_exclusive[i], LOCK_EX);
  for (int i = 0; i < o->shared_count; i++) take_lock(o->locks_shared[i], LOCK_SH);
}

int main(int argc, char **argv) {
  struct options o;
  parse(argc, argv, &o);
  if (o.attach_fd < 0) take_locks(&o);
  else if (fcntl(o.attach_fd, F_SETFD, FD_CLOEXEC) < 0) die("attach fd %d", o.attach_fd);

  char pid_text[32];
  snprintf(pid_text, sizeof pid_text, "%d", getpid());
  for (int i = 0; i < o.cgroup_count; i++) {
    char path[4096];
    path_join(path, sizeof path, o.cgroups[i], "/cgroup.procs");
    write_file(path, pid_text);
  }

  struct child_arguments c = {.options = &o, .console_fd = -1};
  c.agent_fd = open(o.agent_argv[0], O_RDONLY | O_CLOEXEC);
  if (c.agent_fd < 0) die(o.vm ? "open the monitor %s" : "open the guest agent %s", o.agent_argv[0]);
  int console[2] = {-1, -1};
  if (o.vm) {
    if (pipe2(console, O_CLOEXEC) < 0) die("pipe for the monitor's output");
    c.console_fd = console[1];
  }
  c.stream_fd = o.fd;
  c.listen_fd = o.listen_path ? listen_on(o.listen_path) : -1;
  if (c.stream_fd >= 0 && fcntl(c.stream_fd, F_GETFD) < 0) die("stream fd %d", c.stream_fd);
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) < 0) die("pipe");
  c.sync_fd = sync[0];

  static char stack[256 * 1024] __attribute__((aligned(16)));
  child_pid = clone(child_main, stack + sizeof stack,
                    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                        CLONE_NEWCGROUP | SIGCHLD,
                    &c);
  if (child_pid < 0) die("clone the sandbox (are user namespaces enabled?)");
  close(sync[0]);
  // Only the sandbox keeps its end of the stream: when the agent goes, the host sees EOF at once.
  if (c.stream_fd >= 0) close(c.stream_fd);
  if (c.listen_fd >= 0) close(c.listen_fd);
  // Only the monitor writes the console pipe: its end of the pipe reads EOF when the monitor exits.
  if (console[1] >= 0) close(console[1]);

  char path[64], map[64];
  snprintf(map, sizeof map, "0 %ld %ld\n", o.uid_base, o.id_count);
  snprintf(path, sizeof path, "/proc/%d/uid_map", child_pid);
  write_file(path, map);
  snprintf(path, sizeof path, "/proc/%d/gid_map", child_pid);
  write_file(path, map);

  // Everything above is what a pooled sandbox has done ahead of time: a process, its namespaces,
  // its cgroups. It waits here until it is claimed (or, at EOF, its pool went away).
  uint32_t length = 0;
  char *message = "";
  if (o.attach_fd >= 0) {
    message = read_attach(o.attach_fd, &length);
    if (!message) _exit(EXIT_SETUP);
    apply_attach(&o, message, length);
    close(o.attach_fd);
    take_locks(&o);
  }
  int slirp_exit_fd = -1;
  pid_t slirp = o.net ? start_slirp(child_pid, &slirp_exit_fd) : 0;
  // The allow-list's rules and DNS filter are in place before the sandbox's first program runs.
  pid_t keeper = o.egress.rule_count ? egress_start(&o.egress, child_pid) : 0;
  struct sigaction action = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGHUP, &action, NULL);
  if (write(sync[1], &length, sizeof length) != sizeof length || write(sync[1], message, length) != (ssize_t)length)
    die("release the sandbox");
  // sync[1] stays open until we exit: the child reads our liveness off it.
  if (console[0] >= 0) copy_console(console[0]);

  int status;
  for (;;) {
    pid_t ended = waitpid(-1, &status, 0);
    if (ended < 0) {
      if (errno != EINTR) die("waitpid");
      continue;
    }
    if (ended == child_pid) break;
    if (ended == slirp) slirp = 0;
    if (ended == keeper) {
      // Its rules stay (the sandbox's network stays closed), but nothing adds looked-up addresses
      // or reports refusals any more: say so where the launcher's errors go.
      fprintf(stderr, "mags-sandbox: egress: the allow-list keeper stopped (%s %d); new lookups will fail\n",
              WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
      keeper = 0;
    }
  }
  if (keeper > 0) {
    kill(keeper, SIGKILL);  // the DNS filter follows it (its parent-death signal)
    waitpid(keeper, NULL, 0);
  }
  if (slirp > 0) {
    close(slirp_exit_fd);  // slirp4netns exits when its --exit-fd closes
    waitpid(slirp, NULL, 0);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
