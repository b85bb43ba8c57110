// libevent: an evconnlistener and one bufferevent per client on a single event_base (in the
// manner of libevent's sample/ programs: callbacks named *_cb, one cleanup path).
//
// How it works: one thread runs the event loop. The listener's accept_cb wraps each new socket
// in a bufferevent, which does the reading and writing itself: read_cb is called with the bytes
// that arrived, hands them to the conversation and queues the answers in the bufferevent's
// output buffer; libevent writes them out as the socket allows. event_cb hears of EOF and errors.
// Good at: many connections on one thread with little code, because bufferevents hide partial
// reads and writes; the same program runs on epoll, kqueue, select or IOCP.
// Where it breaks: one thread does all the work, so it never uses a second core, and a handler
// that takes its time (--work-us, and above all --sleep-us, a blocking call) stalls every other
// client. A bufferevent buffers without limit unless told otherwise: the bound below is ours.
// --idle-timeout is a timer event per client, not a bufferevent read timeout: libevent restarts
// that at every read, so a client trickling a byte at a time would never reach it.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "servers/common/architecture.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/linger.hpp"
#include "servers/common/net.hpp"

namespace archbench {

// A client that does not read its answers stops being read from once this much waits for it,
// so that it cannot make the server buffer without end. Soft: one read's answers may pass it.
constexpr std::size_t kMaxBufferedOutput = 1024 * 1024;
// After accept() fails for want of descriptors or memory, stop accepting for this long.
constexpr timeval kAcceptRetryPause = {.tv_sec = 0, .tv_usec = 10'000};

namespace {  // this file's own types: other architectures may name theirs Server too

struct Server;

// One client: its bufferevent (which owns the socket) and its side of the conversation.
struct Connection {
    Connection(Server& server, bufferevent* bev, const ServerOptions& options, Admission admission)
        : admission(std::move(admission)),
          server(server),
          bev(bev),
          conversation(options.workload),
          idle(options.idle_timeout) {}
    ~Connection() {
        if (idle_timer != nullptr) event_free(idle_timer);
        bufferevent_free(bev);  // BEV_OPT_CLOSE_ON_FREE: closes the socket
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    Admission admission;  // declared first, so given back once the socket is closed
    Server& server;
    bufferevent* bev;
    zen::Conversation conversation;
    IdleClock idle;
    event* idle_timer = nullptr;  // only with --idle-timeout
    std::string answers;   // what one read_cb answers, then copied into the output buffer
    bool closing = false;  // close as soon as the output buffer is flushed
    bool refused = false;  // an over-long question: the close lingers (servers/common/linger.hpp)
};

struct Server {
    explicit Server(const ServerOptions& options)
        : options(options), limit(options.max_connections), base(event_base_new()) {
        if (base == nullptr) throw std::runtime_error("libevent: event_base_new failed");
    }
    // The one cleanup path: every connection, then the listener and events, then the loop.
    ~Server() {
        connections.clear();
        if (listener != nullptr) evconnlistener_free(listener);
        if (accept_retry != nullptr) event_free(accept_retry);
        if (stop_watch != nullptr) event_free(stop_watch);
        event_base_free(base);
    }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    const ServerOptions& options;
    ConnectionLimit limit;  // declared before `connections`, which give their places back to it
    event_base* base;
    evconnlistener* listener = nullptr;
    event* accept_retry = nullptr;
    event* stop_watch = nullptr;  // on stop.fd(): readable once a stop is requested
    std::unordered_map<bufferevent*, Connection> connections;
    bool told_accept_error = false;
};

}  // namespace

static void close_connection(Connection& connection) {
    evutil_socket_t lingering = -1;
    if (connection.refused) {  // the socket outlives its bufferevent, to linger
        lingering = bufferevent_getfd(connection.bev);
        bufferevent_setfd(connection.bev, -1);  // freeing the bufferevent then closes nothing
    }
    connection.server.connections.erase(connection.bev);
    if (lingering >= 0) close_lingering(lingering);
}

// Nothing more is read; what the client is owed is sent, then the connection is closed.
static void close_after_flush(Connection& connection) {
    connection.closing = true;
    bufferevent_disable(connection.bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(connection.bev)) == 0)
        close_connection(connection);
}

static void read_cb(bufferevent* bev, void* ctx) {
    auto& connection = *static_cast<Connection*>(ctx);
    evbuffer* input = bufferevent_get_input(bev);
    zen::FrameStatus status = zen::FrameStatus::ok;
    // Each contiguous chunk of the input buffer is read in place, without copying it out.
    evbuffer_iovec chunk;
    while (status == zen::FrameStatus::ok && evbuffer_peek(input, -1, nullptr, &chunk, 1) > 0) {
        // The workload (--work-us, --sleep-us) runs right here, on the loop's only thread.
        status = connection.conversation.on_input(
            {static_cast<const char*>(chunk.iov_base), chunk.iov_len}, connection.answers);
        evbuffer_drain(input, chunk.iov_len);
    }
    connection.idle.questions_answered(connection.conversation.questions_answered());
    if (!connection.answers.empty()) {
        bufferevent_write(bev, connection.answers.data(), connection.answers.size());
        connection.answers.clear();  // keeps its storage: no allocation per request
    }
    if (status == zen::FrameStatus::close_after) {
        connection.refused = true;
        close_after_flush(connection);  // the refusal goes out first
        return;
    }
    if (evbuffer_get_length(bufferevent_get_output(bev)) >= kMaxBufferedOutput)
        bufferevent_disable(bev, EV_READ);  // until write_cb says the client caught up
}

// Called when the output buffer has been written out completely (write low watermark 0).
static void write_cb(bufferevent* bev, void* ctx) {
    auto& connection = *static_cast<Connection*>(ctx);
    if (connection.closing)
        close_connection(connection);
    else if (!(bufferevent_get_enabled(bev) & EV_READ))
        bufferevent_enable(bev, EV_READ);
}

static void event_cb(bufferevent* /*bev*/, short events, void* ctx) {
    auto& connection = *static_cast<Connection*>(ctx);
    if (events & BEV_EVENT_ERROR)
        close_connection(connection);  // reset, or a write to a client that is gone
    else if (events & BEV_EVENT_EOF)
        close_after_flush(connection);  // a goodbye: answers already queued are still owed
}

// --idle-timeout: armed for the clock's deadline, once per timeout rather than once per
// question. When it fires, the client is closed if its clock ran out; if a question came
// meanwhile, the timer is armed again for the new deadline.
static void arm_idle_timer(Connection& connection) {
    const int left_ms = connection.idle.remaining_ms();
    const timeval left = {.tv_sec = left_ms / 1000, .tv_usec = left_ms % 1000 * 1000};
    evtimer_add(connection.idle_timer, &left);
}

static void idle_cb(evutil_socket_t /*fd*/, short /*events*/, void* ctx) {
    auto& connection = *static_cast<Connection*>(ctx);
    if (connection.idle.expired())
        close_connection(connection);
    else
        arm_idle_timer(connection);
}

static void accept_cb(evconnlistener* /*listener*/, evutil_socket_t fd, sockaddr* /*address*/,
                      int /*length*/, void* ctx) {
    auto& server = *static_cast<Server*>(ctx);
    server.told_accept_error = false;
    Admission admission(server.limit);
    if (!admission) {  // beyond --max-connections: closed at once
        close(fd);
        return;
    }
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    bufferevent* bev = bufferevent_socket_new(server.base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == nullptr) {
        close(fd);
        return;
    }
    // One read's answers stay under about 1 MiB (bounded_read_size, servers/common/net.hpp):
    // read_cb answers all it is given, and 16 kB of questions padded by --reply-bytes 1000000
    // would be 700 MB.
    bufferevent_set_max_single_read(bev, bounded_read_size(server.options.workload, 16 * 1024));
    Connection& connection =
        server.connections.try_emplace(bev, server, bev, server.options, std::move(admission))
            .first->second;
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, &connection);
    bufferevent_enable(bev, EV_READ);
    if (connection.idle.enabled()) {
        connection.idle_timer = evtimer_new(server.base, idle_cb, &connection);
        if (connection.idle_timer == nullptr) return close_connection(connection);  // no memory
        arm_idle_timer(connection);
    }
}

// accept() failed for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS): the client stays
// in the backlog, so the listening socket stays readable and the loop would call the listener
// again at once, only to fail again: a busy loop. Stop listening for a moment instead, and let
// a closing connection free a descriptor.
static void accept_error_cb(evconnlistener* listener, void* ctx) {
    auto& server = *static_cast<Server*>(ctx);
    if (!server.told_accept_error)
        std::fprintf(stderr, "accept: %s; retrying every %ld ms\n", std::strerror(errno),
                     static_cast<long>(kAcceptRetryPause.tv_usec / 1000));
    server.told_accept_error = true;
    evconnlistener_disable(listener);
    evtimer_add(server.accept_retry, &kAcceptRetryPause);
}

static void accept_retry_cb(evutil_socket_t /*fd*/, short /*events*/, void* ctx) {
    evconnlistener_enable(static_cast<Server*>(ctx)->listener);
}

// The loop ends after the current callback; ~Server then frees every connection.
static void stop_cb(evutil_socket_t /*fd*/, short /*events*/, void* ctx) {
    event_base_loopbreak(static_cast<event_base*>(ctx));
}

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    Server server(options);
    set_nonblocking(listen_fd);  // the listener accepts until accept() says EAGAIN
    // Backlog 0: the socket already listens. No LEV_OPT_CLOSE_ON_FREE: main() owns it.
    server.listener = evconnlistener_new(server.base, accept_cb, &server, LEV_OPT_CLOSE_ON_EXEC,
                                         0, listen_fd);
    server.accept_retry = evtimer_new(server.base, accept_retry_cb, &server);
    server.stop_watch = event_new(server.base, stop.fd(), EV_READ, stop_cb, server.base);
    if (server.listener == nullptr || server.accept_retry == nullptr ||
        server.stop_watch == nullptr || event_add(server.stop_watch, nullptr) != 0)
        throw std::runtime_error("libevent: cannot set up the event loop");
    evconnlistener_set_error_cb(server.listener, accept_error_cb);
    event_base_dispatch(server.base);
}

extern const Architecture libevent_architecture{
    .name = "libevent",
    .description = "libevent: an evconnlistener and a bufferevent per client on one event_base",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::event_loop,
               .one_io_thread = true,
               .blocking_stalls_every_client = true},
    .serve = serve,
};

}  // namespace archbench
