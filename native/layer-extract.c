// mags-layer extract DIR: rebuilds a layer below DIR from records on stdin (workspace restore).
// Node.js fetches and verifies the content; this writes it. Creating 10,000 files with their
// owners, modes and times through libuv's thread pool costs ~5 round trips each (~0.9 s here);
// done here, one process, a few syscalls per file, it is ~0.3 s.
//
// Records (text fields end in NUL; paths are bytes, relative to DIR, parents before children):
//   d PATH MODE UID GID MTIME_MS OPAQUE      a directory (OPAQUE 1: the overlay's opaque marker)
//   f PATH MODE UID GID MTIME_MS SIZE <SIZE bytes>           a file and its content
//   p PATH MODE UID GID MTIME_MS SIZE COUNT {OFFSET SOURCE}*  a file from pieces: SOURCE is a
//                                  local file copied to OFFSET, or empty for zeroes (a hole)
//   s PATH MODE UID GID MTIME_MS SIZE SOURCE OFFSET          a file: SIZE bytes of the local
//                                  file SOURCE from OFFSET (an unpacked pack)
//   u SOURCE                                                  SOURCE is no longer needed: delete it
//   l PATH UID GID MTIME_MS TARGET                            a symlink
//   h PATH EXISTING                                           a hard link to an earlier file
//   w PATH                                                    a whiteout
// Directories get their owner, mode and time at the end, deepest first, so writing into one
// does not change its time again and a read-only one does not block its own restore. On any
// failure it prints the path and exits with the errno (28 is ENOSPC), leaving DIR to be removed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct directory {
  char *path;
  unsigned mode, uid, gid;
  long long mtime_ms;
};

static int root_fd = -1;
static const char *root_path;
static char *field_buffer;
static size_t field_capacity;

static int fail(const char *path) {
  int code = errno ? errno : 1;
  fprintf(stderr, "mags-layer extract: %s: %s\n", path, strerror(code));
  exit(code > 125 ? 1 : code);
}

// One NUL-terminated field from stdin, in a buffer reused by the next call (copy to keep it).
static char *next_field(void) {
  ssize_t n = getdelim(&field_buffer, &field_capacity, 0, stdin);
  if (n <= 0) return NULL;
  if (field_buffer[n - 1] != 0) { errno = EPROTO; fail("truncated record"); }
  return field_buffer;
}

static char *required_copy(void) {
  char *text = next_field();
  if (!text) { errno = EPROTO; fail("truncated record"); }
  char *copy = strdup(text);
  if (!copy) fail("strdup");
  return copy;
}

static long long required_number(void) {
  char *text = next_field();
  if (!text) { errno = EPROTO; fail("truncated record"); }
  return strtoll(text, NULL, 10);
}

static struct timespec from_milliseconds(long long ms) {
  struct timespec time = {ms / 1000, (ms % 1000) * 1000000};
  if (time.tv_nsec < 0) { time.tv_sec -= 1; time.tv_nsec += 1000000000; }
  return time;
}

static void set_file_metadata(int fd, const char *path, unsigned mode, unsigned uid, unsigned gid,
                              long long mtime_ms) {
  // The file was created with its mode (umask 0); chown clears set-id bits (chown(2), root
  // included), so only then is the mode set again.
  if (fchown(fd, uid, gid) < 0) fail(path);
  if ((mode & (S_ISUID | S_ISGID)) && fchmod(fd, mode) < 0) fail(path);
  struct timespec times[2] = {from_milliseconds(mtime_ms), from_milliseconds(mtime_ms)};
  if (futimens(fd, times) < 0) fail(path);
}

static char copy_buffer[1 << 20];

