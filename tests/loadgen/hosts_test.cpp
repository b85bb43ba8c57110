// archbench-load with several addresses (--host A,B --hosts-policy first|spread|fallback), against
// real archbench-server instances on two loopback addresses (127.0.0.1 and 127.0.0.2, the same
// port), as the deployment experiment runs them: how the connections are dealt, what a client
// does when an address refuses or its server is killed (SIGKILL) mid-run, and what the JSON's
// per-address `hosts` counts.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/load_process.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/time_scale.hpp"

using namespace archbench::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kFirst = "127.0.0.1";
constexpr const char* kSecond = "127.0.0.2";
const std::string kBoth = std::string(kFirst) + "," + kSecond;

// Two `epoll` servers, one on each address, on one port free on both. The first takes any free
// port on 127.0.0.1; the second is asked for the same port on 127.0.0.2 and, in the rare case
// that someone holds it there, both start again on another.
// `extra`: more server flags for both.
struct ServerPair {
    std::unique_ptr<ServerProcess> first, second;

    explicit ServerPair(const std::vector<std::string>& extra = {}) {
        const auto flags = [&](std::vector<std::string> args) {
            args.insert(args.end(), extra.begin(), extra.end());
            return args;
        };
        for (int attempt = 0; attempt < 5 && !second; ++attempt) {
            first = std::make_unique<ServerProcess>(flags({"--arch", "epoll", "--host", kFirst}));
            try {
                second = std::make_unique<ServerProcess>(flags(
                    {"--arch", "epoll", "--host", kSecond, "--port", std::to_string(first->port())}));
            } catch (const std::runtime_error&) {
                first.reset();
            }
        }
        if (!second) throw std::runtime_error("no port free on both 127.0.0.1 and 127.0.0.2");
    }
    std::uint16_t port() const { return first->port(); }
};

// A port on `host` that nobody listens on: bound, never listening, for as long as it lives.
class DeadPortAt {
public:
    DeadPortAt(const char* host, std::uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        inet_pton(AF_INET, host, &address.sin_addr);
        bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    }
    ~DeadPortAt() { close(fd_); }
    bool bound() const { return bound_; }

private:
    int fd_;
    bool bound_ = false;
};

// A server on 127.0.0.2 and, on 127.0.0.1 at the same port, a bound socket that never listens:
// that address refuses. The server's port is any free one on 127.0.0.2; on 127.0.0.1 someone
// (another test's client, a connection in TIME_WAIT) may hold it, and then the server starts
// again on another.
struct RefusingFirstAddress {
    std::unique_ptr<ServerProcess> server;
    std::unique_ptr<DeadPortAt> nobody;

    RefusingFirstAddress() {
        for (int attempt = 0; attempt < 5; ++attempt) {
            server = std::make_unique<ServerProcess>(std::vector<std::string>{"--arch", "epoll", "--host", kSecond});
            nobody = std::make_unique<DeadPortAt>(kFirst, server->port());
            if (nobody->bound()) return;
        }
        throw std::runtime_error("no port free on 127.0.0.1 at five ports the server took on 127.0.0.2");
    }
    std::uint16_t port() const { return server->port(); }
};

std::uint64_t total_errors(const json& errors) {
    std::uint64_t total = 0;
    for (const auto& [kind, count] : errors.items()) total += count.get<std::uint64_t>();
    return total;
}

// The per-address counts add up to the run's.
void expect_hosts_add_up(const json& report) {
    std::uint64_t ok = 0, errors = 0;
    for (const json& host : report["hosts"]) {
        ok += host["requests_ok"].get<std::uint64_t>();
        errors += total_errors(host["errors"]);
    }
    EXPECT_EQ(ok, report["requests_ok"].get<std::uint64_t>()) << report["hosts"].dump();
    EXPECT_EQ(errors, total_errors(report["errors"])) << report["hosts"].dump();
}

std::vector<std::string> load_args(std::uint16_t port, const std::string& hosts, const char* policy,
                                   std::vector<std::string> more) {
    std::vector<std::string> args = {"--host", hosts, "--port", std::to_string(port), "--hosts-policy", policy};
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

// How long the runs that kill a server last, and when the kill comes.
double kill_run_seconds() { return scaled_seconds(1.5); }

// Runs the load against `hosts` for kill_run_seconds() in the background, kills the first server
// with SIGKILL after about 0.6 s of it, and returns what the load wrote.
LoadRun run_load_killing_the_first(ServerPair& servers, const std::string& hosts, const char* policy,
                                   std::vector<std::string> more) {
    more.insert(more.end(), {"-d", std::to_string(kill_run_seconds())});
    auto load = std::async(std::launch::async, [&] { return run_load(load_args(servers.port(), hosts, policy, more)); });
    std::this_thread::sleep_for(scaled(600ms));
    servers.first->stop(SIGKILL, 2s);
    return load.get();
}

// What a load of both addresses left, and how many descriptors each server held for it: counted
// while it ran, less those left once it was over and the servers had closed its connections.
struct HeldDuringLoad {
    LoadRun run;
    int first;
    int second;
};

HeldDuringLoad run_load_counting_descriptors(ServerPair& servers, const char* policy, std::vector<std::string> more) {
    more.insert(more.end(), {"-d", std::to_string(scaled_seconds(1.5))});
    auto load = std::async(std::launch::async, [&] { return run_load(load_args(servers.port(), kBoth, policy, more)); });
    std::this_thread::sleep_for(scaled(700ms));
    const int first_during = servers.first->open_descriptors();
    const int second_during = servers.second->open_descriptors();
    HeldDuringLoad held{load.get(), 0, 0};
    std::this_thread::sleep_for(scaled(300ms));
    held.first = first_during - servers.first->open_descriptors();
    held.second = second_during - servers.second->open_descriptors();
    return held;
}

}  // namespace

