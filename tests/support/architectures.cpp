#include "tests/support/architectures.hpp"

namespace archbench {

void PrintTo(const Architecture* architecture, std::ostream* out) {
    *out << architecture->name;
}

std::vector<const Architecture*> testing::architectures_named(
    std::initializer_list<const char*> names) {
    std::vector<const Architecture*> found;
    for (const char* name : names)
        if (const Architecture* architecture = find_architecture(name))
            found.push_back(architecture);
    return found;
}

}  // namespace archbench