static void extract_file(void) {
  char *path = required_copy();
  unsigned mode = required_number(), uid = required_number(), gid = required_number();
  long long mtime_ms = required_number(), size = required_number();
  int fd = openat(root_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
  if (fd < 0) fail(path);
  for (long long left = size; left > 0;) {
    size_t want = left < (long long)sizeof copy_buffer ? (size_t)left : sizeof copy_buffer;
    size_t got = fread(copy_buffer, 1, want, stdin);
    if (got == 0) { errno = EPROTO; fail(path); }
    for (size_t done = 0; done < got;) {
      ssize_t written = write(fd, copy_buffer + done, got - done);
      if (written < 0) fail(path);
      done += (size_t)written;
    }
    left -= (long long)got;
  }
  set_file_metadata(fd, path, mode, uid, gid, mtime_ms);
  if (close(fd) < 0) fail(path);
  free(path);
}

static void extract_pieces(void) {
  char *path = required_copy();
  unsigned mode = required_number(), uid = required_number(), gid = required_number();
  long long mtime_ms = required_number(), size = required_number(), count = required_number();
  int fd = openat(root_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
  if (fd < 0) fail(path);
  for (long long index = 0; index < count; index++) {
    long long offset = required_number();
    char *source = required_copy();
    if (source[0]) {
      int in = open(source, O_RDONLY | O_CLOEXEC);
      if (in < 0) fail(source);
      for (;;) {
        ssize_t got = read(in, copy_buffer, sizeof copy_buffer);
        if (got < 0) fail(source);
        if (got == 0) break;
        for (ssize_t done = 0; done < got;) {
          ssize_t written = pwrite(fd, copy_buffer + done, (size_t)(got - done), offset);
          if (written < 0) fail(path);
          done += written;
          offset += written;
        }
      }
      close(in);
    }
    free(source);
  }
  // Pieces left out are zeroes: the file stays sparse.
  if (ftruncate(fd, size) < 0) fail(path);
  set_file_metadata(fd, path, mode, uid, gid, mtime_ms);
  if (close(fd) < 0) fail(path);
  free(path);
}

// The source of the last 's' record, mapped: a pack's files come one after another, and a
// write(2) from the mapping is one copy (sendfile(2) measured ~15% slower for 5 KB files here).
static char *slice_source;
static char *slice_map;
static size_t slice_length;

static void close_source(void) {
  if (slice_map) munmap(slice_map, slice_length);
  slice_map = NULL;
  slice_length = 0;
  free(slice_source);
  slice_source = NULL;
}

static void extract_slice(void) {
  char *path = required_copy();
  unsigned mode = required_number(), uid = required_number(), gid = required_number();
  long long mtime_ms = required_number(), size = required_number();
  char *source = required_copy();
  long long offset = required_number();
  if (!slice_source || strcmp(source, slice_source) != 0) {
    close_source();
    int in = open(source, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0) fail(source);
    slice_length = (size_t)st.st_size;
    if (slice_length > 0) {
      slice_map = mmap(NULL, slice_length, PROT_READ, MAP_PRIVATE, in, 0);
      if (slice_map == MAP_FAILED) { slice_map = NULL; fail(source); }
    }
    close(in);
    slice_source = source;
  } else {
    free(source);
  }
  if (offset < 0 || size < 0 || (unsigned long long)(offset + size) > slice_length) {
    errno = EPROTO;
    fail(path);
  }
  int fd = openat(root_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
  if (fd < 0) fail(path);
  for (long long done = 0; done < size;) {
    ssize_t written = write(fd, slice_map + offset + done, (size_t)(size - done));
    if (written < 0) fail(path);
    done += written;
  }
  set_file_metadata(fd, path, mode, uid, gid, mtime_ms);
  if (close(fd) < 0) fail(path);
  free(path);
}

static char *full_path(const char *relative) {
  size_t length = strlen(root_path) + strlen(relative) + 2;
  char *path = malloc(length);
  if (!path) fail("malloc");
  snprintf(path, length, "%s/%s", root_path, relative);
  return path;
}

int layer_extract(const char *directory) {
  root_path = directory;
  umask(0);
  root_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) fail(directory);
  static char input_buffer[1 << 20];
  setvbuf(stdin, input_buffer, _IOFBF, sizeof input_buffer);
  struct directory *directories = NULL;
  size_t directory_count = 0, directory_capacity = 0;
  char *kind;
  while ((kind = next_field())) {
    char type = kind[0];
    if (type == 'f') {
      extract_file();
    } else if (type == 'p') {
      extract_pieces();
    } else if (type == 's') {
      extract_slice();
    } else if (type == 'u') {
      char *source = required_copy();
      if (slice_source && strcmp(source, slice_source) == 0) close_source();
      if (unlink(source) < 0) fail(source);
      free(source);
    } else if (type == 'd') {
      char *path = required_copy();
      unsigned mode = required_number(), uid = required_number(), gid = required_number();
      long long mtime_ms = required_number(), opaque = required_number();
      if (mkdirat(root_fd, path, 0700) < 0) fail(path);
      if (opaque) {
        // Overlayfs in a user namespace reads user.overlay.* (layer.c's scan accepts both).
        char *absolute = full_path(path);
        if (lsetxattr(absolute, "user.overlay.opaque", "y", 1, 0) < 0) fail(path);
        free(absolute);
      }
      if (directory_count == directory_capacity) {
        directory_capacity = directory_capacity ? directory_capacity * 2 : 256;
        directories = realloc(directories, directory_capacity * sizeof *directories);
        if (!directories) fail("realloc");
      }
      directories[directory_count++] = (struct directory){path, mode, uid, gid, mtime_ms};
    } else if (type == 'l') {
      char *path = required_copy();
      unsigned uid = required_number(), gid = required_number();
      long long mtime_ms = required_number();
      char *target = next_field();
      if (!target) { errno = EPROTO; fail(path); }
      if (symlinkat(target, root_fd, path) < 0) fail(path);
      if (fchownat(root_fd, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) fail(path);
      struct timespec times[2] = {from_milliseconds(mtime_ms), from_milliseconds(mtime_ms)};
      if (utimensat(root_fd, path, times, AT_SYMLINK_NOFOLLOW) < 0) fail(path);
      free(path);
    } else if (type == 'h') {
      char *path = required_copy();
      char *existing = next_field();
      if (!existing) { errno = EPROTO; fail(path); }
      if (linkat(root_fd, existing, root_fd, path, 0) < 0) fail(path);
      free(path);
    } else if (type == 'w') {
      char *path = required_copy();
      if (mknodat(root_fd, path, S_IFCHR | 0000, makedev(0, 0)) < 0) fail(path);
      free(path);
    } else {
      errno = EPROTO;
      fail("unknown record");
    }
  }
  if (ferror(stdin)) fail("stdin");
  for (size_t index = directory_count; index-- > 0;) {
    struct directory *entry = &directories[index];
    if (fchownat(root_fd, entry->path, entry->uid, entry->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
        fchmodat(root_fd, entry->path, entry->mode, 0) < 0)
      fail(entry->path);
    struct timespec times[2] = {from_milliseconds(entry->mtime_ms),
                                from_milliseconds(entry->mtime_ms)};
    if (utimensat(root_fd, entry->path, times, AT_SYMLINK_NOFOLLOW) < 0) fail(entry->path);
    free(entry->path);
  }
  free(directories);
  return 0;
}
