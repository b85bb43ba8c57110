// The registry: one line per architecture. To add one, write servers/<name>.cpp defining
// `const Architecture <name>_architecture` (a '-' in the name becomes '_'), and list it here
// (docs/adding-an-architecture.md). This order is the order of --list. After them come the
// external architectures, programs of their own declared in servers/external/NAME.toml
// (servers/common/external.hpp), sorted by name.
#include "servers/registry.hpp"

#include <array>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "servers/common/external.hpp"

namespace archbench {

extern const Architecture single_architecture;
extern const Architecture threaded_architecture;
extern const Architecture forked_architecture;
extern const Architecture select_architecture;
extern const Architecture epoll_architecture;
extern const Architecture asio_architecture;
extern const Architecture libevent_architecture;
extern const Architecture poll_architecture;
extern const Architecture prethreaded_architecture;
extern const Architecture preforked_architecture;
extern const Architecture epoll_reuseport_architecture;
extern const Architecture asio_pool_architecture;
extern const Architecture asio_coro_architecture;
extern const Architecture io_uring_architecture;
extern const Architecture epoll_offload_architecture;
extern const Architecture seda_architecture;
extern const Architecture leader_followers_architecture;
extern const Architecture epoll_et_architecture;
extern const Architecture epoll_prefork_architecture;
extern const Architecture fibers_architecture;
extern const Architecture inetd_architecture;

static const auto kArchitectures = std::to_array<const Architecture*>({
    &single_architecture,
    &threaded_architecture,
    &forked_architecture,
    &select_architecture,
    &epoll_architecture,
    &asio_architecture,
    &libevent_architecture,
    &poll_architecture,
    &prethreaded_architecture,
    &preforked_architecture,
    &epoll_reuseport_architecture,
    &asio_pool_architecture,
    &asio_coro_architecture,
    &io_uring_architecture,
    &epoll_offload_architecture,
    &seda_architecture,
    &leader_followers_architecture,
    &epoll_et_architecture,
    &epoll_prefork_architecture,
    &fibers_architecture,
    &inetd_architecture,
});

std::string_view family_name(Family family) {
    switch (family) {
        case Family::one_at_a_time: return "one client at a time";
        case Family::per_client: return "a thread or process per client";
        case Family::worker_pool: return "pools of blocking workers";
        case Family::event_loop: return "one event loop";
        case Family::event_loops: return "several event loops";
        case Family::offloaded: return "event loop with offloaded work or stages";
        case Family::user_threads: return "user-level threads";
        case Family::python: return "Python";
        case Family::other_language: return "other languages";
    }
    return "unknown";
}

namespace {

// Every architecture: the C++ ones above, then the external ones, loaded once.
struct Registry {
    std::vector<std::unique_ptr<ExternalProgram>> programs;
    std::vector<Architecture> externals;
    std::vector<const Architecture*> all;
};

Registry load_registry() {
    Registry registry;
    registry.all.assign(kArchitectures.begin(), kArchitectures.end());
    // ARCHBENCH_EXTERNAL_DIR must exist; the source tree's servers/external may not (installed).
    const char* told = std::getenv("ARCHBENCH_EXTERNAL_DIR");
    const std::filesystem::path folder =
        told != nullptr && *told != '\0' ? told : ARCHBENCH_DEFAULT_EXTERNAL_DIR;
    if (told == nullptr && !std::filesystem::is_directory(folder)) return registry;
    const std::filesystem::path bin = std::filesystem::read_symlink("/proc/self/exe").parent_path();
    registry.programs = load_external_programs(folder, bin, kArchitectures);
    registry.externals.reserve(registry.programs.size());  // `all` points into it
    for (const std::unique_ptr<ExternalProgram>& program : registry.programs) {
        registry.externals.push_back({.name = program->name,
                                      .description = program->description,
                                      .traits = program->traits,
                                      .serve = nullptr,
                                      .external = program.get()});
        registry.all.push_back(&registry.externals.back());
    }
    return registry;
}

const Registry& registry() {
    static const Registry loaded = load_registry();  // a throw leaves it to load again
    return loaded;
}

}  // namespace

std::span<const Architecture* const> all_architectures() { return registry().all; }

const Architecture* find_architecture(std::string_view name) {
    for (const Architecture* architecture : all_architectures())
        if (architecture->name == name) return architecture;
    return nullptr;
}

}  // namespace archbench
