// Internal to kd_lab: a plain-ASCII table with aligned columns for the terminal reports
// (renderTable, renderTuneTable) and the compact number formats they share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kindling::lab {

class TextTable {
 public:
  enum class Align { Left, Right };
  struct Column {
    std::string title;
    Align align = Align::Left;
  };

  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // Appends a row; missing trailing cells render empty, extra cells are ignored. Not thread-safe.
  void addRow(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }
  // Header, a dashed rule, the rows; columns separated by two spaces, each line prefixed by
  // `indent`, no trailing blanks, "\n" after every line. Not thread-safe against addRow.
  std::string render(std::string_view indent = "") const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Milliseconds, 3 significant-ish digits: 0.91, 25.1, 1234.
std::string formatMs(double ms);
// A quantity printed as an integer when it is one, else like formatMs (memory in MB).
std::string formatAmount(double value);
// Fixed decimals.
std::string formatFixed(double value, int decimals);

}  // namespace kindling::lab
