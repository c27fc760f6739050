#pragma once
// A job's result as bytes: what crosses from one rank to another and goes into a journal. Numbers
// are copied bit for bit (a result read back is the same double), in the machine's byte order
// (every rank of a run and the run that resumes a journal are the same build on the same kind of
// machine).
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace xbar::parallel {

using Bytes = std::string;

class ByteWriter {
 public:
  template <class T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes_.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
  /// A count, then the elements.
  template <class T>
  void put_span(std::span<const T> values) {
    static_assert(std::is_trivially_copyable_v<T>);
    put<std::uint64_t>(values.size());
    bytes_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
  }
  void put_string(const std::string& s) { put_span<char>(s); }
  Bytes take() { return std::move(bytes_); }

 private:
  Bytes bytes_;
};

/// Reads what ByteWriter wrote, in the same order; throws std::runtime_error past the end.
class ByteReader {
  // Reads from bytes it does not own: keep them alive while reading.
 public:
  explicit ByteReader(const Bytes& bytes) : bytes_(bytes) {}
  template <class T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof value), sizeof value);
    return value;
  }
  template <class T>
  std::vector<T> get_vector() {
    const auto n = get<std::uint64_t>();
    if (n > (bytes_.size() - offset_) / sizeof(T)) throw std::runtime_error("job result: truncated");
    std::vector<T> values(n);
    if (n) std::memcpy(values.data(), take(n * sizeof(T)), n * sizeof(T));
    return values;
  }
  std::string get_string() {
    const std::vector<char> chars = get_vector<char>();
    return {chars.begin(), chars.end()};
  }
  bool at_end() const { return offset_ == bytes_.size(); }

 private:
  const char* take(std::size_t n) {
    if (n > bytes_.size() - offset_) throw std::runtime_error("job result: truncated");
    const char* p = bytes_.data() + offset_;
    offset_ += n;
    return p;
  }
  const Bytes& bytes_;
  std::size_t offset_ = 0;
};

}  // namespace xbar::parallel
