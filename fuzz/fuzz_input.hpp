// What the fuzz targets share: how an input is read, and how a broken invariant is reported.
//
// An input is a small header, then the bytes that arrive on the connection:
//   bytes 0-1  a 16-bit knob, little-endian (each target says what it sets)
//   byte 2     an 8-bit knob
//   byte 3     how many chunk sizes follow (0 to 7: the byte modulo 8)
//   then those sizes, one byte each (0 counts as 1), and then the stream.
// The stream is cut into chunks of those sizes in turn, as recv() would cut it; with no sizes it
// arrives in one chunk. So libFuzzer varies the knobs, the bytes and where reads end at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

// Aborts with the invariant's text: libFuzzer saves the input as a crash, the replay test fails.
#define FUZZ_CHECK(condition)                                                                   \
    do {                                                                                        \
        if (!(condition)) {                                                                     \
            std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                       \
        }                                                                                       \
    } while (0)

namespace archbench::fuzz {

struct ChunkedInput {
    std::uint16_t knob16 = 0;
    std::uint8_t knob8 = 0;
    std::vector<std::size_t> chunk_sizes;
    std::string_view stream;

    // Calls on_chunk(std::string_view) for each chunk in order, while it returns true.
    template <typename OnChunk>
    void for_each_chunk(OnChunk&& on_chunk) const {
        std::string_view rest = stream;
        for (std::size_t i = 0; !rest.empty(); ++i) {
            const std::size_t size = chunk_sizes.empty() ? rest.size() : chunk_sizes[i % chunk_sizes.size()];
            const std::string_view chunk = rest.substr(0, size);
            rest.remove_prefix(chunk.size());
            if (!on_chunk(chunk)) return;
        }
    }
};

// The input read as above; nothing when it is too short to hold its header.
inline std::optional<ChunkedInput> read_input(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return std::nullopt;
    ChunkedInput input;
    input.knob16 = static_cast<std::uint16_t>(data[0] | data[1] << 8);
    input.knob8 = data[2];
    const std::size_t sizes = data[3] % 8;
    if (size < 4 + sizes) return std::nullopt;
    for (std::size_t i = 0; i < sizes; ++i) input.chunk_sizes.push_back(data[4 + i] == 0 ? 1 : data[4 + i]);
    input.stream = std::string_view(reinterpret_cast<const char*>(data) + 4 + sizes, size - 4 - sizes);
    return input;
}

}  // namespace archbench::fuzz
