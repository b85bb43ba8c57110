// Every architecture archbench-server can run, in the order --list prints them.
#pragma once

#include <span>
#include <string_view>

#include "servers/common/architecture.hpp"

namespace archbench {

// The C++ architectures, then the external ones (servers/common/external.hpp) declared in
// $ARCHBENCH_EXTERNAL_DIR, or else in the source tree's servers/external. Throws
// std::runtime_error, one line naming the file, when a declaration is broken: never skipped.
std::span<const Architecture* const> all_architectures();

// nullptr when no architecture has that name.
const Architecture* find_architecture(std::string_view name);

}  // namespace archbench
