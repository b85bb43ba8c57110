// --hgrm writes what HdrHistogram's outputPercentileDistribution() writes, so that its plotters
// read our files.
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "loadgen/histogram.hpp"
#include "loadgen/report.hpp"

using archbench::load::LatencyHistogram;

namespace {

std::string distribution_of(const LatencyHistogram& histogram) {
    char* text = nullptr;
    std::size_t size = 0;
    std::FILE* out = open_memstream(&text, &size);
    archbench::load::write_percentile_distribution(out, histogram);
    std::fclose(out);
    std::string result(text, size);
    std::free(text);
    return result;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

struct Row {
    double value;
    double percentile;
    unsigned long long total;
};

std::vector<Row> rows_of(const std::string& text) {
    std::vector<Row> rows;
    for (const std::string& line : lines_of(text)) {
        Row row{};
        if (line.empty() || line[0] == '#') continue;
        if (std::sscanf(line.c_str(), "%lf %lf %llu", &row.value, &row.percentile, &row.total) == 3)
            rows.push_back(row);
    }
    return rows;
}

LatencyHistogram one_to_ten_thousand_microseconds() {
    LatencyHistogram histogram;
    for (std::uint64_t us = 1; us <= 10'000; ++us) histogram.record(us * 1'000);
    return histogram;
}

}  // namespace

TEST(Hgrm, StartsWithHdrHistogramsHeaderAndABlankLine) {
    const std::vector<std::string> lines = lines_of(distribution_of(one_to_ten_thousand_microseconds()));
    ASSERT_GE(lines.size(), 2u);
    EXPECT_EQ(lines[0], "       Value     Percentile TotalCount 1/(1-Percentile)");
    EXPECT_EQ(lines[1], "");
}

TEST(Hgrm, PercentilesStepFiveTimesPerHalvingOfTheDistanceToOneHundred) {
    const std::vector<Row> rows = rows_of(distribution_of(one_to_ten_thousand_microseconds()));
    const std::vector<double> expected = {0.0,   0.1,    0.2,   0.3,    0.4,   0.5,    0.55,  0.6,
                                          0.65,  0.7,    0.75,  0.775,  0.8,   0.825,  0.85,  0.875,
                                          0.8875, 0.9,   0.9125, 0.925, 0.9375, 0.94375, 0.95};
    ASSERT_GE(rows.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(rows[i].percentile, expected[i], 1e-9) << i;
}

TEST(Hgrm, ValuesAreMillisecondsAndTheLastLineIsTheMaximumAtPercentileOne) {
    const std::string text = distribution_of(one_to_ten_thousand_microseconds());
    const std::vector<Row> rows = rows_of(text);
    ASSERT_FALSE(rows.empty());
    EXPECT_NEAR(rows.front().value, 0.001, 1e-9);  // 1 us
    EXPECT_NEAR(rows.back().value, 10.0, 1e-9);    // 10,000 us
    EXPECT_EQ(rows.back().percentile, 1.0);
    EXPECT_EQ(rows.back().total, 10'000u);
    // The last line has no 1/(1-Percentile) column, which would be infinite.
    const std::vector<std::string> lines = lines_of(text);
    const std::string last_row = lines[lines.size() - 4];
    EXPECT_EQ(last_row, "   10.000000 1.000000000000      10000");
}

TEST(Hgrm, RowsClimbInValueAndCountAndKeepTheInverseColumn) {
    const std::string text = distribution_of(one_to_ten_thousand_microseconds());
    const std::vector<Row> rows = rows_of(text);
    for (std::size_t i = 1; i < rows.size(); ++i) {
        EXPECT_GE(rows[i].value, rows[i - 1].value);
        EXPECT_GE(rows[i].percentile, rows[i - 1].percentile);
        EXPECT_GE(rows[i].total, rows[i - 1].total);
    }
    bool saw_median = false;
    for (const std::string& line : lines_of(text)) {
        double value, percentile, inverse;
        unsigned long long total;
        if (std::sscanf(line.c_str(), "%lf %lf %llu %lf", &value, &percentile, &total, &inverse) != 4) continue;
        EXPECT_NEAR(inverse, 1 / (1 - percentile), 0.01) << line;
        if (percentile == 0.5) {
            saw_median = true;
            EXPECT_NEAR(value, 5.0, 0.005) << line;  // 5,000 us within 0.1%
        }
    }
    EXPECT_TRUE(saw_median);
}

TEST(Hgrm, FooterGivesMeanMaxTotalCountAndLayout) {
    const std::vector<std::string> lines = lines_of(distribution_of(one_to_ten_thousand_microseconds()));
    ASSERT_GE(lines.size(), 3u);
    double mean = 0, deviation = 0;
    ASSERT_EQ(std::sscanf(lines[lines.size() - 3].c_str(), "#[Mean    = %lf, StdDeviation   = %lf]", &mean,
                          &deviation), 2)
        << lines[lines.size() - 3];
    EXPECT_DOUBLE_EQ(mean, 5.0005);
    EXPECT_NEAR(deviation, 2.886751, 0.003);  // from the counters' middle values: within 0.1%
    EXPECT_EQ(lines[lines.size() - 2], "#[Max     =    10.000000, Total count    =        10000]");
    EXPECT_EQ(lines[lines.size() - 1], "#[Buckets =           32, SubBuckets     =         2048]");
}

TEST(Hgrm, AnEmptyHistogramHasHeaderAndFooterOnly) {
    const std::string text = distribution_of(LatencyHistogram());
    EXPECT_TRUE(rows_of(text).empty());
    EXPECT_NE(text.find("Total count    =            0"), std::string::npos) << text;
}
