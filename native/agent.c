// mags-agent: the guest agent, PID 1 inside a sandbox. It runs commands and streams their
// stdout and stderr separately with the exit code, and reads and writes files, over one byte
// stream speaking the protocol in docs/guest-protocol.md. The same static binary serves a unix
// socket (namespace runtime), virtio-serial (microVMs) or a TCP socket (pods).
//
// One single-threaded poll loop; SIGCHLD through a signalfd; every fd non-blocking. Memory stays
// bounded: each exec's output and stdin move under a credit window the peer acknowledges (so one
// unread command never stalls the others), and a connection whose outbound queue is full is
// neither read from nor fed more output until the host catches up.
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define PROTOCOL_VERSION 4
#define MAX_PAYLOAD (1024 * 1024)
#define CHUNK (64 * 1024)
#define OUTPUT_HIGH_WATER (4 * 1024 * 1024)  // per connection: stop producing above this
#define WINDOW (1024 * 1024)                 // per exec and stream: unacknowledged bytes in flight
#define DRAIN_LIMIT (4 * 1024 * 1024)        // at exit, read at most this much more per stream
#define MAX_CONNECTIONS 64
#define MAX_PROCESSES 256
#define MAX_FILES 64
#define RETAIN_LIMIT (8 * 1024 * 1024)      // per detached exec and stream: output kept for a host to come back
#define MAX_KEY 256
#define MAX_FINISHED_DETACHED 16            // ended durable execs kept for a host that has not come back

enum {
  // host -> agent
  T_EXEC = 0x01, T_STDIN = 0x02, T_STDIN_CLOSE = 0x03, T_SIGNAL = 0x04, T_RESIZE = 0x05, T_OUTPUT_ACK = 0x06,
  T_WRITE_FILE = 0x10, T_WRITE_DATA = 0x11, T_WRITE_END = 0x12, T_READ_FILE = 0x13, T_WRITE_ABORT = 0x14,
  T_RESUME = 0x07, T_LIST_EXECS = 0x08, T_FORGET = 0x09,
  T_READ_ABORT = 0x15, T_PING = 0x20, T_SHUTDOWN = 0x21,
  // agent -> host
  T_HELLO = 0x80, T_STARTED = 0x81, T_STDOUT = 0x82, T_STDERR = 0x83, T_EXIT = 0x84,
  T_ERROR = 0x85, T_OK = 0x86, T_FILE_DATA = 0x87, T_FILE_END = 0x88, T_PONG = 0x89, T_STDIN_ACK = 0x8a,
  T_FILE_INFO = 0x8b, T_RESUMED = 0x8c, T_EXECS = 0x8d,
};

struct buffer { char *data; size_t start, length, capacity; };

struct connection {
  int fd, out_fd, open;  // out_fd differs from fd only for --stdio (read 0, write 1)
  struct buffer in, out;
};

// One output stream of an exec. `retained` holds every byte the host has not acknowledged,
// starting at absolute offset `base`; bytes below `sent` went out on the current connection.
// A host that reconnects (RESUME) says how much it has, and the rest is sent again.
struct stream {
  int fd;
  uint64_t base, sent;
  struct buffer retained;
};

struct process {
  int used, connection;  // connection -1: detached (a keyed exec whose host went away)
  uint32_t id;           // the request id on `connection`
  pid_t pid;
  int in_fd, tty, close_stdin, exited, status;
  uint64_t ended;              // the order in which detached execs ended (oldest dropped first)
  char *key;                   // non-NULL: a durable exec, found again by RESUME after a disconnect
  struct stream out, err;
  struct buffer stdin_pending; // host input the command has not read yet (at most WINDOW)
};

struct file_transfer {  // a write in progress, or a read being streamed out
  int used, connection, writing, fd;
  uint32_t id, unacked;  // unacked: FILE_DATA bytes the host has not acknowledged
  uint64_t remaining;    // a read sends exactly the size it announced in FILE_INFO, no more
  char *path, *temporary;
};

static struct connection connections[MAX_CONNECTIONS];
static struct process processes[MAX_PROCESSES];
static struct file_transfer files[MAX_FILES];
static int single_connection;  // --fd / --stdio: the sandbox ends with its one connection
static int port_path = -1;     // --port: O_PATH of a virtio-serial port (a microVM's); hosts come and go
static int port_fd = -1;       // the port, open while a host may connect
static int port_connection = -1;
static uint64_t ends;          // counts execs that ended while detached (struct process.ended)

static void log_error(const char *what) { fprintf(stderr, "mags-agent: %s: %s\n", what, strerror(errno)); }

static void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// ------------------------------------------------------------------------------ output frames

static void reserve(struct buffer *b, size_t extra) {
  if (b->start > 0 && b->start + b->length + extra > b->capacity) {
    memmove(b->data, b->data + b->start, b->length);
    b->start = 0;
  }
  if (b->length + extra > b->capacity) {
    size_t capacity = b->capacity ? b->capacity : 65536;
    while (capacity < b->length + extra) capacity *= 2;
    char *data = realloc(b->data, capacity);
    if (!data) { fputs("mags-agent: out of memory\n", stderr); _exit(1); }
    b->data = data;
    b->capacity = capacity;
  }
}

static void put_u32(char *at, uint32_t value) {
  at[0] = (char)(value >> 24); at[1] = (char)(value >> 16); at[2] = (char)(value >> 8); at[3] = (char)value;
}

static uint32_t get_u32(const char *at) {
  const unsigned char *u = (const unsigned char *)at;
  return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static void flush(struct connection *c) {
  while (c->out.length > 0) {
    ssize_t n = write(c->out_fd, c->out.data + c->out.start, c->out.length);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      c->open = 0;  // the host went away; the main loop cleans up
      c->out.length = 0;
      return;
    }
    c->out.start += (size_t)n;
    c->out.length -= (size_t)n;
  }
  c->out.start = 0;
}

static void send_frame(int connection, uint8_t type, uint32_t id, const void *payload, size_t length) {
  if (connection < 0) return;  // a detached exec: nobody to tell
  struct connection *c = &connections[connection];
  if (!c->open) return;
  reserve(&c->out, 9 + length);
  char *at = c->out.data + c->out.start + c->out.length;
  put_u32(at, (uint32_t)(5 + length));
  at[4] = (char)type;
  put_u32(at + 5, id);
  if (length) memcpy(at + 9, payload, length);
  c->out.length += 9 + length;
  flush(c);
}

static void send_error(int connection, uint32_t id, int code, const char *message) {
  char payload[1024];
  put_u32(payload, (uint32_t)code);
  size_t length = strnlen(message, sizeof payload - 4);
  memcpy(payload + 4, message, length);
  send_frame(connection, T_ERROR, id, payload, 4 + length);
}

