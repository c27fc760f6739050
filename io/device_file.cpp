#include "io/device_file.hpp"

#include <H5Cpp.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/errors.hpp"
#include "io/hdf5_memory.hpp"
#include "io/results.hpp"

namespace xbar::io {

namespace {

const char* const k_partials[3] = {"/di_dvg", "/di_dvd", "/di_dvs"};
constexpr hsize_t k_max_values = hsize_t{1} << 28;  // 2 GiB as float64, checked before allocating

// ---- writing ---------------------------------------------------------------------------------

void write_dataset(H5::H5File& file, const std::string& name, const std::vector<hsize_t>& dims,
                   const std::vector<double>& data) {
  H5::LinkCreatPropList links;
  H5Pset_create_intermediate_group(links.getId(), 1);
  const H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  H5::DataSet ds = file.createDataSet(name, H5::PredType::IEEE_F64LE, space, H5::DSetCreatPropList::DEFAULT,
                                      H5::DSetAccPropList::DEFAULT, links);
  ds.write(data.data(), H5::PredType::NATIVE_DOUBLE);
}

void write_attribute(H5::H5File& file, const std::string& name, const std::string& value) {
  H5::StrType type(H5::PredType::C_S1, value.empty() ? 1 : value.size());
  type.setCset(H5T_CSET_UTF8);
  file.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, value.empty() ? std::string(" ") : value);
}

void write_attribute(H5::H5File& file, const std::string& name, double value) {
  file.createAttribute(name, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR))
      .write(H5::PredType::NATIVE_DOUBLE, &value);
}

// The resolved card text can be megabytes (a PDK's binned models): a deflate-compressed 1-D
// uint8 dataset, not an attribute (attributes are limited to 64 KiB).
void write_text_dataset(H5::H5File& file, const std::string& name, const std::string& text) {
  const hsize_t size = text.size(), chunk = std::clamp<hsize_t>(size, 1, hsize_t{1} << 16);
  H5::DSetCreatPropList properties;
  properties.setChunk(1, &chunk);
  properties.setDeflate(6);
  const H5::DataSpace space(1, &size);
  H5::DataSet ds = file.createDataSet(name, H5::PredType::STD_U8LE, space, properties);
  if (size > 0) ds.write(text.data(), H5::PredType::NATIVE_UCHAR);
}

void write_card(H5::H5File& file, const devices::ModelCard& card) {
  write_text_dataset(file, "/model_text", card.text);
  write_attribute(file, "device", card.device);
  write_attribute(file, "kind", std::string(card.kind == devices::CardKind::model ? "model" : "subckt"));
  // True sizes in metres; the instance line's values (the card's unit, .option scale) exactly as given.
  if (card.w) write_attribute(file, "w", *card.width_m()), write_attribute(file, "w_instance", *card.w);
  if (card.l) write_attribute(file, "l", *card.length_m()), write_attribute(file, "l_instance", *card.l);
  write_attribute(file, "scale", card.scale);
  write_attribute(file, "temp", card.temp_c);
}

void write_envelope(H5::H5File& file, const devices::EkvParams& e) {
  write_attribute(file, "envelope_n", e.n);
  write_attribute(file, "envelope_i_s", e.i_s);
  write_attribute(file, "envelope_eta", e.eta);
  write_attribute(file, "envelope_vt", e.vt);
}

// ---- reading ---------------------------------------------------------------------------------

class Reader {
 public:
  Reader(const std::string& path, H5::H5File& file) : path_(path), file_(file) {}

  [[noreturn]] void fail(const std::string& what) const { throw InputError(fmt::format("{}: {}", path_, what)); }

  std::vector<double> dataset(const std::string& name, const std::vector<hsize_t>& dims) const {
    if (!file_.nameExists(name)) fail(fmt::format("dataset '{}' not found (not a file of xbar characterize?)", name));
    H5::DataSet ds = file_.openDataSet(name);
    const H5::DataSpace space = ds.getSpace();
    std::vector<hsize_t> shape(space.getSimpleExtentNdims());
    space.getSimpleExtentDims(shape.data());
    if (ds.getTypeClass() != H5T_FLOAT || (!dims.empty() && shape != dims) || shape.size() != (dims.empty() ? 1 : dims.size()))
      fail(fmt::format("dataset '{}' must be float64 of shape [{}]", name, fmt::join(dims, ", ")));
    hsize_t count = 1;
    for (hsize_t d : shape) count = d != 0 && count > k_max_values / d ? k_max_values + 1 : count * d;
    if (count > k_max_values)
      fail(fmt::format("dataset '{}' declares more than {} values: not a device table", name, k_max_values));
    std::vector<double> data(count);
    ds.read(data.data(), H5::PredType::NATIVE_DOUBLE);
    return data;
  }

  std::string text_dataset(const std::string& name) const {
    H5::DataSet ds = file_.openDataSet(name);
    const H5::DataSpace space = ds.getSpace();
    if (ds.getTypeClass() != H5T_INTEGER || ds.getIntType().getSize() != 1 || space.getSimpleExtentNdims() != 1)
      fail(fmt::format("dataset '{}' must be a 1-D array of bytes (the model card's text)", name));
    hsize_t size = 0;
    space.getSimpleExtentDims(&size);
    std::string text(size, '\0');
    if (size > 0) ds.read(text.data(), H5::PredType::NATIVE_UCHAR);
    return text;
  }

  bool has_attribute(const std::string& name) const { return file_.attrExists(name); }
  bool has_dataset(const std::string& name) const { return file_.nameExists(name); }

