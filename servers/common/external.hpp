// External architectures: servers that are programs of their own, in any language, declared by
// a small file servers/external/NAME.toml and started through `archbench-server --arch NAME`,
// so that every tool and test keeps one front door.
//
// The declaration (every key but [traits]' own is required; a trait left out is false or 0):
//   description = "one line for --list"
//   family = "other_language"     # one_at_a_time per_client worker_pool event_loop event_loops
//                                 # offloaded user_threads python other_language
//   command = ["{bin}/go-goroutines"]  # argv; {dir}: the folder of this file, {bin}: the folder
//                                      # of the running archbench-server
//   unsupported = []              # flags it cannot honour ("threads", "processes", "work-us",
//                                 # ...): given on the command line, each is a usage error
//   [traits]                      # the Traits of architecture.hpp, by their names
//   concurrent = true
//
// Starting one: archbench-server checks every flag as for any architecture, binds and listens
// itself (so the "listening on" line, --port 0 and bind errors are the same for all), then runs
// the command in a process group of its own, with the listening socket (blocking) as descriptor
// 3, stdin /dev/null, its stdout and stderr, and these arguments appended, always all of them:
//   --listen-fd 3 --threads N --processes N --work-us N --sleep-us N --reply-bytes N
//   --max-request N --idle-timeout-ms N --max-connections N      (0: off, no limit)
//   --protocol zen|http     (http: it speaks HTTP/1.1 as docs/http.md says; zen: the Zen protocol)
// The program serves on descriptor 3 until SIGTERM or SIGINT, then ends every thread and process
// it made and exits 0 within 1.5 s (or dies of the SIGTERM, which may come before it has set up
// a handler). It never prints "listening on". archbench-server sends SIGTERM to the program's
// process group whether it was sent SIGTERM or SIGINT itself, and prints its own rusage line on
// SIGUSR1 (the program, a live child, is counted from /proc; once reaped, in that line).
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "servers/common/architecture.hpp"

namespace archbench {

struct ExternalProgram {
    std::string name;  // the declaration's file name without ".toml": the --arch name
    std::string description;
    std::filesystem::path declaration;
    std::vector<std::string> command;      // placeholders filled in
    std::vector<std::string> unsupported;  // flag names without their "--"
    Traits traits;
};

// The flags a declaration may list as unsupported: the server flags passed on to the program.
std::span<const std::string_view> external_program_flags();

// Every NAME.toml in `folder`, sorted by name; other files are left alone. A declaration that
// does not parse, lacks a key, has an unknown family, key, trait or flag, or takes a name in
// `taken`, throws std::runtime_error with one line naming the file and the problem.
std::vector<std::unique_ptr<ExternalProgram>> load_external_programs(
    const std::filesystem::path& folder, const std::filesystem::path& bin_folder,
    std::span<const Architecture* const> taken);

// Why the program cannot be run here (its file is missing or not executable: a program that is
// built needs its toolchain), or "" when it can.
std::string external_unavailable_reason(const ExternalProgram& program);

// Runs the program on `listen_fd` until `stop`, then forwards SIGTERM to its process group,
// waits up to 1.8 s and kills the group with SIGKILL if anything is left. Throws
// std::runtime_error when the program exits on its own, does not stop in time, exits non-zero on
// the stop, or leaves processes behind: archbench-server then exits 1.
void serve_external(const ExternalProgram& program, int listen_fd, const ServerOptions& options,
                    StopSignal& stop);

}  // namespace archbench
