#pragma once
// HDF5 in and out: 2-D float64 datasets (row-major), string and number attributes. Writers are
// pointed at an AtomicOutput's temporary (atomic_output.hpp), so a failed or interrupted run
// never leaves a partial file and never touches an existing one.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/matrix.hpp"
#include "io/atomic_output.hpp"
#include "io/errors.hpp"

namespace xbar::io {


/// Reads a numeric 2-D dataset (any integer or float type) as float64. Throws InputError naming
/// the file and dataset: missing file, folder, unreadable, not HDF5, missing dataset, a group,
/// not numbers, wrong rank, too large. Boolean (enum) datasets are read as 0/1.
/// `check_shape(rows, cols)`, if given, sees the shape from the dataspace before anything is
/// allocated or read (a small file may declare a huge dataset), and throws to refuse it.
Matrix read_matrix(const std::string& file, const std::string& dataset,
                   const std::function<void(std::size_t, std::size_t)>& check_shape = {});

/// An HDF5 file built in memory and written whole by close(), every write checked (see
/// hdf5_memory.hpp): a failed write (disk full) is an InputError, never a file of zeros.
class H5Writer {
 public:
  explicit H5Writer(const std::string& file);  ///< creates (truncates) the file on close()
  /// Writes the output's temporary; errors name the output's path.
  explicit H5Writer(const AtomicOutput& output);
  ~H5Writer();
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  /// Writes a dataset, creating intermediate groups ("/columns/current").
  void write(const std::string& name, const Matrix& m);
  void write(const std::string& name, const std::vector<double>& v);
  /// An N-D dataset: data row-major (last index fastest), shape its extents.
  void write(const std::string& name, std::span<const double> data,
             const std::vector<std::size_t>& shape);
  /// A 1-D dataset of variable-length UTF-8 strings.
  void write_strings(const std::string& name, const std::vector<std::string>& strings);
  void attribute(const std::string& name, const std::string& value);
  void attribute(const std::string& name, double value);
  /// A root attribute when the string fits one (under 60,000 bytes), else a scalar string
  /// dataset "/name" instead: HDF5 attributes hold at most 64 KiB.
  void long_attribute(const std::string& name, const std::string& value);
  void integer_attribute(const std::string& name, std::int64_t value);
  /// Writes the file; without it nothing is written.
  void close();

 private:
  H5Writer(const std::string& path, const std::string& shown);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xbar::io
