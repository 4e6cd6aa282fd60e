#include "lab/text_table.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace kindling::lab {

void TextTable::addRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::render(std::string_view indent) const {
  std::vector<size_t> widths(columns_.size(), 0);
  for (size_t c = 0; c < columns_.size(); ++c) {
    widths[c] = columns_[c].title.size();
    for (const auto& row : rows_) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  auto emit = [&](const std::vector<std::string_view>& cells) {
    std::string line(indent);
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (c > 0) line.append(2, ' ');
      const size_t pad = widths[c] - cells[c].size();
      if (columns_[c].align == Align::Right) line.append(pad, ' ');
      line.append(cells[c]);
      if (columns_[c].align == Align::Left) line.append(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.append(line).push_back('\n');
  };
  std::vector<std::string_view> cells(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) cells[c] = columns_[c].title;
  emit(cells);
  std::vector<std::string> rules(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    rules[c].assign(widths[c], '-');
    cells[c] = rules[c];
  }
  emit(cells);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < columns_.size(); ++c) cells[c] = row[c];
    emit(cells);
  }
  return out;
}

std::string formatMs(double ms) {
  const double magnitude = std::fabs(ms);
  if (magnitude < 10) return fmt::format("{:.2f}", ms);
  if (magnitude < 1000) return fmt::format("{:.1f}", ms);
  return fmt::format("{:.0f}", ms);
}

std::string formatAmount(double value) {
  if (std::isfinite(value) && std::trunc(value) == value && std::fabs(value) < 1e15) {
    return fmt::format("{:.0f}", value);
  }
  return formatMs(value);
}

std::string formatFixed(double value, int decimals) { return fmt::format("{:.{}f}", value, decimals); }

}  // namespace kindling::lab