static void send_errno(int connection, uint32_t id, const char *what, const char *path) {
  char message[1000];
  int code = errno;
  snprintf(message, sizeof message, "%s %s: %s", what, path, strerror(code));
  send_error(connection, id, code, message);
}

// ------------------------------------------------------------------------------ input parsing

struct reader { const char *at; size_t left; int ok; };

static uint32_t read_u32(struct reader *r) {
  if (r->left < 4) { r->ok = 0; return 0; }
  uint32_t value = get_u32(r->at);
  r->at += 4;
  r->left -= 4;
  return value;
}

// Strings are u32 length + bytes; returned NUL-terminated (malloc'd). Embedded NULs are refused.
static char *read_string(struct reader *r) {
  uint32_t length = read_u32(r);
  if (!r->ok || length > r->left || memchr(r->at, 0, length)) { r->ok = 0; return NULL; }
  char *text = strndup(r->at, length);
  r->at += length;
  r->left -= length;
  return text;
}

static void free_strings(char **list) {
  if (!list) return;
  for (char **p = list; *p; p++) free(*p);
  free(list);
}

static char **read_string_list(struct reader *r) {
  uint32_t count = read_u32(r);
  if (!r->ok || count > r->left / 4) { r->ok = 0; return NULL; }
  char **list = calloc(count + 1, sizeof *list);
  for (uint32_t i = 0; i < count && r->ok; i++) list[i] = read_string(r);
  if (!r->ok) { free_strings(list); return NULL; }
  return list;
}

// ------------------------------------------------------------------------------ processes

static struct process *find_process(int connection, uint32_t id) {
  for (int i = 0; i < MAX_PROCESSES; i++)
    if (processes[i].used && processes[i].connection == connection && processes[i].id == id) return &processes[i];
  return NULL;
}

static struct process *find_key(const char *key) {
  for (int i = 0; i < MAX_PROCESSES; i++)
    if (processes[i].used && processes[i].key && !strcmp(processes[i].key, key)) return &processes[i];
  return NULL;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void put_u64(char *at, uint64_t value) {
  put_u32(at, (uint32_t)(value >> 32));
  put_u32(at + 4, (uint32_t)value);
}

// EXEC flag bit 2 ("connect", protocol version 4): instead of a program, the child connects to
// 127.0.0.1:PORT inside the sandbox (then [::1]:PORT, for a server listening on IPv6 only) and
// relays bytes between its stdin/stdout pipes and the socket, so a sandbox's port is reached
// through the agent (and its credit windows) without any network into the sandbox. The child is
// forked like any command (same user, namespaces, seccomp filter, cgroup): it is a sandbox process.
// Returns only when the connection failed (errno set); exits when the relay is over.

// A relay never execs, so O_CLOEXEC closes nothing for it: it must close the agent's fds itself
// (its connections, other commands' pipes, and the write end of its own stdin, without which it
// would never read EOF there). close_range(2) (Linux 5.9) does it in one call; where it is
// missing or filtered, /proc/self/fd is walked.
static void close_agent_fds(int keep) {
  if (syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u) == 0 && syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0) return;
  DIR *directory = opendir("/proc/self/fd");
  if (!directory) _exit(1);  // a relay holding the agent's fds would never see its stdin's EOF
  int own = dirfd(directory);
  for (struct dirent *entry; (entry = readdir(directory));) {
    int fd = atoi(entry->d_name);
    if (fd > 2 && fd != keep && fd != own) close(fd);
  }
  closedir(directory);
}

// How long a relay waits for the port's server to accept: a server whose accept queue is full
// drops the SYN and the kernel retries for minutes, and the agent waits for the relay's report.
#define CONNECT_TIMEOUT_SECONDS 5

// connect(2) under SO_SNDTIMEO: a blocking connect that times out fails with EINPROGRESS
// (net/ipv4/af_inet.c __inet_stream_connect), reported here as ETIMEDOUT.
static int connect_within(int fd, const struct sockaddr *address, socklen_t length) {
  struct timeval limit = {.tv_sec = CONNECT_TIMEOUT_SECONDS}, none = {0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  int result = connect(fd, address, length);
  if (result < 0 && errno == EINPROGRESS) errno = ETIMEDOUT;
  int saved = errno;
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);  // the relay's writes never time out
  errno = saved;
  return result;
}

static int connect_port(const char *text) {
  char *end = NULL;
  errno = 0;
  unsigned long port = strtoul(text, &end, 10);
  if (errno || !end || *end || port == 0 || port > 65535) { errno = EINVAL; return -1; }
  struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect_within(fd, (struct sockaddr *)&v4, sizeof v4) == 0) return fd;
  int first = errno;
  if (fd >= 0) close(fd);
  if (first == ETIMEDOUT) { errno = first; return -1; }  // a server is there, just not accepting
  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect_within(fd, (struct sockaddr *)&v6, sizeof v6) == 0) return fd;
  if (fd >= 0) close(fd);
  errno = first;  // the IPv4 answer (ECONNREFUSED) says more than "no IPv6 here"
  return -1;
}

