#pragma once
// HDF5 files built in memory and written out in one checked pass. Written in place, HDF5 reports
// a failed write (disk full, quota) late or not at all: its cache flushes when objects close,
// and a failed close left a file of zeros that looked complete. Built in memory (the core
// driver, no backing store), HDF5 never touches the disk; its image is then written with write()
// and fsync(), every call checked.
#include <H5Cpp.h>

#include <cstddef>
#include <memory>
#include <string>

namespace xbar::io {

/// Turns HDF5's own error printing off in the calling thread (HDF5 keeps one error stack per
/// thread): xbar reports one line instead. Cheap; call it before any HDF5 call in a thread.
void silence_hdf5();

/// What a failed HDF5 call says, for an error line. It also empties HDF5's error stack: entries
/// left on it hold references that HDF5's clean-up at exit cannot release ("infinite loop
/// closing library" on stderr) when no later HDF5 call clears them, as after a failed job.
std::string hdf5_failure(const H5::Exception& e);

/// An empty HDF5 file in memory (HDF5's core driver, no backing store), named `name` in HDF5's
/// messages. The driver keeps the file's image in a buffer this object allocates (HDF5's
/// file-image callbacks), so write() writes that buffer itself: no copy of the image (tens of MB
/// for a large array's results) is made on the way out.
class MemoryFile {
 public:
  explicit MemoryFile(const std::string& name);
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile();

  H5::H5File& file() { return file_; }

  /// Writes the file's image to `path` (created or truncated) with write() and fsync(), every
  /// call checked. Throws InputError naming `shown` (the path the user gave) and the reason.
  void write(const std::string& path, const std::string& shown);

  /// The image as the driver holds it (for tests: write() writes exactly its first bytes).
  struct Image {
    void* data = nullptr;
    std::size_t size = 0;
  };

 private:
  std::unique_ptr<Image> image_;  // outlives file_: HDF5 frees the buffer when file_ closes
  H5::H5File file_;
};

}  // namespace xbar::io
