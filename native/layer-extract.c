// mags-layer extract DIR UNPACKED CACHE FIRST_ID LAST_ID: rebuilds a layer below DIR from records
// on stdin (workspace restore). It runs as host root and the records come from a manifest in the
// store, which is trusted less than the host: every path is relative, has no empty, `.` or `..`
// component, and its parent is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) so no
// symlink (made by this restore or not) is followed; 's'/'u' sources are plain names in UNPACKED,
// 'p' sources paths below CACHE; owners must be in [FIRST_ID, LAST_ID] (the id mapping's range);
// numbers are parsed strictly.
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
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

// A file's pieces are at most this long (manifest.ts chunkBytes).
#define CHUNK_BYTES (8LL * 1024 * 1024)

struct directory {
  char *path;
  unsigned mode, uid, gid;
  long long mtime_ms;
};

static int root_fd = -1, unpacked_fd = -1, cache_fd = -1;
static long long first_id, last_id;
static char *field_buffer;
static size_t field_capacity;

static _Noreturn void fail(const char *path) {
  int code = errno ? errno : 1;
  fprintf(stderr, "mags-layer extract: %s: %s\n", path, strerror(code));
  exit(code > 125 ? 1 : code);
}

static _Noreturn void refuse(const char *what) {
  errno = EPROTO;
  fail(what);
}

// One NUL-terminated field from stdin, in a buffer reused by the next call (copy to keep it).
static char *next_field(void) {
  ssize_t n = getdelim(&field_buffer, &field_capacity, 0, stdin);
  if (n <= 0) return NULL;
  if (field_buffer[n - 1] != 0) refuse("truncated record");
  return field_buffer;
}

static char *required_copy(void) {
  char *text = next_field();
  if (!text) refuse("truncated record");
  char *copy = strdup(text);
  if (!copy) fail("strdup");
  return copy;
}

// A decimal integer in [min, max], the whole field and nothing else.
static long long parse_number(const char *text, long long min, long long max) {
  char *end;
  errno = 0;
  long long value = strtoll(text, &end, 10);
  if (errno || end == text || *end || value < min || value > max) refuse("bad number in record");
  return value;
}

static long long required_number(long long min, long long max) {
  char *text = next_field();
  if (!text) refuse("truncated record");
  return parse_number(text, min, max);
}

#define ANY_NUMBER (-(1LL << 53)), (1LL << 53)
#define COUNT 0, (1LL << 53)

static unsigned required_mode(void) { return (unsigned)required_number(0, 07777); }

// An owner in the id mapping's range: (unsigned)-1 would make fchown a no-op (the file stays
// root's), and anything else outside would give it to another host user.
static unsigned required_id(void) { return (unsigned)required_number(first_id, last_id); }

// Relative, no empty, `.` or `..` component (so no leading or doubled '/').
static void check_relative(const char *path) {
  if (!path[0]) refuse("empty path");
  for (const char *component = path;;) {
    const char *slash = strchr(component, '/');
    size_t length = slash ? (size_t)(slash - component) : strlen(component);
    if (length == 0 || (length == 1 && component[0] == '.') ||
        (length == 2 && component[0] == '.' && component[1] == '.')) {
      errno = EPROTO;
      fail(path);
    }
    if (!slash) break;
    component = slash + 1;
  }
}

static int open_beneath(int directory_fd, const char *path, long long flags) {
  struct open_how how = {
      .flags = (unsigned long long)flags | O_CLOEXEC,
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
  };
  return (int)syscall(SYS_openat2, directory_fd, path, &how, sizeof how);
}

// The directory holding `path` (below DIR, through no symlink) and its last component. The last
// parent stays open: a pack's files come one directory after another.
static char *cached_parent;
static int cached_parent_fd = -1;

