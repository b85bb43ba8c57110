// The check both command lines (archbench-server, archbench-load) give their whole-number
// flags. CLI11's own checks name the whole range of a double in their message ("not in range
// 0.000000 to 1797693...") or just "Could not convert", and would wrap "-3" around to
// 2^64 - 3; this one is checked as text and says in one line what the flag accepts:
// "--max-request: must be a whole number from 1 to 1073741824, not '0'".
#pragma once

#include <CLI/CLI.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>

namespace archbench {

inline CLI::Validator whole_number(unsigned long long low, unsigned long long high = ULLONG_MAX) {
    const std::string accepts = "a whole number from " + std::to_string(low) +
                                (high == ULLONG_MAX ? "" : " to " + std::to_string(high));
    return CLI::Validator(
        [low, high, accepts](std::string& text) -> std::string {
            const std::string wrong = "must be " + accepts + ", not '" + text + "'";
            if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
                return wrong;
            errno = 0;
            const unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
            if (errno == ERANGE || value < low || value > high) return wrong;
            return "";
        },
        "N");
}

}  // namespace archbench
