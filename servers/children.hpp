// What the process-based architectures (forked, preforked) share: starting a child, hearing that
// children exited, and reaping them, so that none is left a zombie or an orphan.
#pragma once

#include <sys/types.h>

#include <vector>

#include "servers/net.hpp"

namespace archbench {

// SIGCHLD as a readable descriptor, to wait on beside the others (main() blocked SIGCHLD in
// every thread, so it waits there). Throws std::runtime_error.
Socket sigchld_descriptor();

// Reads the SIGCHLD notices that made `sigchld_fd` readable, then reaps every child that has
// exited (several exits may share one notice) and returns their pids.
std::vector<pid_t> reap_exited(int sigchld_fd);

// fork(), and in the child: SIGTERM ends it again (restore_default_signals), and it gets a
// SIGTERM of its own should the server die first (a SIGKILL leaves no time to end children), so
// that no worker outlives it. (Linux sends it when the thread that forked ends: call this from
// the thread that runs serve(), which lives as long as the server.) Returns as fork() does.
pid_t fork_child();

}  // namespace archbench
