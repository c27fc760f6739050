#include "io/hdf5_file.hpp"

#include <H5Cpp.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "io/hdf5_memory.hpp"
#include "io/interrupt.hpp"

namespace xbar::io {

namespace {

// Largest dataset read: 2^28 values (2 GiB as float64), checked before anything is allocated.
constexpr hsize_t k_max_values = hsize_t{1} << 28;

void check_readable_file(const std::string& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(file, ec);
  if (!fs::exists(status)) throw InputError(fmt::format("{}: file not found", file));
  if (fs::is_directory(status)) throw InputError(fmt::format("{}: is a folder, not an HDF5 file", file));
  if (access(file.c_str(), R_OK) != 0)
    throw InputError(fmt::format("{}: cannot read: {}", file, std::strerror(errno)));
  if (H5Fis_hdf5(file.c_str()) <= 0) throw InputError(fmt::format("{}: not an HDF5 file", file));
}

// Every link on the way to "a/b/c" must exist: H5Lexists fails, rather than answering no, when
// an intermediate group is missing.
bool link_exists(const H5::H5File& h5, const std::string& path) {
  std::string prefix;
  for (std::size_t start = 0; start < path.size();) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    if (slash > start) {
      prefix.append(1, '/').append(path, start, slash - start);
      if (H5Lexists(h5.getId(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    start = slash + 1;
  }
  return true;
}

H5::DataSet open_dataset(const H5::H5File& h5, const std::string& file, const std::string& dataset) {
  if (!link_exists(h5, dataset)) throw InputError(fmt::format("{}: dataset '{}' not found", file, dataset));
  if (h5.childObjType(dataset) != H5O_TYPE_DATASET)
    throw InputError(fmt::format("{}: '{}' is a group, not a dataset", file, dataset));
  return h5.openDataSet(dataset);
}

// Numbers as float64. Booleans (h5py and PyTables store them as an enum over an integer) are
// read raw and converted from their integer base type, which HDF5 does not do by itself.
void read_values(const H5::DataSet& ds, std::vector<double>& out, const std::string& file,
                 const std::string& dataset) {
  const H5::DataType type = ds.getDataType();
  const H5T_class_t type_class = type.getClass();
  if (type_class == H5T_FLOAT || type_class == H5T_INTEGER) {
    ds.read(out.data(), H5::PredType::NATIVE_DOUBLE);
    return;
  }
  const hid_t base = type_class == H5T_ENUM ? H5Tget_super(type.getId()) : -1;
  const bool integer_enum = base >= 0 && H5Tget_class(base) == H5T_INTEGER && type.getSize() <= sizeof(double);
  if (!integer_enum) {
    if (base >= 0) H5Tclose(base);
    throw InputError(fmt::format("{}: dataset '{}' does not hold numbers (integer, float or boolean)",
                                 file, dataset));
  }
  ds.read(out.data(), type);  // raw enum values, in place: the buffer has 8 bytes per value
  const herr_t converted = H5Tconvert(base, H5T_NATIVE_DOUBLE, out.size(), out.data(), nullptr, H5P_DEFAULT);
  H5Tclose(base);
  if (converted < 0) throw InputError(fmt::format("{}: dataset '{}': cannot convert its values to numbers", file, dataset));
}

Matrix read_dataset(const H5::DataSet& ds, const std::string& file, const std::string& dataset,
                    const std::function<void(std::size_t, std::size_t)>& check_shape) {
  const H5::DataSpace space = ds.getSpace();
  const int rank = space.getSimpleExtentNdims();
  if (rank != 2)
    throw InputError(fmt::format("{}: dataset '{}' has rank {}, expected a 2-D matrix", file, dataset, rank));
  hsize_t dims[2];
  space.getSimpleExtentDims(dims);
  if (check_shape) {
    const H5T_class_t type = ds.getTypeClass();
    if (type != H5T_FLOAT && type != H5T_INTEGER && type != H5T_ENUM)  // read_values tells the rest
      throw InputError(fmt::format("{}: dataset '{}' does not hold numbers (integer, float or boolean)", file, dataset));
    check_shape(dims[0], dims[1]);
  }
  if (dims[1] != 0 && dims[0] > k_max_values / dims[1])
    throw InputError(fmt::format("{}: dataset '{}' is {} x {}: too large, at most {} values are read",
                                 file, dataset, dims[0], dims[1], k_max_values));
  Matrix m(dims[0], dims[1]);
  if (!m.data.empty()) read_values(ds, m.data, file, dataset);
  return m;
}

}  // namespace

Matrix read_matrix(const std::string& file, const std::string& dataset,
                   const std::function<void(std::size_t, std::size_t)>& check_shape) {
  silence_hdf5();
  check_readable_file(file);
  H5::H5File h5;
  try {
    h5.openFile(file, H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: cannot open (damaged or truncated HDF5 file?): {}", file, hdf5_failure(e)));
  }
  try {
    return read_dataset(open_dataset(h5, file, dataset), file, dataset, check_shape);
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: cannot read dataset '{}': {}", file, dataset, hdf5_failure(e)));
  }
}

namespace {

// A write that fails (disk full, quota) is an output-path error like any other.
template <class Fn>
void writing(const std::string& file, const std::string& what, Fn&& fn) {
  try {
    fn();
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: cannot write {}: {}", file, what, hdf5_failure(e)));
  }
}

}  // namespace

struct H5Writer::Impl {
  Impl(std::string path, std::string shown) : path(std::move(path)), shown(std::move(shown)), memory(this->shown) {}

  std::string path, shown;  // the file written, the name errors give
  MemoryFile memory;
  H5::H5File& file = memory.file();

  // Intermediate groups are created on the way ("/columns/current"), as h5py does.
  H5::DataSet create(const std::string& dataset, const H5::DataType& type, const std::vector<hsize_t>& dims) {
    H5::LinkCreatPropList links;
    H5Pset_create_intermediate_group(links.getId(), 1);
    const H5::DataSpace space = dims.empty() ? H5::DataSpace(H5S_SCALAR)
                                             : H5::DataSpace(static_cast<int>(dims.size()), dims.data());
    return file.createDataSet(dataset, type, space, H5::DSetCreatPropList::DEFAULT,
                              H5::DSetAccPropList::DEFAULT, links);
  }

  template <class T>
  void scalar_attribute(const std::string& name, const H5::DataType& stored, const H5::DataType& memory,
                        const T& value) {
    writing(shown, fmt::format("attribute '{}'", name), [&] {
      file.createAttribute(name, stored, H5::DataSpace(H5S_SCALAR)).write(memory, &value);
    });
  }
};

H5Writer::H5Writer(const std::string& file) : H5Writer(file, file) {}

H5Writer::H5Writer(const AtomicOutput& output) : H5Writer(output.temp_path(), output.path()) {}

// The file is built in memory and written by close() (see hdf5_memory.hpp).
H5Writer::H5Writer(const std::string& path, const std::string& shown) {
  try {
    impl_ = std::make_unique<Impl>(path, shown);
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: cannot create HDF5 file (file system full?): {}", shown, hdf5_failure(e)));
  }
}

H5Writer::~H5Writer() = default;

void H5Writer::write(const std::string& name, const Matrix& m) {
  write(name, m.data, {m.rows, m.cols});
}

void H5Writer::write(const std::string& name, const std::vector<double>& v) {
  write(name, v, {v.size()});
}

void H5Writer::write(const std::string& name, std::span<const double> data,
                     const std::vector<std::size_t>& shape) {
  std::size_t elements = 1;
  for (std::size_t extent : shape) elements *= extent;
  if (elements != data.size())
    throw std::invalid_argument(fmt::format("H5Writer: dataset '{}' has {} values for {} elements",
                                            name, data.size(), elements));
  const std::vector<hsize_t> dims(shape.begin(), shape.end());
  writing(impl_->shown, fmt::format("dataset '{}'", name), [&] {
    impl_->create(name, H5::PredType::IEEE_F64LE, dims).write(data.data(), H5::PredType::NATIVE_DOUBLE);
  });
}

namespace {

H5::StrType utf8_string() {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  return type;
}

}  // namespace

void H5Writer::write_strings(const std::string& name, const std::vector<std::string>& strings) {
  const H5::StrType type = utf8_string();
  std::vector<const char*> pointers;
  for (const std::string& s : strings) pointers.push_back(s.c_str());
  writing(impl_->shown, fmt::format("dataset '{}'", name), [&] {
    impl_->create(name, type, {strings.size()}).write(pointers.data(), type);
  });
}

// Variable-length UTF-8: h5py reads it as str (a fixed-length string comes back as bytes).
void H5Writer::attribute(const std::string& name, const std::string& value) {
  const H5::StrType type = utf8_string();
  impl_->scalar_attribute(name, type, type, value.c_str());
}

void H5Writer::long_attribute(const std::string& name, const std::string& value) {
  constexpr std::size_t k_attribute_limit = 60000;  // HDF5's 64 KiB, less its header
  if (value.size() < k_attribute_limit) return attribute(name, value);
  const H5::StrType type = utf8_string();
  const char* text = value.c_str();
  writing(impl_->shown, fmt::format("dataset '{}'", name), [&] {
    impl_->create("/" + name, type, {}).write(&text, type);
  });
}

void H5Writer::attribute(const std::string& name, double value) {
  impl_->scalar_attribute(name, H5::PredType::IEEE_F64LE, H5::PredType::NATIVE_DOUBLE, value);
}

void H5Writer::integer_attribute(const std::string& name, std::int64_t value) {
  impl_->scalar_attribute(name, H5::PredType::STD_I64LE, H5::PredType::NATIVE_INT64, value);
}

void H5Writer::close() {
  writing(impl_->shown, "the file", [&] {
    impl_->memory.write(impl_->path, impl_->shown);
    impl_->file.close();
  });
}

}  // namespace xbar::io
