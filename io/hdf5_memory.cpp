#include "io/hdf5_memory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "io/errors.hpp"

namespace xbar::io {

void silence_hdf5() {
  thread_local const bool once = [] {
    H5::Exception::dontPrint();  // H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) of this thread
    return true;
  }();
  (void)once;
}

std::string hdf5_failure(const H5::Exception& e) {
  H5Eclear2(H5E_DEFAULT);
  return e.getDetailMsg();
}

namespace {

[[noreturn]] void fail(const std::string& shown, const char* what, int error) {
  throw InputError(fmt::format("{}: cannot write output ({}): {}", shown, what, std::strerror(error)));
}

}  // namespace

H5::H5File create_memory_file(const std::string& name) {
  silence_hdf5();
  H5::FileAccPropList access;
  H5Pset_fapl_core(access.getId(), 1 << 16, /*backing_store=*/false);
  return H5::H5File(name, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, access);
}

void write_image(H5::H5File& file, const std::string& path, const std::string& shown) {
  if (H5Fflush(file.getId(), H5F_SCOPE_GLOBAL) < 0)
    throw InputError(fmt::format("{}: cannot write output: HDF5 could not complete the file", shown));
  const ssize_t size = H5Fget_file_image(file.getId(), nullptr, 0);
  std::vector<char> image(static_cast<std::size_t>(std::max<ssize_t>(size, 0)));
  if (size < 0 || H5Fget_file_image(file.getId(), image.data(), image.size()) != size)
    throw InputError(fmt::format("{}: cannot write output: HDF5 gave no file image", shown));
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail(shown, "open", errno);
  for (std::size_t done = 0; done < image.size();) {
    const ssize_t n = write(fd, image.data() + done, image.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : ENOSPC;
      close(fd);
      fail(shown, "write", error);
    }
    done += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {  // EINVAL: a file system without fsync
    const int error = errno;
    close(fd);
    fail(shown, "fsync", error);
  }
  if (close(fd) != 0) fail(shown, "close", errno);
}

}  // namespace xbar::io
