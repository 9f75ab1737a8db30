// The DNS filter of an egress allow-list (see egress.h). It runs as an unprivileged host id with
// no_new_privs, chrooted into a removed directory, under a seccomp list of its own (read, write,
// send, receive, poll, the clock and random numbers), and holds two sockets and two pipes only:
// one socket bound in the sandbox's network namespace (every UDP query to port 53 there is
// DNAT'd to it), one connected to the host's resolver, and the pipes to and from the keeper. It parses the sandbox's queries and the resolver's answers,
// both untrusted, with every read bounds-checked (RFC 1035 section 4.1).
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "egress.h"

#define DNS_HEADER 12
#define DNS_MAX 4096
#define PENDING_MAX 64
#define PENDING_TIMEOUT_SECONDS 10
#define ANSWER_ADDRESSES_MAX 32
#define RCODE_NOERROR 0
#define RCODE_SERVFAIL 2
#define RCODE_NXDOMAIN 3
#define RCODE_REFUSED 5
#define TYPE_A 1
#define TYPE_CNAME 5
#define TYPE_AAAA 28
#define TYPE_OPT 41
#define ACK_TIMEOUT_MS 3000

struct pending {
  int used;
  uint16_t our_id, client_id;
  struct sockaddr_in client;
  time_t sent;
  int rule;  // the first rule the name matched
  size_t question_length;
  unsigned char question[EGRESS_NAME_MAX + 2 + 4];
  char name[EGRESS_NAME_MAX + 1];
};

static struct pending pending[PENDING_MAX];

static uint16_t read16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

// Reads the question's name at `offset` (uncompressed, as a query's is) into `name` in lower case
// with dots; returns the offset after it, or 0 when the name is malformed or too long.
static size_t read_question_name(const unsigned char *message, size_t length, size_t offset, char *name) {
  size_t out = 0;
  for (;;) {
    if (offset >= length) return 0;
    unsigned label = message[offset++];
    if (label == 0) break;
    if (label > 63) return 0;  // a compression pointer or a reserved label type
    if (offset + label > length || out + label + 1 > EGRESS_NAME_MAX) return 0;
    if (out) name[out++] = '.';
    for (unsigned i = 0; i < label; i++) {
      unsigned char c = message[offset + i];
      if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
      // Only host-name bytes: anything else cannot be on the list, and it reaches the log.
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return 0;
      name[out++] = (char)c;
    }
    offset += label;
  }
  name[out] = 0;
  return out ? offset : 0;
}

// Skips a name in an answer, compressed or not; returns the offset after it or 0.
static size_t skip_name(const unsigned char *message, size_t length, size_t offset) {
  for (int labels = 0; labels < 128; labels++) {
    if (offset >= length) return 0;
    unsigned label = message[offset];
    if (label == 0) return offset + 1;
    if ((label & 0xc0) == 0xc0) return offset + 2 <= length ? offset + 2 : 0;  // a pointer ends it
    if (label > 63) return 0;
    offset += 1 + label;
  }
  return 0;
}

static void answer_code(int listen_fd, const unsigned char *query, size_t question_end, const struct sockaddr_in *client, int rcode) {
  unsigned char reply[DNS_HEADER + EGRESS_NAME_MAX + 2 + 4];
  if (question_end > sizeof reply) return;
  memcpy(reply, query, question_end);
  reply[2] = (unsigned char)(0x80 | (query[2] & 0x79));  // QR, the opcode and RD of the query
  reply[3] = (unsigned char)(0x80 | rcode);               // RA
  memset(reply + 6, 0, 6);                                 // no answer, authority or additional
  if (question_end == DNS_HEADER) reply[4] = reply[5] = 0;  // a question that could not be read
  sendto(listen_fd, reply, question_end, 0, (const struct sockaddr *)client, sizeof *client);
}

