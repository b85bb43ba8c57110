// The registry: one line per architecture. To add one, write servers/<name>.cpp defining
// `const Architecture <name>_architecture` (a '-' in the name becomes '_'), and list it here
// (README: "Adding an architecture"). This order is the order of --list.
#include "servers/registry.hpp"

#include <array>

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
});

std::span<const Architecture* const> all_architectures() { return kArchitectures; }

const Architecture* find_architecture(std::string_view name) {
    for (const Architecture* architecture : kArchitectures)
        if (architecture->name == name) return architecture;
    return nullptr;
}

}  // namespace archbench
