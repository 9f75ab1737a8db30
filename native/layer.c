// mags-layer: the two things about an overlay upper directory that Node.js cannot see or make:
// whiteouts (character devices 0/0) and opaque directories (the "overlay.opaque" xattr).
//
//   mags-layer scan DIR   one record per entry below DIR, fields separated by NUL:
//                         path type mode uid gid size mtime_ns inode nlink opaque target
//                         type: f file, d directory, l symlink, w whiteout, o other (skipped by sync)
//   mags-layer apply      reads "w\0PATH\0" (make a whiteout) and "o\0PATH\0" (mark opaque) from stdin
//   mags-layer extract DIR UNPACKED CACHE FIRST_ID LAST_ID  rebuilds a layer from records on
//                           stdin (layer-extract.c)
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

int layer_extract(const char *directory, const char *unpacked, const char *cache,
                  const char *first, const char *last);

static size_t root_length;

// Overlayfs mounted in a user namespace (userxattr) keeps its markers in user.*, a host-mounted
// one in trusted.* (Documentation/filesystems/overlayfs.rst): accept both.
static int is_opaque(const char *path) {
  char value[4];
  const char *names[] = {"user.overlay.opaque", "trusted.overlay.opaque"};
  for (int i = 0; i < 2; i++) {
    ssize_t n = lgetxattr(path, names[i], value, sizeof value);
    if (n == 1 && value[0] == 'y') return 1;
  }
  return 0;
}

static void field(const char *text) { fputs(text, stdout); putchar(0); }

static void number(unsigned long long value) { printf("%llu", value); putchar(0); }

static int visit(const char *path, const struct stat *st, int flag, struct FTW *walk) {
  (void)flag;
  if (walk->level == 0) return 0;
  char type = 'o';
  if (S_ISREG(st->st_mode)) type = 'f';
  else if (S_ISDIR(st->st_mode)) type = 'd';
  else if (S_ISLNK(st->st_mode)) type = 'l';
  else if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0) type = 'w';
  char target[4097] = "";
  if (type == 'l') {
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) { perror(path); return 1; }
    target[n] = 0;
  }
  field(path + root_length + 1);
  char type_text[2] = {type, 0};
  field(type_text);
  number(st->st_mode & 07777);
  number(st->st_uid);
  number(st->st_gid);
  number((unsigned long long)st->st_size);
  number((unsigned long long)st->st_mtim.tv_sec * 1000000000ULL + (unsigned long long)st->st_mtim.tv_nsec);
  number(st->st_ino);
  number(st->st_nlink);
  number(type == 'd' ? (unsigned long long)is_opaque(path) : 0);
  field(target);
  return 0;
}

static int apply(void) {
  char *line = NULL;
  size_t capacity = 0;
  ssize_t n;
  char kind = 0;
  int status = 0;
  while ((n = getdelim(&line, &capacity, 0, stdin)) > 0) {
    if (!kind) { kind = line[0]; continue; }
    if (kind == 'w' && mknod(line, S_IFCHR | 0000, makedev(0, 0)) < 0 && errno != EEXIST) { perror(line); status = 1; }
    if (kind == 'o' && lsetxattr(line, "user.overlay.opaque", "y", 1, 0) < 0) { perror(line); status = 1; }
    kind = 0;
  }
  free(line);
  return status;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "scan")) {
    root_length = strlen(argv[2]);
    while (root_length > 1 && argv[2][root_length - 1] == '/') root_length--;
    if (nftw(argv[2], visit, 64, FTW_PHYS) != 0) { perror(argv[2]); return 1; }
    return fflush(stdout) == 0 ? 0 : 1;
  }
  if (argc == 2 && !strcmp(argv[1], "apply")) return apply();
  if (argc == 7 && !strcmp(argv[1], "extract"))
    return layer_extract(argv[2], argv[3], argv[4], argv[5], argv[6]);
  fprintf(stderr, "usage: mags-layer scan DIR | mags-layer apply < records | mags-layer extract DIR UNPACKED CACHE FIRST_ID LAST_ID < records\n");
  return 64;
}
