// The keeper of an egress allow-list (see egress.h): a child of the launcher, host root, in the
// sandbox's network namespace. The sandbox cannot change what it installs: CAP_NET_ADMIN is
// dropped there (sandbox-policy.h), and the keeper and the DNS filter live in the host's pid
// namespace, out of the sandbox's sight.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include "egress.h"

#define EXIT_SETUP 71
#define LOG_GROUP 7
// The host id the DNS filter runs as: nobody, never an id of a sandbox's range (which starts at
// --uid-base, 100000 by default).
#define FILTER_ID 65534
// The blocked lines' budget: this much per hour, so a sandbox that retries a refused address in a
// loop cannot fill the disk, and one that lives for days still reports what happens later on.
#define LOG_BYTES_PER_HOUR (256 * 1024)
#define LOG_WINDOW_SECONDS 3600
// How long the launcher waits for the rules and the DNS filter: nft and the keeper run in the
// sandbox's cgroup (its CPU limit), and a loaded host can take seconds to start them.
#define KEEPER_START_TIMEOUT_MS 30000
// How long a learnt address stays open: its record's TTL, but at least an hour (programs keep
// answers longer than their TTL: the JVM's address cache, connection pools) and at most a day.
// Each lookup starts it again. The sets' size: an address beyond it is refused (and logged).
#define LEARNT_SECONDS_MIN 3600
#define LEARNT_SECONDS_MAX 86400
#define LEARNT_SET_SIZE 65536
#define RECENT_MAX 32
#define RECENT_SECONDS 10

static void fail(const char *format, ...) {
  int saved = errno;
  va_list args;
  va_start(args, format);
  fputs("mags-sandbox: egress: ", stderr);
  vfprintf(stderr, format, args);
  va_end(args);
  if (saved) fprintf(stderr, ": %s", strerror(saved));
  fputc('\n', stderr);
  _exit(EXIT_SETUP);
}

// Addresses no rule may open, whatever the list says: "this network", slirp4netns's virtual
// network (10.0.2.2 is the host, 10.0.2.3 its DNS forwarder), loopback, link-local (the cloud
// metadata service at 169.254.169.254), multicast and reserved (RFC 6890).
static const struct { uint32_t address, mask; } forbidden[] = {
    {0x00000000, 0xff000000}, {0x0a000200, 0xffffff00}, {0x7f000000, 0xff000000},
    {0xa9fe0000, 0xffff0000}, {0xe0000000, 0xe0000000},
};
#define FORBIDDEN_TEXT "0.0.0.0/8, 10.0.2.0/24, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/3"

static int forbidden_address(uint32_t address, uint32_t mask) {
  for (size_t i = 0; i < sizeof forbidden / sizeof *forbidden; i++) {
    // Inside a forbidden range: the whole of it when it is that range or a part of it.
    if (mask >= forbidden[i].mask && (address & forbidden[i].mask) == forbidden[i].address) return 1;
  }
  return 0;
}

static int parse_port(const char *text, uint16_t *port) {
  if (!*text || strlen(text) > 5 || strspn(text, "0123456789") != strlen(text)) return -1;
  long value = strtol(text, NULL, 10);
  if (value < 1 || value > 65535) return -1;
  *port = (uint16_t)value;
  return 0;
}

static int valid_name(const char *name) {
  size_t length = strlen(name);
  if (!strncmp(name, "*.", 2)) name += 2, length -= 2;
  if (length == 0 || length > EGRESS_NAME_MAX) return 0;
  size_t label = 0;
  for (const char *c = name;; c++) {
    if (*c == '.' || !*c) {
      if (label == 0 || label > 63 || c[-1] == '-') return 0;
      if (!*c) return 1;
      label = 0;
      continue;
    }
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) return 0;
    if (label == 0 && *c == '-') return 0;
    label++;
  }
}

