// seda: the staged event-driven architecture (Welsh, Culler and Brewer, "SEDA: An Architecture
// for Well-Conditioned, Scalable Internet Services", SOSP 2001; their Haboob web server).
//
// How it works: a request passes through stages joined by queues, and each stage has a small
// thread pool of its own. The accept stage (one thread) waits in epoll on the listener and on
// every idle client (one-shot: a socket reported once is not reported again until re-armed); it
// accepts new clients and turns a ready socket into an event on the read queue (or, when it
// only waits to write, on the write queue). The read stage (2 threads) reads once and frames
// the questions; they go on the work queue, where the work stage (--threads threads) does their
// --work-us and --sleep-us, then on the write queue, where the write stage (2 threads) answers
// and sends them. A client that has nothing more to do goes back to the accept stage through a
// mailbox, to be re-armed. Each client is owned by one stage at a time (it travels in the
// queues), so no lock guards a client; its questions of one read travel together, and it is
// not read again before they are answered, so answers leave in order.
// At exit it prints the longest each queue grew: "queue_peaks read=N work=N write=N", which
// shows the stage that was the bottleneck (SEDA sizes each stage's pool by its queue).
// Good at: a blocking request ties up a thread of the work stage only; reading and writing go
// on, and each stage can be sized, watched and throttled by its queue.
// Where it breaks: four hand-offs per request, each a lock and often a context switch: for
// cheap requests, more latency and CPU than one event loop (Welsh later wrote that the stages
// should be coarser). The queues are unbounded here: SEDA's admission control is left out.
#include <sys/epoll.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "servers/common/epoll_loop.hpp"
#include "servers/common/handoff.hpp"
#include "servers/common/nonblocking.hpp"
#include "servers/common/workers.hpp"

namespace archbench {

namespace {

constexpr unsigned kReadThreads = 2;
constexpr unsigned kWriteThreads = 2;

// A client on its way through the stages, with the questions of its last read.
struct Session {
    std::uint64_t id;  // never reused, unlike a descriptor: a stale event finds no one
    std::unique_ptr<Connection> connection;
    Connection::Requests requests;
};

enum : std::uint64_t { kStop, kListener, kRearm, kFirstSession };

struct Queues {
    explicit Queues(int epoll) : epoll_fd(epoll) {}
    int epoll_fd;
    WorkQueue<Session> read, work, write;
    Mailbox<Session> rearm;  // back to the accept stage
};

// A client that is done with: closed, once epoll has let go of a socket that will linger.
void drop(Queues& queues, Session session) {
    if (session.connection->lingers())
        epoll_ctl(queues.epoll_fd, EPOLL_CTL_DEL, session.connection->fd(), nullptr);
}

// After a stage: the client is closed, or goes back to the accept stage to wait.
void done_with(Queues& queues, Session session, Connection::Status status) {
    if (status == Connection::Status::closed) drop(queues, std::move(session));
    else queues.rearm.post(std::move(session));
}

void read_stage(Queues& queues) {
    while (std::optional<Session> session = queues.read.pop()) {
        const Connection::Status status = session->connection->on_readable(session->requests);
        if (!session->requests.empty()) queues.work.push(std::move(*session));
        else done_with(queues, std::move(*session), status);
    }
}

// After a stop the rest of a client's questions are dropped, as in epoll-offload.
void work_stage(Queues& queues, const zen::Workload& workload, const StopSignal& stop) {
    while (std::optional<Session> session = queues.work.pop()) {
        for (const zen::Request& request : session->requests) {
            if (stop.requested()) return;
            zen::do_request_work(workload, request);
        }
        queues.write.push(std::move(*session));
    }
}

void write_stage(Queues& queues) {
    while (std::optional<Session> session = queues.write.pop()) {
        Connection& connection = *session->connection;
        const Connection::Status status = session->requests.empty()
                                              ? connection.on_writable()
                                              : connection.on_answers(session->requests);
        session->requests.clear();
        done_with(queues, std::move(*session), status);
    }
}

// The accept stage: the listener, the idle clients (armed in epoll), and --idle-timeout.
class AcceptStage {
public:
    AcceptStage(int listen_fd, const ServerOptions& options, StopSignal& stop,
                ConnectionLimit& limit, Queues& queues)
        : listen_fd_(listen_fd), options_(options), queues_(queues), acceptor_(listen_fd, limit),
          idle_sweep_(options.idle_timeout) {
        if (!watch(EPOLL_CTL_ADD, stop.fd(), kStop, EPOLLIN) ||
            !watch(EPOLL_CTL_ADD, queues.rearm.fd(), kRearm, EPOLLIN))
            throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    }

