#include "servers/children.hpp"

#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>

#include "servers/stop.hpp"

namespace archbench {

Socket sigchld_descriptor() {
    sigset_t sigchld;
    sigemptyset(&sigchld);
    sigaddset(&sigchld, SIGCHLD);
    Socket fd(signalfd(-1, &sigchld, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
    return fd;
}

std::vector<pid_t> reap_exited(int sigchld_fd) {
    signalfd_siginfo info;
    while (read(sigchld_fd, &info, sizeof info) == sizeof info) {
    }
    std::vector<pid_t> exited;
    pid_t pid;
    while ((pid = waitpid(-1, nullptr, WNOHANG)) > 0) exited.push_back(pid);
    return exited;
}

pid_t fork_child() {
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid != 0) return pid;
    restore_default_signals();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(0);  // the parent died before the request above was made
    return 0;
}

}  // namespace archbench
