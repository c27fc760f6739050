#include "io/hdf5_file.hpp"

#include <H5Cpp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "io/interrupt.hpp"

namespace xbar::io {

namespace {

// HDF5 prints its own error stack to stderr by default; xbar reports one line instead.
void silence_hdf5() {
  static const bool once = [] {
    H5::Exception::dontPrint();
    return true;
  }();
  (void)once;
}

}  // namespace

Matrix read_matrix(const std::string& file, const std::string& dataset) {
  silence_hdf5();
  if (!std::filesystem::exists(file)) throw InputError(fmt::format("{}: file not found", file));
  if (H5Fis_hdf5(file.c_str()) <= 0) throw InputError(fmt::format("{}: not an HDF5 file", file));
  try {
    H5::H5File h5(file, H5F_ACC_RDONLY);
    if (!h5.nameExists(dataset))
      throw InputError(fmt::format("{}: dataset '{}' not found", file, dataset));
    H5::DataSet ds = h5.openDataSet(dataset);
    const H5T_class_t type = ds.getTypeClass();
    if (type != H5T_FLOAT && type != H5T_INTEGER)
      throw InputError(fmt::format("{}: dataset '{}' is not numeric", file, dataset));
    H5::DataSpace space = ds.getSpace();
    if (space.getSimpleExtentNdims() != 2)
      throw InputError(fmt::format("{}: dataset '{}' has rank {}, expected a 2-D matrix", file,
                                   dataset, space.getSimpleExtentNdims()));
    hsize_t dims[2];
    space.getSimpleExtentDims(dims);
    Matrix m(dims[0], dims[1]);
    ds.read(m.data.data(), H5::PredType::NATIVE_DOUBLE);
    return m;
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: cannot read dataset '{}': {}", file, dataset, e.getDetailMsg()));
  }
}

AtomicOutput::AtomicOutput(std::string path) : path_(std::move(path)) {
  const std::filesystem::path target(path_);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  if (!std::filesystem::is_directory(dir))
    throw InputError(fmt::format("{}: output folder '{}' does not exist", path_, dir.string()));
  if (std::filesystem::is_directory(target))
    throw InputError(fmt::format("{}: output path is a folder", path_));
  if (access(dir.c_str(), W_OK) != 0)
    throw InputError(fmt::format("{}: output folder '{}' is not writable", path_, dir.string()));
  temp_ = (dir / fmt::format(".{}.tmp-{}", target.filename().string(), getpid())).string();
  register_temporary(temp_);
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) std::remove(temp_.c_str());
  unregister_temporary(temp_);
}

void AtomicOutput::commit() {
  std::error_code ec;
  std::filesystem::rename(temp_, path_, ec);
  if (ec) throw InputError(fmt::format("{}: cannot write output: {}", path_, ec.message()));
  committed_ = true;
}

struct H5Writer::Impl {
  H5::H5File file;
};

H5Writer::H5Writer(const std::string& file) : impl_(std::make_unique<Impl>()) {
  silence_hdf5();
  try {
    impl_->file = H5::H5File(file, H5F_ACC_TRUNC);
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: cannot create HDF5 file: {}", file, e.getDetailMsg()));
  }
}

H5Writer::~H5Writer() = default;

namespace {

// Intermediate groups are created on the way (as h5py does).
H5::DataSet create_dataset(H5::H5File& file, const std::string& name, const H5::DataType& type,
                           const std::vector<hsize_t>& dims) {
  H5::LinkCreatPropList links;
  H5Pset_create_intermediate_group(links.getId(), 1);
  const H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  return file.createDataSet(name, type, space, H5::DSetCreatPropList::DEFAULT,
                            H5::DSetAccPropList::DEFAULT, links);
}

}  // namespace

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
  create_dataset(impl_->file, name, H5::PredType::IEEE_F64LE, dims)
      .write(data.data(), H5::PredType::NATIVE_DOUBLE);
}

void H5Writer::write_strings(const std::string& name, const std::vector<std::string>& strings) {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  std::vector<const char*> pointers;
  for (const std::string& s : strings) pointers.push_back(s.c_str());
  create_dataset(impl_->file, name, type, {strings.size()}).write(pointers.data(), type);
}

void H5Writer::attribute(const std::string& name, const std::string& value) {
  H5::StrType type(H5::PredType::C_S1, value.empty() ? 1 : value.size());
  type.setCset(H5T_CSET_UTF8);
  H5::Attribute a = impl_->file.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  a.write(type, value.empty() ? std::string(" ") : value);
}

void H5Writer::attribute(const std::string& name, double value) {
  H5::Attribute a = impl_->file.createAttribute(name, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR));
  a.write(H5::PredType::NATIVE_DOUBLE, &value);
}

void H5Writer::close() { impl_->file.close(); }

}  // namespace xbar::io
