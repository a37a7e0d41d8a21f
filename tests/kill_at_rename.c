/* LD_PRELOAD shim for the crash tests: every file cuvae writes is committed by rename(), so
   killing the process just before or just after the Nth rename() reaches every write point.
   CUVAE_TEST_KILL_AT_RENAME="N:before" or "N:after" (1-based) sends SIGKILL there;
   CUVAE_TEST_RENAME_LOG=FILE appends each rename's target, one per line. Test code only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int renames; /* this process's count; the shim's own state, not cuvae's */

int rename(const char* from, const char* to) {
  int (*real)(const char*, const char*) = (int (*)(const char*, const char*))dlsym(RTLD_NEXT, "rename");
  const char* spec = getenv("CUVAE_TEST_KILL_AT_RENAME");
  const char* log = getenv("CUVAE_TEST_RENAME_LOG");
  const int n = ++renames;
  const int at = spec ? atoi(spec) : 0, after = spec && strstr(spec, "after") != NULL;
  if (n == at && !after) raise(SIGKILL);
  const int rc = real(from, to);
  if (log) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      (void)!write(fd, to, strlen(to));
      (void)!write(fd, "\n", 1);
      close(fd);
    }
  }
  if (n == at && after) raise(SIGKILL);
  return rc;
}