  // An attribute holding one value of the expected class, checked before it is read into one.
  H5::Attribute scalar(const std::string& name, bool text) const {
    if (!has_attribute(name)) fail(fmt::format("root attribute '{}' not found", name));
    H5::Attribute a = file_.openAttribute(name);
    const H5T_class_t type = a.getTypeClass();
    const bool ok = text ? type == H5T_STRING : type == H5T_FLOAT || type == H5T_INTEGER;
    if (a.getSpace().getSimpleExtentNpoints() != 1 || a.getSpace().getSimpleExtentNdims() > 1 || !ok)
      fail(fmt::format("root attribute '{}' must be one {}", name, text ? "string" : "number"));
    return a;
  }

  double number(const std::string& name) const {
    double value = 0;
    scalar(name, false).read(H5::PredType::NATIVE_DOUBLE, &value);
    return value;
  }

  double number_or(const std::string& name, double fallback) const {
    return has_attribute(name) ? number(name) : fallback;
  }

  std::string text(const std::string& name) const {
    const H5::Attribute a = scalar(name, true);
    std::string value;
    a.read(a.getStrType(), value);
    return value;
  }

 private:
  const std::string& path_;
  H5::H5File& file_;
};

devices::ModelCard read_card(const Reader& r) {
  // The instance line's sizes: `w_instance`; files written before the card's scale was read
  // have only `w`, which then held exactly that value.
  std::optional<double> w, l;
  if (r.has_attribute("w")) w = r.number_or("w_instance", r.number("w"));
  if (r.has_attribute("l")) l = r.number_or("l_instance", r.number("l"));
  // The card text: a dataset; an attribute in files written before it could exceed 64 KiB.
  const std::string text = r.has_dataset("/model_text") ? r.text_dataset("/model_text") : r.text("model_text");
  try {
    devices::ModelCard card = devices::make_model_card(text, r.text("device"), w, l, r.number("temp"));
    return card;
  } catch (const std::invalid_argument& e) {
    r.fail(e.what());
  }
}

devices::TableSamples read_samples(const Reader& r) {
  devices::TableSamples s;
  s.grid = {r.dataset("/grid/v_g", {}), r.dataset("/grid/v_s", {}), r.dataset("/grid/v_ds", {})};
  const std::vector<hsize_t> dims{s.grid.v_g.size(), s.grid.v_s.size(), s.grid.v_ds.size()};
  s.i_ds = r.dataset("/i_ds", dims);
  s.fd_step = r.number_or("fd_step", 0.0);
  std::vector<double>* partials[3] = {&s.di_dvg, &s.di_dvd, &s.di_dvs};
  for (int k = 0; k < 3; ++k)
    if (r.has_dataset(k_partials[k])) *partials[k] = r.dataset(k_partials[k], dims);
  return s;
}

}  // namespace

void write_device_file(const std::string& path, const DeviceFile& device) {
  try {
    MemoryFile memory(path);
    H5::H5File& file = memory.file();
    const devices::TableGrid& g = device.samples.grid;
    write_dataset(file, "/grid/v_g", {g.v_g.size()}, g.v_g);
    write_dataset(file, "/grid/v_s", {g.v_s.size()}, g.v_s);
    write_dataset(file, "/grid/v_ds", {g.v_ds.size()}, g.v_ds);
    const std::vector<hsize_t> dims{g.v_g.size(), g.v_s.size(), g.v_ds.size()};
    write_dataset(file, "/i_ds", dims, device.samples.i_ds);
    const std::vector<double>* partials[3] = {&device.samples.di_dvg, &device.samples.di_dvd, &device.samples.di_dvs};
    for (int k = 0; k < 3; ++k)
      if (!partials[k]->empty()) write_dataset(file, k_partials[k], dims, *partials[k]);
    write_card(file, device.card);
    write_envelope(file, device.envelope);
    write_attribute(file, "fd_step", device.samples.fd_step);
    write_attribute(file, "check_points", device.quality.points);
    write_attribute(file, "check_max_rel_error", device.quality.max_rel_error);
    write_attribute(file, "check_rms_rel_error", device.quality.rms_rel_error);
    write_attribute(file, "characterize_time", device.quality.characterize_time);
    write_attribute(file, "xbar_version", std::string(k_xbar_version));
    memory.write(path, path);
    file.close();
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: cannot write device table: {}", path, hdf5_failure(e)));
  }
}

DeviceFile read_device_file(const std::string& path) {
  silence_hdf5();
  if (!std::filesystem::exists(path)) throw InputError(fmt::format("{}: file not found", path));
  if (H5Fis_hdf5(path.c_str()) <= 0) throw InputError(fmt::format("{}: not an HDF5 file", path));
  try {
    H5::H5File file(path, H5F_ACC_RDONLY);
    const Reader r(path, file);
    DeviceFile out{read_card(r), read_samples(r),
                   {.n = r.number("envelope_n"), .i_s = r.number("envelope_i_s"), .eta = r.number("envelope_eta"),
                    .vt = r.number("envelope_vt")},
                   {r.number_or("check_points", 0), r.number_or("check_max_rel_error", NAN),
                    r.number_or("check_rms_rel_error", NAN), r.number_or("characterize_time", NAN)}};
    return out;
  } catch (const H5::Exception& e) {
    throw InputError(fmt::format("{}: cannot read device table: {}", path, hdf5_failure(e)));
  }
}

std::shared_ptr<const devices::TabulatedTransistor> load_tabulated_transistor(const std::string& path) {
  DeviceFile file = read_device_file(path);
  try {
    return std::make_shared<const devices::TabulatedTransistor>(
        devices::TabulatedTransistor{std::move(file.card), devices::TableDevice(file.samples, file.envelope)});
  } catch (const std::invalid_argument& e) {
    throw InputError(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace xbar::io