TEST(HostsSpread, DealsTheConnectionsEvenlyOverTheAddresses) {
    ServerPair servers;
    const HeldDuringLoad held = run_load_counting_descriptors(servers, "spread", {"-c", "6"});
    const LoadRun& run = held.run;
    ASSERT_EQ(run.command.exit_code, 0) << run.command.out << run.command.err;
    EXPECT_EQ(held.first, 3);
    EXPECT_EQ(held.second, 3);
    const json& hosts = run.json["hosts"];
    ASSERT_EQ(hosts.size(), 2u) << run.json.dump(2);
    EXPECT_EQ(hosts[0]["host"], kFirst);
    EXPECT_EQ(hosts[1]["host"], kSecond);
    for (const json& host : hosts) {
        EXPECT_EQ(host["connections_opened"], 3) << hosts.dump();
        EXPECT_GT(host["requests_ok"], 100) << hosts.dump();
        EXPECT_EQ(total_errors(host["errors"]), 0u) << hosts.dump();
    }
    EXPECT_EQ(run.json["config"]["hosts_policy"], "spread");
    EXPECT_EQ(run.json["config"]["hosts"], json::array({kFirst, kSecond}));
    expect_hosts_add_up(run.json);
}

TEST(HostsSpread, IdleConnectionsAreDealtToo) {
    ServerPair servers;
    const HeldDuringLoad held = run_load_counting_descriptors(servers, "spread", {"-c", "2", "--idle", "10"});
    ASSERT_EQ(held.run.command.exit_code, 0) << held.run.command.out << held.run.command.err;
    EXPECT_EQ(held.run.json["idle"]["opened"], 10);
    EXPECT_EQ(held.first, 1 + 5);
    EXPECT_EQ(held.second, 1 + 5);
}

TEST(HostsFallback, MovesOnWhenTheFirstAddressRefuses) {
    const RefusingFirstAddress server;
    const LoadRun run = run_load(load_args(server.port(), kBoth, "fallback", {"-c", "3", "-d", "0.5"}));
    ASSERT_EQ(run.command.exit_code, 0) << run.command.out << run.command.err;
    const json& hosts = run.json["hosts"];
    ASSERT_EQ(hosts.size(), 2u);
    // Each connection was refused once by the first address, counted there as one failed
    // request, and then served by the second.
    EXPECT_EQ(hosts[0]["errors"]["connect"], 3) << hosts.dump();
    EXPECT_EQ(hosts[0]["requests_ok"], 0);
    EXPECT_EQ(hosts[1]["connections_opened"], 3);
    EXPECT_GT(hosts[1]["requests_ok"], 100);
    EXPECT_EQ(total_errors(hosts[1]["errors"]), 0u) << hosts.dump();
    expect_hosts_add_up(run.json);
}

TEST(HostsFallback, MovesOnWhenItsServerIsKilledAndCountsTheRequestsInFlightAsFailed) {
    // Each request blocks 1 ms in the server, so that the kill finds the questions in flight
    // there (an instant request may all be answered, and the load generator descheduled, when
    // the kill comes: then nothing is lost, rightly).
    ServerPair servers({"--sleep-us", "1000"});
    const LoadRun run = run_load_killing_the_first(servers, kBoth, "fallback", {"-c", "4"});
    ASSERT_EQ(run.command.exit_code, 0) << run.command.out << run.command.err;
    const json& hosts = run.json["hosts"];
    ASSERT_EQ(hosts.size(), 2u);
    EXPECT_GT(hosts[0]["requests_ok"], 100) << "all served by the first until the kill";
    EXPECT_EQ(hosts[0]["connections_opened"], 4);
    // The kill ended each connection with its question in flight (one per connection, as the
    // closed loop keeps them): those requests failed there, as eof or reset, and none was
    // retried. Their connections moved to the second address at once: no connect error.
    const std::uint64_t lost = hosts[0]["errors"]["eof"].get<std::uint64_t>() + hosts[0]["errors"]["reset"].get<std::uint64_t>();
    EXPECT_GE(lost, 1u) << hosts.dump();
    EXPECT_LE(lost, 4u) << hosts.dump();
    EXPECT_EQ(total_errors(hosts[0]["errors"]), lost) << hosts.dump();
    EXPECT_EQ(hosts[1]["connections_opened"], 4);
    EXPECT_GT(hosts[1]["requests_ok"], 100) << "and by the second after it";
    EXPECT_EQ(total_errors(hosts[1]["errors"]), 0u) << hosts.dump();
    expect_hosts_add_up(run.json);
}

