#include "loadgen/engine.hpp"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>
#include <cstring>

#include "loadgen/clock.hpp"

namespace archbench::load {

std::vector<ThreadPlan> plan_threads(const LoadOptions& options, std::uint64_t schedule_end) {
    const unsigned threads = std::min(options.threads, options.connections);
    std::vector<ThreadPlan> plans(threads);
    for (unsigned slot = 0; slot < options.connections; ++slot) plans[slot % threads].slots.push_back(slot);
    for (unsigned t = 0; t < threads; ++t) {
        if (options.requests > 0 && !options.open_loop())
            plans[t].request_budget = options.requests / threads + (t < options.requests % threads ? 1 : 0);
        plans[t].schedule_end = schedule_end;
    }
    return plans;
}

// Events are tagged with the connection's index and its socket's generation, so that an event
// still queued for a socket that was closed meanwhile is recognised and ignored.
static std::uint64_t event_tag(std::size_t index, std::uint32_t generation) {
    return (static_cast<std::uint64_t>(generation) << 32) | index;
}

// What the connections ask: Zen's questions, or HTTP's GET of --path with the service's Host.
static ExpectedAnswers expected_answers(const LoadOptions& options) {
    if (options.protocol == zen::Protocol::zen) return ExpectedAnswers(options.reply_bytes);
    // Every connection names the first --host item, the service's name (with several addresses,
    // the instances of one service: a DNS name's answers, or the machines behind it).
    const std::string& first = options.hosts.front();
    const bool ipv6 = first.find(':') != std::string::npos;
    const std::string host = ipv6 ? "[" + first + "]" : first;
    return ExpectedAnswers(options.reply_bytes, options.path, host + ":" + std::to_string(options.port));
}

Worker::Worker(const LoadOptions& options, const std::vector<Address>& addresses, const RunTimes& times,
               ThreadPlan plan)
    : options_(options),
      addresses_(addresses),
      times_(times),
      timeout_ns_(static_cast<std::int64_t>(options.timeout_ms) * kNanosPerMilli),
      expected_(expected_answers(options)),
      recorder_(times.window_start_ns, times.window_end_ns,
                static_cast<std::int64_t>(options.timeline_ms) * kNanosPerMilli, addresses.size()),
      epoll_fd_(epoll_create1(EPOLL_CLOEXEC)),
      requests_left_(plan.request_budget),
      receive_buffer_(64 * 1024) {
    if (epoll_fd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    connections_.reserve(plan.slots.size());
    for (unsigned slot : plan.slots) {
        connections_.emplace_back(slot, options.pipeline, expected_);
        routes_.push_back({options.hosts_policy == HostsPolicy::spread ? slot % addresses.size() : 0, 0});
    }
    if (options.open_loop())
        schedule_.emplace(run_rate_steps(options), options.connections, times.start_ns, plan.slots, plan.schedule_end);
}

Worker::~Worker() {
    connections_.clear();
    close(epoll_fd_);
}

Measurements Worker::run(const std::atomic<bool>& stop) {
    if (schedule_) use_precise_timers();
    std::int64_t now = now_ns();
    for (Connection& connection : connections_) open_connection(connection, now);
    std::int64_t next_tick = now + kTickNs;

    while (!stop.load(std::memory_order_relaxed)) {
        if (!started_ && ready_to_start(now)) start(now);
        if (!window_open_ && now >= times_.window_start_ns) {
            window_open_ = true;
            window_cpu_start_ns_ = thread_cpu_ns();
        }
        if (finished(now)) break;

        // After the window the loop drains: it waits for the requests still in flight, until
        // their timeout at the latest (see finished()).
        const std::int64_t end = now < times_.window_end_ns ? times_.window_end_ns
                                                            : times_.window_end_ns + timeout_ns_;
        std::int64_t deadline = std::min(next_tick, end);
        if (!window_open_) deadline = std::min(deadline, times_.window_start_ns);
        if (!started_) deadline = std::min(deadline, times_.start_ns);
        const bool scheduling = started_ && schedule_ && now < times_.window_end_ns;
        const bool precise = scheduling && schedule_->next_due_ns() <= deadline;
        if (precise) deadline = schedule_->next_due_ns();

        // The open loop reads the clock once more here: its sleep must end on time, and its
        // polling for the next send is idle time, not work, when it judges its own load.
        if (precise) now = now_ns();
        const Wait wait = pacer_.wait(epoll_fd_, events_, now, deadline, precise);
        if (wait.polled && wait.events == 0 && window_open_) spin_ns_ += wait.woken_ns - now;
        now = wait.woken_ns;
        for (int i = 0; i < wait.events; ++i) {
            if (i > 0) now = now_ns();
            const std::uint64_t tag = events_[i].data.u64;
            Connection& connection = connections_[tag & 0xffffffffu];
            if (connection.generation() == tag >> 32 && connection.state() != Connection::State::closed)
                on_event(connection, events_[i].events, now);
        }
        if (scheduling) {
            now = now_ns();  // the sends that came due while events were handled go now
            issue_due_requests(now);
        }
        if (now >= next_tick) {
            check_connections(now);
            next_tick = now + kTickNs;
        }
    }
    return finish(now);
}

// --start-at: the load starts at the agreed time once every connection has been opened (or has
// failed to open); without it, at once, each connection as soon as it is open.
bool Worker::ready_to_start(std::int64_t now) const {
    if (!options_.start_at) return true;
    if (now < times_.start_ns) return false;
    return std::none_of(connections_.begin(), connections_.end(), [](const Connection& connection) {
        return connection.state() == Connection::State::connecting;
    });
}

void Worker::start(std::int64_t now) {
    started_ = true;
    started_ns_ = options_.start_at ? now : times_.start_ns;
    for (Connection& connection : connections_) fill_pipeline(connection, now);
}

// When the window ends no request is sent, but those in flight are given until their timeout
// to end: every measured request that was sent then ends answered or failed (an open-loop
// request still waiting for its connection stays "backlog at the end": the connections could
// not carry the rate). Without this, a
// client starved by its server (`single` at 64 connections) would end "in flight", not as the
// timeout it is, whenever it was asked less than --timeout-ms before the end.
bool Worker::finished(std::int64_t now) const {
    if (now >= times_.window_end_ns)
        return now >= times_.window_end_ns + timeout_ns_ || !measured_requests_pending();
    if (schedule_) return schedule_->over() && backlog_ == 0 && in_flight_ == 0;
    return requests_left_ == 0 && in_flight_ == 0;
}

bool Worker::measured_requests_pending() const {
    for (const Connection& connection : connections_)
        for (std::size_t i = 0; i < connection.in_flight().size(); ++i)
            if (recorder_.measured(connection.in_flight().at(i).origin_ns)) return true;
    return false;
}

// Opening and losing connections.

void Worker::open_connection(Connection& connection, std::int64_t now) {
    connection.close();
    const bool nothing_left_to_ask = !schedule_ && requests_left_ == 0;
    if (now >= times_.window_end_ns || nothing_left_to_ask) {
        connection.retry_at_ns = INT64_MAX;
        return;
    }
    connection.connect_started_ns = now;
    // Even a connect() that succeeds at once is finished by the event loop: the socket is
    // writable, so epoll reports it right away, and the engine never recurses.
    if (connection.connect_to(addresses_[routes_[index_of(connection)].address]) == Status::reset)
        return on_connect_failed(connection, now);
    epoll_event interest{};
    interest.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    interest.data.u64 = event_tag(index_of(connection), connection.generation());
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, connection.fd(), &interest) != 0)
        on_connect_failed(connection, now);
}

