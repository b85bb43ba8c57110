// Runs the real archbench-load binary for a test and reads what it wrote: its exit code, its
// summary, its --json and its --hgrm.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/server_process.hpp"

namespace archbench::testing {

const char* load_binary();

struct LoadRun {
    CommandResult command;  // exit code, stdout, stderr, wall time
    nlohmann::json json;    // what --json wrote; null when it wrote nothing
    std::string hgrm;       // what --hgrm wrote
};

// A new empty file /tmp/archbench-load-test-XXXXXX<suffix> (the caller removes it), and what a
// file holds ("" when it cannot be read).
std::string temp_path(const char* suffix);
std::string slurp(const std::string& path);

// Runs `archbench-load ARGS... --json TMP --hgrm TMP` to completion, killing it after `limit`.
LoadRun run_load(const std::vector<std::string>& args, std::chrono::milliseconds limit = 30s);

// "--port N" first, then `args`: a load aimed at a server on 127.0.0.1.
std::vector<std::string> at_port(std::uint16_t port, std::vector<std::string> args);

}  // namespace archbench::testing