// Copies stdin to the socket and the socket to stdout, one bounded buffer each way, never
// blocking one direction on the other (a server that answers while it still reads must not
// deadlock against a client that still sends). Stdin's EOF half-closes the socket; the socket's
// EOF ends the relay once what it sent is out.
static void relay_port(int socket_fd) {
  static char up[CHUNK], down[CHUNK];
  size_t up_start = 0, up_length = 0, down_start = 0, down_length = 0;
  int stdin_open = 1, socket_open = 1;
  signal(SIGPIPE, SIG_IGN);  // a peer that went away is a write error here, handled below
  set_nonblocking(0); set_nonblocking(1); set_nonblocking(socket_fd);
  while (socket_open || down_length) {
    // An fd with nothing to wait for is left out: poll reports POLLHUP whatever the events, and
    // a hung-up socket polled while stdout is full (the host's window used up) would spin.
    short socket_events = (short)((socket_open && !down_length ? POLLIN : 0) | (up_length ? POLLOUT : 0));
    struct pollfd polls[3] = {
      {.fd = stdin_open && !up_length ? 0 : -1, .events = POLLIN},
      {.fd = socket_events ? socket_fd : -1, .events = socket_events},
      {.fd = down_length ? 1 : -1, .events = POLLOUT},
    };
    if (poll(polls, 3, -1) < 0) { if (errno == EINTR) continue; _exit(1); }
    ssize_t n;
    if (polls[0].revents) {
      n = read(0, up, sizeof up);
      if (n > 0) { up_start = 0; up_length = (size_t)n; }
      else if (n == 0 || (errno != EAGAIN && errno != EINTR)) { stdin_open = 0; shutdown(socket_fd, SHUT_WR); }
    }
    if (up_length && (polls[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      n = write(socket_fd, up + up_start, up_length);
      if (n > 0) { up_start += (size_t)n; up_length -= (size_t)n; }
      else if (n < 0 && errno != EAGAIN && errno != EINTR) { up_length = 0; stdin_open = 0; }  // the server stopped reading
    }
    if (!down_length && socket_open && (polls[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      n = read(socket_fd, down, sizeof down);
      if (n > 0) { down_start = 0; down_length = (size_t)n; }
      else if (n == 0) socket_open = 0;
      else if (errno != EAGAIN && errno != EINTR) {
        fprintf(stderr, "connection to the port: %s\n", strerror(errno));
        _exit(1);
      }
    }
    if (down_length && polls[2].revents) {
      n = write(1, down + down_start, down_length);
      if (n > 0) { down_start += (size_t)n; down_length -= (size_t)n; }
      else if (n < 0 && errno != EAGAIN && errno != EINTR) _exit(1);  // the host went away
    }
  }
  _exit(0);
}

static void start_process(int connection, uint32_t id, struct reader *r) {
  uint32_t flags = read_u32(r), rows = read_u32(r), cols = read_u32(r);
  char *cwd = read_string(r);
  char **argv = read_string_list(r), **env = read_string_list(r);
  char *key = read_string(r);
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1}, master = -1;
  struct process *p = NULL;
  if (!r->ok || !argv || !argv[0] || !env || !key) { send_error(connection, id, EINVAL, "malformed EXEC"); goto done; }
  if (strlen(key) > MAX_KEY) { send_error(connection, id, EINVAL, "exec key longer than 256 bytes"); goto done; }
  if (!key[0]) { free(key); key = NULL; }  // no key: the exec lives and dies with this connection
  if (find_process(connection, id)) { send_error(connection, id, EEXIST, "exec id already in use"); goto done; }
  if (key && find_key(key)) { send_error(connection, id, EEXIST, "exec key already in use"); goto done; }
  for (int i = 0; i < MAX_PROCESSES && !p; i++) if (!processes[i].used) p = &processes[i];
  if (!p) { send_error(connection, id, EAGAIN, "too many running commands"); goto done; }
  int tty = flags & 2, connect_to_port = flags & 4;
  if (tty && connect_to_port) { send_error(connection, id, EINVAL, "a port connection has no terminal"); goto done; }
  if (tty) {
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) { send_errno(connection, id, "open", "/dev/ptmx"); goto done; }
    struct winsize size = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    ioctl(master, TIOCSWINSZ, &size);
  } else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
    send_errno(connection, id, "pipe", "");
    goto done;
  }
  if (pipe2(report, O_CLOEXEC) < 0) { send_errno(connection, id, "pipe", ""); goto done; }
  pid_t pid = fork();
  if (pid < 0) { send_errno(connection, id, "fork", argv[0]); goto done; }
  if (pid == 0) {
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    setsid();  // its own process group, so SIGNAL reaches everything it started
    if (tty) {
      int slave = open(ptsname(master), O_RDWR);
      if (slave < 0) goto fail;
      ioctl(slave, TIOCSCTTY, 0);
      dup2(slave, 0); dup2(slave, 1); dup2(slave, 2);
    } else {
      dup2(in[0], 0); dup2(out[1], 1); dup2(err[1], 2);
    }
    if (connect_to_port) {
      close_agent_fds(report[1]);
      int socket_fd = connect_port(argv[0]);
      if (socket_fd < 0) goto fail;
      close(report[1]);  // connected: the agent reports STARTED
      relay_port(socket_fd);
    }
    if (chdir(cwd) < 0) goto fail;
    extern char **environ;
    environ = env;  // execvp looks PATH up in the command's environment, not the agent's
    execvp(argv[0], argv);
  fail:;
    int code = errno;
    if (write(report[1], &code, sizeof code) < 0) {}
    _exit(127);
  }
  close_fd(&report[1]);
  int code = 0;
  ssize_t n;
  while ((n = read(report[0], &code, sizeof code)) < 0 && errno == EINTR) {}
  if (n == sizeof code) {  // exec failed: the child exits 127, reaped by the SIGCHLD handler
    char message[1000];
    if (connect_to_port)
      snprintf(message, sizeof message, "cannot connect to port %s inside the sandbox: %s", argv[0], strerror(code));
    else snprintf(message, sizeof message, "cannot run %s in %s: %s", argv[0], cwd, strerror(code));
    send_error(connection, id, code, message);
    goto done;
  }
  *p = (struct process){.used = 1, .connection = connection, .id = id, .pid = pid, .tty = tty, .key = key,
                        .in_fd = tty ? fcntl(master, F_DUPFD_CLOEXEC, 0) : in[1],
                        .out = {.fd = tty ? master : out[0]}, .err = {.fd = tty ? -1 : err[0]}};
  key = NULL;
  if (tty) master = -1; else in[1] = out[0] = err[0] = -1;
  set_nonblocking(p->out.fd);
  if (p->in_fd >= 0) set_nonblocking(p->in_fd);
  if (p->err.fd >= 0) set_nonblocking(p->err.fd);
  if (!(flags & 1) && !tty && !connect_to_port) close_fd(&p->in_fd);  // no stdin: the command reads EOF at once
  char payload[4];
  put_u32(payload, (uint32_t)pid);
  send_frame(connection, T_STARTED, id, payload, 4);
done:
  close_fd(&in[0]); close_fd(&in[1]); close_fd(&out[0]); close_fd(&out[1]); close_fd(&err[0]); close_fd(&err[1]);
  close_fd(&report[0]); close_fd(&report[1]); close_fd(&master);
  free(cwd);
  free(key);
  free_strings(argv);
  free_strings(env);
}

static int connected(const struct process *p) { return p->connection >= 0 && connections[p->connection].open; }

// Sends what the host has not been sent yet: within the credit window, or everything when
// `all` (a finished exec: its output is bounded, and its EXIT must follow it).
static void send_retained(struct process *p, struct stream *s, uint8_t type, int all) {
  while (connected(p) && s->sent < s->base + s->retained.length) {
    if (!all && (s->sent - s->base >= WINDOW || connections[p->connection].out.length >= OUTPUT_HIGH_WATER)) return;
    size_t offset = (size_t)(s->sent - s->base), length = s->retained.length - offset;
    if (length > CHUNK) length = CHUNK;
    send_frame(p->connection, type, p->id, s->retained.data + s->retained.start + offset, length);
    s->sent += length;
  }
}

// How much output an exec may hold: one window while a host reads it, more while none does.
static size_t retain_limit(const struct process *p) { return connected(p) ? WINDOW : RETAIN_LIMIT; }

// Reads the pipe into the stream's retained bytes; returns 0 when the stream is finished (EOF, or
// EIO: a pty whose last writer closed).
static int pump(struct process *p, struct stream *s, uint8_t type) {
  static char chunk[CHUNK];
  size_t room = retain_limit(p) > s->retained.length ? retain_limit(p) - s->retained.length : 0;
  if (room == 0) return 1;
  ssize_t n = read(s->fd, chunk, room < sizeof chunk ? room : sizeof chunk);
  if (n > 0) {
    reserve(&s->retained, (size_t)n);
    memcpy(s->retained.data + s->retained.start + s->retained.length, chunk, (size_t)n);
    s->retained.length += (size_t)n;
    send_retained(p, s, type, 0);
    return 1;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 1;
  close_fd(&s->fd);
  return 0;
}

// The host has `count` more bytes of this stream: they need not be kept any longer.
static void discard(struct stream *s, uint64_t count) {
  if (count > s->retained.length) count = s->retained.length;
  s->base += count;
  s->retained.start += (size_t)count;
  s->retained.length -= (size_t)count;
  if (s->retained.length == 0) s->retained.start = 0;
}

// OUTPUT_ACK: only bytes that were sent can have been consumed.
static void acknowledge(struct stream *s, uint64_t count) {
  discard(s, count < s->sent - s->base ? count : s->sent - s->base);
}

// Bounded: a background process that keeps writing must not keep us here (or grow memory).
static void drain(struct stream *s) {
  static char chunk[CHUNK];
  for (size_t total = 0; s->fd >= 0 && total < DRAIN_LIMIT;) {
    ssize_t n = read(s->fd, chunk, sizeof chunk);
    if (n > 0) {
      reserve(&s->retained, (size_t)n);
      memcpy(s->retained.data + s->retained.start + s->retained.length, chunk, (size_t)n);
      s->retained.length += (size_t)n;
      total += (size_t)n;
    } else if (n < 0 && errno == EINTR) continue;
    else break;  // EOF, EAGAIN (a background process still holds the pipe) or EIO (pty closed)
  }
}

static void release_process(struct process *p) {
  close_fd(&p->in_fd); close_fd(&p->out.fd); close_fd(&p->err.fd);
  free(p->stdin_pending.data);
  free(p->out.retained.data);
  free(p->err.retained.data);
  free(p->key);
  *p = (struct process){.in_fd = -1, .out = {.fd = -1}, .err = {.fd = -1}};
}

// A finished exec with a host: everything it wrote goes out, then its EXIT, and it is forgotten.
static void report_exit(struct process *p) {
  send_retained(p, &p->out, T_STDOUT, 1);
  send_retained(p, &p->err, T_STDERR, 1);
  char payload[8];
  put_u32(payload, WIFEXITED(p->status) ? (uint32_t)WEXITSTATUS(p->status) : 0xffffffffu);
  put_u32(payload + 4, WIFSIGNALED(p->status) ? (uint32_t)WTERMSIG(p->status) : 0);
  send_frame(p->connection, T_EXIT, p->id, payload, 8);
  release_process(p);
}

// Ended durable execs no host came back for are kept for one, but not without bound (each holds
// a process slot and up to RETAIN_LIMIT per stream): past MAX_FINISHED_DETACHED the one that
// ended first is dropped, and a RESUME of it gets ENOENT like an end already delivered.
static void limit_finished_detached(void) {
  for (;;) {
    int count = 0;
    struct process *oldest = NULL;
    for (int i = 0; i < MAX_PROCESSES; i++) {
      struct process *p = &processes[i];
      if (!p->used || !p->exited || connected(p)) continue;
      count++;
      if (!oldest || p->ended < oldest->ended) oldest = p;
    }
    if (count <= MAX_FINISHED_DETACHED) return;
    release_process(oldest);
  }
}

static void finish_process(struct process *p, int status) {
  // Everything the command wrote before it exited is in the pipes now: drain it without waiting
  // for EOF (a background child may hold the pipes open forever), then report the exit.
  drain(&p->out);
  drain(&p->err);
  close_fd(&p->out.fd);
  close_fd(&p->err.fd);
  close_fd(&p->in_fd);
  p->exited = 1;
  p->status = status;
  // Detached: kept (output and status) until a host RESUMEs or FORGETs it, or it is the oldest
  // of too many.
  if (connected(p)) report_exit(p);
  else {
    p->ended = ++ends;
    limit_finished_detached();
  }
}

// Writes what the command will take and tells the host how much it took (its stdin credit), so
// the host never has more than WINDOW bytes of stdin in flight.
static void flush_stdin(struct process *p) {
  struct buffer *b = &p->stdin_pending;
  size_t before = b->length;
  while (b->length > 0 && p->in_fd >= 0) {
    ssize_t n = write(p->in_fd, b->data + b->start, b->length);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) { close_fd(&p->in_fd); b->length = 0; }  // the command closed its stdin
      break;
    }
    b->start += (size_t)n;
    b->length -= (size_t)n;
  }
  if (b->length < before && connected(p)) {  // bytes dropped because stdin closed count as taken, too
    char payload[4];
    put_u32(payload, (uint32_t)(before - b->length));
    send_frame(p->connection, T_STDIN_ACK, p->id, payload, 4);
  }
  if (b->length > 0) return;
  b->start = 0;
  if (p->close_stdin && p->in_fd >= 0) {
    if (p->tty) { char eof = 4; if (write(p->in_fd, &eof, 1) < 0) {} p->close_stdin = 0; }  // ^D
    else close_fd(&p->in_fd);
  }
}