TEST(HostsFirst, DoesNotMoveWhenItsAddressRefuses) {
    const RefusingFirstAddress server;
    const LoadRun run = run_load(load_args(server.port(), kBoth, "first", {"-c", "2", "-d", "0.5"}));
    EXPECT_EQ(run.command.exit_code, 1) << "no request succeeded: " << run.command.out;
    const json& hosts = run.json["hosts"];
    ASSERT_EQ(hosts.size(), 2u);
    EXPECT_GT(hosts[0]["errors"]["connect"], 2) << "refused again and again";
    EXPECT_EQ(hosts[1]["connections_opened"], 0);
    EXPECT_EQ(hosts[1]["requests_ok"], 0);
    EXPECT_EQ(total_errors(hosts[1]["errors"]), 0u);
}

TEST(HostsFirst, ARefusedConnectionPausesBeforeItTriesAgain) {
    // 10 ms at least between the attempts of a connection: 2 connections in 0.5 s try at most
    // about 100 times, where a hot loop would try tens of thousands of times.
    const RefusingFirstAddress server;
    const LoadRun run = run_load(load_args(server.port(), kFirst, "first", {"-c", "2", "-d", "0.5"}));
    const std::uint64_t refused = run.json["hosts"][0]["errors"]["connect"].get<std::uint64_t>();
    EXPECT_GE(refused, 2u);
    EXPECT_LE(refused, 2u * 52) << run.command.out;
}

TEST(HostsFirst, KeepsFailingAfterItsServerIsKilled) {
    ServerPair servers;
    const LoadRun run = run_load_killing_the_first(servers, kBoth, "first", {"-c", "2"});
    ASSERT_EQ(run.command.exit_code, 0) << run.command.out << run.command.err;
    const json& hosts = run.json["hosts"];
    EXPECT_GT(hosts[0]["requests_ok"], 100);
    EXPECT_GT(hosts[0]["errors"]["connect"], 2) << "reconnecting to the dead address: " << hosts.dump();
    EXPECT_EQ(hosts[1]["connections_opened"], 0) << "never moved";
    EXPECT_EQ(hosts[1]["requests_ok"], 0);
    expect_hosts_add_up(run.json);
}

TEST(HostsFirst, TimelineAt100MsShowsTheGapAfterTheKill) {
    // Hardwired clients of a server killed at about 0.6 s: slices of 100 ms answered until
    // then, and from the kill to the end slices with nothing answered (ok 0) but connect
    // errors, every one of them present in the timeline.
    ServerPair servers;
    const double seconds = kill_run_seconds();
    const LoadRun run = run_load_killing_the_first(servers, kFirst, "first", {"-c", "2", "--timeline-ms", "100"});
    ASSERT_EQ(run.command.exit_code, 0) << run.command.out << run.command.err;
    const json& timeline = run.json["timeline"];
    ASSERT_EQ(timeline.size(), static_cast<std::size_t>(std::ceil(seconds * 10 - 1e-9))) << timeline.dump();
    std::size_t first_empty = timeline.size();
    for (std::size_t t = 0; t < timeline.size(); ++t)
        if (timeline[t]["ok"] == 0) {
            first_empty = t;
            break;
        }
    ASSERT_GE(first_empty, 1u) << "answers before the kill: " << timeline.dump();
    ASSERT_LT(first_empty + 3, timeline.size()) << "a gap after it: " << timeline.dump();
    std::uint64_t errors_in_gap = 0;
    for (std::size_t t = first_empty; t < timeline.size(); ++t) {
        SCOPED_TRACE(t);
        EXPECT_EQ(timeline[t]["ok"], 0);
        EXPECT_TRUE(timeline[t]["p50_us"].is_null());
        errors_in_gap += timeline[t]["errors"].get<std::uint64_t>();
    }
    // Refused connects, 5 to 10 per 100 ms per connection (fewer only if the machine stalls).
    EXPECT_GE(errors_in_gap, timeline.size() - first_empty) << timeline.dump();
}

TEST(Hosts, AHostNameIsResolvedOnceAtTheStart) {
    ServerProcess server({"--arch", "epoll"});
    const LoadRun run = run_load({"--host", "localhost", "--port", std::to_string(server.port()), "-c", "1", "-d", "0.3"});
    ASSERT_EQ(run.command.exit_code, 0) << run.command.out << run.command.err;
    EXPECT_EQ(run.json["hosts"][0]["host"], "localhost");
    EXPECT_EQ(run.json["hosts"][0]["address"], "127.0.0.1");
    EXPECT_GT(run.json["hosts"][0]["requests_ok"], 10);
}