void Worker::on_connected(Connection& connection, std::int64_t now) {
    Route& route = routes_[index_of(connection)];
    route.refused_in_row = 0;
    recorder_.connected(connection.connect_started_ns, now, route.address);
    fill_pipeline(connection, now);
}

// The requests that needed this connection fail with `connect`, counted against the address
// that refused: in the closed loop the question the connection was opened for, in the open loop
// every request waiting for it. Then a pause, so that a server that refuses connections is not
// hammered in a tight loop; under fallback the next address is tried at once, and the pause
// comes when every address has refused in a row.
void Worker::on_connect_failed(Connection& connection, std::int64_t now) {
    connection.close();
    Route& route = routes_[index_of(connection)];
    const std::size_t refused = route.address;
    ++route.refused_in_row;
    bool try_next_now = false;
    if (options_.hosts_policy == HostsPolicy::fallback) {
        route.address = (route.address + 1) % addresses_.size();
        try_next_now = route.refused_in_row < addresses_.size();
    }
    connection.retry_at_ns = now + kReconnectPauseNs;
    if (schedule_) {
        for (; connection.issued < connection.due; ++connection.issued, --backlog_)
            recorder_.failed(schedule_->due_ns(connection.slot(), connection.issued), ErrorKind::connect, now,
                             refused);
    } else {
        const std::int64_t origin = connection.connect_started_ns;
        if (recorder_.measured(origin)) {
            if (requests_left_ == 0) return;
            --requests_left_;
        }
        recorder_.issued(origin);
        recorder_.failed(origin, ErrorKind::connect, now, refused);
    }
    if (try_next_now) open_connection(connection, now);
}