static void reap(int signal_fd) {
  struct signalfd_siginfo info;
  while (read(signal_fd, &info, sizeof info) == sizeof info) {}
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {  // orphans are ours to reap, too (PID 1)
    for (int i = 0; i < MAX_PROCESSES; i++)
      if (processes[i].used && !processes[i].exited && processes[i].pid == pid) finish_process(&processes[i], status);
  }
}

// The host of a keyed exec went away: the exec keeps running and its output is kept (up to
// RETAIN_LIMIT a stream; then the agent stops reading the pipe and the command blocks on write)
// until a host RESUMEs it. Its stdin closes: nobody is left to type into it.
static void detach_process(struct process *p) {
  p->connection = -1;
  p->out.sent = p->out.base;
  p->err.sent = p->err.base;
  p->stdin_pending.length = p->stdin_pending.start = 0;
  if (!p->tty) close_fd(&p->in_fd);
}

// RESUME: `string key`, `u64 stdout offset`, `u64 stderr offset` (bytes of each stream the host
// already has). Answers RESUMED (`u32 pid`, `u64`, `u64`: where the replay starts; above the
// offsets asked for when the host asks for bytes it had acknowledged), then the exec's frames.
static void resume_process(int connection, uint32_t id, struct reader *r) {
  char *key = read_string(r);
  uint32_t out_high = read_u32(r), out_low = read_u32(r), err_high = read_u32(r), err_low = read_u32(r);
  uint64_t offsets[2] = {(uint64_t)out_high << 32 | out_low, (uint64_t)err_high << 32 | err_low};
  struct process *p = r->ok && key ? find_key(key) : NULL;
  if (!r->ok || !key) send_error(connection, id, EINVAL, "malformed RESUME");
  else if (!p) send_error(connection, id, ENOENT, "no exec with this key (it never ran, or its end was already delivered)");
  else if (p->connection >= 0 && connections[p->connection].open) send_error(connection, id, EBUSY, "the exec is attached to another connection");
  else if (find_process(connection, id)) send_error(connection, id, EEXIST, "exec id already in use");
  else if (offsets[0] > p->out.base + p->out.retained.length || offsets[1] > p->err.base + p->err.retained.length)
    send_error(connection, id, EINVAL, "RESUME offset beyond the output the exec has produced");
  else {
    p->connection = connection;
    p->id = id;
    struct stream *streams[2] = {&p->out, &p->err};
    for (int i = 0; i < 2; i++) {
      struct stream *s = streams[i];
      if (offsets[i] > s->base) discard(s, offsets[i] - s->base);
      s->sent = s->base;
    }
    char payload[20];
    put_u32(payload, (uint32_t)p->pid);
    put_u64(payload + 4, p->out.base);
    put_u64(payload + 12, p->err.base);
    send_frame(connection, T_RESUMED, id, payload, sizeof payload);
    if (p->exited) report_exit(p);
    else {
      send_retained(p, &p->out, T_STDOUT, 0);
      send_retained(p, &p->err, T_STDERR, 0);
    }
  }
  free(key);
}