static int parent_of(const char *path, const char **base) {
  check_relative(path);
  const char *slash = strrchr(path, '/');
  if (!slash) {
    *base = path;
    return root_fd;
  }
  *base = slash + 1;
  size_t length = (size_t)(slash - path);
  if (cached_parent && strlen(cached_parent) == length && !memcmp(cached_parent, path, length))
    return cached_parent_fd;
  char *parent = strndup(path, length);
  if (!parent) fail("strndup");
  int fd = open_beneath(root_fd, parent, O_PATH | O_DIRECTORY);
  if (fd < 0) fail(path);
  if (cached_parent_fd >= 0) close(cached_parent_fd);
  free(cached_parent);
  cached_parent = parent;
  cached_parent_fd = fd;
  return fd;
}

static int create_file(const char *path, unsigned mode) {
  const char *base;
  int parent = parent_of(path, &base);
  int fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) fail(path);
  return fd;
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
  unsigned mode = required_mode(), uid = required_id(), gid = required_id();
  long long mtime_ms = required_number(ANY_NUMBER), size = required_number(COUNT);
  int fd = create_file(path, mode);
  for (long long left = size; left > 0;) {
    size_t want = left < (long long)sizeof copy_buffer ? (size_t)left : sizeof copy_buffer;
    size_t got = fread(copy_buffer, 1, want, stdin);
    if (got == 0) refuse(path);
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
  unsigned mode = required_mode(), uid = required_id(), gid = required_id();
  long long mtime_ms = required_number(ANY_NUMBER), size = required_number(COUNT);
  long long count = required_number(0, size / CHUNK_BYTES + 1);
  int fd = create_file(path, mode);
  for (long long index = 0; index < count; index++) {
    long long offset = required_number(0, size);
    char *source = required_copy();
    if (source[0]) {
      check_relative(source);
      int in = open_beneath(cache_fd, source, O_RDONLY);
      if (in < 0) fail(source);
      // A piece is one chunk: never more than CHUNK_BYTES, nor past the file's end.
      long long left = size - offset < CHUNK_BYTES ? size - offset : CHUNK_BYTES;
      while (left > 0) {
        size_t want = left < (long long)sizeof copy_buffer ? (size_t)left : sizeof copy_buffer;
        ssize_t got = read(in, copy_buffer, want);
        if (got < 0) fail(source);
        if (got == 0) break;
        for (ssize_t done = 0; done < got;) {
          ssize_t written = pwrite(fd, copy_buffer + done, (size_t)(got - done), offset);
          if (written < 0) fail(path);
          done += written;
          offset += written;
        }
        left -= got;
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

// A plain name in UNPACKED (no '/', not `.` or `..`).
static void check_name(const char *name) {
  if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
    errno = EPROTO;
    fail(name);
  }
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
  unsigned mode = required_mode(), uid = required_id(), gid = required_id();
  long long mtime_ms = required_number(ANY_NUMBER), size = required_number(COUNT);
  char *source = required_copy();
  long long offset = required_number(COUNT);
  check_name(source);
  if (!slice_source || strcmp(source, slice_source) != 0) {
    close_source();
    int in = openat(unpacked_fd, source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0) fail(source);
    if (!S_ISREG(st.st_mode)) refuse(source);
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
  // Written so it cannot overflow: size and offset are each at most 2^53.
  if ((unsigned long long)size > slice_length ||
      (unsigned long long)offset > slice_length - (unsigned long long)size)
    refuse(path);
  int fd = create_file(path, mode);
  for (long long done = 0; done < size;) {
    ssize_t written = write(fd, slice_map + offset + done, (size_t)(size - done));
    if (written < 0) fail(path);
    done += written;
  }
  set_file_metadata(fd, path, mode, uid, gid, mtime_ms);
  if (close(fd) < 0) fail(path);
  free(path);
}

static int open_directory(const char *path) {
  int fd = open_beneath(root_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd < 0) fail(path);
  return fd;
}

static int open_root(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(path);
  return fd;
}

int layer_extract(const char *directory, const char *unpacked, const char *cache,
                  const char *first, const char *last) {
  umask(0);
  root_fd = open_root(directory);
  unpacked_fd = open_root(unpacked);
  cache_fd = open_root(cache);
  first_id = parse_number(first, 0, 0xfffffffeLL);
  last_id = parse_number(last, first_id, 0xfffffffeLL);
  static char input_buffer[1 << 20];
  setvbuf(stdin, input_buffer, _IOFBF, sizeof input_buffer);
  struct directory *directories = NULL;
  size_t directory_count = 0, directory_capacity = 0;
  char *kind;
  while ((kind = next_field())) {
    char type = kind[0];
    if (kind[0] && kind[1]) refuse("unknown record");
    if (type == 'f') {
      extract_file();
    } else if (type == 'p') {
      extract_pieces();
    } else if (type == 's') {
      extract_slice();
    } else if (type == 'u') {
      char *source = required_copy();
      check_name(source);
      if (slice_source && strcmp(source, slice_source) == 0) close_source();
      if (unlinkat(unpacked_fd, source, 0) < 0) fail(source);
      free(source);
    } else if (type == 'd') {
      char *path = required_copy();
      unsigned mode = required_mode(), uid = required_id(), gid = required_id();
      long long mtime_ms = required_number(ANY_NUMBER), opaque = required_number(0, 1);
      const char *base;
      int parent = parent_of(path, &base);
      if (mkdirat(parent, base, 0700) < 0) fail(path);
      if (opaque) {
        // Overlayfs in a user namespace reads user.overlay.* (layer.c's scan accepts both).
        int fd = open_directory(path);
        if (fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0) fail(path);
        close(fd);
      }
      if (directory_count == directory_capacity) {
        directory_capacity = directory_capacity ? directory_capacity * 2 : 256;
        directories = realloc(directories, directory_capacity * sizeof *directories);
        if (!directories) fail("realloc");
      }
      directories[directory_count++] = (struct directory){path, mode, uid, gid, mtime_ms};
    } else if (type == 'l') {
      char *path = required_copy();
      unsigned uid = required_id(), gid = required_id();
      long long mtime_ms = required_number(ANY_NUMBER);
      char *target = next_field();
      if (!target || !target[0]) refuse(path);
      const char *base;
      int parent = parent_of(path, &base);
      if (symlinkat(target, parent, base) < 0) fail(path);
      if (fchownat(parent, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) fail(path);
      struct timespec times[2] = {from_milliseconds(mtime_ms), from_milliseconds(mtime_ms)};
      if (utimensat(parent, base, times, AT_SYMLINK_NOFOLLOW) < 0) fail(path);
      free(path);
    } else if (type == 'h') {
      char *path = required_copy();
      char *existing = required_copy();
      const char *existing_base;
      // The existing file's parent is opened on its own (parent_of keeps one fd).
      check_relative(existing);
      const char *slash = strrchr(existing, '/');
      int existing_parent = root_fd;
      existing_base = existing;
      if (slash) {
        *(char *)slash = 0;
        existing_parent = open_beneath(root_fd, existing, O_PATH | O_DIRECTORY);
        if (existing_parent < 0) fail(existing);
        existing_base = slash + 1;
      }
      const char *base;
      int parent = parent_of(path, &base);
      if (linkat(existing_parent, existing_base, parent, base, 0) < 0) fail(path);
      if (existing_parent != root_fd) close(existing_parent);
      free(existing);
      free(path);
    } else if (type == 'w') {
      char *path = required_copy();
      const char *base;
      int parent = parent_of(path, &base);
      if (mknodat(parent, base, S_IFCHR | 0000, makedev(0, 0)) < 0) fail(path);
      free(path);
    } else {
      refuse("unknown record");
    }
  }
  if (ferror(stdin)) fail("stdin");
  for (size_t index = directory_count; index-- > 0;) {
    struct directory *entry = &directories[index];
    // Through a descriptor of the directory itself: nothing on the way is followed.
    int fd = open_directory(entry->path);
    if (fchown(fd, entry->uid, entry->gid) < 0 || fchmod(fd, entry->mode) < 0) fail(entry->path);
    struct timespec times[2] = {from_milliseconds(entry->mtime_ms),
                                from_milliseconds(entry->mtime_ms)};
    if (futimens(fd, times) < 0) fail(entry->path);
    close(fd);
    free(entry->path);
  }
  free(directories);
  return 0;
}