const char *egress_add_rule(struct egress_options *o, int cidr, const char *value) {
  if (o->rule_count >= EGRESS_MAX_RULES) return "too many --allow-host and --allow-cidr rules";
  struct egress_rule rule = {0};
  char text[EGRESS_NAME_MAX + 16];
  if (strlen(value) >= sizeof text) return "an --allow-host or --allow-cidr value is too long";
  strcpy(text, value);
  char *colon = strrchr(text, ':');
  if (colon) {
    *colon = 0;
    if (parse_port(colon + 1, &rule.port) < 0) return "a port must be a number from 1 to 65535";
  }
  struct in_addr literal;
  // An address given as a host is a /32: no lookup happens for it, so a name rule would not do.
  if (!cidr && inet_pton(AF_INET, text, &literal) == 1) cidr = 1, strcat(text, "/32");
  if (!cidr) {
    for (char *c = text; *c; c++) {
      if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    }
    if (!valid_name(text)) return "--allow-host takes a host name (RFC 1123) or *.NAME";
    strcpy(rule.name, text);
  } else {
    char *slash = strchr(text, '/');
    if (!slash) return "--allow-cidr takes A.B.C.D/N";
    *slash = 0;
    struct in_addr address;
    if (inet_pton(AF_INET, text, &address) != 1 || strlen(slash + 1) > 2 || strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
        !slash[1])
      return "--allow-cidr takes A.B.C.D/N";
    rule.prefix = atoi(slash + 1);
    if (rule.prefix > 32) return "a CIDR prefix is 0 to 32";
    rule.mask = rule.prefix ? 0xffffffffu << (32 - rule.prefix) : 0;
    rule.address = ntohl(address.s_addr) & rule.mask;
    if (forbidden_address(rule.address, rule.mask)) return "--allow-cidr cannot open " FORBIDDEN_TEXT;
  }
  o->rules[o->rule_count++] = rule;
  return NULL;
}

int egress_match_name(const struct egress_options *o, const char *name, int from) {
  size_t length = strlen(name);
  for (int i = from; i < o->rule_count; i++) {
    const char *rule = o->rules[i].name;
    if (!rule[0]) continue;
    if (!strcmp(rule, name)) return i;
    // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com".
    size_t suffix = strlen(rule) - 1;
    if (rule[0] == '*' && length > suffix && !strcmp(name + length - suffix, rule + 1)) return i;
  }
  return -1;
}

// ------------------------------------------------------------------ nftables

// nft's absolute path, found on the launcher's PATH once at start (egress_start): the keeper
// runs that file, never a name looked up again later.
static char nft_path[PATH_MAX];

static int find_nft(void) {
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/sbin:/usr/bin:/sbin:/bin";
  for (const char *start = path; *start;) {
    const char *end = strchr(start, ':');
    size_t length = end ? (size_t)(end - start) : strlen(start);
    if (length && start[0] == '/' && (size_t)snprintf(nft_path, sizeof nft_path, "%.*s/nft", (int)length, start) < sizeof nft_path &&
        access(nft_path, X_OK) == 0)
      return 0;
    start += length + (end ? 1 : 0);
  }
  nft_path[0] = 0;
  return -1;
}

