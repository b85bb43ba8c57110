// inetd: one process per connection, and in it a fresh program (the Internet "super-server" of
// 4.3BSD, Stevens' UNP section 13.5; CGI's cost model, where every request runs a program).
//
// How it works: the parent is forked.cpp's, unchanged (run_process_per_client(): accept, fork,
// reap, --max-connections). Only the child differs: it makes the client's socket its standard
// input and output (dup2 onto descriptors 0 and 1, as inetd does for a "nowait" service) and
// execs a fresh archbench-server (/proc/self/exe) with --stdio and the workload flags, which
// serves that one client on descriptors 0 and 1 and exits when it leaves. The service program
// knows nothing of sockets or of the server that started it: any program that reads its
// questions from stdin and writes answers to stdout would do. Descriptors the parent holds are
// all close-on-exec, so the program inherits the client and stderr, and nothing else.
// Good at: isolation beyond forked's: the service starts from a clean image every time (no
// state, no memory, no open files left over from the server), may be any program in any
// language, and runs only while a client needs it: inetd let one process stand in for dozens of
// rarely used daemons.
// Where it breaks: exec is paid per connection on top of the fork: the kernel loads the program,
// the dynamic linker maps and relocates its libraries, and it starts cold (no warm caches, no
// pools), so short connections cost far more than they serve; this is why CGI gave way to
// FastCGI and to servers that keep their workers. As in forked, a flood of clients would start a
// process each: hence a default --max-connections of 4096.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "servers/common/architecture.hpp"
#include "servers/common/children.hpp"

namespace archbench {

namespace {

// The service's command line: --stdio and the flags that shape the conversation, its protocol too.
std::vector<std::string> service_command(const ServerOptions& options) {
    const zen::Workload& workload = options.workload;
    return {"archbench-server",
            "--stdio",
            "--work-us=" + std::to_string(workload.work_us),
            "--sleep-us=" + std::to_string(workload.sleep_us),
            "--reply-bytes=" + std::to_string(workload.reply_bytes),
            "--max-request=" + std::to_string(workload.max_request),
            "--protocol=" + std::string(zen::protocol_name(workload.protocol)),
            "--idle-timeout=" + std::to_string(options.idle_timeout.count() / 1e3)};
}

// In the child: only async-signal-safe calls between fork() and exec (the parent has threads).
[[noreturn]] void exec_service(int client_fd, char* const* argv) {
    if (dup2(client_fd, STDIN_FILENO) < 0 || dup2(client_fd, STDOUT_FILENO) < 0) _exit(126);
    if (client_fd > STDOUT_FILENO) close(client_fd);
    execv("/proc/self/exe", argv);
    constexpr char kExecFailed[] = "inetd: cannot exec /proc/self/exe\n";
    [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, kExecFailed, sizeof kExecFailed - 1);
    _exit(127);
}

void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    // Made once, in the parent: a child must not allocate between fork() and exec.
    std::vector<std::string> command = service_command(options);
    std::vector<char*> argv;
    for (std::string& argument : command) argv.push_back(argument.data());
    argv.push_back(nullptr);
    run_process_per_client(listen_fd, options, stop,
                           [&](int client_fd) { exec_service(client_fd, argv.data()); });
}

}  // namespace

extern const Architecture inetd_architecture{
    .name = "inetd",
    .description = "one process per connection, which execs a fresh program on stdin and stdout",
    .traits = {.concurrent = true,
               .process_based = true,
               .connection_limit = 0,
               .default_max_connections = 4096,
               .family = Family::per_client},
    .serve = serve,
};

}  // namespace archbench
