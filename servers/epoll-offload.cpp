// epoll-offload: the epoll loop of epoll.cpp does all the I/O, and a pool of threads does the
// work (Pai, Druschel and Zwaenepoel's Flash, "AMPED": an event loop with helper processes for
// the calls that block; Schmidt's half-sync/half-async; the thread pool of libuv, hence Node.js).
//
// How it works: the loop reads a client's bytes and frames its questions
// (Connection::on_readable(requests)), but does not work them: the questions of one read go to a
// WorkQueue as one job, and one of --threads workers does their --work-us and --sleep-us, one
// after another, then posts the job to a Mailbox whose eventfd is in the loop's epoll set. The
// loop answers them (Connection::on_answers) and writes. A connection whose job is out is not
// read from until it comes back, so its answers leave in the order asked, and each connection
// holds at most one read's answers: a client that does not read costs bounded memory, as in epoll.
// Connections are known by a number that is never reused, not by their descriptor: a client
// that resets while its job is out is closed at once, and its job, when it comes back, finds
// no one and is dropped (its descriptor may by then belong to someone else).
// Good at: a request that blocks (a back end, a disk) blocks a worker, not the loop: with the
// default 32 workers, 32 clients' blocking calls wait at once while the loop goes on serving the
// others; the I/O keeps the event loop's economy (one thread, no thread per client).
// Where it breaks: two hand-offs and a wake-up per request, even when the work is nothing
// (slower than epoll for cheap requests); the pool bounds the requests in progress (client 33
// waits in the queue), and the one loop thread still caps the I/O at one core. One client's
// pipelined questions are worked one after another, not in parallel.
#include <sys/epoll.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "servers/common/epoll_loop.hpp"
#include "servers/common/handoff.hpp"
#include "servers/common/nonblocking.hpp"
#include "servers/common/workers.hpp"