// Every request in flight on the connection fails with `kind`, and a new connection replaces it
// (under fallback, on the next address: this one's connection was lost).
void Worker::fail_connection(Connection& connection, ErrorKind kind, std::int64_t now) {
    Route& route = routes_[index_of(connection)];
    const InFlight& in_flight = connection.in_flight();
    if (in_flight.empty() && kind == ErrorKind::wrong_answer) recorder_.stray_error(kind, now, route.address);
    for (std::size_t i = 0; i < in_flight.size(); ++i)
        recorder_.failed(in_flight.at(i).origin_ns, kind, now, route.address);
    in_flight_ -= in_flight.size();
    if (options_.hosts_policy == HostsPolicy::fallback) route.address = (route.address + 1) % addresses_.size();
    open_connection(connection, now);
}

// The per-request path.

void Worker::on_event(Connection& connection, std::uint32_t events, std::int64_t now) {
    if (connection.state() == Connection::State::connecting) {
        if (connection.finish_connect() == Status::ok)
            on_connected(connection, now);
        else
            on_connect_failed(connection, now);
        return;
    }
    Status status = Status::ok;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        status = connection.receive(receive_buffer_, events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR),
                                    [&](const Request& request, bool right) {
                                        on_answer(request, right, routes_[index_of(connection)].address, now);
                                    });
    if (status == Status::ok && (events & EPOLLOUT)) status = connection.flush();
    switch (status) {
    case Status::ok:
    case Status::wait:
        if (options_.session > 0 && connection.asked() >= options_.session && connection.in_flight().empty())
            open_connection(connection, now);  // the session is over: a new one
        else
            fill_pipeline(connection, now);
        return;
    case Status::closing:
        // The server said it closes after that answer: a new connection, and nothing wrong,
        // unless requests were pipelined behind it (they end as the EOF that awaits them).
        if (connection.in_flight().empty()) return open_connection(connection, now);
        return fail_connection(connection, ErrorKind::eof, now);
    case Status::eof: return fail_connection(connection, ErrorKind::eof, now);
    case Status::reset: return fail_connection(connection, ErrorKind::reset, now);
    case Status::wrong_answer: return fail_connection(connection, ErrorKind::wrong_answer, now);
    }
}

void Worker::on_answer(const Request& request, bool right, std::size_t address, std::int64_t now) {
    --in_flight_;
    if (right)
        recorder_.answered(request.origin_ns, request.sent_ns, now, address);
    else
        recorder_.failed(request.origin_ns, ErrorKind::wrong_answer, now, address);
}

