// Every architecture archbench-server can run, in the order --list prints them.
#pragma once

#include <span>
#include <string_view>

#include "servers/architecture.hpp"

namespace archbench {

std::span<const Architecture* const> all_architectures();

// nullptr when no architecture has that name.
const Architecture* find_architecture(std::string_view name);

}  // namespace archbench