// FORGET: `string key`. Releases a durable exec no connection holds: a running one is killed (its
// whole process group), an ended one's kept output and status are dropped. Answers OK, or ERROR
// (ENOENT: no such key; EBUSY: an open connection holds it, and signals it there instead).
static void forget_process(int connection, uint32_t id, struct reader *r) {
  char *key = read_string(r);
  struct process *p = r->ok && key ? find_key(key) : NULL;
  if (!r->ok || !key) send_error(connection, id, EINVAL, "malformed FORGET");
  else if (!p) send_error(connection, id, ENOENT, "no exec with this key (it never ran, or its end was already delivered)");
  else if (connected(p)) send_error(connection, id, EBUSY, "the exec is attached to an open connection");
  else {
    if (!p->exited) kill(-p->pid, SIGKILL);  // reaped later by reap(), which no longer finds it
    release_process(p);
    send_frame(connection, T_OK, id, NULL, 0);
  }
  free(key);
}

// EXECS: `u32 count`, then per keyed exec `string key`, `u32 pid`, `u32 flags` (bit 0: exited,
// bit 1: attached to an open connection), `u32 exit code`, `u32 signal`, `u64 stdout bytes`,
// `u64 stderr bytes` produced so far.
static void list_processes(int connection, uint32_t id) {
  // Static: up to 256 keys of 256 bytes is more than the agent's stack should carry.
  static char payload[4 + MAX_PROCESSES * (4 + MAX_KEY + 32)];
  size_t at = 4;
  uint32_t count = 0;
  for (int i = 0; i < MAX_PROCESSES; i++) {
    struct process *p = &processes[i];
    if (!p->used || !p->key) continue;
    size_t length = strlen(p->key);
    put_u32(payload + at, (uint32_t)length);
    memcpy(payload + at + 4, p->key, length);
    at += 4 + length;
    put_u32(payload + at, (uint32_t)p->pid);
    put_u32(payload + at + 4, (uint32_t)(p->exited | (connected(p) ? 2 : 0)));
    put_u32(payload + at + 8, p->exited && WIFEXITED(p->status) ? (uint32_t)WEXITSTATUS(p->status) : p->exited ? 0xffffffffu : 0);
    put_u32(payload + at + 12, p->exited && WIFSIGNALED(p->status) ? (uint32_t)WTERMSIG(p->status) : 0);
    put_u64(payload + at + 16, p->out.base + p->out.retained.length);
    put_u64(payload + at + 24, p->err.base + p->err.retained.length);
    at += 32;
    count++;
  }
  put_u32(payload, count);
  send_frame(connection, T_EXECS, id, payload, at);
}

// ------------------------------------------------------------------------------ files

static struct file_transfer *find_file(int connection, uint32_t id) {
  for (int i = 0; i < MAX_FILES; i++)
    if (files[i].used && files[i].connection == connection && files[i].id == id) return &files[i];
  return NULL;
}

static void end_file(struct file_transfer *f, int keep) {
  close_fd(&f->fd);
  if (f->writing && !keep) unlink(f->temporary);
  free(f->path);
  free(f->temporary);
  *f = (struct file_transfer){0};
  f->fd = -1;
}

static int make_parents(char *path) {
  for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
    *slash = 0;
    int result = mkdir(path, 0755);
    *slash = '/';
    if (result < 0 && errno != EEXIST) return -1;
  }
  return 0;
}

