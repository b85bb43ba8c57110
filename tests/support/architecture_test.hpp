// The fixture of a test that runs once for each architecture it is instantiated with
// (INSTANTIATE_TEST_SUITE_P over ValuesIn(...) of Architecture pointers).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "servers/registry.hpp"
#include "tests/support/architectures.hpp"
#include "tests/support/server_process.hpp"

namespace archbench::testing {

class ArchitectureTest : public ::testing::TestWithParam<const Architecture*> {
protected:
    // An architecture this machine refuses (io-uring where the kernel forbids io_uring) is
    // reported as skipped, with the kernel's reason, not as passed.
    void SetUp() override {
        if (const std::string reason = unavailable_reason(*GetParam()); !reason.empty())
            GTEST_SKIP() << reason;
    }

    // archbench-server --arch NAME EXTRA... on a free port.
    ServerProcess start(std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"--arch", std::string(GetParam()->name)};
        args.insert(args.end(), extra.begin(), extra.end());
        return ServerProcess(args);
    }
};

}  // namespace archbench::testing
