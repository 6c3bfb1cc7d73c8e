// bt_spawn: runs one program and measures it, for run.py.
//
//   bt_spawn RESULT_FILE PROGRAM [ARGS...]
//
// Forks, execs PROGRAM with ARGS (stdin, stdout and stderr inherited), waits
// for it with wait4 and writes one line to RESULT_FILE:
//
//   <wall ns> <peak RSS KiB> <wait status>
//
// Why a helper: Linux folds the RSS high-water mark of the address space a
// process had before exec into its ru_maxrss. A child that run.py (Python,
// ~15 MB resident) spawns directly starts from Python's footprint, which
// swamps the few MB a small run needs. This helper is a few hundred KiB, so
// the child it forks starts from almost nothing.
//
// On SIGTERM or SIGINT the helper kills the child (SIGKILL), reaps it and
// still writes the result (run.py's timeout).
//
// Exit status: 0 when the result was written (whatever the child did; an
// exec failure shows as the child's exit status 127), 1 otherwise.
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

static volatile pid_t child = 0;

static void kill_child(int) {
  if (child > 0) kill(child, SIGKILL);
}

static long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s RESULT_FILE PROGRAM [ARGS...]\n", argv[0]);
    return 1;
  }
  std::FILE* result = std::fopen(argv[1], "w");
  if (result == nullptr) {
    std::fprintf(stderr, "bt_spawn: %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  // Block the two signals until the child's pid is known to the handler.
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, &old);
  struct sigaction sa {};
  sa.sa_handler = kill_child;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  const long long start = now_ns();
  const pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "bt_spawn: fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    std::fclose(result);
    execv(argv[2], argv + 2);
    std::fprintf(stderr, "bt_spawn: %s: %s\n", argv[2], std::strerror(errno));
    _exit(127);
  }
  child = pid;
  sigprocmask(SIG_SETMASK, &old, nullptr);
  int status = 0;
  rusage ru{};
  pid_t got;
  do {
    got = wait4(pid, &status, 0, &ru);
  } while (got < 0 && errno == EINTR);
  const long long wall = now_ns() - start;
  if (got != pid) {
    std::fprintf(stderr, "bt_spawn: wait4: %s\n", std::strerror(errno));
    return 1;
  }
  std::fprintf(result, "%lld %ld %d\n", wall, ru.ru_maxrss, status);
  return std::fclose(result) == 0 ? 0 : 1;
}
