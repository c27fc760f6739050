#include "io/atomic_output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "io/errors.hpp"
#include "io/interrupt.hpp"

namespace xbar::io {

namespace {

// Everything that would make the final rename fail, or do harm, is checked before any work.
void check_output_path(const std::string& path, const std::filesystem::path& dir,
                       const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string shown = shorten(path);
  std::error_code ec;
  if (path.empty()) throw InputError("output path is empty");
  const fs::file_status status = fs::status(target, ec);
  if (!target.has_filename() || fs::is_directory(status))
    throw InputError(fmt::format("{}: output path is a folder, expected a file name", shown));
  // The rename would replace a FIFO or a device node with a regular file.
  if (fs::exists(status) && !fs::is_regular_file(status))
    throw InputError(fmt::format("{}: output path exists and is not a regular file (a FIFO, socket or device): "
                                 "choose a file name", shown));
  if (!fs::is_directory(dir, ec))
    throw InputError(fmt::format("{}: output folder '{}' does not exist", shown, shorten(dir.string())));
  const long name_max = pathconf(dir.c_str(), _PC_NAME_MAX);
  const std::size_t name_length = target.filename().string().size();
  if (name_max > 0 && name_length > static_cast<std::size_t>(name_max))
    throw InputError(fmt::format("{}: output file name too long ({} characters, at most {})", shown,
                                 name_length, name_max));
  // On success the output replaces its path: it must not be a file this run reads.
  for (const std::string& input : inputs)
    if (!input.empty() && fs::equivalent(target, input, ec))
      throw InputError(fmt::format("{}: output path is the input file '{}': choose another output", shown,
                                   shorten(input)));
}

}  // namespace

AtomicOutput::AtomicOutput(std::string path, const std::vector<std::string>& inputs) : path_(std::move(path)) {
  const std::filesystem::path target(path_);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  check_output_path(path_, dir, inputs);
  create_temporary(dir.string(), target.filename().string());
}

// The temporary is created at once, so an unwritable folder is reported before any work, and
// registered first, so that an interrupt at any moment removes it.
void AtomicOutput::create_temporary(const std::string& dir, const std::string& name) {
  const std::string stem = name.substr(0, 200);  // the temporary name must stay within NAME_MAX
  for (int attempt = 0; attempt < 100; ++attempt) {
    temp_ = (std::filesystem::path(dir) / fmt::format(".{}.tmp-{}-{}", stem, getpid(), attempt)).string();
    register_temporary(temp_);
    const int fd = open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    const int error = errno;
    if (fd >= 0) {
      close(fd);
      return;
    }
    unregister_temporary(temp_);
    if (error != EEXIST)
      throw InputError(fmt::format("{}: cannot create a file in output folder '{}': {}", shorten(path_),
                                   shorten(dir), std::strerror(error)));
  }
  throw InputError(fmt::format("{}: cannot create a temporary file in '{}'", shorten(path_), shorten(dir)));
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) std::remove(temp_.c_str());
  unregister_temporary(temp_);
}

void AtomicOutput::commit() {
  std::error_code ec;
  std::filesystem::rename(temp_, path_, ec);
  if (ec) throw InputError(fmt::format("{}: cannot write output: {}", shorten(path_), ec.message()));
  committed_ = true;
}

}  // namespace xbar::io
