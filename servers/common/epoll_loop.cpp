#include "servers/common/epoll_loop.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>

namespace archbench {

Socket new_epoll_set() {
    Socket epoll(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll) throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    return epoll;
}

bool epoll_watch(int epoll_fd, int operation, int fd, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    return epoll_ctl(epoll_fd, operation, fd, &event) == 0;
}

void run_epoll_turns(int listen_fd, const ServerOptions& options, StopSignal& stop,
                     ConnectionLimit& limit, int epoll_fd, EpollClients& clients,
                     const EpollLoopSettings& settings) {
    if (!epoll_watch(epoll_fd, EPOLL_CTL_ADD, stop.fd(), EPOLLIN))
        throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    const std::uint32_t listener_events = EPOLLIN | (settings.exclusive_listener ? EPOLLEXCLUSIVE : 0u);
    Acceptor acceptor(listen_fd, limit);
    IdleSweep idle_sweep(options.idle_timeout);
    bool watching_listener = false;
    bool unfinished = false;  // clients left to serve without waiting
    std::array<epoll_event, 256> ready;
    for (;;) {
        clients.close_idle(idle_sweep);  // --idle-timeout
        // epoll remembers: the listener is added or removed only when a pause begins or ends.
        // (EPOLLEXCLUSIVE allows no EPOLL_CTL_MOD, and this needs none.)
        if (watching_listener == acceptor.paused()) {
            watching_listener = !watching_listener;
            epoll_watch(epoll_fd, watching_listener ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd,
                        listener_events);
        }

        const int timeout_ms = unfinished ? 0 : idle_sweep.wait_timeout_ms(acceptor.wait_timeout_ms());
        const int count = epoll_wait(epoll_fd, ready.data(), static_cast<int>(ready.size()), timeout_ms);
        if (count < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
        }

        // Only the ready sockets are looked at; the others cost nothing this turn.
        for (const epoll_event& event : std::span(ready.data(), static_cast<std::size_t>(count))) {
            if (event.data.fd == stop.fd()) return;  // the caller drops the clients: all closed
            if (event.data.fd != listen_fd) {
                clients.on_ready(event);
                continue;
            }
            while (AcceptedClient client = acceptor.accept_next()) {
                if (settings.accepted) ++*settings.accepted;
                clients.add(std::move(client));
            }
        }
        unfinished = clients.serve_unfinished();
    }
}

}  // namespace archbench
