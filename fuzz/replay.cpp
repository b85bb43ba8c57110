// Replays inputs through a fuzz target without libFuzzer, so that the main build (g++, and the
// sanitizer builds) runs every committed corpus input and every regression as an ordinary test.
// Arguments: files, or directories whose files are replayed in name order; a directory that
// does not exist (no regressions yet) is skipped. A broken invariant aborts (FUZZ_CHECK). A run
// that replayed no input at all (a corpus moved or emptied) fails: it would check nothing.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void replay(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::printf("replaying %s (%zu bytes)\n", file.c_str(), bytes.size());
    std::fflush(stdout);  // so that the input is named when it aborts
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t replayed = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path path = argv[i];
        if (std::filesystem::is_directory(path)) {
            std::vector<std::filesystem::path> files;
            for (const auto& entry : std::filesystem::directory_iterator(path))
                if (entry.is_regular_file()) files.push_back(entry.path());
            std::sort(files.begin(), files.end());
            for (const auto& file : files) replay(file);
            replayed += files.size();
        } else if (std::filesystem::is_regular_file(path)) {
            replay(path);
            ++replayed;
        } else {
            std::printf("%s: no such file or directory, skipped\n", path.c_str());
        }
    }
    if (replayed == 0) {
        std::printf("no input replayed: nothing was checked\n");
        return 1;
    }
    std::printf("%zu inputs replayed, every invariant held\n", replayed);
    return 0;
}