namespace archbench {

namespace {

struct Watched {
    Connection connection;
    std::uint32_t events;  // what epoll was last told to wait for on it
};

// By a number never reused, not by descriptor: a job that comes back late finds no one.
using Connections = std::unordered_map<std::uint64_t, Watched>;
enum : std::uint64_t { kStop, kListener, kAnswers, kFirstConnection };

// The questions of one read of connection `id`: to a worker, worked, and back to the loop.
struct Job {
    std::uint64_t id;
    Connection::Requests requests;
};

std::uint32_t events_wanted(const Connection& connection) {
    return (connection.wants_read() ? EPOLLIN : 0u) | (connection.wants_write() ? EPOLLOUT : 0u);
}

bool watch(int epoll_fd, int operation, int fd, std::uint64_t id, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = id;
    return epoll_ctl(epoll_fd, operation, fd, &event) == 0;
}

void accept_clients(Acceptor& acceptor, Connections& connections, int epoll_fd,
                    const ServerOptions& options, std::uint64_t& next_id) {
    while (AcceptedClient client = acceptor.accept_next()) {
        const std::uint64_t id = next_id++;
        if (!watch(epoll_fd, EPOLL_CTL_ADD, client.socket.fd(), id, EPOLLIN)) {
            std::fprintf(stderr, "epoll_ctl: %s: connection closed\n", std::strerror(errno));
            continue;
        }
        connections.try_emplace(id, Connection(std::move(client), options), EPOLLIN);
    }
}

// After a connection's turn, or its answers: closed, or epoll told what it waits for now.
void settle(int epoll_fd, Connections& connections, Connections::iterator it,
            Connection::Status status) {
    auto& [connection, events] = it->second;
    if (status == Connection::Status::closed) {
        if (connection.lingers()) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, connection.fd(), nullptr);
        connections.erase(it);
        return;
    }
    if (const std::uint32_t wanted = events_wanted(connection); wanted != events) {
        if (!watch(epoll_fd, EPOLL_CTL_MOD, connection.fd(), it->first, wanted)) connections.erase(it);
        else events = wanted;
    }
}

void run_offload_loop(int listen_fd, const ServerOptions& options, StopSignal& stop,
                      WorkQueue<Job>& jobs, Mailbox<Job>& answers) {
    Socket epoll = new_epoll_set();
    if (!watch(epoll.fd(), EPOLL_CTL_ADD, stop.fd(), kStop, EPOLLIN) ||
        !watch(epoll.fd(), EPOLL_CTL_ADD, answers.fd(), kAnswers, EPOLLIN))
        throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    ConnectionLimit limit(options.max_connections);
    Acceptor acceptor(listen_fd, limit);
    IdleSweep idle_sweep(options.idle_timeout);
    bool watching_listener = false;
    Connections connections;
    std::uint64_t next_id = kFirstConnection;
    std::vector<Job> done;  // reused: no allocation per wake-up once warm
    std::array<epoll_event, 256> ready;
    for (;;) {
        close_idle_connections(idle_sweep, connections, &Watched::connection, [&](const Connection& c) {
            if (c.lingers()) epoll_ctl(epoll.fd(), EPOLL_CTL_DEL, c.fd(), nullptr);
        });
        if (watching_listener == acceptor.paused()) {
            watching_listener = !watching_listener;
            watch(epoll.fd(), watching_listener ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd, kListener,
                  EPOLLIN);
        }

        const int count = epoll_wait(epoll.fd(), ready.data(), static_cast<int>(ready.size()),
                                     idle_sweep.wait_timeout_ms(acceptor.wait_timeout_ms()));
        if (count < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
        }

        for (const epoll_event& event : std::span(ready.data(), static_cast<std::size_t>(count))) {
            const std::uint64_t id = event.data.u64;
            if (id == kStop) return;  // dropping `connections` closes them all
            if (id == kListener) {
                accept_clients(acceptor, connections, epoll.fd(), options, next_id);
                continue;
            }
            if (id == kAnswers) {  // jobs the workers finished, for the connections still open
                answers.take(done);
                for (const Job& job : done)
                    if (auto it = connections.find(job.id); it != connections.end())
                        settle(epoll.fd(), connections, it, it->second.connection.on_answers(job.requests));
                continue;
            }
            auto it = connections.find(id);
            if (it == connections.end()) continue;
            Connection& connection = it->second.connection;
            Connection::Status status = Connection::Status::open;
            if (event.events & (EPOLLERR | EPOLLHUP)) status = Connection::Status::closed;  // reset
            if (status == Connection::Status::open && (event.events & EPOLLIN)) {
                Job job{id, {}};
                status = connection.on_readable(job.requests);  // frames, does not work
                if (!job.requests.empty()) jobs.push(std::move(job));  // the work leaves the loop
            }
            if (status == Connection::Status::open && (event.events & EPOLLOUT))
                status = connection.on_writable();
            settle(epoll.fd(), connections, it, status);
        }
    }
}

// A worker: each job's requests worked in order, then handed back to the loop. After a stop
// the rest of a job is dropped, so that a long pipeline cannot hold the exit up.
void work(WorkQueue<Job>& jobs, Mailbox<Job>& answers, const zen::Workload& workload,
          const StopSignal& stop) {
    while (std::optional<Job> job = jobs.pop()) {
        for (const zen::Request& request : job->requests) {
            if (stop.requested()) return;
            zen::do_request_work(workload, request);
        }
        answers.post(std::move(*job));
    }
}

void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    WorkQueue<Job> jobs;
    Mailbox<Job> answers;
    // Thread 0 runs the loop; when it ends, for whatever reason, the workers end with it.
    run_worker_threads(options.threads + 1, stop, [&](unsigned index) {
        if (index > 0) return work(jobs, answers, options.workload, stop);
        CloseOnExit end_workers(jobs);
        run_offload_loop(listen_fd, options, stop, jobs, answers);
    });
}

}  // namespace

extern const Architecture epoll_offload_architecture{
    .name = "epoll-offload",
    .description = "one epoll loop does all I/O; a pool of --threads workers does each request's work",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .default_threads = 32,
               .family = Family::offloaded,
               .one_io_thread = true,
               .blocking_stalls_every_client = false},
    .serve = serve,
};

}  // namespace archbench
