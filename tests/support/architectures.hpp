// Choosing which registered architectures a parameterized test runs against, and naming them.
#pragma once

#include <initializer_list>
#include <ostream>
#include <vector>

#include "servers/registry.hpp"

namespace archbench {

// Test names end with the architecture's name (CTest: ".../EachAphorismGetsItsAnswer/epoll").
void PrintTo(const Architecture* architecture, std::ostream* out);

namespace testing {

// The registered architectures among `names`, in that order; a name not registered is skipped.
std::vector<const Architecture*> architectures_named(std::initializer_list<const char*> names);

}  // namespace testing
}  // namespace archbench
