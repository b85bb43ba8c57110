#include "tests/support/architectures.hpp"

#include <algorithm>
#include <deque>
#include <utility>

namespace archbench {

void PrintTo(const Architecture* architecture, std::ostream* out) {
    *out << architecture->name;
}

namespace testing {
namespace {

// A placeholder's name and the reason its tests fail. A deque, so that the Architecture
// pointers handed to gtest stay valid as more placeholders are made.
struct Placeholder {
    std::string name;
    std::string error;
    Architecture architecture{};
};

std::deque<Placeholder>& placeholders() {
    static std::deque<Placeholder> made;
    return made;
}

const Architecture* placeholder(std::string name, std::string error) {
    Placeholder& made = placeholders().emplace_back(Placeholder{std::move(name), std::move(error)});
    made.architecture.name = made.name;
    made.architecture.description = made.error;
    return &made.architecture;
}

// An architecture to be tested in HTTP: a copy of the registered one under another name.
struct HttpStandIn {
    const Architecture* registered;
    std::string name;
    Architecture architecture{};
};

std::deque<HttpStandIn>& http_stand_ins() {
    static std::deque<HttpStandIn> made;
    return made;
}

const HttpStandIn* stand_in(const Architecture* architecture) {
    for (const HttpStandIn& made : http_stand_ins())
        if (&made.architecture == architecture) return &made;
    return nullptr;
}

// Whether the suites test `architecture` in this build. Under the sanitizers, only those built
// from this tree's C++: a sanitizer instruments none of an external program's code (Python, Go),
// so its suites there would check nothing that make test does not, at the cost of a server per
// test. The C++ supervisor that runs such a program stays checked there by the External tests
// (conformance/external_test.cpp).
bool tested_in_this_build(const Architecture& architecture) {
    return !kSanitizedBuild || architecture.external == nullptr;
}

bool registered(const Architecture* architecture) {
    if (const HttpStandIn* http = stand_in(architecture)) architecture = http->registered;
    const auto all = all_architectures();
    return std::find(all.begin(), all.end(), architecture) != all.end();
}

}  // namespace

std::vector<const Architecture*> every_architecture() {
    return architectures_where([](const Architecture&) { return true; }, "any architecture");
}

std::vector<const Architecture*> architectures_where(std::function<bool(const Architecture&)> keep,
                                                     std::string_view what) {
    std::vector<const Architecture*> kept;
    for (const Architecture* architecture : all_architectures())
        if (tested_in_this_build(*architecture) && keep(*architecture))
            kept.push_back(architecture);
    if (kept.empty()) {
        const std::string scope = kSanitizedBuild ? " built from this tree's C++" : "";
        kept.push_back(placeholder("none", "no registered architecture" + scope + " is " +
                                               std::string(what) +
                                               ": this suite would test nothing"));
    }
    return kept;
}

std::vector<const Architecture*> architectures_named(std::initializer_list<const char*> names) {
    std::vector<const Architecture*> found;
    for (const char* name : names) {
        const Architecture* architecture = find_architecture(name);
        found.push_back(architecture != nullptr
                            ? architecture
                            : placeholder(name, std::string("the test asks for architecture '") +
                                                    name + "', which is not registered"));
    }
    if (found.empty()) found.push_back(placeholder("none", "the test names no architecture"));
    return found;
}

std::vector<const Architecture*> in_http(const std::vector<const Architecture*>& architectures) {
    std::vector<const Architecture*> made;
    for (const Architecture* architecture : architectures) {
        if (!registered(architecture)) {  // a placeholder stays one: its tests fail as they should
            made.push_back(architecture);
            continue;
        }
        HttpStandIn& http = http_stand_ins().emplace_back(
            HttpStandIn{architecture, std::string(architecture->name) + ".http"});
        http.architecture = *architecture;
        http.architecture.name = http.name;
        made.push_back(&http.architecture);
    }
    return made;
}

zen::Protocol protocol_of(const Architecture* architecture) {
    return stand_in(architecture) != nullptr ? zen::Protocol::http : zen::Protocol::zen;
}

const Architecture* registered_architecture(const Architecture* architecture) {
    const HttpStandIn* http = stand_in(architecture);
    return http != nullptr ? http->registered : architecture;
}

std::string selection_error(const Architecture* architecture) {
    if (registered(architecture)) return "";
    for (const Placeholder& made : placeholders())
        if (&made.architecture == architecture) return made.error;
    return "not a registered architecture";
}

}  // namespace testing
}  // namespace archbench
