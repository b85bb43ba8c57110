// Choosing which registered architectures a parameterized test runs against, and naming them.
// Suites are chosen by the traits the registry declares (servers/common/architecture.hpp), never
// by hand-kept lists of names, so that an architecture gets every test its traits promise the
// moment it is registered. A selection never silently shrinks: a name that is not registered,
// or a selection that finds no architecture, becomes a placeholder parameter whose every test
// fails with the reason (ArchitectureTest::SetUp), instead of a suite that quietly does not run.
#pragma once

#include <functional>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "servers/registry.hpp"

namespace archbench {

// Test names end with the architecture's name (CTest: ".../EachAphorismGetsItsAnswer/epoll").
void PrintTo(const Architecture* architecture, std::ostream* out);

namespace testing {

// Built with sanitizers (make test-asan, make test-tsan: CMake defines ARCHBENCH_SANITIZED).
#ifdef ARCHBENCH_SANITIZED
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif

// Every registered architecture, in the registry's order; in a sanitized build, every one built
// from this tree's C++. The external programs, whose code no sanitizer instruments, run every
// suite in the ordinary build (architectures.cpp says why).
std::vector<const Architecture*> every_architecture();

// The architectures of every_architecture() whose traits `keep` accepts. `what` says what the
// suite needs ("one event loop on one thread"): when no architecture has it, the selection is
// one placeholder whose tests fail, saying so.
std::vector<const Architecture*> architectures_where(std::function<bool(const Architecture&)> keep,
                                                     std::string_view what);

// The registered architectures among `names`, in that order. A name that is not registered
// becomes a placeholder of that name whose tests fail ("... is not registered"): a test that
// asks for an architecture by name never skips it silently.
std::vector<const Architecture*> architectures_named(std::initializer_list<const char*> names);

// Why `architecture` is a placeholder (see above), or "" for a registered architecture.
std::string selection_error(const Architecture* architecture);

// The same architectures, each to be tested in HTTP (--protocol http): a suite instantiated
// with these runs its tests over HTTP (ArchitectureTest::protocol()). Each is a stand-in named
// "NAME.http" (so that test names say the protocol) for the registered architecture, which
// registered_architecture() returns.
std::vector<const Architecture*> in_http(const std::vector<const Architecture*>& architectures);
// The protocol a parameter stands for: zen, or http for one of in_http().
zen::Protocol protocol_of(const Architecture* architecture);
// The registered architecture a parameter stands for (itself, but for one of in_http()).
const Architecture* registered_architecture(const Architecture* architecture);

}  // namespace testing
}  // namespace archbench
