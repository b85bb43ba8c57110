// A plain blocking test client on loopback: sends bytes, reads answers framed at '.' (in HTTP,
// responses framed by Content-Length, of which it keeps the bodies), and tells how the server
// ended the connection. Every wait has a deadline (stretched by
// ARCHBENCH_TIME_SCALE in instrumented builds: time_scale.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/zen.hpp"

namespace archbench::testing {

using namespace std::chrono_literals;

class Client {
public:
    // Connects to 127.0.0.1:port. `receive_buffer` > 0 shrinks SO_RCVBUF before connecting, so
    // that large answers reach the client in many pieces and the server must write partially.
    explicit Client(std::uint16_t port, std::size_t reply_bytes = 0, int receive_buffer = 0,
                    zen::Protocol protocol = zen::Protocol::zen);
    ~Client();
    Client(Client&& other) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    void send(std::string_view bytes);
    // Sends as much of `bytes` as the server takes within `timeout`, reading what arrives
    // meanwhile (kept for read_answers()), so that a server blocked on sending to this client
    // cannot deadlock it. Stops early, without failing, when the server closed or reset the
    // connection (EPIPE, ECONNRESET): what an abuser must expect. Returns the bytes sent.
    std::size_t send_until_refused(std::string_view bytes,
                                   std::chrono::milliseconds timeout = 5s);
    // Reads until `count` answers arrived, the connection ended, or `timeout` passed.
    std::vector<std::string> read_answers(std::size_t count, std::chrono::milliseconds timeout = 5s);
    std::string read_answer(std::chrono::milliseconds timeout = 5s);
    // True once the server has closed or reset the connection, within `timeout`. Answers that
    // arrive meanwhile are kept for read_answers().
    bool closed_by_server(std::chrono::milliseconds timeout = 5s);
    // True when nothing arrives and the connection stays open for `period`.
    bool silent_for(std::chrono::milliseconds period);

    void shutdown_write();  // EOF: half-close
    void reset();           // close with SO_LINGER 0: the server sees a reset
    int fd() const { return fd_; }

private:
    // One recv() with a deadline; false when nothing more can come (EOF, error or time).
    bool receive_until(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    bool ended_ = false;
    zen::Protocol protocol_;
    zen::AnswerReader reader_;
    http::ResponseReader http_reader_;
    std::deque<std::string> answers_;
};

// The bytes that ask `question` in `protocol`: the question itself, or in HTTP a GET of its
// aphorism's path (GET /unknown for a question the service does not know).
std::string request_for(std::string_view question, zen::Protocol protocol);

}  // namespace archbench::testing