static const char *file_kind(mode_t mode) {
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Only regular files are read, and only as many bytes as they had when opened: /dev/zero or a
// file that grows while it is read must not stream forever. O_NONBLOCK keeps a FIFO without a
// writer from blocking this single-threaded agent in open(2) (a socket fails there with ENXIO).
static void open_read(int connection, struct file_transfer *f) {
  struct stat info;
  if ((f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0 || fstat(f->fd, &info) < 0) {
    send_errno(connection, f->id, "read", f->path);
    end_file(f, 0);
    return;
  }
  if (S_ISDIR(info.st_mode)) {
    errno = EISDIR;
    send_errno(connection, f->id, "read", f->path);
    end_file(f, 0);
    return;
  }
  if (!S_ISREG(info.st_mode)) {
    char message[1000];
    snprintf(message, sizeof message, "read %s: %s; only regular files can be read", f->path, file_kind(info.st_mode));
    send_error(connection, f->id, EINVAL, message);
    end_file(f, 0);
    return;
  }
  f->remaining = (uint64_t)info.st_size;
  char payload[12];
  put_u32(payload, (uint32_t)(f->remaining >> 32));
  put_u32(payload + 4, (uint32_t)f->remaining);
  put_u32(payload + 8, (uint32_t)info.st_mode);
  send_frame(connection, T_FILE_INFO, f->id, payload, sizeof payload);
}

static void open_file(int connection, uint32_t id, struct reader *r, int writing) {
  uint32_t mode = writing ? read_u32(r) : 0;
  char *path = read_string(r);
  struct file_transfer *f = NULL;
  if (!r->ok || !path) { send_error(connection, id, EINVAL, "malformed file request"); free(path); return; }
  if (path[0] != '/') { send_error(connection, id, EINVAL, "file paths must be absolute"); free(path); return; }
  for (int i = 0; i < MAX_FILES && !f; i++) if (!files[i].used) f = &files[i];
  if (!f || find_file(connection, id)) { send_error(connection, id, EAGAIN, "too many file transfers"); free(path); return; }
  *f = (struct file_transfer){.used = 1, .connection = connection, .writing = writing, .id = id, .path = path, .fd = -1};
  if (writing) {
    // Write beside the target and rename at the end: a reader never sees half a file.
    if (asprintf(&f->temporary, "%s.mags-upload-%u", path, id) < 0) f->temporary = NULL;
    if (make_parents(path) < 0 || (f->fd = open(f->temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777)) < 0) {
      send_errno(connection, id, "write", path);
      end_file(f, 0);
      return;
    }
    fchmod(f->fd, mode & 07777);  // the umask must not change the mode asked for
  } else {
    open_read(connection, f);
  }
}

static void write_file_data(int connection, uint32_t id, const char *data, size_t length, int end) {
  struct file_transfer *f = find_file(connection, id);
  if (!f || !f->writing) { send_error(connection, id, ENOENT, "no file write with this id"); return; }
  while (length > 0) {
    ssize_t n = write(f->fd, data, length);
    if (n < 0) {
      if (errno == EINTR) continue;
      send_errno(connection, id, "write", f->path);
      end_file(f, 0);
      return;
    }
    data += n;
    length -= (size_t)n;
  }
  if (!end) return;
  if (close(f->fd) < 0 || (f->fd = -1, rename(f->temporary, f->path) < 0)) {
    send_errno(connection, id, "write", f->path);
    end_file(f, 0);
    return;
  }
  end_file(f, 1);
  send_frame(connection, T_OK, id, NULL, 0);
}

static void pump_reads(int connection) {
  static char chunk[CHUNK];
  for (int i = 0; i < MAX_FILES; i++) {
    struct file_transfer *f = &files[i];
    if (!f->used || f->writing || f->connection != connection) continue;
    while (connections[connection].out.length < OUTPUT_HIGH_WATER && f->unacked < WINDOW) {
      if (f->remaining == 0) {  // all it had when opened; what it grew by since is not sent
        send_frame(connection, T_FILE_END, f->id, NULL, 0);
        end_file(f, 0);
        break;
      }
      size_t want = f->remaining < sizeof chunk ? (size_t)f->remaining : sizeof chunk;
      ssize_t n = read(f->fd, chunk, want);
      if (n > 0) {
        send_frame(connection, T_FILE_DATA, f->id, chunk, (size_t)n);
        f->unacked += (uint32_t)n;
        f->remaining -= (uint64_t)n;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) send_errno(connection, f->id, "read", f->path);
      else {  // end of file before the size it announced
        char message[1000];
        snprintf(message, sizeof message, "read %s: the file shrank while it was read", f->path);
        send_error(connection, f->id, EIO, message);
      }
      end_file(f, 0);
      break;
    }
  }
}

// ------------------------------------------------------------------------------ connections

static void shutdown_all(void) {
  if (getpid() == 1) {
    kill(-1, SIGKILL);  // as PID 1 of its own pid namespace this reaches every process in the sandbox
  } else {
    // Not a sandbox's init (e.g. run directly in a test): kill(-1) would hit every process the
    // caller may signal on the host, so only our own commands' process groups are ended.
    for (int i = 0; i < MAX_PROCESSES; i++) if (processes[i].used) kill(-processes[i].pid, SIGKILL);
  }
  _exit(0);
}

static void close_connection(int index) {
  struct connection *c = &connections[index];
  flush(c);  // best effort: a last ERROR explaining why we close
  for (int i = 0; i < MAX_PROCESSES; i++) {
    struct process *p = &processes[i];
    if (!p->used || p->connection != index) continue;
    if (p->key && !single_connection) {
      detach_process(p);  // a durable exec outlives its host's connection
      continue;
    }
    if (!p->exited) kill(-p->pid, SIGKILL);
    release_process(p);
  }
  for (int i = 0; i < MAX_FILES; i++) if (files[i].used && files[i].connection == index) end_file(&files[i], 0);
  if (c->out_fd != c->fd) close(c->out_fd);
  close(c->fd);
  free(c->in.data);
  free(c->out.data);
  *c = (struct connection){.fd = -1, .out_fd = -1};
  if (single_connection) shutdown_all();
}

static void handle_frame(int connection, uint8_t type, uint32_t id, const char *payload, size_t length) {
  struct reader r = {payload, length, 1};
  struct process *p;
  switch (type) {
    case T_EXEC: start_process(connection, id, &r); break;
    case T_STDIN:
    case T_STDIN_CLOSE:
      if (!(p = find_process(connection, id)) || p->in_fd < 0) break;  // exited already: drop it
      if (type == T_STDIN_CLOSE) p->close_stdin = 1;
      else if (p->stdin_pending.length + length > WINDOW) {
        // The host ignored its credit; buffering more would let it grow our memory at will.
        send_error(connection, 0, EPROTO, "stdin beyond the flow-control window; closing the connection");
        connections[connection].open = 0;
        break;
      } else {
        reserve(&p->stdin_pending, length);
        memcpy(p->stdin_pending.data + p->stdin_pending.start + p->stdin_pending.length, payload, length);
        p->stdin_pending.length += length;
      }
      flush_stdin(p);
      break;
    case T_SIGNAL: {
      uint32_t number = read_u32(&r);
      if ((p = find_process(connection, id)) && r.ok && number < NSIG) kill(-p->pid, (int)number);
      break;
    }
    case T_OUTPUT_ACK: {
      uint32_t out = read_u32(&r), err = read_u32(&r);
      struct file_transfer *f = find_file(connection, id);
      if (f && r.ok) f->unacked -= out < f->unacked ? out : f->unacked;
      if (!(p = find_process(connection, id)) || !r.ok) break;  // finished already: nothing owed
      acknowledge(&p->out, out);
      acknowledge(&p->err, err);
      send_retained(p, &p->out, T_STDOUT, 0);
      send_retained(p, &p->err, T_STDERR, 0);
      break;
    }
    case T_RESIZE: {
      uint32_t rows = read_u32(&r), cols = read_u32(&r);
      if ((p = find_process(connection, id)) && p->tty && r.ok) {
        struct winsize size = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
        ioctl(p->out.fd, TIOCSWINSZ, &size);
      }
      break;
    }
    case T_WRITE_FILE: open_file(connection, id, &r, 1); break;
    case T_WRITE_DATA: write_file_data(connection, id, payload, length, 0); break;
    case T_WRITE_END: write_file_data(connection, id, NULL, 0, 1); break;
    case T_READ_FILE: open_file(connection, id, &r, 0); break;
    case T_WRITE_ABORT:  // the host's data source failed: forget the upload, no reply
    case T_READ_ABORT: {  // the host's reader went away: close the file, freeing its slot, no reply
      struct file_transfer *f = find_file(connection, id);
      if (f && f->writing == (type == T_WRITE_ABORT)) end_file(f, 0);
      break;
    }
    case T_RESUME: resume_process(connection, id, &r); break;
    case T_LIST_EXECS: list_processes(connection, id); break;
    case T_FORGET: forget_process(connection, id, &r); break;
    case T_PING: send_frame(connection, T_PONG, id, payload, length); break;
    case T_SHUTDOWN: shutdown_all(); break;
    default: send_error(connection, id, EPROTO, "unknown frame type");
  }
}

static void read_connection(int index) {
  struct connection *c = &connections[index];
  reserve(&c->in, CHUNK);
  ssize_t n = read(c->fd, c->in.data + c->in.start + c->in.length, c->in.capacity - c->in.start - c->in.length);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) { close_connection(index); return; }
  if (n < 0) return;
  c->in.length += (size_t)n;
  while (c->in.length >= 4) {
    const char *at = c->in.data + c->in.start;
    uint32_t size = get_u32(at);
    if (size < 5 || size > MAX_PAYLOAD + 5) {
      // The stream has lost its framing: nothing after this can be trusted.
      send_error(index, 0, EPROTO, "malformed frame length; closing the connection");
      flush(c);
      close_connection(index);
      return;
    }
    if (c->in.length < 4 + size) { reserve(&c->in, 4 + size - c->in.length); break; }
    c->in.start += 4 + size;
    c->in.length -= 4 + size;
    handle_frame(index, (uint8_t)at[4], get_u32(at + 5), at + 9, size - 5);
    if (!connections[index].open) return;
  }
  if (c->in.length == 0) c->in.start = 0;
}

static int add_connection(int fd, int out_fd) {
  for (int i = 0; i < MAX_CONNECTIONS; i++) {
    if (connections[i].fd >= 0) continue;
    set_nonblocking(fd);
    set_nonblocking(out_fd);
    connections[i] = (struct connection){.fd = fd, .out_fd = out_fd, .open = 1};
    char hello[8];
    put_u32(hello, PROTOCOL_VERSION);
    put_u32(hello + 4, (uint32_t)getpid());
    send_frame(i, T_HELLO, 0, hello, 8);
    return i;
  }
  fputs("mags-agent: too many connections\n", stderr);
  if (out_fd != fd) close(out_fd);
  close(fd);
  return -1;
}

// A virtio-serial port's host end is connected when a poll shows no hang-up: the guest driver
// sets EPOLLHUP while the host is away (drivers/char/virtio_console.c, port_fops_poll), and reads
// return EOF, which ends the connection as a closed socket would. After a host leaves, the port
// is closed and opened again (through /proc/self/fd of its O_PATH fd: the sandbox's /dev has no
// node for it): kept open, it was seen to stay hung up when the next host came. Called at start,
// on SIGIO (the driver signals a host connecting) and, while nobody is connected, once a second.
static void check_port(void) {
  if (port_path < 0 || (port_connection >= 0 && connections[port_connection].fd >= 0)) return;
  if (port_connection >= 0) {
    port_connection = -1;
    close(port_fd);
    port_fd = -1;
  }
  if (port_fd < 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", port_path);
    port_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (port_fd < 0) { log_error("open the agent's port"); return; }
    fcntl(port_fd, F_SETOWN, getpid());
    fcntl(port_fd, F_SETFL, fcntl(port_fd, F_GETFL) | O_ASYNC);
  }
  struct pollfd port = {.fd = port_fd, .events = POLLIN};
  if (poll(&port, 1, 0) < 0 || (port.revents & POLLHUP)) return;
  int fd = fcntl(port_fd, F_DUPFD_CLOEXEC, 3);  // the connection's own fd, closed with it
  if (fd >= 0) port_connection = add_connection(fd, fd);
}

// --listen PATH: the agent makes its own listening socket (a pod's agent, PID 1 of the pod: no
// launcher hands it one), mode 0600 so only the pod's root connects. A stale socket of an
// earlier agent is replaced.
static int listen_unix(const char *path) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof address.sun_path) { errno = ENAMETOOLONG; return -1; }
  strcpy(address.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  unlink(path);
  mode_t old = umask(0077);
  int bound = bind(fd, (struct sockaddr *)&address, sizeof address);
  umask(old);
  if (bound < 0 || listen(fd, 16) < 0) { close(fd); return -1; }
  return fd;
}