static int write_all(int fd, const char *text, size_t length) {
  while (length) {
    ssize_t n = write(fd, text, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    text += n;
    length -= (size_t)n;
  }
  return 0;
}

static struct pending *free_slot(void) {
  struct pending *oldest = &pending[0];
  time_t now = time(NULL);
  for (int i = 0; i < PENDING_MAX; i++) {
    if (!pending[i].used || now - pending[i].sent > PENDING_TIMEOUT_SECONDS) return &pending[i];
    if (pending[i].sent < oldest->sent) oldest = &pending[i];
  }
  return oldest;  // full: the oldest query is given up on (its client retries)
}

static void handle_query(const struct egress_options *o, int listen_fd, int upstream_fd, int report_fd) {
  unsigned char query[DNS_MAX];
  struct sockaddr_in client;
  socklen_t client_length = sizeof client;
  ssize_t n = recvfrom(listen_fd, query, sizeof query, 0, (struct sockaddr *)&client, &client_length);
  if (n < DNS_HEADER) return;
  // Queries come from the sandbox's tap0 address (or its loopback): a forged source would make
  // the answer a datagram to an address of the sandbox's choosing (nft drops those as well).
  uint32_t source = ntohl(client.sin_addr.s_addr);
  if (source != 0x0a000264 && (source & 0xff000000) != 0x7f000000) return;
  size_t length = (size_t)n;
  // A standard query (QR 0, opcode 0) with one question, or nothing worth an answer.
  if ((query[2] & 0xf8) != 0 || read16(query + 4) != 1) return;
  char name[EGRESS_NAME_MAX + 1];
  size_t name_end = read_question_name(query, length, DNS_HEADER, name);
  if (!name_end || name_end + 4 > length) {
    if (length >= DNS_HEADER) answer_code(listen_fd, query, DNS_HEADER, &client, RCODE_REFUSED);
    return;
  }
  size_t question_end = name_end + 4;
  uint16_t type = read16(query + name_end);
  int rule = egress_match_name(o, name, 0);
  if (rule < 0) {
    // Reported before the answer, so the line is in the log by the time the lookup fails.
    char line[EGRESS_NAME_MAX + 8];
    int line_length = snprintf(line, sizeof line, "B %s\n", name);
    if (write_all(report_fd, line, (size_t)line_length) < 0) _exit(0);
    // NXDOMAIN, not REFUSED: glibc takes REFUSED for a passing failure (EAI_AGAIN), which npm
    // and others retry for a long time; a name that "does not exist" fails at once.
    answer_code(listen_fd, query, question_end, &client, RCODE_NXDOMAIN);
    return;
  }
  // Addresses only: other types (TXT, MX, HTTPS, ...) of an allowed name are no use to a
  // connection. An empty answer ("no records of that type"), not an error: resolvers that ask for
  // HTTPS records before A ones move on at once.
  if (type != TYPE_A && type != TYPE_AAAA && type != TYPE_CNAME) {
    answer_code(listen_fd, query, question_end, &client, RCODE_NOERROR);
    return;
  }
  // EDNS (RFC 6891) only for a client that sent it: one that did not takes answers of 512 bytes
  // at most, which the resolver keeps to when it is not offered more.
  int client_edns = read16(query + 10) >= 1 && question_end + 11 <= length && query[question_end] == 0 &&
                    read16(query + question_end + 1) == TYPE_OPT;
  struct pending *slot = free_slot();
  uint16_t our_id;
  if (getrandom(&our_id, sizeof our_id, 0) != sizeof our_id) return;
  *slot = (struct pending){.used = 1, .our_id = our_id, .client_id = read16(query), .client = client,
                           .sent = time(NULL), .rule = rule, .question_length = question_end - DNS_HEADER};
  memcpy(slot->question, query + DNS_HEADER, slot->question_length);
  memcpy(slot->name, name, sizeof slot->name);
  // Only the question reaches the host's resolver, with an EDNS record of our own when the client
  // sent one (the 1232-byte size of DNS Flag Day 2020, so answers fit without TCP): nothing else
  // of the sandbox's bytes.
  static const unsigned char edns[11] = {0, 0, 41, 1232 >> 8, 1232 & 0xff, 0, 0, 0, 0, 0, 0};
  unsigned char forwarded[DNS_HEADER + sizeof slot->question + sizeof edns];
  forwarded[0] = (unsigned char)(our_id >> 8);
  forwarded[1] = (unsigned char)our_id;
  forwarded[2] = query[2] & 0x01;  // RD
  forwarded[3] = 0;
  static const unsigned char counts[8] = {0, 1, 0, 0, 0, 0, 0, 1};  // one question, one OPT
  memcpy(forwarded + 4, counts, sizeof counts);
  if (!client_edns) forwarded[11] = 0;
  memcpy(forwarded + DNS_HEADER, slot->question, slot->question_length);
  memcpy(forwarded + DNS_HEADER + slot->question_length, edns, sizeof edns);
  send(upstream_fd, forwarded, DNS_HEADER + slot->question_length + (client_edns ? sizeof edns : 0), 0);
}

static int same_question(const struct pending *p, const unsigned char *question) {
  for (size_t i = 0; i < p->question_length; i++) {
    unsigned char a = p->question[i], b = question[i];
    if (a >= 'A' && a <= 'Z') a = (unsigned char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = (unsigned char)(b - 'A' + 'a');
    if (a != b) return 0;
  }
  return 1;
}

static uint32_t batch_number;

// Asks the keeper to allow `addresses` on the ports of every rule the name matches, and waits
// until they are in the set: the sandbox connects as soon as it has the answer. Each batch has a
// number the keeper sends back, so an acknowledgement that comes after its batch was given up on
// is skipped, not taken for the next one's.
static int allow_addresses(const struct egress_options *o, const struct pending *p, const uint32_t *addresses,
                           const uint32_t *ttls, int count, int report_fd, int ack_fd) {
  char text[ANSWER_ADDRESSES_MAX * EGRESS_MAX_RULES * 40 + 16];
  size_t used = 0;
  int every_port = 0;
  for (int r = p->rule; r >= 0; r = egress_match_name(o, p->name, r + 1)) every_port |= o->rules[r].port == 0;
  for (int r = p->rule; r >= 0; r = egress_match_name(o, p->name, r + 1)) {
    if (every_port && o->rules[r].port != 0) continue;
    for (int i = 0; i < count; i++) {
      struct in_addr address = {.s_addr = addresses[i]};
      char dotted[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &address, dotted, sizeof dotted);
      used += (size_t)snprintf(text + used, sizeof text - used, "A %s %u %u\n", dotted, o->rules[r].port, ttls[i]);
    }
    if (every_port) break;
  }
  uint32_t number = ++batch_number;
  used += (size_t)snprintf(text + used, sizeof text - used, ". %u\n", number);
  if (write_all(report_fd, text, used) < 0) _exit(0);  // the keeper is gone
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    struct pollfd ack = {.fd = ack_fd, .events = POLLIN};
    if (waited >= ACK_TIMEOUT_MS || poll(&ack, 1, (int)(ACK_TIMEOUT_MS - waited)) != 1) return -1;
    uint32_t answer;
    // Four-byte writes to a pipe are atomic (pipe(7)): a read gets a whole number or nothing.
    ssize_t n = read(ack_fd, &answer, sizeof answer);
    if (n == 0) _exit(0);  // the keeper is gone
    if (n == sizeof answer && answer == number) return 0;
  }
}

static void handle_answer(const struct egress_options *o, int listen_fd, int upstream_fd, int report_fd, int ack_fd) {
  unsigned char answer[DNS_MAX];
  ssize_t n = recv(upstream_fd, answer, sizeof answer, 0);
  if (n < DNS_HEADER) return;
  size_t length = (size_t)n;
  uint16_t id = read16(answer);
  struct pending *p = NULL;
  for (int i = 0; i < PENDING_MAX && !p; i++) {
    if (pending[i].used && pending[i].our_id == id) p = &pending[i];
  }
  if (!p || !(answer[2] & 0x80) || read16(answer + 4) != 1) return;
  size_t question_end = DNS_HEADER + p->question_length;
  if (question_end > length || !same_question(p, answer + DNS_HEADER)) return;
  p->used = 0;
  uint32_t addresses[ANSWER_ADDRESSES_MAX], ttls[ANSWER_ADDRESSES_MAX];
  int count = 0;
  unsigned kept = 0;
  size_t offset = question_end, kept_end = question_end;
  // The A records of the answer section (the CNAME chain's last name's among them), up to
  // ANSWER_ADDRESSES_MAX. What the sandbox gets is the answer section up to the last whole
  // record kept: no A record it was not allowed, and no authority or additional records.
  for (unsigned i = 0, records = read16(answer + 6); i < records; i++) {
    offset = skip_name(answer, length, offset);
    if (!offset || offset + 10 > length) break;
    uint16_t type = read16(answer + offset), class = read16(answer + offset + 2), size = read16(answer + offset + 8);
    offset += 10;
    if (offset + size > length) break;
    if (type == TYPE_A && (class != 1 || size != 4 || count == ANSWER_ADDRESSES_MAX)) break;
    if (type == TYPE_A) {
      ttls[count] = (uint32_t)read16(answer + offset - 6) << 16 | read16(answer + offset - 4);
      memcpy(&addresses[count++], answer + offset, 4);
    }
    offset += size;
    kept++;
    kept_end = offset;
  }
  answer[0] = (unsigned char)(p->client_id >> 8);
  answer[1] = (unsigned char)p->client_id;
  answer[6] = (unsigned char)(kept >> 8);
  answer[7] = (unsigned char)kept;
  memset(answer + 8, 0, 4);
  if (count && allow_addresses(o, p, addresses, ttls, count, report_fd, ack_fd) < 0) {
    // The keeper is slow (nft under the sandbox's CPU limit): this lookup fails, the next may not.
    answer_code(listen_fd, answer, question_end, &p->client, RCODE_SERVFAIL);
    return;
  }
  sendto(listen_fd, answer, kept_end, 0, (const struct sockaddr *)&p->client, sizeof p->client);
}

void dns_filter_run(const struct egress_options *o, int listen_fd, int upstream_fd, int report_fd, int ack_fd) {
  struct pollfd fds[3] = {{.fd = listen_fd, .events = POLLIN}, {.fd = upstream_fd, .events = POLLIN}, {.fd = ack_fd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    // The keeper went away (the sandbox ended): nothing left to filter for.
    if (fds[2].revents & (POLLHUP | POLLERR)) _exit(0);
    if (fds[0].revents & POLLIN) handle_query(o, listen_fd, upstream_fd, report_fd);
    if (fds[1].revents & POLLIN) handle_answer(o, listen_fd, upstream_fd, report_fd, ack_fd);
  }
}