    void run() {
        std::array<epoll_event, 256> ready;
        std::vector<Session> rearmed;
        for (;;) {
            close_idle_connections(
                idle_sweep_, armed_, [](const Session& s) -> const Connection& { return *s.connection; },
                [this](const Connection& c) {
                    if (c.lingers()) epoll_ctl(queues_.epoll_fd, EPOLL_CTL_DEL, c.fd(), nullptr);
                });
            if (watching_listener_ == acceptor_.paused()) {  // as in epoll.cpp
                watching_listener_ = !watching_listener_;
                watch(watching_listener_ ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd_, kListener, EPOLLIN);
            }
            const int count = epoll_wait(queues_.epoll_fd, ready.data(), static_cast<int>(ready.size()),
                                         idle_sweep_.wait_timeout_ms(acceptor_.wait_timeout_ms()));
            if (count < 0) {
                if (errno == EINTR) continue;
                throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
            }
            for (const epoll_event& event : std::span(ready.data(), static_cast<std::size_t>(count))) {
                const std::uint64_t id = event.data.u64;
                if (id == kStop) return;
                if (id == kListener) {
                    while (AcceptedClient client = acceptor_.accept_next())
                        arm(EPOLL_CTL_ADD, Session{next_id_++, std::make_unique<Connection>(
                                                                   std::move(client), options_), {}});
                } else if (id == kRearm) {
                    queues_.rearm.take(rearmed);
                    for (Session& session : rearmed) arm(EPOLL_CTL_MOD, std::move(session));
                } else {
                    dispatch(id, event.events);
                }
            }
        }
    }

private:
    bool watch(int operation, int fd, std::uint64_t id, std::uint32_t events) {
        epoll_event event{};
        event.events = events;
        event.data.u64 = id;
        return epoll_ctl(queues_.epoll_fd, operation, fd, &event) == 0;
    }

    // The client waits in epoll, held here, until its socket is ready.
    void arm(int operation, Session session) {
        const Connection& connection = *session.connection;
        const std::uint32_t events = (connection.wants_read() ? EPOLLIN : 0u) |
                                     (connection.wants_write() ? EPOLLOUT : 0u) | EPOLLONESHOT;
        if (!watch(operation, connection.fd(), session.id, events)) {
            std::fprintf(stderr, "epoll_ctl: %s: connection closed\n", std::strerror(errno));
            return drop(queues_, std::move(session));
        }
        const std::uint64_t id = session.id;
        armed_.emplace(id, std::move(session));
    }

    // A ready client leaves for the stage that serves it (one-shot: epoll has disarmed it).
    void dispatch(std::uint64_t id, std::uint32_t ready) {
        auto it = armed_.find(id);
        if (it == armed_.end()) return;
        Session session = std::move(it->second);
        armed_.erase(it);
        if (ready & (EPOLLERR | EPOLLHUP)) drop(queues_, std::move(session));  // reset
        else if (ready & EPOLLIN) queues_.read.push(std::move(session));  // it writes too
        else queues_.write.push(std::move(session));
    }

    int listen_fd_;
    const ServerOptions& options_;
    Queues& queues_;
    Acceptor acceptor_;
    IdleSweep idle_sweep_;
    bool watching_listener_ = false;
    std::uint64_t next_id_ = kFirstSession;
    std::unordered_map<std::uint64_t, Session> armed_;
};

void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ConnectionLimit limit(options.max_connections);
    Socket epoll = new_epoll_set();
    Queues queues(epoll.fd());
    const unsigned first_worker = 1 + kReadThreads, first_writer = first_worker + options.threads;
    run_worker_threads(first_writer + kWriteThreads, stop, [&](unsigned index) {
        if (index >= first_writer) return write_stage(queues);
        if (index >= first_worker) return work_stage(queues, options.workload, stop);
        if (index >= 1) return read_stage(queues);
        // Thread 0, the accept stage: when it ends, for whatever reason, every stage ends.
        CloseOnExit end_read(queues.read), end_work(queues.work), end_write(queues.write);
        AcceptStage(listen_fd, options, stop, limit, queues).run();
    });
    std::fprintf(stderr, "queue_peaks read=%zu work=%zu write=%zu\n", queues.read.peak(),
                 queues.work.peak(), queues.write.peak());
}

}  // namespace

extern const Architecture seda_architecture{
    .name = "seda",
    .description = "stages joined by queues (accept, read and frame, work, write), each with its own threads",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .default_threads = 32,
               .family = Family::offloaded,
               .one_io_thread = false,
               .blocking_stalls_every_client = false},
    .serve = serve,
};

}  // namespace archbench
