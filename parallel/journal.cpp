#include "parallel/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "io/errors.hpp"

namespace xbar::parallel {

namespace {

constexpr std::string_view k_magic = "xbar journal 1\n";

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::uint64_t record_checksum(std::uint64_t index, std::string_view result) {
  const std::uint64_t head[2] = {index, result.size()};
  return fnv1a(result, fnv1a({reinterpret_cast<const char*>(head), sizeof head}));
}

void write_all(int fd, const std::string& bytes, const std::string& path) {
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw io::InputError(fmt::format("{}: cannot write the journal: {}", path, std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash) {
  for (const char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return hash;
}

Journal::Journal(const std::string& output, const std::string& identity, std::size_t jobs, bool resume)
    : path_(output + ".journal") {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw io::InputError(fmt::format("{}: cannot open the journal: {}", path_, std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw io::InputError(fmt::format("{}: another xbar run is writing this journal (to the same output)", path_));
  }
  const bool empty = ::lseek(fd_, 0, SEEK_END) == 0;  // created, or killed before its header
  if (resume && !empty) {
    read_back(identity, jobs);
    return;
  }
  if (!empty && !resume)
    fmt::print(stderr, "xbar: note: {} holds the finished jobs of an earlier run: starting afresh "
               "(--resume continues it)\n", path_);
  start(identity);
}

Journal::~Journal() {
  if (fd_ < 0) return;
  // A run that ends without its output keeps the journal for --resume, unless it holds no
  // finished job (e.g. the first job failed on bad input): then there is nothing to resume.
  if (finished_.empty() && recorded_ == 0) ::unlink(path_.c_str());
  ::close(fd_);  // releases the lock
}

void Journal::start(const std::string& identity) {
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0)
    throw io::InputError(fmt::format("{}: cannot truncate the journal: {}", path_, std::strerror(errno)));
  write_all(fd_, std::string(k_magic) + identity + "\n", path_);
  ::fdatasync(fd_);
  last_sync_ns_ = now_ns();
}

void Journal::read_back(const std::string& identity, std::size_t jobs) {
  const std::string text = read_file(path_);
  const std::size_t header_end = text.find('\n', k_magic.size());
  if (text.compare(0, k_magic.size(), k_magic) != 0 || header_end == std::string::npos)
    throw io::InputError(fmt::format("{}: not an xbar journal (it does not start with '{}'): remove it or "
                                     "choose another output", path_, k_magic.substr(0, k_magic.size() - 1)));
  const std::string found = text.substr(k_magic.size(), header_end - k_magic.size());
  if (found != identity)
    throw io::InputError(fmt::format("{}: --resume: the journal is of another run ({}), not of this one ({}): "
                                     "never merged; remove the journal or run without --resume to start "
                                     "afresh", path_, found, identity));
  std::size_t offset = header_end + 1;
  for (;;) {
    std::uint64_t head[2];
    if (text.size() - offset < sizeof head) break;
    std::memcpy(head, text.data() + offset, sizeof head);
    const std::size_t body = offset + sizeof head;
    if (head[1] > text.size() || text.size() - body < head[1] + sizeof(std::uint64_t)) break;
    const std::string_view result(text.data() + body, head[1]);
    std::uint64_t checksum;
    std::memcpy(&checksum, text.data() + body + head[1], sizeof checksum);
    if (checksum != record_checksum(head[0], result) || head[0] >= jobs) break;
    finished_[head[0]] = std::string(result);
    offset = body + head[1] + sizeof checksum;
  }
  // A torn last record (the run was killed while writing it) is dropped and recomputed.
  if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0 || ::lseek(fd_, 0, SEEK_END) < 0)
    throw io::InputError(fmt::format("{}: cannot truncate the journal: {}", path_, std::strerror(errno)));
}

void Journal::record(std::size_t index, const Bytes& result) {
  ByteWriter out;
  out.put<std::uint64_t>(index);
  out.put<std::uint64_t>(result.size());
  std::string bytes = out.take() + result;
  ByteWriter tail;
  tail.put<std::uint64_t>(record_checksum(index, result));
  bytes += tail.take();
  write_all(fd_, bytes, path_);
  ++recorded_;
  if (now_ns() - last_sync_ns_ > 1'000'000'000) {
    ::fdatasync(fd_);
    last_sync_ns_ = now_ns();
  }
}

void Journal::remove() {
  ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

}  // namespace xbar::parallel
