#pragma once
// HDF5 files built in memory and written out in one checked pass. Written in place, HDF5 reports
// a failed write (disk full, quota) late or not at all: its cache flushes when objects close,
// and a failed close left a file of zeros that looked complete. Built in memory (the core
// driver, no backing store), HDF5 never touches the disk; its image is then written with write()
// and fsync(), every call checked.
#include <H5Cpp.h>

#include <string>

namespace xbar::io {

/// Turns HDF5's own error printing off in the calling thread (HDF5 keeps one error stack per
/// thread): xbar reports one line instead. Cheap; call it before any HDF5 call in a thread.
void silence_hdf5();

/// What a failed HDF5 call says, for an error line. It also empties HDF5's error stack: entries
/// left on it hold references that HDF5's clean-up at exit cannot release ("infinite loop
/// closing library" on stderr) when no later HDF5 call clears them, as after a failed job.
std::string hdf5_failure(const H5::Exception& e);

/// An empty HDF5 file in memory (HDF5's core driver, no backing store), named `name` in
/// HDF5's messages; write_image() then writes it.
H5::H5File create_memory_file(const std::string& name);

/// Writes the file's image to `path` (created or truncated) with write() and fsync(), every
/// call checked. Throws InputError naming `shown` (the path the user gave) and the reason.
void write_image(H5::H5File& file, const std::string& path, const std::string& shown);

}  // namespace xbar::io
