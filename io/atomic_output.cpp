#include "io/atomic_output.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string_view>

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

// A process id in a temporary's name, when `name` is exactly ".{stem}.tmp-PID-N" (digits only).
std::optional<pid_t> temporary_pid(std::string_view name, std::string_view stem) {
  const std::string prefix = fmt::format(".{}.tmp-", stem);
  if (!name.starts_with(prefix)) return std::nullopt;
  name.remove_prefix(prefix.size());
  const std::size_t dash = name.find('-');
  const auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (dash == std::string_view::npos || !digits(name.substr(0, dash)) || !digits(name.substr(dash + 1)))
    return std::nullopt;
  long long pid = 0;
  std::from_chars(name.data(), name.data() + dash, pid);
  if (pid <= 0 || pid > std::numeric_limits<pid_t>::max()) return std::nullopt;
  return static_cast<pid_t>(pid);
}

// Temporaries of this output left by runs that were killed (SIGKILL, a crash: nothing could
// remove them): named exactly as create_temporary names them, by a process that no longer
// exists on this machine. A live process's temporary, its own, and any other file stay.
void remove_stale_temporaries(const std::filesystem::path& dir, std::string_view stem) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::optional<pid_t> pid = temporary_pid(it->path().filename().string(), stem);
    if (pid && *pid != getpid() && kill(*pid, 0) != 0 && errno == ESRCH && it->is_regular_file(ec))
      std::filesystem::remove(it->path(), ec);
  }
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
  remove_stale_temporaries(dir, stem);
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