static int run_nft(const char *script) {
  int input[2];
  if (pipe2(input, O_CLOEXEC) < 0) return -1;
  pid_t nft = fork();
  if (nft < 0) return -1;
  if (nft == 0) {
    dup2(input[0], 0);
    execl(nft_path, "nft", "-f", "-", (char *)NULL);
    fprintf(stderr, "mags-sandbox: egress allow-lists need nft (apt-get install nftables): %s\n", strerror(errno));
    _exit(127);
  }
  close(input[0]);
  size_t length = strlen(script);
  ssize_t written = write(input[1], script, length);
  close(input[1]);
  int status;
  while (waitpid(nft, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return written == (ssize_t)length && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

// The table, before the sandbox's first process: loopback and replies pass; every UDP query to
// port 53 goes to the DNS filter (10.0.2.100 is slirp4netns's address for the sandbox's tap0);
// the forbidden ranges are refused first; then what the filter learnt and the CIDR rules pass;
// everything else is logged (to the keeper, through NFLOG) and refused at once.
static void install_rules(const struct egress_options *o) {
  static char script[16384];
  size_t used = (size_t)snprintf(script, sizeof script,
                                 "table inet mags {\n"
                                 "  set learnt_any { type ipv4_addr; flags timeout; size %d; }\n"
                                 "  set learnt_port { type ipv4_addr . inet_service; flags timeout; size %d; }\n"
                                 "  chain dns { type nat hook output priority -100; policy accept;\n"
                                 // Not a resolver of the sandbox's own on loopback.
                                 "    ip daddr != 127.0.0.0/8 meta l4proto udp udp dport 53 dnat ip to 10.0.2.100:53\n"
                                 "  }\n"
                                 "  chain output { type filter hook output priority 0; policy accept;\n"
                                 "    oifname \"lo\" accept\n"
                                 // Nothing leaves with another source than tap0's address: not
                                 // a reply (of the DNS filter, say) to a forged query's source.
                                 "    ip saddr != 10.0.2.100 drop\n"
                                 // Answers only to what the sandbox started or was sent through
                                 // slirp4netns (10.0.2.2): not to a forged query's source.
                                 "    ct direction reply ct original ip saddr != 10.0.2.0/24 drop\n"
                                 "    ct state established,related accept\n"
                                 // The DNS rule's rewritten queries: the filter chain still sees
                                 // tap0 as their output device (the hook's state predates the
                                 // reroute to 10.0.2.100), so they pass by their NAT status.
                                 "    ct status dnat accept\n"
                                 "    ip daddr { " FORBIDDEN_TEXT " } limit rate 20/second burst 20 packets log group %d\n"
                                 "    ip daddr { " FORBIDDEN_TEXT " } reject with icmpx admin-prohibited\n"
                                 "    ip daddr @learnt_any accept\n"
                                 "    meta l4proto { tcp, udp } ip daddr . th dport @learnt_port accept\n",
                                 LEARNT_SET_SIZE, LEARNT_SET_SIZE, LOG_GROUP);
  for (int i = 0; i < o->rule_count; i++) {
    const struct egress_rule *r = &o->rules[i];
    if (r->name[0]) continue;
    struct in_addr address = {.s_addr = htonl(r->address)};
    char dotted[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &address, dotted, sizeof dotted);
    if (r->port) used += (size_t)snprintf(script + used, sizeof script - used, "    ip daddr %s/%d meta l4proto { tcp, udp } th dport %u accept\n", dotted, r->prefix, r->port);
    else used += (size_t)snprintf(script + used, sizeof script - used, "    ip daddr %s/%d accept\n", dotted, r->prefix);
  }
  used += (size_t)snprintf(script + used, sizeof script - used,
                           "    limit rate 20/second burst 20 packets log group %d\n"
                           "    meta l4proto tcp reject with tcp reset\n"
                           "    reject with icmpx admin-prohibited\n"
                           "  }\n"
                           "}\n",
                           LOG_GROUP);
  if (used >= sizeof script) fail("too many rules");
  errno = 0;
  if (run_nft(script) < 0) fail("could not install the nftables rules (is nftables installed? apt-get install nftables)");
}

// ------------------------------------------------------------------ NFLOG (nfnetlink_log)

static void nflog_config(int fd, uint16_t type, const void *data, uint16_t length) {
  char buffer[128] __attribute__((aligned(4))) = {0};
  struct nlmsghdr *header = (struct nlmsghdr *)buffer;
  header->nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg) + NLA_HDRLEN + NLA_ALIGN(length));
  header->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  struct nfgenmsg *generic = NLMSG_DATA(header);
  generic->nfgen_family = AF_UNSPEC;
  generic->version = NFNETLINK_V0;
  generic->res_id = htons(LOG_GROUP);
  struct nlattr *attribute = (struct nlattr *)(generic + 1);
  attribute->nla_len = (uint16_t)(NLA_HDRLEN + length);
  attribute->nla_type = type;
  memcpy((char *)attribute + NLA_HDRLEN, data, length);
  if (send(fd, buffer, header->nlmsg_len, 0) < 0) fail("configure NFLOG");
  char reply[256] __attribute__((aligned(4)));
  ssize_t n = recv(fd, reply, sizeof reply, 0);
  struct nlmsghdr *answer = (struct nlmsghdr *)reply;
  if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) || answer->nlmsg_type != NLMSG_ERROR) fail("configure NFLOG: no answer");
  struct nlmsgerr *error = NLMSG_DATA(answer);
  if (error->error) {
    errno = -error->error;
    fail("configure NFLOG");
  }
}

static int nflog_open(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) fail("NFLOG socket");
  struct sockaddr_nl address = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) fail("bind NFLOG");
  struct nfulnl_msg_config_cmd command = {.command = NFULNL_CFG_CMD_BIND};
  nflog_config(fd, NFULA_CFG_CMD, &command, sizeof command);
  struct nfulnl_msg_config_mode mode = {.copy_range = htonl(64), .copy_mode = NFULNL_COPY_PACKET};
  nflog_config(fd, NFULA_CFG_MODE, &mode, sizeof mode);
  // Each packet at once: by default the kernel batches up to 100 of them or one second
  // (NFULNL_QTHRESH_DEFAULT, NFULNL_TIMEOUT_DEFAULT in net/netfilter/nfnetlink_log.c), and a
  // refusal would reach the run's output after the command has ended.
  uint32_t threshold = htonl(1);
  nflog_config(fd, NFULA_CFG_QTHRESH, &threshold, sizeof threshold);
  return fd;
}