// Sends as many questions as the connection may have in flight. Closed loop: new ones, until
// the session or the -n share runs out; the first ones of a connection count their latency from
// the start of its connect(), which they waited for. Open loop: those due and waiting.
void Worker::fill_pipeline(Connection& connection, std::int64_t now) {
    if (!started_ || connection.state() != Connection::State::open) return;
    bool asked = false;
    while (!connection.in_flight().full() && (options_.session == 0 || connection.asked() < options_.session)) {
        std::int64_t origin;
        if (now >= times_.window_end_ns) break;  // the drain sends nothing new
        if (schedule_) {
            if (connection.issued == connection.due) break;
            origin = schedule_->due_ns(connection.slot(), connection.issued);
            ++connection.issued;
            --backlog_;
        } else {
            // A connection opened before the start (--start-at) waited for the start, not for its
            // connect: its first question begins now.
            origin = connection.asked() == 0 && connection.connect_started_ns >= started_ns_
                         ? connection.connect_started_ns
                         : now;
            if (recorder_.measured(origin)) {
                if (requests_left_ == 0) break;
                --requests_left_;
            }
            recorder_.issued(origin);
        }
        connection.ask(origin, now);
        ++in_flight_;
        asked = true;
    }
    if (asked && connection.flush() == Status::reset) fail_connection(connection, ErrorKind::reset, now);
}

// Open loop: every request whose time has come goes to its connection, which sends it now if
// it has a free place; if not, it waits there (queued).
void Worker::issue_due_requests(std::int64_t now) {
    while (schedule_->next_due_ns() <= now) {
        const std::int64_t due = schedule_->next_due_ns();
        Connection& connection = connections_[schedule_->next_connection()];
        recorder_.issued(due);
        ++connection.due;
        ++backlog_;
        schedule_->advance();
        fill_pipeline(connection, now);
        if (connection.issued == connection.due)
            recorder_.sent_on_schedule(due, now);
        else
            recorder_.queued(due);
    }
    if (window_open_) {
        Measurements& measured = recorder_.measurements();
        measured.max_backlog = std::max(measured.max_backlog, backlog_);
    }
}

void Worker::check_connections(std::int64_t now) {
    for (Connection& connection : connections_) {
        switch (connection.state()) {
        case Connection::State::open:
            if (!connection.in_flight().empty() && now - connection.in_flight().front().sent_ns >= timeout_ns_)
                fail_connection(connection, ErrorKind::timeout, now);
            break;
        case Connection::State::connecting:
            if (now - connection.connect_started_ns >= timeout_ns_) on_connect_failed(connection, now);
            break;
        case Connection::State::closed:
            if (now >= connection.retry_at_ns) open_connection(connection, now);
            break;
        }
    }
}

// The end: what is still in flight or waiting is counted, not lost.
Measurements Worker::finish(std::int64_t now) {
    const std::int64_t end = std::min(now, times_.window_end_ns);
    Measurements& measured = recorder_.measurements();
    for (Connection& connection : connections_) {
        for (std::size_t i = 0; i < connection.in_flight().size(); ++i)
            if (recorder_.measured(connection.in_flight().at(i).origin_ns)) ++measured.in_flight_at_end;
        if (schedule_)
            for (std::uint64_t k = connection.issued; k < connection.due; ++k)
                if (recorder_.measured(schedule_->due_ns(connection.slot(), k))) ++measured.backlog_at_end;
        connection.close();
    }
    if (options_.start_at && started_ && started_ns_ - times_.start_ns >= kStartToleranceNs)
        measured.start_late_ns = started_ns_ - times_.start_ns;
    if (window_open_) {
        measured.window_ns = end - times_.window_start_ns;
        measured.cpu_ns = thread_cpu_ns() - window_cpu_start_ns_;
        measured.spin_ns = spin_ns_;
        if (schedule_) measured.spin_window_ns = pacer_.spin_window_ns();
    }
    return recorder_.finish(end);
}

}  // namespace archbench::load
