// Egress allow-lists for a namespace sandbox's network (mags-sandbox --allow-host / --allow-cidr).
// egress.c: the keeper (host root, in the sandbox's network namespace): installs the nftables
// table, adds the addresses the DNS filter learns, and writes a line per blocked lookup or
// connection to the run's egress log. dns-filter.c: the DNS filter (an unprivileged host id):
// answers the sandbox's DNS queries, refusing names not on the list.
#ifndef MAGS_EGRESS_H
#define MAGS_EGRESS_H

#include <stdint.h>
#include <sys/types.h>

#define EGRESS_MAX_RULES 64
#define EGRESS_NAME_MAX 253

// One --allow-host NAME[:PORT] (name set) or --allow-cidr A.B.C.D/N[:PORT] (prefix set); port 0
// means every port. A name starting with "*." matches every name below it (not the name itself).
struct egress_rule {
  char name[EGRESS_NAME_MAX + 1];
  uint32_t address, mask;  // host byte order, for a CIDR rule
  int prefix;
  uint16_t port;
};

struct egress_options {
  struct egress_rule rules[EGRESS_MAX_RULES];
  int rule_count;
  const char *log_path;  // --egress-log: where the blocked lines go (the run directory)
};

// Parses one --allow-host or --allow-cidr value into `options`; returns NULL or what is wrong.
const char *egress_add_rule(struct egress_options *options, int cidr, const char *value);

// Starts the keeper for the sandbox whose first process is `sandbox_pid` (its network namespace
// set up by slirp4netns already) and returns when the rules are in place and the DNS filter
// listens: before the sandbox's first program runs. Dies on failure (never an open network).
pid_t egress_start(const struct egress_options *options, pid_t sandbox_pid);

// The DNS filter's loop (dns-filter.c): `listen_fd` receives the sandbox's queries, `upstream_fd`
// is connected to the host's resolver; addresses go to the keeper on `report_fd` ("A a.b.c.d PORT TTL"
// lines, then ". N"), whose N back on `ack_fd` says they are in the set; "B NAME" reports a refusal.
void dns_filter_run(const struct egress_options *options, int listen_fd, int upstream_fd, int report_fd, int ack_fd);

// The rule a name matches (exact or wildcard), or -1. Lower-case `name`, no trailing dot.
int egress_match_name(const struct egress_options *options, const char *name, int from);

#endif