// ------------------------------------------------------------------ the keeper's loop

static int log_fd = 2;
static size_t log_bytes;
static time_t log_window_start;

static void log_line(const char *format, ...) {
  time_t now = time(NULL);
  if (now - log_window_start >= LOG_WINDOW_SECONDS) log_window_start = now, log_bytes = 0;
  if (log_bytes >= LOG_BYTES_PER_HOUR) return;
  char line[512];
  va_list args;
  va_start(args, format);
  int length = vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (length <= 0) return;
  if ((size_t)length >= sizeof line) length = sizeof line - 1;
  log_bytes += (size_t)length;
  if (log_bytes >= LOG_BYTES_PER_HOUR) length = snprintf(line, sizeof line, "mags: egress blocked: more (too many lines this hour)\n");
  if (write(log_fd, line, (size_t)length) < 0) log_bytes = LOG_BYTES_PER_HOUR;
}

static struct { uint32_t address; uint16_t port; uint8_t protocol; time_t at; } recent[RECENT_MAX];
static struct { char name[EGRESS_NAME_MAX + 1]; time_t at; } recent_names[RECENT_MAX];

// The same for names: a resolver asks for A and AAAA, and retries.
static int name_seen_recently(const char *name) {
  time_t now = time(NULL);
  int oldest = 0;
  for (int i = 0; i < RECENT_MAX; i++) {
    if (!strcmp(recent_names[i].name, name) && now - recent_names[i].at < RECENT_SECONDS) return 1;
    if (recent_names[i].at < recent_names[oldest].at) oldest = i;
  }
  snprintf(recent_names[oldest].name, sizeof recent_names[oldest].name, "%s", name);
  recent_names[oldest].at = now;
  return 0;
}

// One line per destination every RECENT_SECONDS: a client retrying does not flood the log.
static int seen_recently(uint32_t address, uint16_t port, uint8_t protocol) {
  time_t now = time(NULL);
  int oldest = 0;
  for (int i = 0; i < RECENT_MAX; i++) {
    if (recent[i].address == address && recent[i].port == port && recent[i].protocol == protocol && now - recent[i].at < RECENT_SECONDS)
      return 1;
    if (recent[i].at < recent[oldest].at) oldest = i;
  }
  recent[oldest].address = address;
  recent[oldest].port = port;
  recent[oldest].protocol = protocol;
  recent[oldest].at = now;
  return 0;
}

static void log_packet(const unsigned char *packet, size_t length) {
  if (length < 20 || (packet[0] >> 4) != 4) return;
  size_t header = (size_t)(packet[0] & 0x0f) * 4;
  uint8_t protocol = packet[9];
  uint32_t address;
  memcpy(&address, packet + 16, 4);
  uint16_t port = 0;
  if ((protocol == IPPROTO_TCP || protocol == IPPROTO_UDP) && header >= 20 && header + 4 <= length)
    port = (uint16_t)(packet[header + 2] << 8 | packet[header + 3]);
  if (seen_recently(address, port, protocol)) return;
  char dotted[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &address, dotted, sizeof dotted);
  // DNS over TCP does not go through the filter (it answers UDP only): say so, or the line would
  // read like a refusal of the resolver itself.
  if (protocol == IPPROTO_TCP && port == 53) log_line("mags: egress blocked: DNS over TCP to %s:53 (only UDP lookups are filtered)\n", dotted);
  else if (protocol == IPPROTO_TCP) log_line("mags: egress blocked: connection to %s:%u\n", dotted, port);
  else if (protocol == IPPROTO_UDP) log_line("mags: egress blocked: UDP to %s:%u\n", dotted, port);
  else log_line("mags: egress blocked: packet to %s (protocol %u)\n", dotted, protocol);
}

