#include "tests/support/load_process.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace archbench::testing {

const char* load_binary() { return ARCHBENCH_LOAD_BINARY; }

std::string temp_path(const char* suffix) {
    std::string path = std::string("/tmp/archbench-load-test-XXXXXX") + suffix;
    const int fd = mkstemps(path.data(), static_cast<int>(std::string(suffix).size()));
    if (fd < 0) throw std::runtime_error("mkstemps failed");
    close(fd);
    return path;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

LoadRun run_load(const std::vector<std::string>& args, std::chrono::milliseconds limit) {
    const std::string json_path = temp_path(".json");
    const std::string hgrm_path = temp_path(".hgrm");
    std::vector<std::string> all = args;
    all.insert(all.end(), {"--json", json_path, "--hgrm", hgrm_path});
    LoadRun run;
    run.command = run_command(load_binary(), all, limit);
    const std::string json_text = slurp(json_path);
    if (!json_text.empty()) run.json = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    run.hgrm = slurp(hgrm_path);
    unlink(json_path.c_str());
    unlink(hgrm_path.c_str());
    return run;
}

std::vector<std::string> at_port(std::uint16_t port, std::vector<std::string> args) {
    args.insert(args.begin(), {"--port", std::to_string(port)});
    return args;
}

}  // namespace archbench::testing
