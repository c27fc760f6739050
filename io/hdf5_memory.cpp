#include "io/hdf5_memory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

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

namespace {

// HDF5's file-image callbacks: the core driver's buffer, allocated here and recorded in the
// Image (udata) so that write() can reach it.
void* image_malloc(std::size_t size, H5FD_file_image_op_t, void* udata) {
  auto* image = static_cast<MemoryFile::Image*>(udata);
  image->data = std::malloc(size);
  image->size = image->data ? size : 0;
  return image->data;
}

void* image_realloc(void* ptr, std::size_t size, H5FD_file_image_op_t, void* udata) {
  auto* image = static_cast<MemoryFile::Image*>(udata);
  void* grown = std::realloc(ptr, size);
  if (grown) image->data = grown, image->size = size;
  return grown;
}

herr_t image_free(void* ptr, H5FD_file_image_op_t, void* udata) {
  auto* image = static_cast<MemoryFile::Image*>(udata);
  if (ptr == image->data) image->data = nullptr, image->size = 0;
  std::free(ptr);
  return 0;
}

void* image_memcpy(void* dest, const void* src, std::size_t size, H5FD_file_image_op_t, void*) {
  return std::memcpy(dest, src, size);
}

// HDF5 copies the access property list, and its udata with it: every copy is the one Image.
void* udata_copy(void* udata) { return udata; }
herr_t udata_free(void*) { return 0; }

// The core driver (no backing store) with its buffer in `image`.
H5::FileAccPropList core_access(MemoryFile::Image* image) {
  silence_hdf5();
  H5::FileAccPropList access;
  H5Pset_fapl_core(access.getId(), 1 << 16, /*backing_store=*/false);
  H5FD_file_image_callbacks_t callbacks{image_malloc, image_memcpy, image_realloc, image_free,
                                        udata_copy,   udata_free,   image};
  if (H5Pset_file_image_callbacks(access.getId(), &callbacks) < 0)
    throw H5::FileIException("MemoryFile", "cannot set the file-image callbacks");
  return access;
}

}  // namespace

MemoryFile::MemoryFile(const std::string& name)
    : image_(std::make_unique<Image>()),
      file_(name, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, core_access(image_.get())) {}

MemoryFile::~MemoryFile() = default;

void MemoryFile::write(const std::string& path, const std::string& shown) {
  // After a flush the driver's buffer holds the whole image (its end of allocation, rounded up
  // to the increment): H5Fget_file_image with no buffer gives its size without copying it.
  if (H5Fflush(file_.getId(), H5F_SCOPE_GLOBAL) < 0)
    throw InputError(fmt::format("{}: cannot write output: HDF5 could not complete the file", shown));
  const ssize_t size = H5Fget_file_image(file_.getId(), nullptr, 0);
  if (size < 0 || static_cast<std::size_t>(size) > image_->size || (size > 0 && !image_->data))
    throw InputError(fmt::format("{}: cannot write output: HDF5 gave no file image", shown));
  const char* bytes = static_cast<const char*>(image_->data);
  const std::size_t total = static_cast<std::size_t>(size);
  // The superblock's status flags say "open for writing" in the live image; the image HDF5 would
  // hand out (and the file it writes on close) has them cleared: so does the head written here.
  // Superblock versions 0 and 1 keep 4 bytes of flags at offset 20, later ones 1 byte at 11.
  std::array<char, 24> head{};
  const std::size_t head_size = std::min(head.size(), total);
  std::memcpy(head.data(), bytes, head_size);
  if (head_size > 8) {
    const bool old_superblock = head[8] < 2;
    const std::size_t flags = old_superblock ? 20 : 11, flag_bytes = old_superblock ? 4 : 1;
    if (flags + flag_bytes <= head_size) std::memset(head.data() + flags, 0, flag_bytes);
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail(shown, "open", errno);
  for (std::size_t done = 0; done < total;) {
    const char* from = done < head_size ? head.data() + done : bytes + done;
    const std::size_t count = done < head_size ? head_size - done : total - done;
    const ssize_t n = ::write(fd, from, count);
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