// --connect PATH: relays stdin/stdout to the agent listening on PATH (how a pod's exec stream
// reaches the pod's long-lived agent), waiting up to 10 s for it to listen (a pod just started).
static int connect_agent(const char *path) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof address.sun_path) { fprintf(stderr, "mags-agent: --connect path too long\n"); return 64; }
  strcpy(address.sun_path, path);
  for (int attempt = 0;; attempt++) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { log_error("socket"); return 1; }
    if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0) relay_port(fd);  // never returns
    int error = errno;
    close(fd);
    if ((error != ENOENT && error != ECONNREFUSED) || attempt >= 500) {
      fprintf(stderr, "mags-agent: cannot connect to the agent at %s: %s\n", path, strerror(error));
      return 69;  // EX_UNAVAILABLE
    }
    usleep(20000);
  }
}

int main(int argc, char **argv) {
  int fd = -1, out_fd = -1, listen_fd = -1;
  const char *listen_path = NULL;
  static const char usage[] = "usage: mags-agent [--fd N | --stdio] [--listen-fd N | --listen PATH] [--port N]\n"
                              "       mags-agent --connect PATH   (relay stdin/stdout to an agent's --listen socket)\n";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--fd") && i + 1 < argc) fd = out_fd = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--listen-fd") && i + 1 < argc) listen_fd = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--stdio")) fd = 0, out_fd = 1;
    else if (!strcmp(argv[i], "--port") && i + 1 < argc) port_path = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--listen") && i + 1 < argc) listen_path = argv[++i];
    else if (!strcmp(argv[i], "--connect") && i + 1 < argc) return connect_agent(argv[++i]);
    else { fprintf(stderr, "%s", usage); return 64; }
  }
  if (listen_path && (listen_fd = listen_unix(listen_path)) < 0) { log_error("listen"); return 1; }
  if (fd < 0 && listen_fd < 0 && port_path < 0) { fprintf(stderr, "%s", usage); return 64; }
  for (int i = 0; i < MAX_CONNECTIONS; i++) connections[i].fd = connections[i].out_fd = -1;
  for (int i = 0; i < MAX_FILES; i++) files[i].fd = -1;
  // Zeroed statics would say fd 0; mark every slot empty without closing anything.
  for (int i = 0; i < MAX_PROCESSES; i++) processes[i] = (struct process){.in_fd = -1, .out = {.fd = -1}, .err = {.fd = -1}};
  signal(SIGPIPE, SIG_IGN);  // a vanished host must be a write error, not our death
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  sigaddset(&child, SIGIO);
  sigprocmask(SIG_BLOCK, &child, NULL);
  int signal_fd = signalfd(-1, &child, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) { log_error("signalfd"); return 1; }
  if (fd >= 0) {
    // Alone, the first connection is the sandbox's life; with a listening socket beside it, the
    // sandbox outlives it (a restarted host connects again) and ends only on SHUTDOWN.
    single_connection = listen_fd < 0;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(out_fd, F_SETFD, FD_CLOEXEC);
    if (add_connection(fd, out_fd) < 0) return 1;
  }
  if (listen_fd >= 0) {
    fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
    set_nonblocking(listen_fd);
  }
  if (port_path >= 0) {
    fcntl(port_path, F_SETFD, FD_CLOEXEC);
    check_port();
  }

  // One poll set rebuilt every turn; `kinds` says what each entry is, `owners` whose it is.
  enum { SIGNALS, LISTENER, CONNECTION_IN, CONNECTION_OUT, STDOUT_PIPE, STDERR_PIPE, STDIN_PIPE };
  struct pollfd polls[2 + 2 * MAX_CONNECTIONS + 3 * MAX_PROCESSES];
  int kinds[sizeof polls / sizeof *polls], owners[sizeof polls / sizeof *polls];
  for (;;) {
    int count = 0;
#define WATCH(fd_, events_, kind_, owner_) \
  (polls[count] = (struct pollfd){(fd_), (events_), 0}, kinds[count] = (kind_), owners[count++] = (owner_))
    WATCH(signal_fd, POLLIN, SIGNALS, 0);
    if (listen_fd >= 0) WATCH(listen_fd, POLLIN, LISTENER, 0);
    for (int i = 0; i < MAX_CONNECTIONS; i++) {
      struct connection *c = &connections[i];
      if (c->fd >= 0 && !c->open) close_connection(i);  // a write failed somewhere: the host is gone
      if (!c->open) continue;
      pump_reads(i);
      // Backpressure towards the host: with a full outbound queue, take no new requests either
      // (each could add output, e.g. a flood of PINGs). POLLHUP/POLLERR are reported regardless.
      int full = c->out.length >= OUTPUT_HIGH_WATER;
      if (c->out_fd == c->fd) WATCH(c->fd, (full ? 0 : POLLIN) | (c->out.length ? POLLOUT : 0), CONNECTION_IN, i);
      else {
        WATCH(c->fd, full ? 0 : POLLIN, CONNECTION_IN, i);
        if (c->out.length) WATCH(c->out_fd, POLLOUT, CONNECTION_OUT, i);
      }
    }
    for (int i = 0; i < MAX_PROCESSES; i++) {
      struct process *p = &processes[i];
      // Stop reading a command while its connection's queue is full, or while the host has not
      // acknowledged a window of that stream (a consumer that does not read pauses only its command).
      // A detached exec is read until RETAIN_LIMIT is kept for its host to come back for.
      if (!p->used || p->exited) continue;
      if (connected(p)) {  // a replay after RESUME, or output held back while the queue was full
        send_retained(p, &p->out, T_STDOUT, 0);
        send_retained(p, &p->err, T_STDERR, 0);
        if (connections[p->connection].out.length >= OUTPUT_HIGH_WATER) continue;
      }
      if (p->out.fd >= 0 && p->out.retained.length < retain_limit(p)) WATCH(p->out.fd, POLLIN, STDOUT_PIPE, i);
      if (p->err.fd >= 0 && p->err.retained.length < retain_limit(p)) WATCH(p->err.fd, POLLIN, STDERR_PIPE, i);
    }
    for (int i = 0; i < MAX_PROCESSES; i++) {
      struct process *p = &processes[i];
      if (p->used && p->in_fd >= 0 && p->stdin_pending.length) WATCH(p->in_fd, POLLOUT, STDIN_PIPE, i);
    }
#undef WATCH
    int waiting_for_port = port_path >= 0 && (port_connection < 0 || connections[port_connection].fd < 0);
    if (poll(polls, (nfds_t)count, waiting_for_port ? 1000 : -1) < 0) {
      if (errno == EINTR) continue;
      log_error("poll");
      return 1;
    }
    if (waiting_for_port) check_port();
    for (int k = 0; k < count; k++) {
      if (!polls[k].revents) continue;
      int owner = owners[k];
      struct connection *c = &connections[owner];
      struct process *p = &processes[owner];
      // An entry may be stale: an earlier entry this turn can have closed or replaced its owner.
      switch (kinds[k]) {
        case SIGNALS:
          reap(signal_fd);
          check_port();
          break;
        case LISTENER: {
          int accepted = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
          if (accepted >= 0) add_connection(accepted, accepted);
          break;
        }
        case CONNECTION_IN:
        case CONNECTION_OUT:
          if (!c->open || (kinds[k] == CONNECTION_IN ? c->fd : c->out_fd) != polls[k].fd) break;
          if (polls[k].revents & POLLOUT) flush(c);
          if (kinds[k] == CONNECTION_IN && polls[k].revents & (POLLIN | POLLHUP | POLLERR)) read_connection(owner);
          else if (polls[k].revents & (POLLHUP | POLLERR)) c->open = 0;
          if (c->fd >= 0 && !c->open) close_connection(owner);
          break;
        case STDOUT_PIPE:
          if (p->used && p->out.fd == polls[k].fd) pump(p, &p->out, T_STDOUT);
          break;
        case STDERR_PIPE:
          if (p->used && p->err.fd == polls[k].fd) pump(p, &p->err, T_STDERR);
          break;
        case STDIN_PIPE:
          if (p->used && p->in_fd == polls[k].fd) flush_stdin(p);
          break;
      }
    }
  }
}
