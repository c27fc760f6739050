// The in-memory HDF5 file is written from the driver's own buffer: the file on disk must be
// byte for byte the image HDF5 itself hands out (H5Fget_file_image, which clears the
// superblock's "open for writing" flags), and read back as written.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "io/hdf5_file.hpp"
#include "io/hdf5_memory.hpp"

using namespace xbar;

TEST_CASE("an in-memory HDF5 file is written as the image HDF5 hands out", "[io]") {
  const std::string path = (std::filesystem::temp_directory_path() / "xbar_test_memory_file.h5").string();
  Matrix m(300, 200);  // ~0.5 MB: the driver's buffer grows several times
  for (std::size_t k = 0; k < m.data.size(); ++k) m.data[k] = 0.5 * double(k) - 7.0;
  io::MemoryFile memory(path);
  H5::H5File& file = memory.file();
  const hsize_t dims[2] = {m.rows, m.cols};
  file.createDataSet("/m", H5::PredType::IEEE_F64LE, H5::DataSpace(2, dims))
      .write(m.data.data(), H5::PredType::NATIVE_DOUBLE);
  memory.write(path, path);

  const ssize_t size = H5Fget_file_image(file.getId(), nullptr, 0);
  REQUIRE(size > 0);
  std::vector<char> image(static_cast<std::size_t>(size));
  REQUIRE(H5Fget_file_image(file.getId(), image.data(), image.size()) == size);
  file.close();
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> written{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  REQUIRE(written.size() == image.size());
  CHECK(written == image);

  const Matrix back = io::read_matrix(path, "/m");
  CHECK(back.rows == m.rows);
  CHECK(back.data == m.data);
  std::filesystem::remove(path);
}
