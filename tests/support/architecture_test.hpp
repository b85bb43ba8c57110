// The fixture of a test that runs once for each architecture it is instantiated with
// (INSTANTIATE_TEST_SUITE_P over ValuesIn(...) of Architecture pointers).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "servers/registry.hpp"
#include "tests/support/architectures.hpp"
#include "tests/support/client.hpp"
#include "tests/support/server_process.hpp"

namespace archbench::testing {

class ArchitectureTest : public ::testing::TestWithParam<const Architecture*> {
protected:
    // A placeholder of a selection that went wrong (a name not registered, no architecture
    // with the traits a suite needs: architectures.hpp) fails. An architecture this machine
    // refuses (io-uring where the kernel forbids io_uring) is reported as skipped, with the
    // kernel's reason, not as passed.
    void SetUp() override {
        if (const std::string error = selection_error(GetParam()); !error.empty()) FAIL() << error;
        if (const std::string reason = unavailable_reason(*GetParam()); !reason.empty())
            GTEST_SKIP() << reason;
    }

    const Architecture& architecture() const { return *GetParam(); }
    // The protocol the test speaks: zen, or http for a suite instantiated with in_http().
    zen::Protocol protocol() const { return protocol_of(GetParam()); }

    // archbench-server --arch NAME EXTRA... on a free port (and --protocol http in HTTP).
    ServerProcess start(std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"--arch", std::string(registered_architecture(GetParam())->name)};
        if (protocol() == zen::Protocol::http) args.insert(args.end(), {"--protocol", "http"});
        args.insert(args.end(), extra.begin(), extra.end());
        return ServerProcess(args);
    }

    // A client of `server` that reads answers in the test's protocol (HTTP: response bodies).
    Client connect(const ServerProcess& server, std::size_t reply_bytes = 0, int receive_buffer = 0) const {
        return Client(server.port(), reply_bytes, receive_buffer, protocol());
    }
    // The bytes that ask a Zen `question` in the test's protocol: itself, or a GET of its
    // aphorism's path (an unknown question: GET /unknown), whose answer is the same body.
    std::string ask(std::string_view question) const { return request_for(question, protocol()); }
    // The first half of ask(question): a request cut in the middle.
    std::string half_of(std::string_view question) const {
        const std::string whole = ask(question);
        return whole.substr(0, whole.size() / 2);
    }
};

}  // namespace archbench::testing
