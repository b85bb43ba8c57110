// The table both protocol modules must agree on (tests/data/zen_cases.json), against
// protocol/zen.cpp; tests/python/test_zen.py reads the same table against servers/python/zen.py.
// tests/data/http_cases.json is the same kind of table for the HTTP/1.1 mode (its "protocol":
// "http"), read by the same test.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "protocol/zen.hpp"

using namespace archbench::zen;

namespace {

// The table's strings are bytes, one character (code point 0 to 255) each; nlohmann gives UTF-8.
std::string bytes_of(const std::string& utf8) {
    std::string bytes;
    for (std::size_t i = 0; i < utf8.size(); ++i) {
        const auto lead = static_cast<unsigned char>(utf8[i]);
        if (lead < 0x80) {
            bytes.push_back(static_cast<char>(lead));
        } else {  // U+0080 to U+00FF: two bytes, 110000xx 10xxxxxx
            EXPECT_TRUE(lead == 0xC2 || lead == 0xC3) << "not a byte: a code point above 255";
            bytes.push_back(static_cast<char>(((lead & 0x03) << 6) | (utf8[++i] & 0x3F)));
        }
    }
    return bytes;
}

std::string read_of(const nlohmann::json& read) {
    if (read.is_string()) return bytes_of(read.get<std::string>());
    std::string repeated;
    for (int i = 0; i < read.at("times").get<int>(); ++i)
        repeated += bytes_of(read.at("repeat").get<std::string>());
    return repeated;
}

nlohmann::json the_table(const char* path = ARCHBENCH_ZEN_CASES) {
    std::ifstream file(path);
    EXPECT_TRUE(file) << "cannot read " << path;
    return nlohmann::json::parse(file);
}

// Feeds every case of `table` to a conversation in the table's protocol.
void expect_every_output(const nlohmann::json& table) {
    const std::optional<Protocol> protocol = protocol_named(table.value("protocol", std::string("zen")));
    ASSERT_TRUE(protocol.has_value());
    for (const nlohmann::json& each : table.at("cases")) {
        SCOPED_TRACE(each.at("name").get<std::string>());
        Workload workload;
        workload.protocol = *protocol;
        workload.reply_bytes = each.value("reply_bytes", std::size_t{0});
        workload.max_request = each.value("max_request", kDefaultMaxRequest);
        Conversation conversation(workload);
        std::string output;
        FrameStatus status = FrameStatus::ok;
        for (const nlohmann::json& read : each.at("reads")) {
            status = conversation.on_input(read_of(read), output);
            if (status == FrameStatus::close_after) break;
        }
        EXPECT_EQ(output, bytes_of(each.at("output").get<std::string>()));
        EXPECT_EQ(status == FrameStatus::close_after, each.at("closes").get<bool>());
        if (!each.at("closes").get<bool>()) {
            EXPECT_EQ(conversation.mid_question(), each.at("mid_question").get<bool>());
        }
    }
}

}  // namespace

TEST(ZenCases, TheTableHasCases) {
    EXPECT_GE(the_table().at("cases").size(), 20u);
    EXPECT_GE(the_table(ARCHBENCH_HTTP_CASES).at("cases").size(), 30u);
}

TEST(ZenCases, EveryCaseOfTheSharedTableGetsItsOutput) { expect_every_output(the_table()); }

TEST(ZenCases, EveryCaseOfTheHttpTableGetsItsOutput) { expect_every_output(the_table(ARCHBENCH_HTTP_CASES)); }