static void read_nflog(int fd) {
  char buffer[8192] __attribute__((aligned(4)));
  ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
  if (n <= 0) return;
  int remaining = (int)n;
  for (struct nlmsghdr *message = (struct nlmsghdr *)buffer; NLMSG_OK(message, remaining); message = NLMSG_NEXT(message, remaining)) {
    if (message->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) continue;
    if (message->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg))) continue;
    char *attributes = (char *)NLMSG_DATA(message) + NLMSG_ALIGN(sizeof(struct nfgenmsg));
    char *end = (char *)message + message->nlmsg_len;
    while (attributes + NLA_HDRLEN <= end) {
      struct nlattr *attribute = (struct nlattr *)attributes;
      if (attribute->nla_len < NLA_HDRLEN || attributes + attribute->nla_len > end) break;
      if ((attribute->nla_type & NLA_TYPE_MASK) == NFULA_PAYLOAD)
        log_packet((unsigned char *)attributes + NLA_HDRLEN, attribute->nla_len - NLA_HDRLEN);
      attributes += NLA_ALIGN(attribute->nla_len);
    }
  }
}

// An address the filter learnt, checked again here (the filter parses untrusted bytes): IPv4,
// outside the forbidden ranges.
static int add_learnt(char *script, size_t size, size_t *used, const char *line) {
  char dotted[INET_ADDRSTRLEN + 1];
  unsigned port, ttl;
  struct in_addr address;
  if (sscanf(line, "A %16s %u %u", dotted, &port, &ttl) != 3 || port > 65535 || inet_pton(AF_INET, dotted, &address) != 1) return -1;
  if (forbidden_address(ntohl(address.s_addr), 0xffffffffu)) return 0;
  unsigned seconds = ttl < LEARNT_SECONDS_MIN ? LEARNT_SECONDS_MIN : ttl > LEARNT_SECONDS_MAX ? LEARNT_SECONDS_MAX : ttl;
  // A full batch (a name matching many rules' ports) goes in now; the rest follows.
  if (*used + 512 >= size) {
    if (run_nft(script) < 0) log_line("mags: egress: could not add learnt addresses to the allow-list\n");
    *used = 0;
  }
  // Added, deleted and added again in one transaction: an element already there gets the new
  // timeout (an add alone leaves the old one), and one that is not never fails the delete.
  char element[64];
  if (port) snprintf(element, sizeof element, "learnt_port { %s . %u", dotted, port);
  else snprintf(element, sizeof element, "learnt_any { %s", dotted);
  *used += (size_t)snprintf(script + *used, size - *used,
                            "add element inet mags %s }\ndelete element inet mags %s }\nadd element inet mags %s timeout %us }\n",
                            element, element, element, seconds);
  return 0;
}

static void handle_report_line(const char *line, char *script, size_t size, size_t *used, int ack_fd) {
  if (line[0] == 'A') {
    if (add_learnt(script, size, used, line) < 0) fail("a bad address from the DNS filter");
  } else if (line[0] == '.' && line[1] == ' ') {
    // ". N": the batch numbered N is complete; its number goes back once it is in the set, so a
    // late acknowledgement (the filter gave up on it) is never taken for the next batch's.
    if (*used && run_nft(script) < 0) log_line("mags: egress: could not add learnt addresses to the allow-list\n");
    *used = 0;
    script[0] = 0;
    char *end;
    unsigned long number = strtoul(line + 2, &end, 10);
    if (*end || number > UINT32_MAX) fail("a bad batch number from the DNS filter");
    uint32_t ack = (uint32_t)number;
    // A filter that is gone (EPIPE: SIGPIPE is ignored) is reported by the read end's hang-up.
    if (ack_fd >= 0 && write(ack_fd, &ack, sizeof ack) != sizeof ack) return;
  } else if (line[0] == 'B' && line[1] == ' ' && strspn(line + 2, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == strlen(line + 2)) {
    if (strlen(line + 2) <= EGRESS_NAME_MAX && !name_seen_recently(line + 2))
      log_line("mags: egress blocked: DNS lookup of %s (not in --allow-host)\n", line + 2);
  }
}

static int read_nameserver(struct sockaddr_in *server) {
  FILE *file = fopen("/etc/resolv.conf", "re");
  if (!file) return -1;
  char line[256], address[64];
  int found = -1;
  while (found < 0 && fgets(line, sizeof line, file)) {
    if (sscanf(line, " nameserver %63s", address) == 1 && inet_pton(AF_INET, address, &server->sin_addr) == 1) found = 0;
  }
  fclose(file);
  server->sin_family = AF_INET;
  server->sin_port = htons(53);
  return found;
}

// The filter: its upstream socket in the host's network namespace, its listening one in the
// sandbox's, then an unprivileged id before it reads a byte from either.
// The filter's own seccomp list: only what its loop needs (dns-filter.c), everything else kills it.
static const char *filter_seccomp(void) {
  static const char *allowed[] = {"read", "write", "recvfrom", "sendto", "poll", "ppoll", "getrandom", "clock_gettime",
                                  "gettimeofday", "time", "exit", "exit_group", "rt_sigreturn", "restart_syscall"};
  const char *failed = NULL;
  scmp_filter_ctx filter = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (!filter) return "seccomp_init";
  if (seccomp_attr_set(filter, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0) failed = "seccomp badarch";
  for (size_t i = 0; !failed && i < sizeof allowed / sizeof *allowed; i++) {
    int number = seccomp_syscall_resolve_name(allowed[i]);
    if (number == __NR_SCMP_ERROR) continue;
    if (seccomp_rule_add(filter, SCMP_ACT_ALLOW, number, 0) < 0) failed = "seccomp rule for the DNS filter";
  }
  if (!failed && seccomp_load(filter) < 0) failed = "seccomp load";
  seccomp_release(filter);
  return failed;
}

// Moves `fd` to `target` (a small fixed number), so close_range can keep exactly these.
static int move_to(int fd, int target) {
  if (fd == target) return fd;
  if (dup3(fd, target, O_CLOEXEC) < 0) fail("dup3");
  close(fd);
  return target;
}

static void filter_main(const struct egress_options *o, int netns_fd, int report_fd, int ack_fd, const char *empty_directory) {
  struct sockaddr_in server = {0};
  errno = 0;
  if (read_nameserver(&server) < 0) fail("no IPv4 nameserver in /etc/resolv.conf for the DNS filter");
  int upstream = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (upstream < 0 || connect(upstream, (struct sockaddr *)&server, sizeof server) < 0) fail("connect to the host's resolver");
  if (setns(netns_fd, CLONE_NEWNET) < 0) fail("join the sandbox's network namespace");
  int listener = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(0x0a000264)};  // 10.0.2.100
  if (listener < 0 || bind(listener, (struct sockaddr *)&local, sizeof local) < 0) fail("bind the DNS filter on 10.0.2.100:53");
  close(netns_fd);
  // Nothing of the launcher's stays open (its lock files, the sandbox's sync pipe, slirp4netns's
  // exit pipe): only the two sockets and the two pipes to the keeper, on fds 3 to 6. The four
  // are moved above 6 first, so no dup3 below overwrites one not yet moved.
  int moved[4] = {listener, upstream, report_fd, ack_fd};
  for (int i = 0; i < 4; i++) {
    if (moved[i] <= 6 && (moved[i] = fcntl(moved[i], F_DUPFD_CLOEXEC, 7)) < 0) fail("fcntl");
  }
  if (close_range(3, 6, 0) < 0) fail("close_range");
  listener = move_to(moved[0], 3);
  upstream = move_to(moved[1], 4);
  report_fd = move_to(moved[2], 5);
  ack_fd = move_to(moved[3], 6);
  if (close_range(7, ~0U, 0) < 0) fail("close_range");
  // Standard input and output: nothing (stderr stays, for a failure before the loop).
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0) fail("open /dev/null");
  if (null_fd > 2) close(null_fd);
  // No file system: a directory the keeper removes once the filter is ready (nothing can be
  // created in a removed directory), and which only root could read anyway.
  if (chroot(empty_directory) < 0 || chdir("/") < 0) fail("chroot into %s", empty_directory);
  pid_t keeper = getppid();
  if (setgroups(0, NULL) < 0 || setresgid(FILTER_ID, FILTER_ID, FILTER_ID) < 0 || setresuid(FILTER_ID, FILTER_ID, FILTER_ID) < 0)
    fail("drop privileges");
  // A change of ids clears the parent-death signal (prctl(2)): set it after.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != keeper) _exit(0);
  if (prctl(PR_SET_DUMPABLE, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("no_new_privs");
  // No capabilities to drop: a change to a non-zero id cleared them all (capabilities(7)).
  const char *failed = filter_seccomp();
  if (failed) fail("%s", failed);
  if (write(report_fd, "R\n", 2) != 2) _exit(0);
  dns_filter_run(o, listener, upstream, report_fd, ack_fd);
}

// Once the rules, the NFLOG socket and the filter are set up, the keeper needs one capability
// only: CAP_NET_ADMIN, for nft's later additions to the sets (nft keeps it across exec: the
// keeper stays uid 0, and the bounding set holds nothing else).
static void keep_only_net_admin(void) {
  for (int cap = 0; cap <= 63; cap++) {
    if (cap != CAP_NET_ADMIN && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) fail("drop a capability");
  }
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2] = {{0}};
  data[0].effective = data[0].permitted = data[0].inheritable = 1u << CAP_NET_ADMIN;
  if (syscall(SYS_capset, &header, data) < 0) fail("capset");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("no_new_privs");
}

static void keeper_main(const struct egress_options *o, pid_t sandbox_pid, int ready_fd) {
  pid_t launcher = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != launcher) _exit(0);
  // A write to a filter that is gone must not kill the keeper: it still logs refusals.
  signal(SIGPIPE, SIG_IGN);
  char empty_directory[] = "/tmp/mags-dns-filter-XXXXXX";
  if (!mkdtemp(empty_directory)) fail("mkdtemp %s", empty_directory);
  if (o->log_path) {
    log_fd = open(o->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd < 0) fail("open the egress log %s", o->log_path);
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/net", sandbox_pid);
  int netns_fd = open(path, O_RDONLY | O_CLOEXEC);
  if (netns_fd < 0) fail("open %s", path);
  int report[2], ack[2];
  if (pipe2(report, O_CLOEXEC) < 0 || pipe2(ack, O_CLOEXEC) < 0) fail("pipe");
  pid_t filter = fork();
  if (filter < 0) fail("fork the DNS filter");
  if (filter == 0) {
    close(report[0]);
    close(ack[1]);
    close(ready_fd);
    if (log_fd != 2) close(log_fd);
    filter_main(o, netns_fd, report[1], ack[0], empty_directory);
    _exit(0);
  }
  close(report[1]);
  close(ack[0]);
  if (setns(netns_fd, CLONE_NEWNET) < 0) fail("join the sandbox's network namespace");
  close(netns_fd);
  install_rules(o);
  int nflog = nflog_open();
  static char line[EGRESS_NAME_MAX + 64], script[65536];
  size_t line_length = 0, used = 0;
  struct pollfd ready_wait = {.fd = report[0], .events = POLLIN};
  char ready[2];
  int started = poll(&ready_wait, 1, KEEPER_START_TIMEOUT_MS) == 1 && read(report[0], ready, 2) == 2 && ready[0] == 'R';
  rmdir(empty_directory);
  if (!started) {
    errno = 0;
    fail("the DNS filter did not start");
  }
  keep_only_net_admin();
  if (write(ready_fd, "1", 1) != 1) _exit(0);
  close(ready_fd);
  struct pollfd fds[2] = {{.fd = report[0], .events = POLLIN}, {.fd = nflog, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll");
    }
    if (fds[1].revents & POLLIN) read_nflog(nflog);
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      char buffer[4096];
      ssize_t n = read(report[0], buffer, sizeof buffer);
      if (n <= 0) {
        // The filter is gone: lookups now fail (nothing listens on 10.0.2.100:53); keep logging.
        log_line("mags: egress: the DNS filter stopped; lookups will fail\n");
        fprintf(stderr, "mags-sandbox: egress: the DNS filter stopped; lookups will fail\n");
        fds[0].fd = -1;
        continue;
      }
      for (ssize_t i = 0; i < n; i++) {
        if (buffer[i] != '\n') {
          if (line_length + 1 >= sizeof line) fail("a line from the DNS filter is too long");
          line[line_length++] = buffer[i];
          continue;
        }
        line[line_length] = 0;
        handle_report_line(line, script, sizeof script, &used, ack[1]);
        line_length = 0;
      }
    }
  }
}

pid_t egress_start(const struct egress_options *o, pid_t sandbox_pid) {
  errno = 0;
  if (find_nft() < 0) fail("the allow-list could not be set up: no nft on PATH (apt-get install nftables)");
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0) fail("pipe");
  pid_t keeper = fork();
  if (keeper < 0) fail("fork the egress keeper");
  if (keeper == 0) {
    close(ready[0]);
    keeper_main(o, sandbox_pid, ready[1]);
    _exit(0);
  }
  close(ready[1]);
  char answer = 0;
  if (read(ready[0], &answer, 1) != 1 || answer != '1') {
    waitpid(keeper, NULL, 0);
    errno = 0;
    fail("the allow-list could not be set up (see above)");
  }
  close(ready[0]);
  return keeper;
}
